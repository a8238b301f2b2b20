// Causal grouped-query attention over a per-layer KV cache, and its float64 CPU reference.
//
// Token-major activations: q is [batch*tokens, heads*headDim], new k/v rows are
// [batch*tokens, kvHeads*headDim]. The cache of one layer is [batch, kvHeads, maxSeq, headDim] f32.
// `positions` (u32 [batch], on the GPU) gives each sequence's absolute position of its first token
// in this call, so sequences of one batch can sit at different lengths (G completions of prompts of
// different lengths).

import familySource from '../../shaders/attention.wgsl?raw';
import type { Gpu } from '../gpu/runtime.ts';
import { Tensor } from '../gpu/tensor.ts';
import { linearGroups } from './dispatch.ts';
import { withPrelude } from './prelude.ts';

const source = withPrelude(familySource);

export interface KvCacheShape {
  batch: number;
  kvHeads: number;
  maxSeq: number;
  headDim: number;
}

/** K and V storage of one layer: [batch, kvHeads, maxSeq, headDim] f32 each. */
export class KvCache {
  constructor(
    readonly gpu: Gpu,
    readonly k: GPUBuffer,
    readonly v: GPUBuffer,
    readonly batch: number,
    readonly kvHeads: number,
    readonly maxSeq: number,
    readonly headDim: number,
  ) {}

  static create(gpu: Gpu, { batch, kvHeads, maxSeq, headDim }: KvCacheShape): KvCache {
    if (headDim % 4 !== 0) throw new Error(`KvCache: headDim ${headDim} must be a multiple of 4`);
    const bytes = batch * kvHeads * maxSeq * headDim * 4;
    const limit = gpu.limits.maxStorageBufferBindingSize;
    if (bytes > limit) {
      throw new Error(
        `KvCache [${batch}, ${kvHeads}, ${maxSeq}, ${headDim}] needs ${bytes} bytes per buffer; this device binds at most ${limit} (maxStorageBufferBindingSize).`,
      );
    }
    const make = (label: string) =>
      gpu.createBuffer({ label, size: Math.max(4, bytes), usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST });
    return new KvCache(gpu, make('kv-cache.k'), make('kv-cache.v'), batch, kvHeads, maxSeq, headDim);
  }

  /** Copy the first `length` positions of sequence `from` into sequence `to` (every kv head, K and V). */
  copySequence(from: number, to: number, length: number): void {
    if (from < 0 || from >= this.batch || to < 0 || to >= this.batch) throw new Error(`copySequence: sequence ${from} -> ${to} outside batch ${this.batch}`);
    if (length < 0 || length > this.maxSeq) throw new Error(`copySequence: length ${length} outside [0, ${this.maxSeq}]`);
    if (from === to || length === 0) return;
    // copyBufferToBuffer cannot copy within one buffer: go through a scratch buffer.
    const rowBytes = this.headDim * 4;
    const bytes = length * rowBytes;
    const scratch = this.gpu.buffer(bytes * this.kvHeads, 'kv-cache.copy');
    for (const buf of [this.k, this.v]) {
      for (let h = 0; h < this.kvHeads; h++) this.gpu.copy(buf, (from * this.kvHeads + h) * this.maxSeq * rowBytes, scratch, h * bytes, bytes);
      for (let h = 0; h < this.kvHeads; h++) this.gpu.copy(scratch, h * bytes, buf, (to * this.kvHeads + h) * this.maxSeq * rowBytes, bytes);
    }
    this.gpu.release(scratch);
  }

  destroy(): void {
    this.k.destroy();
    this.v.destroy();
  }
}

const WORKGROUP_BYTES = 16384;
/** Invocations per workgroup of the flat kernels. */
const FLAT_WG = 32;
/** Largest head size of the flat kernels (their private arrays hold FMAX = 32 vec4). */
const FLAT_MAX_HEAD_DIM = 128;

