// Export a model (optionally with a PEFT LoRA adapter merged in) or the adapter alone as GGUF files
// that llama.cpp loads: llama.cpp tensor names, the `<arch>.*` hyperparameters, the tokenizer in
// metadata, and for llama the q/k row permutation back to interleaved RoPE. On the CPU, returning
// byte parts (no node: imports): the CLI writes them to a file, the page can make a Blob of them.
// Layout and conventions: DESIGN.md §15.

import type { ModelSource } from '../io/source.ts';
import { encodeTensor, GGML_TYPE, type GgmlType, type GgufMetadata, type GgufTensor, type GgufValue, Q8_0_BLOCK, writeGguf } from '../io/gguf.ts';
import { loadCpuWeights, readModelConfig } from '../model/weights.ts';
import type { ModelConfig, TargetModule } from '../model/types.ts';
import { ADAPTER_CONFIG_FILE, ADAPTER_WEIGHTS_FILE } from './adapter.ts';
import { mergeWeightF64, parsePeftAdapterCpu, type CpuPeftAdapter } from './merge.ts';

export type GgufDType = 'f32' | 'f16' | 'q8_0';
export const GGUF_DTYPES: readonly GgufDType[] = ['f32', 'f16', 'q8_0'];

const GGML_OF: Record<GgufDType, GgmlType> = { f32: GGML_TYPE.F32, f16: GGML_TYPE.F16, q8_0: GGML_TYPE.Q8_0 };
/** general.file_type (llama_ftype): ALL_F32 0, MOSTLY_F16 1, MOSTLY_Q8_0 7. */
const FILE_TYPE: Record<GgufDType, number> = { f32: 0, f16: 1, q8_0: 7 };

/** llama.cpp token types. */
const TOKEN_TYPE = { normal: 1, unknown: 2, control: 3, userDefined: 4, unused: 5, byte: 6 } as const;

type Json = Record<string, unknown>;

const u32 = (value: number): GgufValue => ({ type: 'u32', value });
const f32 = (value: number): GgufValue => ({ type: 'f32', value });
const str = (value: string): GgufValue => ({ type: 'string', value });

// -------------------------------------------------------------------------------------------------
// Tensor names and the llama q/k permutation

const MODULE_GGUF: Record<TargetModule, string> = {
  q_proj: 'attn_q',
  k_proj: 'attn_k',
  v_proj: 'attn_v',
  o_proj: 'attn_output',
  gate_proj: 'ffn_gate',
  up_proj: 'ffn_up',
  down_proj: 'ffn_down',
};

/** The llama.cpp name of a Hugging Face tensor, or null for one llama.cpp does not use. */
function ggufTensorName(name: string): string | null {
  if (name === 'model.embed_tokens.weight') return 'token_embd.weight';
  if (name === 'model.norm.weight') return 'output_norm.weight';
  if (name === 'lm_head.weight') return 'output.weight';
  const m = /^model\.layers\.(\d+)\.(.+)$/.exec(name);
  if (!m) return null;
  const [, layer, rest] = m;
  const local: Record<string, string> = {
    'input_layernorm.weight': 'attn_norm.weight',
    'post_attention_layernorm.weight': 'ffn_norm.weight',
    'self_attn.q_norm.weight': 'attn_q_norm.weight',
    'self_attn.k_norm.weight': 'attn_k_norm.weight',
  };
  for (const [mod, g] of Object.entries(MODULE_GGUF)) {
    const group = mod.endsWith('_proj') && ['gate_proj', 'up_proj', 'down_proj'].includes(mod) ? 'mlp' : 'self_attn';
    local[`${group}.${mod}.weight`] = `${g}.weight`;
    local[`${group}.${mod}.bias`] = `${g}.bias`;
  }
  const g = local[rest];
  return g ? `blk.${layer}.${g}` : null;
}

/**
 * Reorder the rows of a llama q/k projection (or bias) from Hugging Face's rotate-half layout to the
 * interleaved-pair layout llama.cpp's llama RoPE expects: within each head, rows viewed as
 * [2, headDim/2] are transposed to [headDim/2, 2]. `rowLen` is the row length (1 for a bias).
 */
