// LoRA layers on the GPU: the forward y += s · dropout(x) Aᵀ Bᵀ and its backward, composed from
// `gemm`, plus an inverted-dropout kernel whose mask is a hash of (seed, element) so the backward
// recomputes it; float64 CPU references of all of it, and the CPU merge W' = W + s · B A.
// (The adapter holding one LoraLayer per site, with PEFT import/export, is src/lora/adapter.ts.)
//
// Shapes (rows = tokens): x [T, in], A [r, in], B [out, r], y [T, out], D = dropout(x) Aᵀ [T, r].
//   forward:  D = dropout(x)·Aᵀ ;  y += s · D·Bᵀ
//   backward: gradB += s · dyᵀ·D ;  dD = s · dy·B ;  gradA += dDᵀ·dropout(x) ;  dx += dropout'(dD·A)
// where dropout'(g) = mask ⊙ g / (1 - p) (the same mask as the forward).

import familySource from '../../shaders/lora.wgsl?raw';
import { Tensor, WeightMatrix } from '../gpu/tensor.ts';
import { linearGroups } from './dispatch.ts';
import { type ColumnSlice, gemm, matmulConcat } from './matmul.ts';
import { withPrelude } from './prelude.ts';

const source = withPrelude(familySource);

/** One LoRA site: A [r, in], B [out, r] and their gradient accumulators (same shapes). */
export class LoraLayer {
  constructor(
    readonly inDim: number,
    readonly outDim: number,
    readonly r: number,
    readonly scale: number,
    readonly A: Tensor,
    readonly B: Tensor,
    public gradA: Tensor,
    public gradB: Tensor,
  ) {}
}

// -------------------------------------------------------------------------------------------------
// Dropout mask (shared by the kernel and the CPU references)

/** PCG output permutation on u32 (same as shaders/lora.wgsl and sample.wgsl). */
function pcgHash(x: number): number {
  const state = (Math.imul(x >>> 0, 747796405) + 2891336453) >>> 0;
  const word = Math.imul(((state >>> ((state >>> 28) + 4)) ^ state) >>> 0, 277803737) >>> 0;
  return ((word >>> 22) ^ word) >>> 0;
}

/**
 * A u32 dropout seed for one LoRA call site, mixed from any integers (e.g. run seed, optimizer step,
 * micro-batch, layer, module index). The forward and backward of one site must use the same seed;
 * different sites and steps should use different ones.
 */
export function dropoutSeed(...parts: number[]): number {
  let h = 0x2545f491;
  for (const p of parts) h = pcgHash((h ^ pcgHash(p >>> 0)) >>> 0);
  return h;
}

function threshold(p: number): number {
  if (!(p >= 0 && p < 1)) throw new Error(`LoRA dropout: p must be in [0, 1), got ${p}.`);
  return Math.min(0xffffffff, Math.round(p * 4294967296));
}

/** Whether element i (flat index into x) survives dropout p under `seed`: the kernel's exact mask. */
export function dropoutKeep(seed: number, p: number, i: number): boolean {
  const h = pcgHash((((pcgHash(seed >>> 0) + 0x9e3779b9) >>> 0) ^ pcgHash(i >>> 0)) >>> 0);
  return h >= threshold(p);
}

/** The dropout multipliers (0 or 1/(1-p)) for n elements: what the kernel applies. */
export function dropoutMaskRef(seed: number, p: number, n: number): Float64Array {
  const out = new Float64Array(n);
  const t = threshold(p);
  const keepScale = 1 / (1 - p);
  const sh = (pcgHash(seed >>> 0) + 0x9e3779b9) >>> 0;
  for (let i = 0; i < n; i++) out[i] = pcgHash((sh ^ pcgHash(i)) >>> 0) >= t ? keepScale : 0;
  return out;
}

export interface DropoutOptions {
  /** Dropout probability in [0, 1); 0 means no dropout. */
  p: number;
  /** u32 seed for this call site (see `dropoutSeed`); the backward must get the same one. */
  seed: number;
}

/** dst = mask ⊙ src / (1-p), or dst += … with accumulate. */
function dropoutKernel(src: Tensor, dst: Tensor, d: DropoutOptions, accumulate: boolean): void {
  const gpu = src.gpu;
  if (src.size !== dst.size) throw new Error(`lora dropout: sizes ${src.size} and ${dst.size} differ`);
  gpu.dispatch('lora_dropout', gpu.pipeline('lora', source, 'dropout'), [src.buffer, dst.buffer], linearGroups(gpu, src.size, 256), [
    src.size,
    d.seed >>> 0,
    threshold(d.p),
    accumulate ? 1 : 0,
    { f32: 1 / (1 - d.p) },
  ]);
}

