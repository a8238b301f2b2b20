// Matmul kernels: the weight projection Y = X·Wᵀ (+ bias) over f32 / packed f16 / packed bf16 weight
// matrices in row chunks (register-tiled for prefill, GEMV for decode; optionally added into the
// output, the fused residual add), an f32 GEMM with transpose
// flags for backward passes, the input gradient dX = dY·W through a frozen weight matrix, the f32
// weight gradient dW = dYᵀ·X, and their float64 CPU references.

import familySource from '../../shaders/matmul.wgsl?raw';
import type { Gpu } from '../gpu/runtime.ts';
import { Tensor, type WeightDType, type WeightMatrix } from '../gpu/tensor.ts';
import { linearGroups } from './dispatch.ts';
import { DTYPE_CODE, withPrelude } from './prelude.ts';

// The family's subgroup kernels follow this marker; they compile only with `enable subgroups;`.
const [baseSource, subgroupSource] = familySource.split('// ---- subgroups ----');
const source = withPrelude(baseSource);
// The same entry points plus the subgroup ones (uniformity is per subgroup there: each subgroup
// works on its own weight row, which WGSL's workgroup-wide analysis cannot see).
const subgroupFamily = `enable subgroups;\ndiagnostic(off, subgroup_uniformity);\n${withPrelude(baseSource + subgroupSource)}`;
/** Up to this many input rows take a GEMV kernel (when K % 4 == 0). */
const GEMV_MAX_M = 4;
const GEMV_ROWS = 16; // weight rows per mm_gemv workgroup (GV_ROWS)
const NARROW_ROWS = 128; // weight rows per mm_narrow workgroup (64 invocations × NW_ROWS)
const TILE = 32; // outputs per workgroup edge in the tiled kernels (8×8 threads × 4×4 each)

export type MatmulKernel = 'mm_tiled' | 'mm_scalar' | 'mm_gemv' | 'mm_narrow';

/**
 * Which kernel `matmul` uses for M input rows of length K on this GPU (exported for tests and
 * benches). Small M takes the subgroup GEMV `mm_gemv` on GPUs with the `subgroups` feature, and the
 * plain-loop `mm_narrow` elsewhere: on SwiftShader (which has subgroups) each loop iteration and
 * gathered load has a large fixed cost, and mm_narrow's 2 rows × 16 weights per iteration measured
 * ~2× faster than one subgroup per row (DESIGN.md §4.1).
 */
export function matmulKernel(M: number, K: number, gpu?: Gpu, dtype: WeightDType = 'f32'): MatmulKernel {
  if (K % 4 !== 0) return 'mm_scalar';
  if (M > GEMV_MAX_M) return 'mm_tiled';
  if (gpu?.hasSubgroups && !isCpuEmulated(gpu)) return 'mm_gemv';
  return narrowFits(K, dtype) ? 'mm_narrow' : 'mm_tiled';
}

/** mm_narrow reads whole vec4<u32> words: 8-aligned rows for packed weights. */
function narrowFits(K: number, dtype: WeightDType): boolean {
  return K % (dtype === 'f32' ? 4 : 8) === 0;
}

function isCpuEmulated(gpu: Gpu): boolean {
  return gpu.adapter.architecture === 'swiftshader' || /swiftshader/i.test(gpu.adapter.description);
}

export interface MatmulOptions {
  /** Bias over all rows of W ([w.rows]); element rowStart + j is added to output column j. */
  bias?: Tensor;
  /** Output tensor of M·count values (default: a new [..., count] tensor). */
  out?: Tensor;
  /** First weight row (output feature) to compute. Default 0. */
  rowStart?: number;
  /** Number of weight rows to compute; the output row stride. Default w.rows - rowStart. */
  count?: number;
  /** Y += X·Wᵀ (+ bias) into `out` (needs `out`): the residual add fused into the projection. */
  accumulate?: boolean;
  /** Force a kernel (tests and benches). */
  kernel?: MatmulKernel;
}

/**
 * Y[M, count] = X[M, K] · W[rowStart : rowStart+count, :]ᵀ (+ bias[rowStart : rowStart+count]).
 * X is any tensor whose last dimension is K = w.cols; W is a WeightMatrix [N, K] in f32 / packed
 * f16 / packed bf16, possibly in several row chunks (one dispatch per chunk touched). With
 * `accumulate`, the result is added to what `out` holds.
 */