/**
 * `tiled`: workgroups share K/V (or q/dO) tiles through workgroup memory (real GPUs). `flat`: one
 * invocation per row, no workgroup memory and no barriers (CPU adapters such as SwiftShader, where
 * every barrier is a thread synchronisation: measured 10–50× slower there).
 */
export type AttentionVariant = 'tiled' | 'flat';

/** The variant the wrappers pick by default: flat on CPU adapters (for headDim ≤ 128), else tiled. */
export function attentionVariant(gpu: Gpu, headDim: number): AttentionVariant {
  return gpu.isCpuAdapter && headDim <= FLAT_MAX_HEAD_DIM ? 'flat' : 'tiled';
}

function pickVariant(gpu: Gpu, headDim: number, forced: AttentionVariant | undefined, what: string): AttentionVariant {
  const variant = forced ?? attentionVariant(gpu, headDim);
  if (variant === 'flat' && headDim > FLAT_MAX_HEAD_DIM) throw new Error(`${what}: the flat variant takes headDim ≤ ${FLAT_MAX_HEAD_DIM}, got ${headDim}`);
  return variant;
}
const DECODE_THREADS = 128;
/**
 * Keys per decode split (a multiple of DECODE_THREADS): a workgroup walks up to 4 tiles of keys
 * before they are split over workgroups and merged by a `combine` dispatch, so a token attending to
 * up to 512 positions (a GRPO step of 128 prompt + 256 completion tokens) decodes in one dispatch
 * (DESIGN.md §5.5).
 */
const DECODE_CHUNK = 512;

/** Prefill tiling for a head size: TPQ threads per query row (one vec4 each), BQ rows, BK keys per tile. */
function prefillTiles(headDim: number): { BQ: number; BK: number; WG: number } {
  const tpq = headDim / 4;
  if (!Number.isInteger(tpq) || tpq < 1 || tpq > 256) throw new Error(`attention: headDim ${headDim} must be a multiple of 4 in [4, 1024]`);
  const BQ = Math.max(1, Math.min(64, Math.floor(256 / tpq)));
  const WG = BQ * tpq;
  for (const BK of [32, 16, 8, 4, 2, 1]) {
    // q tile, one k/v tile, scores and probabilities, partial scores, row maxima.
    const floats = 4 * WG + BK * headDim + 2 * BQ * BK + WG + 2 * BQ;
    if (floats * 4 <= WORKGROUP_BYTES) return { BQ, BK, WG };
  }
  throw new Error(`attention: headDim ${headDim} does not fit in ${WORKGROUP_BYTES} bytes of workgroup memory`);
}

function checkPositions(positions: GPUBuffer, batch: number): void {
  if (positions.size < batch * 4) throw new Error(`attention: positions buffer has ${positions.size} bytes, needs ${batch * 4} (u32 [batch])`);
}

/** Write the new k/v rows into the cache at positions[b] + t (rows past maxSeq are dropped). */
export function writeKv(cache: KvCache, k: Tensor, v: Tensor, positions: GPUBuffer, tokens: number): void {
  const { batch, kvHeads, maxSeq, headDim } = cache;
  const size = batch * tokens * kvHeads * headDim;
  if (k.size !== size || v.size !== size) throw new Error(`writeKv: k/v sizes ${k.size}, ${v.size}; expected [${batch}*${tokens}, ${kvHeads}*${headDim}]`);
  checkPositions(positions, batch);
  const gpu = k.gpu;
  const n = size / 4;
  gpu.dispatch(
    'attention.write_kv',
    gpu.pipeline('attention', source, 'write_kv', { HD: headDim }),
    [k.buffer, v.buffer, positions, cache.k, cache.v],
    linearGroups(gpu, n, 256),
    [tokens, 1, kvHeads, maxSeq, { f32: 0 }, n, 0, 0, batch],
  );
}

export interface AttentionOptions {
  tokens: number;
  heads: number;
  out?: Tensor;
  /** [batch, heads, tokens]: receives the log-sum-exp of the scaled scores of each query. */
  lse?: Tensor;
  /** Upper bound on positions[b] + tokens over the batch (default maxSeq); bounds the decode split count. */
  maxLength?: number;
  /** Kernel family (default `attentionVariant(gpu, headDim)`). */
  variant?: AttentionVariant;
}