function activeDropout(opts?: { dropout?: DropoutOptions }): DropoutOptions | null {
  const d = opts?.dropout;
  if (!d) return null;
  threshold(d.p); // validates p
  return d.p > 0 ? d : null;
}

function rowsOf(t: Tensor, cols: number, what: string): number {
  const rows = t.size / cols;
  if (t.shape[t.shape.length - 1] !== cols || !Number.isInteger(rows)) {
    throw new Error(`lora: ${what} has shape [${t.shape}], expected [..., ${cols}]`);
  }
  return rows;
}

/**
 * Forward of one LoRA site: y += scale · dropout(x) · Aᵀ · Bᵀ. x [T, in], y [T, out] (already
 * holding W x + b), or with `columns` the slice [col0, col0 + out) of rows `stride` wide (one
 * projection of a fused q|k|v output). Returns D = dropout(x)·Aᵀ [T, r], which `loraBackward` needs; the caller
 * releases it. Dropout (training only) is inverted dropout with p = opts.dropout.p and a mask
 * hashed from (opts.dropout.seed, element index), which the backward recomputes.
 */
export function loraForward(x: Tensor, lora: LoraLayer, y: Tensor, opts?: { dropout?: DropoutOptions; columns?: ColumnSlice }): Tensor {
  const T = rowsOf(x, lora.inDim, 'x');
  const yRows = opts?.columns ? y.size / opts.columns.stride : rowsOf(y, lora.outDim, 'y');
  if (yRows !== T) throw new Error(`lora: x [${x.shape}] and y [${y.shape}] have different row counts`);
  const drop = activeDropout(opts);
  let xd = x;
  if (drop) {
    xd = Tensor.empty(x.gpu, x.shape, 'lora.xdrop');
    dropoutKernel(x, xd, drop, false);
  }
  const d = gemm(xd, lora.A, { transB: true, out: Tensor.empty(x.gpu, [T, lora.r], 'lora.D') });
  gemm(d, lora.B, { transB: true, out: y, accumulate: true, alpha: lora.scale, outColumns: opts?.columns });
  if (drop) xd.release();
  return d;
}

/** One site of a LoRA group: its layer and the output it adds into (y [T, out], or a column slice of rows `stride` wide). */
export interface LoraGroupSite {
  lora: LoraLayer;
  y: Tensor;
  columns?: ColumnSlice;
}

/** Sites per group: the q|k|v projections share an input, as do gate and up. */
const GROUP_SITES = 3;

/**
 * Inference forward (no dropout, nothing kept for a backward) of up to 3 LoRA sites that share the
 * input x [T, in]: D = x·[A_1; …; A_k]ᵀ [T, k·r] as one projection, then every y_s += scale_s ·
 * D_s·B_sᵀ in one `up_group` dispatch — 2 dispatches for the group instead of 2 per site
 * (DESIGN.md §7.1). The sites add into at most two distinct outputs.
 */
export function loraForwardGroup(x: Tensor, sites: LoraGroupSite[]): void {
  const gpu = x.gpu;
  if (sites.length < 1 || sites.length > GROUP_SITES) throw new Error(`lora group: 1 to ${GROUP_SITES} sites, got ${sites.length}`);
  const { inDim, r } = sites[0].lora;
  const T = rowsOf(x, inDim, 'x');
  const outputs: GPUBuffer[] = [];
  const params = sites.map(({ lora, y, columns }, s) => {
    if (lora.inDim !== inDim || lora.r !== r) throw new Error(`lora group: site ${s} is [r ${lora.r}, in ${lora.inDim}], site 0 [r ${r}, in ${inDim}]`);
    const stride = columns?.stride ?? lora.outDim;
    const col0 = columns?.col0 ?? 0;
    if (col0 + lora.outDim > stride || y.size !== T * stride)
      throw new Error(`lora group: site ${s}'s output has ${y.size} values, need ${T} rows of ${stride} holding columns ${col0}..${col0 + lora.outDim}`);
    if (!outputs.includes(y.buffer)) outputs.push(y.buffer);
    return { N: lora.outDim, dCol0: s * r, col0, stride, output: outputs.indexOf(y.buffer), scale: lora.scale };
  });
  if (outputs.length > 2) throw new Error(`lora group: the sites add into ${outputs.length} outputs, at most 2`);
  if (T === 0) return;
  const A = sites.map(({ lora }) => ({ w: new WeightMatrix(r, inDim, 'f32', [{ buffer: lora.A.buffer, rowStart: 0, rows: r }], 'lora_A', gpu) }));
  const d = matmulConcat(x, A, { out: Tensor.empty(gpu, [T, sites.length * r], 'lora.D') });
  const unusedY = outputs.length < 2 ? gpu.buffer(4, 'lora.y-unused') : null;
  const B = Array.from({ length: GROUP_SITES }, (_, s) => sites[Math.min(s, sites.length - 1)].lora.B.buffer);
  const site = Array.from({ length: GROUP_SITES }, (_, s) => params[s] ?? { N: 0, dCol0: 0, col0: 0, stride: 0, output: 0, scale: 0 });
  // up_group4: 4 × 4 outputs per invocation where r % 4 == 0; up_group: one.
  const tiled = r % 4 === 0;
  const invocations = Math.max(...params.map((p) => (tiled ? Math.ceil(T / 4) * Math.ceil(p.N / 4) : T * p.N)));
  gpu.dispatch(
    tiled ? 'lora_up_group4' : 'lora_up_group',
    gpu.pipeline('lora', source, tiled ? 'up_group4' : 'up_group'),
    [d.buffer, ...B, outputs[0], outputs[1] ?? unusedY!],
    [...linearGroups(gpu, invocations, 64), sites.length],
    [
      T,
      r,
      sites.length * r,
      0,
      ...site.flatMap((p) => [p.N, p.dCol0, p.col0, p.stride]),
      ...site.map((p) => p.output),
      0,
      ...site.map((p) => ({ f32: p.scale })),
      { f32: 0 },
    ],
  );
  d.release();
  if (unusedY) gpu.release(unusedY);
}