export function matmul(x: Tensor, w: WeightMatrix, opts: MatmulOptions = {}): Tensor {
  const gpu = x.gpu;
  const K = w.cols;
  const M = x.size / K;
  if (x.shape[x.shape.length - 1] !== K || !Number.isInteger(M)) {
    throw new Error(`matmul(${w.name}): input shape [${x.shape}] does not end in K = ${K}`);
  }
  const rowStart = opts.rowStart ?? 0;
  const count = opts.count ?? w.rows - rowStart;
  if (!(rowStart >= 0 && count >= 0 && rowStart + count <= w.rows) || !Number.isInteger(rowStart) || !Number.isInteger(count)) {
    throw new Error(`matmul(${w.name}): rows [${rowStart}, ${rowStart + count}) outside [0, ${w.rows})`);
  }
  const out = opts.out ?? Tensor.empty(gpu, [...x.shape.slice(0, -1), count], `matmul(${w.name})`);
  if (out.size !== M * count) throw new Error(`matmul(${w.name}): output has ${out.size} values, need ${M}×${count}`);
  if (opts.accumulate && !opts.out) throw new Error(`matmul(${w.name}): accumulate needs an output tensor`);
  if (opts.bias && opts.bias.size !== w.rows) {
    throw new Error(`matmul(${w.name}): bias has ${opts.bias.size} values, need ${w.rows}`);
  }
  if (M === 0 || count === 0) return out;

  const kernel = opts.kernel ?? matmulKernel(M, K, gpu, w.dtype);
  if (kernel !== 'mm_scalar' && K % 4 !== 0) throw new Error(`matmul: ${kernel} needs K % 4 == 0, K = ${K}`);
  if ((kernel === 'mm_gemv' || kernel === 'mm_narrow') && M > GEMV_MAX_M) throw new Error(`matmul: ${kernel} takes at most ${GEMV_MAX_M} rows, M = ${M}`);
  if (kernel === 'mm_gemv' && !gpu.hasSubgroups) throw new Error('matmul: mm_gemv needs the subgroups feature, which this device lacks');
  if (kernel === 'mm_narrow' && !narrowFits(K, w.dtype)) throw new Error(`matmul: mm_narrow needs K % 8 == 0 for ${w.dtype} weights, K = ${K}`);
  const small = kernel === 'mm_gemv' || kernel === 'mm_narrow';
  const constants: Record<string, number> = small ? { DTYPE: DTYPE_CODE[w.dtype], MROWS: M } : { DTYPE: DTYPE_CODE[w.dtype] };
  const pipeline = gpu.pipeline('matmul', kernel === 'mm_gemv' ? subgroupFamily : source, kernel, constants);
  const biasBuffer = (opts.bias ?? x).buffer; // unused binding when there is no bias
  const end = rowStart + count;
  for (const chunk of w.chunks) {
    const lo = Math.max(rowStart, chunk.rowStart);
    const hi = Math.min(end, chunk.rowStart + chunk.rows);
    if (lo >= hi) continue;
    const n = hi - lo;
    const groups: [number, number] =
      kernel === 'mm_gemv'
        ? linearGroups(gpu, n, GEMV_ROWS)
        : kernel === 'mm_narrow'
          ? linearGroups(gpu, n, NARROW_ROWS)
          : [Math.ceil(n / TILE), Math.ceil(M / TILE)];
    gpu.dispatch(`matmul(${w.name}):${kernel}`, pipeline, [x.buffer, chunk.buffer, biasBuffer, out.buffer], groups, [
      M,
      K,
      n,
      lo - chunk.rowStart,
      count,
      lo - rowStart,
      lo,
      opts.bias ? 1 : 0,
      opts.accumulate ? 1 : 0,
    ]);
  }
  return out;
}

export interface GemmOptions {
  /** A is stored [K, M]. */
  transA?: boolean;
  /** B is stored [N, K]. */
  transB?: boolean;
  out?: Tensor;
  /** C += alpha · op(A)·op(B) (needs `out`). */
  accumulate?: boolean;
  alpha?: number;
}

function dims2(t: Tensor): [number, number] {
  const cols = t.shape[t.shape.length - 1] ?? 1;
  return [t.size / cols, cols];
}