/**
 * Causal attention: query t of sequence b attends to cache positions 0 ..= positions[b] + t with
 * softmax(q·k / sqrt(headDim)); query head h uses kv head floor(h / (heads / kvHeads)). The cache
 * must already hold those positions (writeKv first). Returns out [batch*tokens, heads*headDim].
 */
export function attention(q: Tensor, cache: KvCache, positions: GPUBuffer, opts: AttentionOptions): Tensor {
  const { tokens, heads } = opts;
  const { batch, kvHeads, maxSeq, headDim } = cache;
  const gpu = q.gpu;
  if (heads % kvHeads !== 0) throw new Error(`attention: ${heads} heads not a multiple of ${kvHeads} kv heads`);
  const size = batch * tokens * heads * headDim;
  if (q.size !== size) throw new Error(`attention: q has ${q.size} values; expected [${batch}*${tokens}, ${heads}*${headDim}]`);
  checkPositions(positions, batch);
  const out = opts.out ?? Tensor.empty(gpu, [batch * tokens, heads * headDim], 'attention.out');
  if (out.size !== size) throw new Error(`attention: out has ${out.size} values; expected ${size}`);
  if (opts.lse && opts.lse.size !== batch * heads * tokens)
    throw new Error(`attention: lse has ${opts.lse.size} values; expected [${batch}, ${heads}, ${tokens}]`);
  if (opts.maxLength !== undefined && !(Number.isInteger(opts.maxLength) && opts.maxLength >= tokens))
    throw new Error(`attention: maxLength must be an integer ≥ tokens (${tokens}), got ${opts.maxLength}`);
  if (size === 0) return out;
  const scale = { f32: 1 / Math.sqrt(headDim) };
  const writeLse = opts.lse ? 1 : 0;
  const dummy = opts.lse ? null : gpu.buffer(4, 'attention.lse-unused');
  const lseBuf = opts.lse?.buffer ?? dummy!;
  const variant = pickVariant(gpu, headDim, opts.variant, 'attention');

  if (variant === 'flat') {
    // One invocation per (query row, key split); splits only for decode (as the tiled decode).
    const maxLen = Math.min(maxSeq, opts.maxLength ?? maxSeq);
    const splits = tokens === 1 ? Math.max(1, Math.ceil(maxLen / DECODE_CHUNK)) : 1;
    const chunk = splits > 1 ? DECODE_CHUNK : maxSeq;
    const partial = splits > 1 ? gpu.buffer(batch * heads * splits * (headDim + 4) * 4, 'attention.partial') : gpu.buffer(4, 'attention.partial-unused');
    const params = [tokens, heads, kvHeads, maxSeq, scale, writeLse, chunk, splits, batch];
    gpu.dispatch(
      tokens === 1 ? 'attention.decode' : 'attention.prefill',
      gpu.pipeline('attention', source, 'flat_fwd', { HD: headDim, FWG: FLAT_WG }),
      [q.buffer, cache.k, cache.v, positions, out.buffer, lseBuf, partial],
      linearGroups(gpu, batch * tokens * heads * splits, FLAT_WG),
      params,
    );
    if (splits > 1) {
      gpu.dispatch('attention.combine', gpu.pipeline('attention', source, 'combine', { HD: headDim }), [partial, out.buffer, lseBuf], [heads, batch], params);
    }
    gpu.release(partial);
  } else if (tokens === 1) {
    const maxLen = Math.min(maxSeq, opts.maxLength ?? maxSeq);
    const splits = Math.max(1, Math.ceil(maxLen / DECODE_CHUNK));
    const partial = splits > 1 ? gpu.buffer(batch * heads * splits * (headDim + 4) * 4, 'attention.partial') : gpu.buffer(4, 'attention.partial-unused');
    const constants = { HD: headDim, DWG: DECODE_THREADS };
    const params = [1, heads, kvHeads, maxSeq, scale, writeLse, DECODE_CHUNK, splits, batch];
    gpu.dispatch(
      'attention.decode',
      gpu.pipeline('attention', source, 'decode', constants),
      [q.buffer, cache.k, cache.v, positions, out.buffer, lseBuf, partial],
      [heads, splits, batch],
      params,
    );
    if (splits > 1) {
      gpu.dispatch('attention.combine', gpu.pipeline('attention', source, 'combine', { HD: headDim }), [partial, out.buffer, lseBuf], [heads, batch], params);
    }
    gpu.release(partial);
  } else {
    const { BQ, BK } = prefillTiles(headDim);
    const rows = tokens * (heads / kvHeads);
    gpu.dispatch(
      'attention.prefill',
      gpu.pipeline('attention', source, 'prefill', { HD: headDim, BQ, BK }),
      [q.buffer, cache.k, cache.v, positions, out.buffer, lseBuf],
      [Math.ceil(rows / BQ), kvHeads, batch],
      [tokens, heads, kvHeads, maxSeq, scale, writeLse, 0, 0, batch],
    );
  }
  if (dummy) gpu.release(dummy);
  return out;
}

