// Token sampling on the GPU (one workgroup per row) and its float64 CPU reference.
//
// Order of operations (Hugging Face's logits processors): temperature, top-k, top-p, min-p,
// renormalise, draw. The draw uses a uniform from a counter-based hash of (seed, step, row), so a
// run is reproducible and the CPU reference picks the same ids. Every row also gets the log-prob of
// its id under the untruncated tempered distribution (docs/DESIGN.md §6.1).

import familySource from '../../shaders/sample.wgsl?raw';
import type { Tensor } from '../gpu/tensor.ts';
import { withPrelude } from './prelude.ts';

const source = withPrelude(familySource);

export interface SampleOptions {
  rows: number;
  /** Row stride of the logits. */
  vocab: number;
  /** Only columns [0, validVocab) are candidates (Qwen pads its embedding past the tokenizer). */
  validVocab: number;
  /** 0 = greedy (argmax, lowest index on ties). */
  temperature: number;
  /** Keep logits >= the k-th largest (ties kept); 0 = off. */
  topK?: number;
  /** Keep the smallest highest-probability set holding >= topP of the mass (ties kept); 1 = off. */
  topP?: number;
  /** Keep tokens with prob >= minP · max prob; 0 = off. */
  minP?: number;
  /** Taken modulo 2^32. */
  seed: number;
  /** Taken modulo 2^32. */
  step: number;
}

/** Where the sampler writes: row r's id and log-prob go to element `offset + r` of each buffer. */
export interface SampleOutputs {
  /** u32 ids. */
  ids: GPUBuffer;
  /** f32 log-probs of the ids under log_softmax(logits / T) over the valid columns (T = 1 when greedy). */
  logprobs: GPUBuffer;
  offset: number;
}

/** A decode step's next input: each row's id goes to `ids[row]` and `positions[row]` grows by one. */
export interface NextStep {
  ids: GPUBuffer;
  positions: GPUBuffer;
}

/**
 * Sample one token id per row of `logits` [rows, vocab] into `out` (new [rows] buffers at offset 0
 * when omitted) and return where they went; with `next`, also feed the ids to the next decode step
 * on the GPU. Logits must be finite (or -inf).
 */
export function sampleTokens(logits: Tensor, opts: SampleOptions & { out?: SampleOutputs; next?: NextStep }): SampleOutputs {
  const gpu = logits.gpu;
  const { rows, vocab, validVocab, next } = opts;
  if (!(validVocab >= 1 && validVocab <= vocab)) throw new Error(`sampleTokens: validVocab ${validVocab} must be in [1, vocab ${vocab}]`);
  if (logits.size < rows * vocab) throw new Error(`sampleTokens: logits hold ${logits.size} values, need ${rows}×${vocab}`);
  const out = opts.out ?? { ids: gpu.buffer(rows * 4, 'sampled-ids'), logprobs: gpu.buffer(rows * 4, 'sampled-logprobs'), offset: 0 };
  const need = (out.offset + rows) * 4;
  const checked: [string, GPUBuffer, number, string][] = [
    ['out.ids', out.ids, need, `offset ${out.offset} + ${rows} rows`],
    ['out.logprobs', out.logprobs, need, `offset ${out.offset} + ${rows} rows`],
  ];
  if (next) checked.push(['next.ids', next.ids, rows * 4, `${rows} rows`], ['next.positions', next.positions, rows * 4, `${rows} rows`]);
  for (const [name, b, bytes, why] of checked) {
    if (b.size < bytes) throw new Error(`sampleTokens: ${name} holds ${b.size} bytes, need ${bytes} (${why})`);
  }
  const p = normalise(opts);
  const entry = next ? 'sample_step' : 'sample';
  gpu.dispatch(
    entry,
    gpu.pipeline('sample', source, entry, { WG: threadsFor(validVocab) }),
    next ? [logits.buffer, out.ids, out.logprobs, next.ids, next.positions] : [logits.buffer, out.ids, out.logprobs],
    [rows],
    [vocab, validVocab, p.topK, p.seed, p.step, { f32: p.temperature }, { f32: p.topP }, { f32: p.minP }, out.offset],
  );
  return out;
}

/** Threads per row: 256 for real vocabularies, fewer (down to 32) when a row is short. */
function threadsFor(valid: number): number {
  let wg = 32;
  while (wg < 256 && wg * 16 < valid) wg *= 2;
  return wg;
}

function normalise(opts: SampleOptions) {
  const topK = Math.max(0, Math.floor(opts.topK ?? 0));
  const topP = opts.topP ?? 1;
  const minP = Math.min(1, Math.max(0, opts.minP ?? 0));
  const temperature = Math.max(0, opts.temperature || 0); // NaN → 0 (greedy), as the old `> 0 ? t : 0` did
  return { topK, topP: Math.min(1, topP), minP, temperature, seed: opts.seed >>> 0, step: opts.step >>> 0 };
}