/**
 * Backward of one LoRA site given upstream dy [T, out] and the forward's D [T, r]:
 *   gradB += scale · dyᵀ·D ;  dD = scale · dy·B ;  gradA += dDᵀ·dropout(x) ;  dx += dropout'(dD·A).
 * Accumulates into lora.gradA and lora.gradB (so micro-batches accumulate) and into dx (which the
 * caller has already set to dy·W); pass dx = null to skip the input gradient. `opts.dropout` must
 * equal the forward's.
 */
export function loraBackward(x: Tensor, d: Tensor, dy: Tensor, lora: LoraLayer, dx: Tensor | null, opts?: { dropout?: DropoutOptions }): void {
  const gpu = x.gpu;
  const T = rowsOf(x, lora.inDim, 'x');
  if (rowsOf(dy, lora.outDim, 'dy') !== T) throw new Error(`lora: x [${x.shape}] and dy [${dy.shape}] have different row counts`);
  if (d.size !== T * lora.r) throw new Error(`lora: D has shape [${d.shape}], expected [${T}, ${lora.r}]`);
  if (dx && dx.size !== x.size) throw new Error(`lora: dx has shape [${dx.shape}], expected [${x.shape}]`);
  const drop = activeDropout(opts);
  // gradB [out, r] += scale · dyᵀ [out, T] · D [T, r]
  gemm(dy, d, { transA: true, out: lora.gradB, accumulate: true, alpha: lora.scale });
  // dD [T, r] = scale · dy [T, out] · B [out, r]
  const dD = gemm(dy, lora.B, { alpha: lora.scale, out: Tensor.empty(gpu, [T, lora.r], 'lora.dD') });
  // gradA [r, in] += dDᵀ [r, T] · dropout(x) [T, in]
  let xd = x;
  if (drop) {
    xd = Tensor.empty(gpu, x.shape, 'lora.xdrop');
    dropoutKernel(x, xd, drop, false);
  }
  gemm(dD, xd, { transA: true, out: lora.gradA, accumulate: true });
  if (drop) xd.release();
  // dx [T, in] += dropout'(dD [T, r] · A [r, in])
  if (dx) {
    if (drop) {
      const g = gemm(dD, lora.A, { out: Tensor.empty(gpu, [T, lora.inDim], 'lora.dxd') });
      dropoutKernel(g, dx, drop, true);
      g.release();
    } else {
      gemm(dD, lora.A, { out: dx, accumulate: true });
    }
  }
  dD.release();
}

// -------------------------------------------------------------------------------------------------
// Float64 references

export interface LoraRefDims {
  T: number;
  inDim: number;
  outDim: number;
  r: number;
  scale: number;
}

/** dropout(x) in float64 with the kernel's mask (x itself when there is no dropout). */
function dropRef(x: ArrayLike<number>, dropout?: DropoutOptions): Float64Array {
  const out = Float64Array.from(x as ArrayLike<number>);
  if (dropout && dropout.p > 0) {
    const m = dropoutMaskRef(dropout.seed, dropout.p, out.length);
    for (let i = 0; i < out.length; i++) out[i] *= m[i];
  }
  return out;
}