/**
 * Float64 reference. q is [batch*tokens, heads*headDim]; k and v are [batch, kvHeads, seq, headDim]
 * (the cache contents, seq positions). Returns out [batch*tokens, heads*headDim] and lse
 * [batch, heads, tokens].
 */
export function attentionRef(
  q: ArrayLike<number>,
  k: ArrayLike<number>,
  v: ArrayLike<number>,
  positions: ArrayLike<number>,
  batch: number,
  tokens: number,
  heads: number,
  kvHeads: number,
  headDim: number,
  seq: number,
): { out: Float64Array; lse: Float64Array } {
  const out = new Float64Array(batch * tokens * heads * headDim);
  const lse = new Float64Array(batch * heads * tokens);
  const group = heads / kvHeads;
  const scale = 1 / Math.sqrt(headDim);
  const scores = new Float64Array(seq);
  for (let b = 0; b < batch; b++) {
    for (let h = 0; h < heads; h++) {
      const kvh = Math.floor(h / group);
      const kvBase = (b * kvHeads + kvh) * seq;
      for (let t = 0; t < tokens; t++) {
        const qo = ((b * tokens + t) * heads + h) * headDim;
        const end = Math.min(positions[b] + t + 1, seq);
        let max = -Infinity;
        for (let j = 0; j < end; j++) {
          let s = 0;
          const ko = (kvBase + j) * headDim;
          for (let d = 0; d < headDim; d++) s += q[qo + d] * k[ko + d];
          scores[j] = s * scale;
          if (scores[j] > max) max = scores[j];
        }
        let sum = 0;
        for (let j = 0; j < end; j++) sum += scores[j] = Math.exp(scores[j] - max);
        for (let j = 0; j < end; j++) {
          const p = scores[j] / sum;
          const vo = (kvBase + j) * headDim;
          for (let d = 0; d < headDim; d++) out[qo + d] += p * v[vo + d];
        }
        lse[(b * heads + h) * tokens + t] = max + Math.log(sum);
      }
    }
  }
  return { out, lse };
}

/** Tiling of the backward kernels: BQ rows (bw_dq: query rows, bw_dkv: keys) per workgroup, BK per tile. */
function backwardTiles(headDim: number, kernel: 'dq' | 'dkv'): { BQ: number; BK: number; WG: number } {
  const tpq = headDim / 4;
  if (!Number.isInteger(tpq) || tpq < 1 || tpq > 256) throw new Error(`attention backward: headDim ${headDim} must be a multiple of 4 in [4, 1024]`);
  const BQ = Math.max(1, Math.min(64, Math.floor(256 / tpq)));
  const WG = BQ * tpq;
  for (const BK of [32, 16, 8, 4, 2, 1]) {
    // [q|dO] or [k|v] rows, the tile (twice for dkv), two score blocks, partial scores.
    const floats = 8 * WG + (kernel === 'dkv' ? 2 : 1) * BK * headDim + 2 * BQ * BK + WG;
    if (floats * 4 <= WORKGROUP_BYTES) return { BQ, BK, WG };
  }
  throw new Error(`attention backward: headDim ${headDim} does not fit in ${WORKGROUP_BYTES} bytes of workgroup memory`);
}