export function permuteQk<T extends Float32Array | Float64Array>(x: T, heads: number, rowLen: number): T {
  const rows = x.length / rowLen;
  const hd = rows / heads;
  const half = hd / 2;
  const out = new (x.constructor as { new (n: number): T })(x.length);
  for (let h = 0; h < heads; h++) {
    for (let j = 0; j < 2; j++) {
      for (let i = 0; i < half; i++) {
        const src = h * hd + j * half + i;
        const dst = h * hd + 2 * i + j;
        out.set(x.subarray(src * rowLen, (src + 1) * rowLen), dst * rowLen);
      }
    }
  }
  return out;
}

function qkHeads(config: ModelConfig, name: string): number | null {
  if (config.architecture !== 'llama') return null;
  if (/\.self_attn\.q_proj\.(weight|bias)$/.test(name)) return config.numHeads;
  if (/\.self_attn\.k_proj\.(weight|bias)$/.test(name)) return config.numKvHeads;
  return null;
}

// -------------------------------------------------------------------------------------------------
// Hyperparameters

function checkArchitecture(config: ModelConfig, configJson: Json): void {
  const arch = config.architecture as string;
  if (arch !== 'llama' && arch !== 'qwen2' && arch !== 'qwen3') {
    throw new Error(`export-gguf: architecture '${String(configJson.model_type)}' is not supported (llama, qwen2, qwen3).`);
  }
}

function hyperparameters(config: ModelConfig, name: string): GgufMetadata {
  const a = config.architecture;
  const kv: GgufMetadata = [
    ['general.architecture', str(a)],
    ['general.name', str(name)],
    [`${a}.context_length`, u32(config.maxPositionEmbeddings)],
    [`${a}.embedding_length`, u32(config.hiddenSize)],
    [`${a}.block_count`, u32(config.numLayers)],
    [`${a}.feed_forward_length`, u32(config.intermediateSize)],
    [`${a}.attention.head_count`, u32(config.numHeads)],
    [`${a}.attention.head_count_kv`, u32(config.numKvHeads)],
    [`${a}.rope.freq_base`, f32(config.ropeTheta)],
    [`${a}.attention.layer_norm_rms_epsilon`, f32(config.rmsNormEps)],
  ];
  if (a === 'llama') kv.push([`${a}.rope.dimension_count`, u32(config.headDim)]);
  if (config.headDim * config.numHeads !== config.hiddenSize) {
    kv.push([`${a}.attention.key_length`, u32(config.headDim)], [`${a}.attention.value_length`, u32(config.headDim)]);
  }
  return kv;
}

// -------------------------------------------------------------------------------------------------
// Tokenizer

interface AddedToken {
  id: number;
  content: string;
  special?: boolean;
}

/** The pre-tokenizer name llama.cpp knows (`tokenizer.ggml.pre`) from tokenizer.json's pre_tokenizer. */
function preTokenizerName(pre: unknown, configJson: Json): string {
  const text = JSON.stringify(pre ?? null);
  const QWEN2 = "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";
  const LLAMA3 = "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";
  if (text.includes(JSON.stringify(QWEN2).slice(1, -1))) return 'qwen2';
  if (text.includes(JSON.stringify(LLAMA3).slice(1, -1))) return 'llama-bpe';
  type Pre = { type?: string; pretokenizers?: Pre[]; individual_digits?: boolean; use_regex?: boolean };
  const p = pre as Pre | null;
  const parts: Pre[] = p?.type === 'Sequence' ? (p.pretokenizers ?? []) : p ? [p] : [];
  const digits = parts.find((x) => x.type === 'Digits');
  const byteLevel = parts.find((x) => x.type === 'ByteLevel');
  if (digits?.individual_digits && byteLevel) return 'smollm';
  if (byteLevel?.use_regex !== false && parts.length === 1 && byteLevel) return 'gpt-2';
  throw new Error(
    `export-gguf: the byte-level BPE pre-tokenizer of this ${String(configJson.model_type)} tokenizer.json is not one llama.cpp is known to name (qwen2, llama-bpe, smollm, gpt-2).`,
  );
}