/**
 * Float64 reference of `loraForward`: returns y = y0 + scale · dropout(x)·Aᵀ·Bᵀ (y0 defaults to 0)
 * and D = dropout(x)·Aᵀ.
 */
export function loraForwardRef(
  x: ArrayLike<number>,
  A: ArrayLike<number>,
  B: ArrayLike<number>,
  dims: LoraRefDims,
  opts: { y0?: ArrayLike<number>; dropout?: DropoutOptions } = {},
): { y: Float64Array; d: Float64Array } {
  const { T, inDim, outDim, r, scale } = dims;
  const xd = dropRef(x, opts.dropout);
  const d = new Float64Array(T * r);
  for (let t = 0; t < T; t++) {
    for (let k = 0; k < r; k++) {
      let s = 0;
      for (let i = 0; i < inDim; i++) s += xd[t * inDim + i] * A[k * inDim + i];
      d[t * r + k] = s;
    }
  }
  const y = new Float64Array(T * outDim);
  for (let t = 0; t < T; t++) {
    for (let o = 0; o < outDim; o++) {
      let s = 0;
      for (let k = 0; k < r; k++) s += d[t * r + k] * B[o * r + k];
      y[t * outDim + o] = (opts.y0 ? opts.y0[t * outDim + o] : 0) + scale * s;
    }
  }
  return { y, d };
}

/**
 * Float64 reference of `loraBackward` for upstream dy: the gradients of Σ dy ⊙ y with respect to A,
 * B and x through the LoRA branch only (dx excludes the frozen dy·W term).
 */
export function loraBackwardRef(
  x: ArrayLike<number>,
  dy: ArrayLike<number>,
  A: ArrayLike<number>,
  B: ArrayLike<number>,
  dims: LoraRefDims,
  opts: { dropout?: DropoutOptions } = {},
): { gradA: Float64Array; gradB: Float64Array; dx: Float64Array } {
  const { T, inDim, outDim, r, scale } = dims;
  const { d } = loraForwardRef(x, A, B, dims, opts);
  const xd = dropRef(x, opts.dropout);
  const gradB = new Float64Array(outDim * r);
  for (let o = 0; o < outDim; o++) {
    for (let k = 0; k < r; k++) {
      let s = 0;
      for (let t = 0; t < T; t++) s += dy[t * outDim + o] * d[t * r + k];
      gradB[o * r + k] = scale * s;
    }
  }
  const dD = new Float64Array(T * r);
  for (let t = 0; t < T; t++) {
    for (let k = 0; k < r; k++) {
      let s = 0;
      for (let o = 0; o < outDim; o++) s += dy[t * outDim + o] * B[o * r + k];
      dD[t * r + k] = scale * s;
    }
  }
  const gradA = new Float64Array(r * inDim);
  for (let k = 0; k < r; k++) {
    for (let i = 0; i < inDim; i++) {
      let s = 0;
      for (let t = 0; t < T; t++) s += dD[t * r + k] * xd[t * inDim + i];
      gradA[k * inDim + i] = s;
    }
  }
  const mask = opts.dropout && opts.dropout.p > 0 ? dropoutMaskRef(opts.dropout.seed, opts.dropout.p, T * inDim) : null;
  const dx = new Float64Array(T * inDim);
  for (let t = 0; t < T; t++) {
    for (let i = 0; i < inDim; i++) {
      let s = 0;
      for (let k = 0; k < r; k++) s += dD[t * r + k] * A[k * inDim + i];
      dx[t * inDim + i] = mask ? s * mask[t * inDim + i] : s;
    }
  }
  return { gradA, gradB, dx };
}

/** Merge for export: W' = W + scale · B A on the CPU in float64, returned as f32 [out, in]. */
export function mergeLoraRef(
  w: ArrayLike<number>,
  A: ArrayLike<number>,
  B: ArrayLike<number>,
  out: number,
  inDim: number,
  r: number,
  scale: number,
): Float32Array {
  if (w.length !== out * inDim) throw new Error(`mergeLoraRef: W has ${w.length} values, expected ${out}×${inDim}`);
  if (A.length !== r * inDim) throw new Error(`mergeLoraRef: A has ${A.length} values, expected ${r}×${inDim}`);
  if (B.length !== out * r) throw new Error(`mergeLoraRef: B has ${B.length} values, expected ${out}×${r}`);
  const merged = new Float32Array(out * inDim);
  for (let o = 0; o < out; o++) {
    for (let i = 0; i < inDim; i++) {
      let s = 0;
      for (let k = 0; k < r; k++) s += B[o * r + k] * A[k * inDim + i];
      merged[o * inDim + i] = w[o * inDim + i] + scale * s;
    }
  }
  return merged;
}
