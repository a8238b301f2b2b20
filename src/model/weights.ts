// Load a Hugging Face checkpoint (config.json, generation_config.json, model.safetensors or a
// sharded index) from a ModelSource: onto the GPU (loadModel) or widened to f32 on the CPU for the
// float64 reference (loadCpuWeights).

import type { Gpu } from '../gpu/runtime.ts';
import { Tensor, WeightMatrix, type WeightDType } from '../gpu/tensor.ts';
import { expectedTensors, LM_HEAD, parseConfig, withGenerationConfig } from './config.ts';
import {
  entryBits16,
  f32ToBf16Bits,
  f32ToF16Bits,
  parseSafetensors,
  READABLE_DTYPES,
  toFloat32,
  unsupportedDtypeError,
  type TensorEntry,
} from '../io/safetensors.ts';
import type { ModelSource } from '../io/source.ts';
import type { LayerWeights, ModelConfig, ModelWeights } from './types.ts';

export interface LoadProgress {
  /** 'download': bytes of `file` read so far; 'upload': tensors of the model placed so far. */
  phase: 'download' | 'upload';
  file: string;
  loaded: number;
  total: number | null;
}

export interface LoadOptions {
  onProgress?: (p: LoadProgress) => void;
  /**
   * How to store linear weights and embeddings. 'auto' (default): as the checkpoint stores them
   * (F32 -> 'f32', BF16 -> packed 'bf16', F16 -> packed 'f16', raw bits). Any other value converts.
   */
  weightDtype?: 'auto' | WeightDType;
  /** Split weight matrices into chunks of at most this many bytes (default: the device limit). */
  maxChunkBytes?: number;
}

const INDEX = 'model.safetensors.index.json';
const SINGLE = 'model.safetensors';

/** config.json merged with generation_config.json (when the source has one). */
export async function readModelConfig(source: ModelSource): Promise<ModelConfig> {
  let config = parseConfig(await source.readJson('config.json'), `${source.id}/config.json`);
  if (await source.has('generation_config.json')) {
    config = withGenerationConfig(config, await source.readJson('generation_config.json'));
  }
  return config;
}

/**
 * Read the checkpoint file by file, check every expected tensor (and a stored lm_head.weight) for
 * presence, shape and dtype, then hand each file's tensors to `take` (only after the whole file
 * checked). Extra tensors are ignored.
 */
async function readCheckpoint(
  source: ModelSource,
  config: ModelConfig,
  onProgress: LoadOptions['onProgress'],
  take: (file: string, tensors: Map<string, TensorEntry>) => void | Promise<void>,
): Promise<void> {
  const expected = expectedTensors(config);
  const download = (file: string) => (loaded: number, total: number | null) => onProgress?.({ phase: 'download', file, loaded, total });

  // Which file holds each tensor.
  let plan: Map<string, string[]>; // file -> tensor names
  let sharded = false;
  if (await source.has(INDEX)) {
    sharded = true;
    const index = await source.readJson<{ weight_map?: Record<string, unknown> }>(INDEX);
    const map = index?.weight_map;
    if (!map || typeof map !== 'object') throw new Error(`${source.id}/${INDEX}: no weight_map object.`);
    plan = new Map();
    const names = [...expected.keys()];
    if (config.tieWordEmbeddings && LM_HEAD in map) names.push(LM_HEAD);
    for (const name of names) {
      const file = map[name];
      if (file === undefined) {
        throw new Error(`${source.id}/${INDEX}: missing tensor '${name}' (not in weight_map).`);
      }
      if (typeof file !== 'string') throw new Error(`${source.id}/${INDEX}: weight_map['${name}'] is not a file name.`);
      if (!plan.has(file)) plan.set(file, []);
      plan.get(file)!.push(name);
    }
  } else if (await source.has(SINGLE)) {
    plan = new Map([[SINGLE, [...expected.keys()]]]);
  } else {
    throw new Error(`${source.id}: no ${SINGLE} or ${INDEX} (only safetensors checkpoints are supported).`);
  }

  for (const [file, names] of plan) {
    const bytes = await source.read(file, download(file));
    const where = `${source.id}/${file}`;
    const { tensors } = parseSafetensors(bytes, where);
    // A tied model may store lm_head.weight anyway (Qwen3-0.6B): take it when present.
    if (!sharded && config.tieWordEmbeddings && tensors.has(LM_HEAD)) names.push(LM_HEAD);
    const picked = new Map<string, TensorEntry>();
    for (const name of names) {
      const entry = tensors.get(name);
      if (!entry) {
        throw new Error(`${where}: missing tensor '${name}'${sharded ? ` (${INDEX} places it in this file).` : '.'}`);
      }
      const want = expected.get(name) ?? [config.vocabSize, config.hiddenSize];
      if (entry.shape.length !== want.length || entry.shape.some((d, i) => d !== want[i])) {
        throw new Error(`${where}: tensor '${name}' has shape [${entry.shape.join(', ')}], expected [${want.join(', ')}].`);
      }
      if (!READABLE_DTYPES.includes(entry.dtype)) throw unsupportedDtypeError(where, name, entry.dtype);
      checkFinite(entry, where);
      picked.set(name, entry);
    }
    await take(file, picked);
  }
}