/**
 * f32 GEMM on activations for backward passes: C[M, N] = alpha · op(A) · op(B) (+ C with
 * accumulate). A is [M, K] (or [K, M] with transA), B is [K, N] (or [N, K] with transB); leading
 * dimensions of A and B are flattened into rows.
 */
export function gemm(a: Tensor, b: Tensor, opts: GemmOptions = {}): Tensor {
  const gpu = a.gpu;
  const transA = !!opts.transA,
    transB = !!opts.transB;
  const [ar, ac] = dims2(a);
  const [br, bc] = dims2(b);
  const [M, K] = transA ? [ac, ar] : [ar, ac];
  const [Kb, N] = transB ? [bc, br] : [br, bc];
  if (K !== Kb) throw new Error(`gemm: inner dimensions differ (A [${a.shape}]${transA ? 'ᵀ' : ''}, B [${b.shape}]${transB ? 'ᵀ' : ''})`);
  if (opts.accumulate && !opts.out) throw new Error('gemm: accumulate needs an output tensor');
  const out = opts.out ?? Tensor.empty(gpu, [M, N], 'gemm');
  if (out.size !== M * N) throw new Error(`gemm: output has ${out.size} values, need ${M}×${N}`);
  if (M === 0 || N === 0) return out;
  const vec = (transA ? M % 4 === 0 : K % 4 === 0) && (transB ? K % 4 === 0 : N % 4 === 0) && K > 0;
  const entry = vec ? 'gemm_vec' : 'gemm_scalar';
  const pipeline = gpu.pipeline('matmul', source, entry, { TRANS_A: transA ? 1 : 0, TRANS_B: transB ? 1 : 0 });
  gpu.dispatch(
    `gemm${transA ? 'ᵀ' : ''}${transB ? 'ᵀ' : ''}:${entry}`,
    pipeline,
    [a.buffer, b.buffer, out.buffer],
    [Math.ceil(N / TILE), Math.ceil(M / TILE)],
    [M, K, N, opts.accumulate ? 1 : 0, { f32: opts.alpha ?? 1 }],
  );
  return out;
}

export interface MatmulInputGradOptions {
  /** Output tensor of M·K values (default: a new [..., K] tensor shaped like dY). */
  out?: Tensor;
  /** dX += dY·W into `out` (needs `out`), e.g. when LoRA or a residual already wrote there. */
  accumulate?: boolean;
}

/**
 * dX[M, K] = dY[M, N] · W[N, K]: the input gradient of `matmul` through a frozen weight W (f32 /
 * packed f16 / packed bf16, possibly in several row chunks). dY is any tensor whose last dimension
 * is N = w.rows. Each chunk adds dY[:, rowStart : rowStart+rows] · W_chunk, chunk after chunk in
 * order (one dispatch each), f32 accumulation, 4×4 outputs per thread. With `accumulate`,
 * dX += … into `out`.
 */
export function matmulInputGrad(dy: Tensor, w: WeightMatrix, opts: MatmulInputGradOptions = {}): Tensor {
  const gpu = dy.gpu;
  const N = w.rows,
    K = w.cols;
  const M = dy.size / N;
  if (dy.shape[dy.shape.length - 1] !== N || !Number.isInteger(M)) {
    throw new Error(`matmulInputGrad(${w.name}): dY shape [${dy.shape}] does not end in N = ${N}`);
  }
  if (opts.accumulate && !opts.out) throw new Error(`matmulInputGrad(${w.name}): accumulate needs an output tensor`);
  const out = opts.out ?? Tensor.empty(gpu, [...dy.shape.slice(0, -1), K], `dX(${w.name})`);
  if (out.size !== M * K) throw new Error(`matmulInputGrad(${w.name}): output has ${out.size} values, need ${M}×${K}`);
  if (M === 0 || K === 0) return out;
  const entry = K % 4 === 0 ? 'mm_igrad_vec' : 'mm_igrad_scalar';
  const pipeline = gpu.pipeline('matmul', source, entry, { DTYPE: DTYPE_CODE[w.dtype] });
  const groups: [number, number] = [Math.ceil(K / TILE), Math.ceil(M / TILE)];
  // No rows (an empty weight): one pass over zero rows writes dX = 0 (or leaves it when accumulating).
  const chunks = w.chunks.length > 0 ? w.chunks : [{ buffer: dy.buffer, rowStart: 0, rows: 0 }];
  chunks.forEach((chunk, i) => {
    gpu.dispatch(`matmulInputGrad(${w.name}):${entry}`, pipeline, [dy.buffer, chunk.buffer, out.buffer], groups, [
      M,
      K,
      chunk.rows,
      N,
      chunk.rowStart,
      opts.accumulate || i > 0 ? 1 : 0,
    ]);
  });
  return out;
}