/** tokenizer.ggml.* metadata from tokenizer.json (+ tokenizer_config.json), padded to the model's vocabulary. */
async function tokenizerMetadata(source: ModelSource, config: ModelConfig, configJson: Json): Promise<GgufMetadata> {
  if (!(await source.has('tokenizer.json'))) throw new Error(`export-gguf: ${source.id} has no tokenizer.json.`);
  const tj = await source.readJson<Json>('tokenizer.json');
  const tc: Json = (await source.has('tokenizer_config.json')) ? await source.readJson<Json>('tokenizer_config.json') : {};
  const model = tj.model as { type?: string; vocab?: Record<string, number>; merges?: (string | [string, string])[]; byte_fallback?: boolean };
  if (model?.type !== 'BPE' || !model.vocab)
    throw new Error(`export-gguf: ${source.id}/tokenizer.json: only BPE tokenizers are supported (got ${String(model?.type)}).`);
  const added = (tj.added_tokens as AddedToken[] | undefined) ?? [];
  const byId = new Map<number, string>();
  for (const [t, id] of Object.entries(model.vocab)) byId.set(id, t);
  for (const t of added) byId.set(t.id, t.content);
  let maxId = -1;
  for (const id of byId.keys()) maxId = Math.max(maxId, id);
  if (maxId >= config.vocabSize) {
    throw new Error(`export-gguf: the tokenizer has token id ${maxId}, beyond the model's vocabulary (${config.vocabSize} embedding rows).`);
  }
  const special = new Map(added.map((t) => [t.id, t.special === true]));
  const merges = (model.merges ?? []).map((m) => (typeof m === 'string' ? m : `${m[0]} ${m[1]}`));
  const spm = model.byte_fallback === true;
  const n = config.vocabSize;
  const tokens: string[] = [];
  const types: number[] = [];
  const kv: GgufMetadata = [];
  const tokenString = (v: unknown): string | null =>
    typeof v === 'string' ? v : v && typeof v === 'object' && typeof (v as Json).content === 'string' ? ((v as Json).content as string) : null;
  const idOf = (v: unknown): number | null => {
    const s = tokenString(v);
    if (s === null) return null;
    for (const [id, t] of byId) if (t === s) return id;
    return null;
  };
  const unkId = idOf(tc.unk_token) ?? (spm ? (model.vocab['<unk>'] ?? null) : null);

  if (spm) {
    // SentencePiece-style ("llama"): scores order the merges; a merge's result gets −rank.
    const scores = new Float32Array(n);
    const seen = new Set<string>();
    const score = new Map<string, number>();
    merges.forEach((m, rank) => {
      const sp = m.indexOf(' ');
      const merged = m.slice(0, sp) + m.slice(sp + 1);
      if (!seen.has(merged)) {
        seen.add(merged);
        score.set(merged, -rank);
      }
    });
    for (let id = 0; id < n; id++) {
      const t = byId.get(id);
      if (t === undefined) {
        tokens.push(`[PAD${id}]`);
        types.push(TOKEN_TYPE.unused);
        scores[id] = -1e9;
        continue;
      }
      tokens.push(t);
      scores[id] = score.get(t) ?? (t.length === 1 ? 0 : -(merges.length + id));
      if (id === unkId) types.push(TOKEN_TYPE.unknown);
      else if (special.get(id) === true) types.push(TOKEN_TYPE.control);
      else if (special.has(id)) types.push(TOKEN_TYPE.userDefined);
      else if (/^<0x[0-9A-F]{2}>$/.test(t)) types.push(TOKEN_TYPE.byte);
      else types.push(TOKEN_TYPE.normal);
    }
    kv.push(['tokenizer.ggml.model', str('llama')], ['tokenizer.ggml.pre', str('default')]);
    kv.push(['tokenizer.ggml.tokens', { type: 'array', itemType: 'string', value: tokens }]);
    kv.push(['tokenizer.ggml.scores', { type: 'array', itemType: 'f32', value: scores }]);
    kv.push(['tokenizer.ggml.token_type', { type: 'array', itemType: 'i32', value: types }]);
  } else {
    const pre = preTokenizerName(tj.pre_tokenizer, configJson);
    for (let id = 0; id < n; id++) {
      const t = byId.get(id);
      if (t === undefined) {
        tokens.push(`[PAD${id}]`);
        types.push(TOKEN_TYPE.unused);
      } else {
        tokens.push(t);
        types.push(special.get(id) === true ? TOKEN_TYPE.control : special.has(id) ? TOKEN_TYPE.userDefined : TOKEN_TYPE.normal);
      }
    }
    kv.push(['tokenizer.ggml.model', str('gpt2')], ['tokenizer.ggml.pre', str(pre)]);
    kv.push(['tokenizer.ggml.tokens', { type: 'array', itemType: 'string', value: tokens }]);
    kv.push(['tokenizer.ggml.token_type', { type: 'array', itemType: 'i32', value: types }]);
    kv.push(['tokenizer.ggml.merges', { type: 'array', itemType: 'string', value: merges }]);
  }

  // Special ids: tokenizer_config.json's token strings first, then config.json's ids.
  const bos = idOf(tc.bos_token) ?? config.bosTokenId;
  const eos = idOf(tc.eos_token) ?? config.eosTokenIds[0] ?? null;
  const pad = idOf(tc.pad_token) ?? (typeof configJson.pad_token_id === 'number' ? configJson.pad_token_id : null);
  if (bos !== null) kv.push(['tokenizer.ggml.bos_token_id', u32(bos)]);
  if (eos !== null) kv.push(['tokenizer.ggml.eos_token_id', u32(eos)]);
  if (unkId !== null) kv.push(['tokenizer.ggml.unknown_token_id', u32(unkId)]);
  if (pad !== null) kv.push(['tokenizer.ggml.padding_token_id', u32(pad)]);
  const addBos = typeof tc.add_bos_token === 'boolean' ? tc.add_bos_token : spm;
  kv.push(['tokenizer.ggml.add_bos_token', { type: 'bool', value: addBos }]);
  kv.push(['tokenizer.ggml.add_eos_token', { type: 'bool', value: tc.add_eos_token === true }]);
  let template: unknown = tc.chat_template;
  if (template === undefined && (await source.has('chat_template.jinja'))) template = new TextDecoder().decode(await source.read('chat_template.jinja'));
  if (typeof template === 'string') kv.push(['tokenizer.chat_template', str(template)]);
  return kv;
}