/**
 * Throws, naming the tensor, when a stored value is NaN or ±Inf (an all-ones exponent). One pass
 * over the raw bits before anything is converted or uploaded: integer tests, no decoding.
 */
function checkFinite(entry: TensorEntry, where: string): void {
  let bad = -1;
  let bits = 0;
  let wide = false;
  if (entry.dtype === 'F32') {
    const d = entry.data;
    const u = d.byteOffset % 4 === 0 ? new Uint32Array(d.buffer, d.byteOffset, d.byteLength / 4) : new Uint32Array(new Uint8Array(d).buffer);
    wide = true;
    for (let i = 0; i < u.length; i++) {
      if ((u[i] & 0x7f800000) === 0x7f800000) {
        bad = i;
        bits = u[i];
        break;
      }
    }
  } else {
    const h = entryBits16(entry);
    const exp = entry.dtype === 'F16' ? 0x7c00 : 0x7f80;
    for (let i = 0; i < h.length; i++) {
      if ((h[i] & exp) === exp) {
        bad = i;
        bits = h[i];
        break;
      }
    }
  }
  if (bad < 0) return;
  const mantissa = wide ? bits & 0x7fffff : bits & (entry.dtype === 'F16' ? 0x3ff : 0x7f);
  const negative = wide ? bits >>> 31 === 1 : bits >>> 15 === 1;
  const value = mantissa !== 0 ? 'NaN' : negative ? '-Inf' : 'Inf';
  const at = entry.shape.length === 2 ? `[${Math.floor(bad / entry.shape[1])}, ${bad % entry.shape[1]}]` : `[${bad}]`;
  throw new Error(`${where}: tensor '${entry.name}' holds ${value} at ${at}: the checkpoint is corrupt (every weight must be finite).`);
}

/** The stored values of a 2-D weight in the requested GPU storage dtype. */
function weightData(entry: TensorEntry, target: WeightDType): Float32Array | Uint16Array {
  const stored: WeightDType = entry.dtype === 'F32' ? 'f32' : entry.dtype === 'F16' ? 'f16' : 'bf16';
  if (target === stored) return stored === 'f32' ? toFloat32(entry) : entryBits16(entry);
  const f32 = toFloat32(entry);
  if (target === 'f32') return f32;
  return target === 'f16' ? f32ToF16Bits(f32) : f32ToBf16Bits(f32);
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.byteLength !== b.byteLength) return false;
  if (a.byteOffset % 4 === 0 && b.byteOffset % 4 === 0 && a.byteLength % 4 === 0) {
    const x = new Uint32Array(a.buffer, a.byteOffset, a.byteLength / 4);
    const y = new Uint32Array(b.buffer, b.byteOffset, b.byteLength / 4);
    for (let i = 0; i < x.length; i++) if (x[i] !== y[i]) return false;
    return true;
  }
  for (let i = 0; i < a.byteLength; i++) if (a[i] !== b[i]) return false;
  return true;
}

/**
 * Load a checkpoint onto the GPU. Linear weights and embeddings become WeightMatrix (f32, or packed
 * bf16/f16 raw bits), norms and biases f32 Tensors. With tied embeddings `lmHead` is `embed` (the
 * same object) unless a different lm_head.weight is stored (a stored copy identical to the
 * embedding, as in Qwen3-0.6B, is shared rather than uploaded twice).
 */