function pcgHash(x: number): number {
  const state = (Math.imul(x, 747796405) + 2891336453) >>> 0;
  const word = Math.imul(((state >>> ((state >>> 28) + 4)) ^ state) >>> 0, 277803737) >>> 0;
  return ((word >>> 22) ^ word) >>> 0;
}

/** The uniform in [0, 1) the sampler draws for (seed, step, row); the WGSL computes the same bits. */
export function uniformFor(seed: number, step: number, row: number): number {
  const h = pcgHash((pcgHash((pcgHash(seed >>> 0) + (step >>> 0)) >>> 0) + (row >>> 0)) >>> 0);
  return (h >>> 8) / 16777216;
}

const keyView = new DataView(new ArrayBuffer(4));
/** Order-preserving u32 image of the f32 rounding of `v` (-0 maps with +0). */
function orderKey(v: number): number {
  if (v === 0) return 0x80000000;
  keyView.setFloat32(0, v);
  const b = keyView.getUint32(0);
  return b & 0x80000000 ? ~b >>> 0 : (b | 0x80000000) >>> 0;
}

/**
 * The renormalised distribution the sampler draws from for one row (float64): probabilities over
 * columns [0, validVocab), zero outside the kept set. For temperature 0, a one-hot at the argmax.
 */
export function keptDistributionRef(row: ArrayLike<number>, opts: Omit<SampleOptions, 'rows' | 'vocab' | 'seed' | 'step'>): Float64Array {
  const p = normalise({ ...opts, rows: 1, vocab: opts.validVocab, seed: 0, step: 0 });
  const n = opts.validVocab;
  const out = new Float64Array(n);
  let arg = 0;
  for (let i = 1; i < n; i++) if (row[i] > row[arg]) arg = i;
  if (p.temperature === 0) {
    out[arg] = 1;
    return out;
  }
  const m = row[arg];
  const keys = new Float64Array(n);
  const w = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    keys[i] = orderKey(row[i]);
    w[i] = Math.exp((row[i] - m) / p.temperature);
  }
  const byKey = Array.from({ length: n }, (_, i) => i).sort((a, b) => keys[b] - keys[a]);
  let kKey = 0;
  if (p.topK > 0 && p.topK < n) kKey = keys[byKey[p.topK - 1]];
  let pKey = 0;
  if (p.topP < 1) {
    let mass = 0;
    for (let i = 0; i < n; i++) if (keys[i] >= kKey) mass += w[i];
    const want = p.topP * mass;
    // Walk groups of equal keys from the top; the threshold is the first group reaching the mass.
    let acc = 0;
    pKey = 0xffffffff;
    for (let j = 0; j < n; ) {
      const key = keys[byKey[j]];
      while (j < n && keys[byKey[j]] === key) acc += w[byKey[j++]];
      pKey = key;
      if (acc >= want) break;
    }
  }
  const thr = Math.min(Math.max(kKey, pKey), keys[arg]);
  let total = 0;
  for (let i = 0; i < n; i++) {
    if (keys[i] >= thr && (p.minP <= 0 || w[i] >= p.minP)) {
      out[i] = w[i];
      total += w[i];
    }
  }
  for (let i = 0; i < n; i++) out[i] /= total;
  return out;
}

/** Float64 log_softmax(row / T)[id] over the whole row (T = 1 when greedy): the sampler's log-prob. */
export function samplerLogprobRef(row: ArrayLike<number>, id: number, temperature: number): number {
  const t = temperature > 0 ? temperature : 1;
  let m = -Infinity;
  for (let i = 0; i < row.length; i++) m = Math.max(m, row[i]);
  let z = 0;
  for (let i = 0; i < row.length; i++) z += Math.exp((row[i] - m) / t);
  return (row[id] - m) / t - Math.log(z);
}

/** Float64 reference for sampleTokens: the same kept set and the same uniform per row. */
export function sampleRef(
  logits: ArrayLike<number>,
  rows: number,
  vocab: number,
  opts: Omit<SampleOptions, 'rows' | 'vocab'>,
): { ids: Uint32Array; logprobs: Float64Array } {
  const ids = new Uint32Array(rows);
  const logprobs = new Float64Array(rows);
  for (let r = 0; r < rows; r++) {
    const row = Array.prototype.slice.call(logits, r * vocab, r * vocab + opts.validVocab) as number[];
    ids[r] = sampleRowRef(row, r, opts);
    logprobs[r] = samplerLogprobRef(row, ids[r], opts.temperature);
  }
  return { ids, logprobs };
}

/** The id sampleTokens draws for one row (already cut to the valid columns). */
function sampleRowRef(row: number[], r: number, opts: Omit<SampleOptions, 'rows' | 'vocab'>): number {
  const dist = keptDistributionRef(row, opts);
  if (!(opts.temperature > 0)) return dist.indexOf(1);
  const target = uniformFor(opts.seed, opts.step, r);
  let acc = 0;
  let last = -1;
  for (let i = 0; i < dist.length; i++) {
    if (dist[i] <= 0) continue;
    acc += dist[i];
    last = i;
    if (acc > target) return i;
  }
  return last;
}