export interface AttentionBackwardOptions {
  tokens: number;
  heads: number;
  dq?: Tensor;
  dk?: Tensor;
  dv?: Tensor;
  /** Kernel family (default `attentionVariant(gpu, headDim)`). */
  variant?: AttentionVariant;
}

/**
 * Gradients of `attention` (prefill form, same q, cache, positions, tokens, heads) given dOut, the
 * gradient of its output, with `out` and `lse` from the forward. Probabilities are recomputed from
 * lse (FlashAttention-2 style). Returns dq [batch*tokens, heads*headDim] and dk, dv
 * [batch*tokens, kvHeads*headDim] for the k/v rows this call wrote (the writeKv layout); keys at
 * cache positions before positions[b] are treated as constants and get no gradient.
 */
export function attentionBackward(
  q: Tensor,
  cache: KvCache,
  positions: GPUBuffer,
  out: Tensor,
  dOut: Tensor,
  lse: Tensor,
  opts: AttentionBackwardOptions,
): { dq: Tensor; dk: Tensor; dv: Tensor } {
  const { tokens, heads } = opts;
  const { batch, kvHeads, maxSeq, headDim } = cache;
  const gpu = q.gpu;
  if (heads % kvHeads !== 0) throw new Error(`attentionBackward: ${heads} heads not a multiple of ${kvHeads} kv heads`);
  const size = batch * tokens * heads * headDim;
  const kvSize = batch * tokens * kvHeads * headDim;
  for (const [name, t] of [
    ['q', q],
    ['out', out],
    ['dOut', dOut],
  ] as const) {
    if (t.size !== size) throw new Error(`attentionBackward: ${name} has ${t.size} values; expected [${batch}*${tokens}, ${heads}*${headDim}]`);
  }
  if (lse.size !== batch * heads * tokens) throw new Error(`attentionBackward: lse has ${lse.size} values; expected [${batch}, ${heads}, ${tokens}]`);
  checkPositions(positions, batch);
  const dq = opts.dq ?? Tensor.empty(gpu, [batch * tokens, heads * headDim], 'attention.dq');
  const dk = opts.dk ?? Tensor.empty(gpu, [batch * tokens, kvHeads * headDim], 'attention.dk');
  const dv = opts.dv ?? Tensor.empty(gpu, [batch * tokens, kvHeads * headDim], 'attention.dv');
  if (dq.size !== size || dk.size !== kvSize || dv.size !== kvSize)
    throw new Error(`attentionBackward: gradient sizes ${dq.size}, ${dk.size}, ${dv.size}; expected ${size}, ${kvSize}, ${kvSize}`);
  if (size === 0) return { dq, dk, dv };
  const rowsTotal = batch * tokens * heads;
  const stats = gpu.buffer(rowsTotal * 8, 'attention.stats');
  const variant = pickVariant(gpu, headDim, opts.variant, 'attentionBackward');
  const params = [tokens, heads, kvHeads, maxSeq, { f32: 1 / Math.sqrt(headDim) }, rowsTotal, 0, 0, batch];
  gpu.dispatch(
    'attention.bw_stats',
    gpu.pipeline('attention', source, 'bw_stats', { HD: headDim }),
    [dOut.buffer, out.buffer, lse.buffer, stats],
    linearGroups(gpu, rowsTotal, 64),
    params,
  );

  if (variant === 'flat') {
    gpu.dispatch(
      'attention.bw_dq',
      gpu.pipeline('attention', source, 'flat_dq', { HD: headDim, FWG: FLAT_WG }),
      [q.buffer, cache.k, cache.v, positions, dOut.buffer, stats, dq.buffer],
      linearGroups(gpu, rowsTotal, FLAT_WG),
      params,
    );
    gpu.dispatch(
      'attention.bw_dkv',
      gpu.pipeline('attention', source, 'flat_dkv', { HD: headDim, FWG: FLAT_WG }),
      [q.buffer, cache.k, cache.v, positions, dOut.buffer, stats, dk.buffer, dv.buffer],
      linearGroups(gpu, batch * tokens * kvHeads, FLAT_WG),
      params,
    );
    gpu.release(stats);
    return { dq, dk, dv };
  }
  const t1 = backwardTiles(headDim, 'dq');
  gpu.dispatch(
    'attention.bw_dq',
    gpu.pipeline('attention', source, 'bw_dq', { HD: headDim, BQ: t1.BQ, BK: t1.BK, QA: 2 * t1.WG }),
    [q.buffer, cache.k, cache.v, positions, dOut.buffer, stats, dq.buffer],
    [Math.ceil((tokens * heads) / kvHeads / t1.BQ), kvHeads, batch],
    params,
  );
  const t2 = backwardTiles(headDim, 'dkv');
  gpu.dispatch(
    'attention.bw_dkv',
    gpu.pipeline('attention', source, 'bw_dkv', { HD: headDim, BQ: t2.BQ, BK: t2.BK, QA: 2 * t2.WG, TL: 2 * t2.BK * (headDim / 4) }),
    [q.buffer, cache.k, cache.v, positions, dOut.buffer, stats, dk.buffer, dv.buffer],
    [Math.ceil(tokens / t2.BQ), kvHeads, batch],
    params,
  );
  gpu.release(stats);
  return { dq, dk, dv };
}

