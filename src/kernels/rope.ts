// Rotary position embedding (HF rotate_half convention), the fused RoPE + KV-cache write after a
// q|k|v projection, and their float64 CPU references.

import familySource from '../../shaders/rope.wgsl?raw';
import type { Gpu } from '../gpu/runtime.ts';
import { Tensor } from '../gpu/tensor.ts';
import type { KvCache } from './attention.ts';
import { linearGroups } from './dispatch.ts';
import { rmsNormRef, rmsNormRstdRef } from './norm.ts';
import { withPrelude } from './prelude.ts';

const source = withPrelude(familySource);

export interface RopeOptions {
  batch: number;
  tokens: number;
  heads: number;
  headDim: number;
  theta: number;
  out?: Tensor;
}

/** inv_freq[i] = theta^(-2i/headDim), float64. */
function ropeInvFreq(headDim: number, theta: number): Float64Array {
  const half = headDim / 2;
  const out = new Float64Array(half);
  for (let i = 0; i < half; i++) out[i] = theta ** (-(2 * i) / headDim);
  return out;
}

const turnTables = new WeakMap<Gpu, Map<string, GPUBuffer>>();

/** (hi, lo) u32 words of round(inv_freq / 2π · 2^64) per frequency, uploaded once per (headDim, theta). */
function turnTable(gpu: Gpu, headDim: number, theta: number): GPUBuffer {
  let byKey = turnTables.get(gpu);
  if (!byKey) {
    byKey = new Map();
    turnTables.set(gpu, byKey);
  }
  const key = `${headDim}:${theta}`;
  let buffer = byKey.get(key);
  if (!buffer) {
    const invFreq = ropeInvFreq(headDim, theta);
    const words = new Uint32Array(invFreq.length * 2);
    invFreq.forEach((f, i) => {
      const turns = f / (2 * Math.PI);
      if (!(turns >= 0 && turns < 1)) throw new Error(`rope: inv_freq ${f} is out of range (theta ${theta})`);
      const fixed = BigInt(Math.round(turns * 2 ** 64));
      words[2 * i] = Number((fixed >> 32n) & 0xffffffffn);
      words[2 * i + 1] = Number(fixed & 0xffffffffn);
    });
    buffer = gpu.upload(words, `rope-turns[${key}]`);
    byKey.set(key, buffer);
  }
  return buffer;
}

function dispatchRope(kernel: string, x: Tensor, positions: GPUBuffer, opts: RopeOptions, sign: number): Tensor {
  const { batch, tokens, heads, headDim, theta } = opts;
  const gpu = x.gpu;
  if (headDim % 2 !== 0) throw new Error(`${kernel}: headDim ${headDim} must be even`);
  const size = batch * tokens * heads * headDim;
  if (x.size !== size) throw new Error(`${kernel}: x has ${x.size} values for [${batch}*${tokens}, ${heads}*${headDim}]`);
  if (positions.size < batch * 4) throw new Error(`${kernel}: positions buffer holds fewer than ${batch} u32`);
  const out = opts.out ?? Tensor.empty(gpu, x.shape, kernel);
  if (out.size !== size) throw new Error(`${kernel}: out has ${out.size} values, want ${size}`);
  if (out.buffer === x.buffer) throw new Error(`${kernel}: out must be a separate buffer from x`);
  const pairs = size / 2;
  gpu.dispatch(kernel, gpu.pipeline('rope', source, 'rope'), [x.buffer, positions, turnTable(gpu, headDim, theta), out.buffer], linearGroups(gpu, pairs, 256), [
    pairs,
    tokens,
    heads,
    headDim / 2,
    { f32: sign },
  ]);
  return out;
}

/**
 * Rotate x ([batch*tokens, heads*headDim], token-major) by position · inv_freq; token t of
 * sequence b is at positions[b] + t (`positions`: u32 [batch] on the GPU). Writes a new tensor
 * (or `out`, which must not be x).
 */
export function rope(x: Tensor, positions: GPUBuffer, opts: RopeOptions): Tensor {
  return dispatchRope('rope', x, positions, opts, 1);
}

/** Gradient of rope with respect to x: dy rotated by -angle. */
export function ropeBackward(dy: Tensor, positions: GPUBuffer, opts: RopeOptions): Tensor {
  return dispatchRope('rope_backward', dy, positions, opts, -1);
}