/**
 * Weight gradient of a full-parameter f32 linear layer: dW[N, K] (+)= dY[M, N]ᵀ · X[M, K] (leading
 * dimensions of dY and X flattened into rows). `gemm` with transA; returns dw.
 */
export function matmulWeightGrad(dy: Tensor, x: Tensor, dw: Tensor, opts: { accumulate?: boolean } = {}): Tensor {
  const [M, N] = dims2(dy);
  const [Mx, K] = dims2(x);
  if (M !== Mx) throw new Error(`matmulWeightGrad: dY [${dy.shape}] and X [${x.shape}] have different row counts`);
  if (dw.size !== N * K) throw new Error(`matmulWeightGrad: dW has ${dw.size} values, need ${N}×${K}`);
  return gemm(dy, x, { transA: true, out: dw, accumulate: opts.accumulate });
}

/** Float64 reference of `matmulInputGrad`: dX[M, K] = dY[M, N] · W[N, K]. */
export function matmulInputGradRef(dy: ArrayLike<number>, w: ArrayLike<number>, M: number, N: number, K: number): Float64Array {
  const dx = new Float64Array(M * K);
  for (let m = 0; m < M; m++) {
    for (let n = 0; n < N; n++) {
      const g = dy[m * N + n];
      for (let k = 0; k < K; k++) dx[m * K + k] += g * w[n * K + k];
    }
  }
  return dx;
}

/** Float64 reference of `matmulWeightGrad`: dW[N, K] = dY[M, N]ᵀ · X[M, K] (+ dw, the previous dW). */
export function matmulWeightGradRef(dy: ArrayLike<number>, x: ArrayLike<number>, M: number, N: number, K: number, dw?: ArrayLike<number>): Float64Array {
  const out = new Float64Array(N * K);
  for (let n = 0; n < N; n++) {
    for (let k = 0; k < K; k++) {
      let s = 0;
      for (let m = 0; m < M; m++) s += dy[m * N + n] * x[m * K + k];
      out[n * K + k] = s + (dw ? dw[n * K + k] : 0);
    }
  }
  return out;
}

/** Float64 reference of `matmul`: Y[M, N] = X[M, K] · W[N, K]ᵀ (+ bias[N]). */
export function matmulRef(x: ArrayLike<number>, w: ArrayLike<number>, M: number, K: number, N: number, bias?: ArrayLike<number>): Float64Array {
  const y = new Float64Array(M * N);
  for (let m = 0; m < M; m++) {
    for (let n = 0; n < N; n++) {
      let s = bias ? bias[n] : 0;
      for (let k = 0; k < K; k++) s += x[m * K + k] * w[n * K + k];
      y[m * N + n] = s;
    }
  }
  return y;
}

/**
 * Float64 reference of `gemm`: alpha · op(A)·op(B) (+ c, the previous C, when given), with A
 * [M, K] ([K, M] if transA) and B [K, N] ([N, K] if transB).
 */
export function gemmRef(
  a: ArrayLike<number>,
  b: ArrayLike<number>,
  M: number,
  K: number,
  N: number,
  opts: { transA?: boolean; transB?: boolean; alpha?: number; c?: ArrayLike<number> } = {},
): Float64Array {
  const alpha = opts.alpha ?? 1;
  const out = new Float64Array(M * N);
  for (let m = 0; m < M; m++) {
    for (let n = 0; n < N; n++) {
      let s = 0;
      for (let k = 0; k < K; k++) {
        const av = opts.transA ? a[k * M + m] : a[m * K + k];
        const bv = opts.transB ? b[n * K + k] : b[k * N + n];
        s += av * bv;
      }
      out[m * N + n] = alpha * s + (opts.c ? opts.c[m * N + n] : 0);
    }
  }
  return out;
}