// -------------------------------------------------------------------------------------------------
// Model export

export interface GgufExportOptions {
  /** A PEFT adapter to merge into the weights (W' = W + s·B·A in float64, rounded once). */
  adapter?: ModelSource;
  /** Default f16. Norms and other 1-D tensors stay F32; Q8_0 falls back to F16 for rows not a multiple of 32. */
  dtype?: GgufDType;
  /** general.name (default: the source id's last path part). */
  name?: string;
}

async function readAdapter(config: ModelConfig, adapter: ModelSource): Promise<CpuPeftAdapter> {
  if (!(await adapter.has(ADAPTER_WEIGHTS_FILE)) || !(await adapter.has(ADAPTER_CONFIG_FILE))) {
    throw new Error(`${adapter.id}: no ${ADAPTER_WEIGHTS_FILE} and ${ADAPTER_CONFIG_FILE} (is this a PEFT LoRA adapter folder?).`);
  }
  return parsePeftAdapterCpu(
    config,
    await adapter.readJson(ADAPTER_CONFIG_FILE),
    await adapter.read(ADAPTER_WEIGHTS_FILE),
    `${adapter.id}/${ADAPTER_WEIGHTS_FILE}`,
    `${adapter.id}/${ADAPTER_CONFIG_FILE}`,
  );
}

function tensorType(shape: number[], dtype: GgufDType): GgmlType {
  if (shape.length < 2) return GGML_TYPE.F32;
  if (dtype === 'q8_0' && shape[shape.length - 1] % Q8_0_BLOCK !== 0) return GGML_TYPE.F16;
  return GGML_OF[dtype];
}

/** Round float64 values to f32 (the merged weight, before encoding). */
function toF32(x: Float64Array | Float32Array): Float32Array {
  return x instanceof Float32Array ? x : Float32Array.from(x);
}

function defaultName(id: string): string {
  return id.replace(/^hf:/, '').replace(/@.*$/, '').split('/').filter(Boolean).pop() ?? 'model';
}

