// RMSNorm (pre-norm and Qwen3's per-head q/k-norm) and its float64 CPU reference.

import familySource from '../../shaders/norm.wgsl?raw';
import { Tensor } from '../gpu/tensor.ts';
import type { Gpu } from '../gpu/runtime.ts';
import { linearGroups } from './dispatch.ts';
import { withPrelude } from './prelude.ts';

const source = withPrelude(familySource);

/**
 * 'workgroup': one workgroup per row with a workgroup-memory tree reduction (real GPUs).
 * 'flat': one invocation per row looping over it, no barriers (CPU adapters such as SwiftShader,
 * where each barrier is a thread sync: 32 rows of 128 took 6.6 ms with 'workgroup').
 */
export type NormVariant = 'workgroup' | 'flat';

const FLAT_WG = 16; // invocations (rows) per workgroup of the *_flat kernels, as in norm.wgsl

/** The variant used when none is forced: 'flat' on CPU adapters, 'workgroup' elsewhere. */
export function normVariant(gpu: Gpu, forced?: NormVariant): NormVariant {
  return forced ?? (gpu.isCpuAdapter ? 'flat' : 'workgroup');
}

/** Pipeline and workgroup counts of entry `entry` (a row kernel) for `rows` rows of `dim`. */
function rowKernel(
  gpu: Gpu,
  entry: string,
  rows: number,
  dim: number,
  variant: NormVariant,
): { name: string; pipeline: GPUComputePipeline; groups: [number, number] } {
  if (variant === 'flat') {
    const name = `${entry}_${dim % 4 === 0 ? 'flat4' : 'flat'}`;
    return { name, pipeline: gpu.pipeline('norm', source, name), groups: linearGroups(gpu, rows, FLAT_WG) };
  }
  return { name: entry, pipeline: gpu.pipeline('norm', source, entry, { WG: rowWorkgroup(dim) }), groups: linearGroups(gpu, rows, 1) };
}

/** Workgroup size for a row of `dim` values: the smallest of 64/128/256 that covers it. */
function rowWorkgroup(dim: number): number {
  return dim <= 64 ? 64 : dim <= 128 ? 128 : 256;
}

function rowsAndDim(x: Tensor, weight: Tensor, opts: { rows?: number; dim?: number }, what: string): [number, number] {
  const dim = opts.dim ?? weight.size;
  const rows = opts.rows ?? x.size / dim;
  if (!Number.isInteger(rows) || rows * dim !== x.size) {
    throw new Error(`${what}: x has ${x.size} values, not a whole number of rows of ${dim}`);
  }
  if (weight.size !== dim) throw new Error(`${what}: weight has ${weight.size} values for dim ${dim}`);
  return [rows, dim];
}

/**
 * RMSNorm over the last dim of x viewed as [rows, dim]: y = x / sqrt(mean(x²) + eps) * weight.
 * `dim` defaults to weight's size. For per-head norm view [tokens, heads*headDim] as
 * rows = tokens*heads, dim = headDim. `saveRstd` ([rows]) receives 1/rms for the backward.
 */
export function rmsNorm(
  x: Tensor,
  weight: Tensor,
  eps: number,
  opts: { out?: Tensor; rows?: number; dim?: number; saveRstd?: Tensor; variant?: NormVariant } = {},
): Tensor {
  const gpu = x.gpu;
  const [rows, dim] = rowsAndDim(x, weight, opts, 'rmsNorm');
  const out = opts.out ?? Tensor.empty(gpu, x.shape, 'rmsNorm');
  if (out.size !== x.size) throw new Error(`rmsNorm: out has ${out.size} values, x has ${x.size}`);
  if (opts.saveRstd && opts.saveRstd.size < rows) throw new Error(`rmsNorm: saveRstd has ${opts.saveRstd.size} values for ${rows} rows`);
  const entry = opts.saveRstd ? 'rms_norm_save' : 'rms_norm';
  const buffers = [x.buffer, weight.buffer, out.buffer];
  if (opts.saveRstd) buffers.push(opts.saveRstd.buffer);
  const k = rowKernel(gpu, entry, rows, dim, normVariant(gpu, opts.variant));
  gpu.dispatch(k.name, k.pipeline, buffers, k.groups, [rows, dim, { f32: eps }, 0, 0]);
  return out;
}

export function rmsNormRef(x: ArrayLike<number>, weight: ArrayLike<number>, rows: number, dim: number, eps: number): Float64Array {
  const out = new Float64Array(rows * dim);
  for (let r = 0; r < rows; r++) {
    let ss = 0;
    for (let j = 0; j < dim; j++) ss += x[r * dim + j] * x[r * dim + j];
    const inv = 1 / Math.sqrt(ss / dim + eps);
    for (let j = 0; j < dim; j++) out[r * dim + j] = x[r * dim + j] * inv * weight[j];
  }
  return out;
}

/** 1/rms per row (what `saveRstd` holds), float64. */
export function rmsNormRstdRef(x: ArrayLike<number>, rows: number, dim: number, eps: number): Float64Array {
  const out = new Float64Array(rows);
  for (let r = 0; r < rows; r++) {
    let ss = 0;
    for (let j = 0; j < dim; j++) ss += x[r * dim + j] * x[r * dim + j];
    out[r] = 1 / Math.sqrt(ss / dim + eps);
  }
  return out;
}

// ---- Backward ----------------------------------------------------------------------------------