export interface RopeQkvOptions {
  batch: number;
  tokens: number;
  heads: number;
  theta: number;
  /** Qwen3's per-head RMSNorm of q and k before RoPE (weights [headDim] each). */
  qkNorm?: { q: Tensor; k: Tensor; eps: number; save?: QkNormSaved };
}

/** What the backward of the per-head q/k norm needs, filled by `ropeQkv` when given. */
export interface QkNormSaved {
  /** Pre-norm q [rows, heads·headDim] and k [rows, kvHeads·headDim]. */
  qPre: Tensor;
  kPre: Tensor;
  /** 1/rms per (row, head): [rows·heads] and [rows·kvHeads]. */
  rstdQ: Tensor;
  rstdK: Tensor;
}

/**
 * The step after a fused q|k|v projection (DESIGN.md §5.3): qkv is [batch*tokens, (heads +
 * 2·kvHeads)·headDim] (q heads, then k heads, then v heads in each row). Returns RoPE(q)
 * [batch*tokens, heads·headDim] and writes RoPE(k) and v into the cache at positions[b] + t, in one
 * dispatch (what rope, rope and writeKv do apart). With `qkNorm`, q and k heads are RMS-normed
 * first (Qwen3), in the same dispatch.
 */
export function ropeQkv(qkv: Tensor, positions: GPUBuffer, cache: KvCache, opts: RopeQkvOptions): Tensor {
  const { batch, tokens, heads, theta, qkNorm } = opts;
  const { kvHeads, headDim, maxSeq } = cache;
  const gpu = qkv.gpu;
  const rows = batch * tokens;
  const width = (heads + 2 * kvHeads) * headDim;
  if (qkv.size !== rows * width) throw new Error(`ropeQkv: qkv has ${qkv.size} values for [${batch}*${tokens}, (${heads} + 2·${kvHeads})·${headDim}]`);
  if (cache.batch !== batch) throw new Error(`ropeQkv: cache holds ${cache.batch} sequences, batch is ${batch}`);
  if (positions.size < batch * 4) throw new Error(`ropeQkv: positions buffer holds fewer than ${batch} u32`);
  const qSize = rows * heads * headDim;
  const turns = turnTable(gpu, headDim, theta);
  if (!qkNorm) {
    const out = Tensor.empty(gpu, [rows, heads * headDim], 'rope_qkv');
    const pairs = (rows * width) / 2;
    gpu.dispatch(
      'rope_qkv',
      gpu.pipeline('rope', source, 'rope_qkv'),
      [qkv.buffer, positions, turns, out.buffer, cache.k, cache.v],
      linearGroups(gpu, pairs, 256),
      [pairs, tokens, heads, headDim / 2, kvHeads, maxSeq, { f32: 0 }],
    );
    return out;
  }
  for (const [name, w] of [
    ['q', qkNorm.q],
    ['k', qkNorm.k],
  ] as const) {
    if (w.size !== headDim) throw new Error(`ropeQkv: the ${name} norm weight has ${w.size} values, headDim is ${headDim}`);
  }
  const { save } = qkNorm;
  const kSize = rows * kvHeads * headDim;
  // With save, the saved tensors follow the rotated q in one output (the kernel has no binding to spare).
  const sections = [qSize, qSize, kSize, rows * heads, rows * kvHeads];
  const saved = save ? [save.qPre, save.kPre, save.rstdQ, save.rstdK] : [];
  saved.forEach((t, i) => {
    if (t.size !== sections[i + 1]) throw new Error(`ropeQkv: saved ${['qPre', 'kPre', 'rstdQ', 'rstdK'][i]} has ${t.size} values, needs ${sections[i + 1]}`);
  });
  const total = save ? sections.reduce((a, b) => a + b, 0) : qSize;
  const buffer = gpu.buffer(total * 4, 'rope_qkv_norm');
  const items = rows * (heads + 2 * kvHeads);
  gpu.dispatch(
    'rope_qkv_norm',
    gpu.pipeline('rope', source, 'rope_qkv_norm', { SAVE: save ? 1 : 0 }),
    [qkv.buffer, positions, turns, buffer, cache.k, cache.v, qkNorm.q.buffer, qkNorm.k.buffer],
    linearGroups(gpu, items, 64),
    [items, tokens, heads, headDim / 2, kvHeads, maxSeq, { f32: qkNorm.eps }],
  );
  if (!save) return new Tensor(gpu, buffer, [rows, heads * headDim]);
  // Every section into a tensor of its own, so saved activations hold no more than they use.
  const q = Tensor.empty(gpu, [rows, heads * headDim], 'rope_qkv_norm');
  let offset = 0;
  for (const t of [q, ...saved]) {
    gpu.copy(buffer, offset * 4, t.buffer, 0, t.size * 4);
    offset += t.size;
  }
  gpu.release(buffer);
  return q;
}

