// RMSNorm (pre-norm and Qwen3's per-head q/k-norm) and its float64 CPU reference.

import source from '../../shaders/norm.wgsl?raw';
import { Tensor } from '../gpu/tensor.ts';
import { linearGroups } from './dispatch.ts';

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
  opts: { out?: Tensor; rows?: number; dim?: number; saveRstd?: Tensor } = {},
): Tensor {
  const gpu = x.gpu;
  const [rows, dim] = rowsAndDim(x, weight, opts, 'rmsNorm');
  const out = opts.out ?? Tensor.empty(gpu, x.shape, 'rmsNorm');
  if (out.size !== x.size) throw new Error(`rmsNorm: out has ${out.size} values, x has ${x.size}`);
  if (opts.saveRstd && opts.saveRstd.size < rows) throw new Error(`rmsNorm: saveRstd has ${opts.saveRstd.size} values for ${rows} rows`);
  const entry = opts.saveRstd ? 'rms_norm_save' : 'rms_norm';
  const buffers = [x.buffer, weight.buffer, out.buffer];
  if (opts.saveRstd) buffers.push(opts.saveRstd.buffer);
  const pipeline = gpu.pipeline('norm', source, entry, { WG: rowWorkgroup(dim) });
  gpu.dispatch(entry, pipeline, buffers, linearGroups(gpu, rows, 1), [rows, dim, { f32: eps }, 0, 0]);
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