export interface RmsNormBackwardOptions {
  rows?: number;
  dim?: number;
  dx?: Tensor;
  dweight?: Tensor;
  /** Force the dx kernel variant (default: normVariant). The dweight kernels have no barriers. */
  variant?: NormVariant;
}

/** dx of RMSNorm for upstream dy, from x, weight and the 1/rms saved by the forward (`saveRstd`). */
export function rmsNormBackwardDx(dy: Tensor, x: Tensor, weight: Tensor, rstd: Tensor, opts: RmsNormBackwardOptions = {}): Tensor {
  const gpu = x.gpu;
  const [rows, dim] = rowsAndDim(x, weight, opts, 'rmsNormBackward');
  if (dy.size !== x.size) throw new Error(`rmsNormBackward: dy has ${dy.size} values, x has ${x.size}`);
  if (rstd.size < rows) throw new Error(`rmsNormBackward: rstd has ${rstd.size} values for ${rows} rows`);
  const dx = opts.dx ?? Tensor.empty(gpu, x.shape, 'rmsNorm.dx');
  if (dx.size !== x.size) throw new Error(`rmsNormBackward: dx has ${dx.size} values, x has ${x.size}`);
  const k = rowKernel(gpu, 'rms_norm_backward_dx', rows, dim, normVariant(gpu, opts.variant));
  gpu.dispatch(k.name, k.pipeline, [x.buffer, weight.buffer, dx.buffer, rstd.buffer, dy.buffer], k.groups, [rows, dim, { f32: 0 }, 0, 0]);
  return dx;
}

/** dweight of RMSNorm: Σ over rows of dy · x · rstd, as a two-pass reduction (no atomics). */
export function rmsNormWeightGrad(dy: Tensor, x: Tensor, rstd: Tensor, dim: number, opts: { rows?: number; dweight?: Tensor } = {}): Tensor {
  const gpu = x.gpu;
  const rows = opts.rows ?? x.size / dim;
  if (!Number.isInteger(rows) || rows * dim !== x.size || dy.size !== x.size) {
    throw new Error(`rmsNormWeightGrad: x has ${x.size} values, dy ${dy.size}, not whole rows of ${dim}`);
  }
  if (rstd.size < rows) throw new Error(`rmsNormWeightGrad: rstd has ${rstd.size} values for ${rows} rows`);
  const dweight = opts.dweight ?? Tensor.empty(gpu, [dim], 'rmsNorm.dweight');
  if (dweight.size !== dim) throw new Error(`rmsNormWeightGrad: dweight has ${dweight.size} values for dim ${dim}`);
  if (rows === 0) {
    gpu.write(dweight.buffer, new Float32Array(dim));
    return dweight;
  }
  const maxY = gpu.limits.maxComputeWorkgroupsPerDimension;
  const rowsPerBlock = Math.max(32, Math.ceil(rows / Math.min(512, maxY)));
  const blocks = Math.ceil(rows / rowsPerBlock);
  const partial = gpu.buffer(blocks * dim * 4, 'rmsNorm.dweight.partial');
  const params = [rows, dim, { f32: 0 }, rowsPerBlock, blocks];
  const tiles = Math.ceil(dim / 256);
  gpu.dispatch(
    'rms_norm_dweight_partial',
    gpu.pipeline('norm', source, 'rms_norm_dweight_partial'),
    [dy.buffer, x.buffer, rstd.buffer, partial],
    [tiles, blocks],
    params,
  );
  gpu.dispatch('rms_norm_dweight_reduce', gpu.pipeline('norm', source, 'rms_norm_dweight_reduce'), [partial, dweight.buffer], [tiles], params);
  gpu.release(partial);
  return dweight;
}

/**
 * Gradients of y = rmsNorm(x, weight) for upstream dy, given the forward's saved 1/rms. Same row
 * view as the forward (per-head: rows = tokens*heads, dim = headDim; dweight sums over all rows).
 */
export function rmsNormBackward(dy: Tensor, x: Tensor, weight: Tensor, rstd: Tensor, opts: RmsNormBackwardOptions = {}): { dx: Tensor; dweight: Tensor } {
  const dx = rmsNormBackwardDx(dy, x, weight, rstd, opts);
  const [rows, dim] = rowsAndDim(x, weight, opts, 'rmsNormBackward');
  const dweight = rmsNormWeightGrad(dy, x, rstd, dim, { rows, dweight: opts.dweight });
  return { dx, dweight };
}

export function rmsNormBackwardRef(
  dy: ArrayLike<number>,
  x: ArrayLike<number>,
  weight: ArrayLike<number>,
  rows: number,
  dim: number,
  eps: number,
): { dx: Float64Array; dweight: Float64Array } {
  const dx = new Float64Array(rows * dim),
    dweight = new Float64Array(dim);
  const rstd = rmsNormRstdRef(x, rows, dim, eps);
  for (let r = 0; r < rows; r++) {
    const base = r * dim,
      inv = rstd[r];
    let dot = 0;
    for (let j = 0; j < dim; j++) dot += dy[base + j] * weight[j] * x[base + j];
    const k = (inv * inv * inv * dot) / dim;
    for (let j = 0; j < dim; j++) {
      dx[base + j] = inv * dy[base + j] * weight[j] - k * x[base + j];
      dweight[j] += dy[base + j] * x[base + j] * inv;
    }
  }
  return { dx, dweight };
}