/**
 * A complete llama.cpp model as GGUF byte parts (write them in order): metadata (architecture,
 * hyperparameters, tokenizer) and every tensor under its llama.cpp name, the adapter merged in when
 * given. A tied model gets no output.weight (llama.cpp then uses token_embd).
 */
export async function exportGgufModel(source: ModelSource, opts: GgufExportOptions = {}): Promise<Uint8Array[]> {
  const configJson = await source.readJson<Json>('config.json');
  const dtype = opts.dtype ?? 'f16';
  if (!GGUF_DTYPES.includes(dtype)) throw new Error(`export-gguf: unknown dtype '${String(dtype)}' (f32, f16 or q8_0).`);
  const { config, tensors } = await loadCpuWeights(source);
  checkArchitecture(config, configJson);
  const lora = opts.adapter ? await readAdapter(config, opts.adapter) : null;

  const meta: GgufMetadata = [...hyperparameters(config, opts.name ?? defaultName(source.id)), ['general.file_type', u32(FILE_TYPE[dtype])]];
  meta.push(...(await tokenizerMetadata(source, config, configJson)));

  const out: GgufTensor[] = [];
  const used = new Set<string>();
  for (const [name, t] of tensors) {
    if (name === 'lm_head.weight' && config.tieWordEmbeddings) continue;
    const gname = ggufTensorName(name);
    if (!gname) throw new Error(`export-gguf: tensor '${name}' has no llama.cpp counterpart.`);
    let values: Float32Array | Float64Array = t.data;
    const site = lora?.sites.get(name);
    if (site && lora) {
      values = mergeWeightF64(t.data, t.shape[0], t.shape[1], site, lora.scale);
      used.add(name);
    }
    const heads = qkHeads(config, name);
    if (heads !== null) values = permuteQk(values, heads, t.shape.length === 2 ? t.shape[1] : 1);
    const type = tensorType(t.shape, dtype);
    out.push({ name: gname, shape: t.shape, type, data: encodeTensor(toF32(values), type) });
  }
  if (lora) {
    for (const name of lora.sites.keys())
      if (!used.has(name)) throw new Error(`export-gguf: the checkpoint has no tensor '${name}' for the adapter's LoRA site.`);
  }
  return writeGguf(meta, out);
}

/**
 * The adapter alone in llama.cpp's LoRA format: general.type "adapter", adapter.type "lora",
 * adapter.lora.alpha (llama.cpp scales by alpha/r, so rsLoRA's alpha/√r is written as alpha·√r),
 * and `<base name>.lora_a` ([r, in]) / `.lora_b` ([out, r], q/k rows permuted for llama) per site.
 */
export async function exportGgufLora(source: ModelSource, adapter: ModelSource, opts: { dtype?: 'f32' | 'f16'; name?: string } = {}): Promise<Uint8Array[]> {
  const configJson = await source.readJson<Json>('config.json');
  const config = await readModelConfig(source);
  checkArchitecture(config, configJson);
  const lora = await readAdapter(config, adapter);
  const dtype = opts.dtype ?? 'f32';
  const { r } = lora.config;
  const alpha = lora.scale * r;
  const meta: GgufMetadata = [
    ['general.architecture', str(config.architecture)],
    ['general.type', str('adapter')],
    ['general.name', str(opts.name ?? defaultName(adapter.id))],
    ['adapter.type', str('lora')],
    ['adapter.lora.alpha', f32(alpha)],
  ];
  const out: GgufTensor[] = [];
  const type = dtype === 'f16' ? GGML_TYPE.F16 : GGML_TYPE.F32;
  const sites = [...lora.sites.entries()].sort((a, b) => a[1].layer - b[1].layer);
  for (const [name, site] of sites) {
    const gname = ggufTensorName(name);
    if (!gname) throw new Error(`export-gguf: LoRA site '${name}' has no llama.cpp counterpart.`);
    const inDim = site.A.length / r;
    const outDim = site.B.length / r;
    const heads = qkHeads(config, name);
    const B = heads === null ? site.B : permuteQk(site.B, heads, r);
    out.push({ name: `${gname}.lora_a`, shape: [r, inDim], type, data: encodeTensor(site.A, type) });
    out.push({ name: `${gname}.lora_b`, shape: [outDim, r], type, data: encodeTensor(B, type) });
  }
  return writeGguf(meta, out);
}