/**
 * Float64 reference of `ropeQkv`: the q heads rotated, and the rotated k and the v rows
 * ([batch*tokens, kvHeads·headDim] each) that go into the cache; with `qkNorm`, q and k heads are
 * RMS-normed before the rotation, and qPre/kPre/rstdQ/rstdK are what the GPU saves.
 */
export function ropeQkvRef(
  qkv: ArrayLike<number>,
  positions: ArrayLike<number>,
  dims: {
    batch: number;
    tokens: number;
    heads: number;
    kvHeads: number;
    headDim: number;
    theta: number;
    qkNorm?: { q: ArrayLike<number>; k: ArrayLike<number>; eps: number };
  },
): { q: Float64Array; k: Float64Array; v: Float64Array; qPre: Float64Array; kPre: Float64Array; rstdQ?: Float64Array; rstdK?: Float64Array } {
  const { batch, tokens, heads, kvHeads, headDim, theta, qkNorm } = dims;
  const rows = batch * tokens;
  const width = (heads + 2 * kvHeads) * headDim;
  const part = (from: number, n: number) => {
    const out = new Float64Array(rows * n);
    for (let r = 0; r < rows; r++) for (let j = 0; j < n; j++) out[r * n + j] = qkv[r * width + from + j];
    return out;
  };
  const qd = heads * headDim,
    kd = kvHeads * headDim;
  const qPre = part(0, qd),
    kPre = part(qd, kd);
  const q = qkNorm ? rmsNormRef(qPre, qkNorm.q, rows * heads, headDim, qkNorm.eps) : qPre;
  const k = qkNorm ? rmsNormRef(kPre, qkNorm.k, rows * kvHeads, headDim, qkNorm.eps) : kPre;
  return {
    q: ropeRef(q, positions, batch, tokens, heads, headDim, theta),
    k: ropeRef(k, positions, batch, tokens, kvHeads, headDim, theta),
    v: part(qd + kd, kd),
    qPre,
    kPre,
    rstdQ: qkNorm && rmsNormRstdRef(qPre, rows * heads, headDim, qkNorm.eps),
    rstdK: qkNorm && rmsNormRstdRef(kPre, rows * kvHeads, headDim, qkNorm.eps),
  };
}

function ropeRefSigned(
  x: ArrayLike<number>,
  positions: ArrayLike<number>,
  batch: number,
  tokens: number,
  heads: number,
  headDim: number,
  theta: number,
  sign: number,
): Float64Array {
  const half = headDim / 2;
  const invFreq = ropeInvFreq(headDim, theta);
  const out = new Float64Array(batch * tokens * heads * headDim);
  for (let b = 0; b < batch; b++) {
    for (let t = 0; t < tokens; t++) {
      const pos = positions[b] + t;
      const row = b * tokens + t;
      for (let h = 0; h < heads; h++) {
        const base = (row * heads + h) * headDim;
        for (let i = 0; i < half; i++) {
          const angle = sign * pos * invFreq[i];
          const c = Math.cos(angle),
            s = Math.sin(angle);
          const x1 = x[base + i],
            x2 = x[base + i + half];
          out[base + i] = x1 * c - x2 * s;
          out[base + i + half] = x2 * c + x1 * s;
        }
      }
    }
  }
  return out;
}

export function ropeRef(
  x: ArrayLike<number>,
  positions: ArrayLike<number>,
  batch: number,
  tokens: number,
  heads: number,
  headDim: number,
  theta: number,
): Float64Array {
  return ropeRefSigned(x, positions, batch, tokens, heads, headDim, theta, 1);
}

/** dx for upstream gradient dy: the transpose of the rotation, i.e. rotation by -angle. */
export function ropeBackwardRef(
  dy: ArrayLike<number>,
  positions: ArrayLike<number>,
  batch: number,
  tokens: number,
  heads: number,
  headDim: number,
  theta: number,
): Float64Array {
  return ropeRefSigned(dy, positions, batch, tokens, heads, headDim, theta, -1);
}