export async function loadModel(source: ModelSource, gpu: Gpu, opts: LoadOptions = {}): Promise<{ config: ModelConfig; weights: ModelWeights }> {
  const config = await readModelConfig(source);
  const total = expectedTensors(config).size;
  const matrices = new Map<string, WeightMatrix>();
  const vectors = new Map<string, Tensor>();
  // Tied with a stored lm_head: compare it with the embedding once both are seen (views of the
  // file bytes, kept only until the end of the load).
  let tiedEmbed: TensorEntry | null = null;
  let storedLmHead: TensorEntry | null = null;
  let placed = 0;
  try {
    await readCheckpoint(source, config, opts.onProgress, (file, tensors) => {
      for (const [name, entry] of tensors) {
        if (entry.shape.length === 2) {
          if (name === LM_HEAD && config.tieWordEmbeddings) {
            storedLmHead = entry; // decided once the embedding is known (it may be in a later shard)
            continue;
          }
          if (name === 'model.embed_tokens.weight' && config.tieWordEmbeddings) tiedEmbed = entry;
          matrices.set(name, uploadMatrix(gpu, name, entry, opts));
        } else {
          vectors.set(name, Tensor.from(gpu, toFloat32(entry), entry.shape, name));
        }
        placed++;
        opts.onProgress?.({ phase: 'upload', file, loaded: placed, total });
      }
    });
    if (storedLmHead !== null) {
      const lm = storedLmHead as TensorEntry;
      const emb = tiedEmbed as TensorEntry | null;
      if (!emb || emb.dtype !== lm.dtype || !sameBytes(emb.data, lm.data)) {
        matrices.set(LM_HEAD, uploadMatrix(gpu, LM_HEAD, lm, opts));
      }
    }
  } catch (e) {
    for (const m of matrices.values()) m.destroy();
    for (const t of vectors.values()) t.buffer.destroy();
    throw e;
  }

  const embed = matrices.get('model.embed_tokens.weight')!;
  const lmHead = matrices.get(LM_HEAD) ?? embed;
  const v = (name: string) => vectors.get(name)!;
  const m = (name: string) => matrices.get(name)!;
  const layers: LayerWeights[] = [];
  for (let i = 0; i < config.numLayers; i++) {
    const p = `model.layers.${i}`;
    const layer: LayerWeights = {
      inputNorm: v(`${p}.input_layernorm.weight`),
      q: m(`${p}.self_attn.q_proj.weight`),
      k: m(`${p}.self_attn.k_proj.weight`),
      v: m(`${p}.self_attn.v_proj.weight`),
      o: m(`${p}.self_attn.o_proj.weight`),
      postNorm: v(`${p}.post_attention_layernorm.weight`),
      gate: m(`${p}.mlp.gate_proj.weight`),
      up: m(`${p}.mlp.up_proj.weight`),
      down: m(`${p}.mlp.down_proj.weight`),
    };
    if (config.attentionBias) {
      layer.qBias = v(`${p}.self_attn.q_proj.bias`);
      layer.kBias = v(`${p}.self_attn.k_proj.bias`);
      layer.vBias = v(`${p}.self_attn.v_proj.bias`);
    }
    if (config.qkNorm) {
      layer.qNorm = v(`${p}.self_attn.q_norm.weight`);
      layer.kNorm = v(`${p}.self_attn.k_norm.weight`);
    }
    layers.push(layer);
  }
  return { config, weights: { embed, layers, finalNorm: v('model.norm.weight'), lmHead } };
}

function uploadMatrix(gpu: Gpu, name: string, entry: TensorEntry, opts: LoadOptions): WeightMatrix {
  const [rows, cols] = entry.shape;
  const stored: WeightDType = entry.dtype === 'F32' ? 'f32' : entry.dtype === 'F16' ? 'f16' : 'bf16';
  let target = !opts.weightDtype || opts.weightDtype === 'auto' ? stored : opts.weightDtype;
  if (target !== 'f32' && cols % 2 !== 0) target = 'f32'; // packed pairs need an even row length
  return WeightMatrix.upload(gpu, name, weightData(entry, target), rows, cols, target, opts.maxChunkBytes);
}

/** Free every GPU buffer of loaded weights (lmHead once when shared). */
export function destroyWeights(weights: ModelWeights): void {
  const seen = new Set<WeightMatrix>();
  const mat = (w: WeightMatrix) => {
    if (!seen.has(w)) w.destroy();
    seen.add(w);
  };
  mat(weights.embed);
  mat(weights.lmHead);
  weights.finalNorm.buffer.destroy();
  for (const l of weights.layers) {
    for (const w of [l.q, l.k, l.v, l.o, l.gate, l.up, l.down]) mat(w);
    for (const t of [l.inputNorm, l.postNorm, l.qBias, l.kBias, l.vBias, l.qNorm, l.kNorm]) t?.buffer.destroy();
  }
}

/**
 * Every checkpoint tensor the model uses (expected ones, plus a stored lm_head.weight), widened to
 * f32, for the CPU reference. Same checks as loadModel.
 */
export async function loadCpuWeights(
  source: ModelSource,
  opts: { onProgress?: LoadOptions['onProgress'] } = {},
): Promise<{ config: ModelConfig; tensors: Map<string, { shape: number[]; data: Float32Array }> }> {
  const config = await readModelConfig(source);
  const tensors = new Map<string, { shape: number[]; data: Float32Array }>();
  await readCheckpoint(source, config, opts.onProgress, (_file, picked) => {
    for (const [name, entry] of picked) {
      const f32 = toFloat32(entry);
      // F32 comes back as a view of the file; copy so the caller owns its arrays.
      tensors.set(name, { shape: entry.shape.slice(), data: entry.dtype === 'F32' ? f32.slice() : f32 });
    }
  });
  return { config, tensors };
}