/**
 * Float64 reference of the backward: gradients of sum(dOut ∘ out) for `attentionRef`'s inputs.
 * dq is [batch*tokens, heads*headDim]; dk and dv are [batch, kvHeads, seq, headDim] (every cache
 * position, including those before positions[b]).
 */
export function attentionBackwardRef(
  q: ArrayLike<number>,
  k: ArrayLike<number>,
  v: ArrayLike<number>,
  positions: ArrayLike<number>,
  dOut: ArrayLike<number>,
  batch: number,
  tokens: number,
  heads: number,
  kvHeads: number,
  headDim: number,
  seq: number,
): { dq: Float64Array; dk: Float64Array; dv: Float64Array } {
  const { out, lse } = attentionRef(q, k, v, positions, batch, tokens, heads, kvHeads, headDim, seq);
  const dq = new Float64Array(batch * tokens * heads * headDim);
  const dk = new Float64Array(batch * kvHeads * seq * headDim);
  const dv = new Float64Array(batch * kvHeads * seq * headDim);
  const group = heads / kvHeads;
  const scale = 1 / Math.sqrt(headDim);
  for (let b = 0; b < batch; b++) {
    for (let h = 0; h < heads; h++) {
      const kvBase = (b * kvHeads + Math.floor(h / group)) * seq;
      for (let t = 0; t < tokens; t++) {
        const qo = ((b * tokens + t) * heads + h) * headDim;
        const end = Math.min(positions[b] + t + 1, seq);
        const l = lse[(b * heads + h) * tokens + t];
        let delta = 0;
        for (let d = 0; d < headDim; d++) delta += dOut[qo + d] * out[qo + d];
        for (let j = 0; j < end; j++) {
          const ko = (kvBase + j) * headDim;
          let s = 0,
            dp = 0;
          for (let d = 0; d < headDim; d++) {
            s += q[qo + d] * k[ko + d];
            dp += dOut[qo + d] * v[ko + d];
          }
          const p = Math.exp(s * scale - l);
          const ds = p * (dp - delta);
          for (let d = 0; d < headDim; d++) {
            dq[qo + d] += scale * ds * k[ko + d];
            dk[ko + d] += scale * ds * q[qo + d];
            dv[ko + d] += p * dOut[qo + d];
          }
        }
      }
    }
  }
  return { dq, dk, dv };
}
