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

// The family's file ends in two sections: mm_narrow's input loads without subgroups, then the same
// with subgroups followed by the subgroup kernels, which compile only with `enable subgroups;`.
const [baseSource, tails] = familySource.split('// ---- plain x ----');
const [plainXSource, subgroupSource] = tails.split('// ---- subgroups ----');
const source = withPrelude(baseSource + plainXSource);
// The same entry points plus the subgroup ones (uniformity is per subgroup there: each subgroup
// works on its own weight row, which WGSL's workgroup-wide analysis cannot see).
const subgroupFamily = `enable subgroups;\ndiagnostic(off, subgroup_uniformity);\n${withPrelude(baseSource + subgroupSource)}`;
/** Up to this many input rows take a GEMV kernel (when K % 4 == 0). */
const GEMV_MAX_M = 4;
const GEMV_ROWS = 16; // weight rows per mm_gemv workgroup (GV_ROWS)
/** mm_gemv workgroups that fill a large GPU; fewer take the split-K form (GV_SPLIT_ROWS). */
const GEMV_FILL_GROUPS = 512;
const NARROW_ROWS = 128; // weight rows per mm_narrow workgroup (64 invocations × NW_ROWS)
const TILE = 32; // outputs per workgroup edge in the tiled kernels (8×8 threads × 4×4 each)

export type MatmulKernel = 'mm_tiled' | 'mm_scalar' | 'mm_gemv' | 'mm_narrow';

/**
 * Which kernel `matmul` uses for M input rows of length K on this GPU (exported for tests and
 * benches). Small M takes the subgroup GEMV `mm_gemv` on GPUs with the `subgroups` feature, and the
 * plain-loop `mm_narrow` elsewhere: on SwiftShader (which has subgroups) each loop iteration and
 * gathered load has a large fixed cost, and mm_narrow's 2 rows × 16 weights per iteration measured
 * ~2× faster than one subgroup per row; there it shares its input loads across each 4 lanes with
 * subgroupBroadcast (DESIGN.md §4.1).
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

/**
 * Rows per mm_gemv workgroup in its split-K form for a dispatch of `rows` weight rows (0: the
 * 16-rows-per-workgroup form). Where 16 rows per workgroup leave a large GPU idle (896 rows: 56
 * workgroups), each row's K is spread over the whole workgroup instead: 1 row per workgroup below
 * 1024 rows, else 2 (the LM head's 151,936 rows already fill it). DESIGN.md §4.1.
 */
export function gemvSplitRows(rows: number): number {
  if (Math.ceil(rows / GEMV_ROWS) >= GEMV_FILL_GROUPS) return 0;
  return rows < 1024 ? 1 : 2;
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
  /** Force mm_gemv's rows per split-K workgroup (0: no split; tests). Default gemvSplitRows. */
  gemvSplit?: number;
}

/** A row range of one weight chunk computed by a dispatch, with the Y columns it fills. */
interface Piece {
  buffer: GPUBuffer;
  bias: Tensor | undefined;
  rows: number;
  /** First row inside the chunk buffer, its bias index and its Y column. */
  chunkRow: number;
  biasIndex: number;
  yCol: number;
}

/** The pieces of rows [rowStart, rowStart + count) of w, written from Y column yCol on. */
function piecesOf(w: WeightMatrix, bias: Tensor | undefined, rowStart: number, count: number, yCol: number): Piece[] {
  const pieces: Piece[] = [];
  for (const chunk of w.chunks) {
    const lo = Math.max(rowStart, chunk.rowStart);
    const hi = Math.min(rowStart + count, chunk.rowStart + chunk.rows);
    if (lo < hi) pieces.push({ buffer: chunk.buffer, bias, rows: hi - lo, chunkRow: lo - chunk.rowStart, biasIndex: lo, yCol: yCol + lo - rowStart });
  }
  return pieces;
}

/** Up to this many pieces share one dispatch (workgroup z picks one: DESIGN.md §4.1). */
const PIECES_PER_DISPATCH = 3;

/** The input rows M of x for weights of K columns, with the checks every projection makes. */
function inputRows(x: Tensor, K: number, name: string): number {
  const M = x.size / K;
  if (x.shape[x.shape.length - 1] !== K || !Number.isInteger(M)) {
    throw new Error(`matmul(${name}): input shape [${x.shape}] does not end in K = ${K}`);
  }
  return M;
}

function checkBias(w: WeightMatrix, bias: Tensor | undefined): void {
  if (bias && bias.size !== w.rows) throw new Error(`matmul(${w.name}): bias has ${bias.size} values, need ${w.rows}`);
}

/** The forward pipeline of `kernel` for M inputs of weights in `dtype` (the SwiGLU pair form with `swiglu`). */
function projectionPipeline(gpu: Gpu, kernel: MatmulKernel, M: number, dtype: WeightDType, swiglu: boolean, split: number): GPUComputePipeline {
  const small = kernel === 'mm_gemv' || kernel === 'mm_narrow';
  const constants: Record<string, number> = small ? { DTYPE: DTYPE_CODE[dtype], MROWS: M } : { DTYPE: DTYPE_CODE[dtype] };
  if (kernel === 'mm_gemv') constants.GV_SPLIT_ROWS = split;
  // mm_narrow shares its input loads across each 4 lanes where subgroups have at least 4 lanes.
  const subgroups = kernel === 'mm_gemv' || (kernel === 'mm_narrow' && gpu.subgroupMinSize >= 4);
  return gpu.pipeline('matmul', subgroups ? subgroupFamily : source, swiglu ? `${kernel}_swiglu` : kernel, constants);
}

/** Validate a forced or chosen kernel for M inputs of K columns in `dtype`. */
function checkKernel(gpu: Gpu, kernel: MatmulKernel, M: number, K: number, dtype: WeightDType): void {
  if (kernel !== 'mm_scalar' && K % 4 !== 0) throw new Error(`matmul: ${kernel} needs K % 4 == 0, K = ${K}`);
  if ((kernel === 'mm_gemv' || kernel === 'mm_narrow') && M > GEMV_MAX_M) throw new Error(`matmul: ${kernel} takes at most ${GEMV_MAX_M} rows, M = ${M}`);
  if (kernel === 'mm_gemv' && !gpu.hasSubgroups) throw new Error('matmul: mm_gemv needs the subgroups feature, which this device lacks');
  if (kernel === 'mm_narrow' && !narrowFits(K, dtype)) throw new Error(`matmul: mm_narrow needs K % 8 == 0 for ${dtype} weights, K = ${K}`);
}

/** The split-K rows of mm_gemv for `rows` rows (forced by `forced`), 0 for the other kernels. */
function gemvSplitOf(kernel: MatmulKernel, rows: number, forced: number | undefined): number {
  if (kernel !== 'mm_gemv') return 0;
  const split = forced ?? gemvSplitRows(rows);
  if (![0, 1, 2].includes(split)) throw new Error(`matmul: mm_gemv splits K for 0, 1 or 2 rows per workgroup, not ${split}`);
  return split;
}

/**
 * Workgroups for `rows` weight rows of M inputs with `kernel` (x, y), before the piece count in z;
 * `split` is mm_gemv's split-K rows per workgroup.
 */
function projectionGroups(gpu: Gpu, kernel: MatmulKernel, rows: number, M: number, split: number, perInvocation = 1): [number, number] {
  if (kernel === 'mm_gemv') return linearGroups(gpu, rows, split || GEMV_ROWS);
  if (kernel === 'mm_narrow') return linearGroups(gpu, rows, NARROW_ROWS / perInvocation);
  return [Math.ceil(rows / TILE), Math.ceil(M / TILE)];
}

/** Columns [col0, col0 + width) of rows `stride` wide: one projection's slice of a fused output. */
export interface ColumnSlice {
  stride: number;
  col0: number;
}

/** Record the dispatches of `pieces` (all of one dtype), up to PIECES_PER_DISPATCH at a time. */
function dispatchPieces(
  x: Tensor,
  out: Tensor,
  pieces: Piece[],
  K: number,
  dtype: WeightDType,
  yStride: number,
  accumulate: boolean,
  opts: { kernel?: MatmulKernel; gemvSplit?: number; name: string },
): void {
  const gpu = x.gpu;
  const M = x.size / K;
  const kernel = opts.kernel ?? matmulKernel(M, K, gpu, dtype);
  checkKernel(gpu, kernel, M, K, dtype);
  for (let i = 0; i < pieces.length; i += PIECES_PER_DISPATCH) {
    const group = pieces.slice(i, i + PIECES_PER_DISPATCH);
    // Unused piece slots repeat the first piece's buffers (never read: z stops before them).
    const slot = (j: number) => group[j] ?? group[0];
    const rows = Math.max(...group.map((p) => p.rows));
    const split = gemvSplitOf(
      kernel,
      group.reduce((n, p) => n + p.rows, 0),
      opts.gemvSplit,
    );
    const [gx, gy] = projectionGroups(gpu, kernel, rows, M, split);
    gpu.dispatch(
      `matmul(${opts.name}):${kernel}`,
      projectionPipeline(gpu, kernel, M, dtype, false, split),
      [
        x.buffer,
        slot(0).buffer,
        (slot(0).bias ?? x).buffer,
        out.buffer,
        slot(1).buffer,
        (slot(1).bias ?? x).buffer,
        slot(2).buffer,
        (slot(2).bias ?? x).buffer,
      ],
      [gx, gy, group.length],
      [
        M,
        K,
        yStride,
        accumulate ? 1 : 0,
        ...[0, 1, 2].flatMap((j) => [slot(j).rows, slot(j).chunkRow, slot(j).yCol, slot(j).biasIndex]),
        ...[0, 1, 2].map((j) => (slot(j).bias ? 1 : 0)),
        0,
      ],
    );
  }
}

/**
 * Y[M, count] = X[M, K] · W[rowStart : rowStart+count, :]ᵀ (+ bias[rowStart : rowStart+count]).
 * X is any tensor whose last dimension is K = w.cols; W is a WeightMatrix [N, K] in f32 / packed
 * f16 / packed bf16, possibly in several row chunks (up to three chunks per dispatch). With
 * `accumulate`, the result is added to what `out` holds.
 */
export function matmul(x: Tensor, w: WeightMatrix, opts: MatmulOptions = {}): Tensor {
  const K = w.cols;
  const M = inputRows(x, K, w.name);
  const rowStart = opts.rowStart ?? 0;
  const count = opts.count ?? w.rows - rowStart;
  if (!(rowStart >= 0 && count >= 0 && rowStart + count <= w.rows) || !Number.isInteger(rowStart) || !Number.isInteger(count)) {
    throw new Error(`matmul(${w.name}): rows [${rowStart}, ${rowStart + count}) outside [0, ${w.rows})`);
  }
  const out = opts.out ?? Tensor.empty(x.gpu, [...x.shape.slice(0, -1), count], `matmul(${w.name})`);
  if (out.size !== M * count) throw new Error(`matmul(${w.name}): output has ${out.size} values, need ${M}×${count}`);
  if (opts.accumulate && !opts.out) throw new Error(`matmul(${w.name}): accumulate needs an output tensor`);
  checkBias(w, opts.bias);
  if (M === 0 || count === 0) return out;
  dispatchPieces(x, out, piecesOf(w, opts.bias, rowStart, count, 0), K, w.dtype, count, !!opts.accumulate, {
    kernel: opts.kernel,
    gemvSplit: opts.gemvSplit,
    name: w.name,
  });
  return out;
}

/** One weight of `matmulConcat` with its optional bias ([w.rows]). */
export interface ConcatPart {
  w: WeightMatrix;
  bias?: Tensor;
}

/**
 * Y[M, ΣN] = X · [W_0; W_1; …]ᵀ (+ biases): several weights of one dtype and K read by the same
 * dispatch (up to three chunks per dispatch), their outputs side by side in each row — q/k/v as
 * one projection (DESIGN.md §5.3). Part i fills columns [Σ_{j<i} N_j, Σ_{j≤i} N_j).
 */
export function matmulConcat(x: Tensor, parts: ConcatPart[], opts: { out?: Tensor; kernel?: MatmulKernel; gemvSplit?: number } = {}): Tensor {
  if (parts.length === 0) throw new Error('matmulConcat: no weights');
  const { w: first } = parts[0];
  const K = first.cols;
  const M = inputRows(x, K, first.name);
  const names = parts.map((p) => p.w.name).join('+');
  for (const { w, bias } of parts) {
    if (w.cols !== K || w.dtype !== first.dtype)
      throw new Error(`matmulConcat(${names}): ${w.name} is [${w.rows}, ${w.cols}] ${w.dtype}, expected K = ${K} ${first.dtype}`);
    checkBias(w, bias);
  }
  const total = parts.reduce((n, p) => n + p.w.rows, 0);
  const out = opts.out ?? Tensor.empty(x.gpu, [...x.shape.slice(0, -1), total], `matmul(${names})`);
  if (out.size !== M * total) throw new Error(`matmulConcat(${names}): output has ${out.size} values, need ${M}×${total}`);
  if (M === 0) return out;
  let col = 0;
  const pieces = parts.flatMap(({ w, bias }) => {
    const p = piecesOf(w, bias, 0, w.rows, col);
    col += w.rows;
    return p;
  });
  dispatchPieces(x, out, pieces, K, first.dtype, total, false, { kernel: opts.kernel, gemvSplit: opts.gemvSplit, name: names });
  return out;
}

/**
 * act[M, N] = silu(X·Wgᵀ) ⊙ (X·Wuᵀ) in one dispatch (generation; DESIGN.md §5.3): the gate and up
 * rows of each output are read by the same invocation (mm_tiled_swiglu, mm_narrow_swiglu) or
 * subgroup (mm_gemv_swiglu). Gate and up must be single-chunk weights of one dtype and shape with
 * K % 4 == 0 (mm_scalar has no SwiGLU form).
 */
export function matmulSwiglu(
  x: Tensor,
  gate: WeightMatrix,
  up: WeightMatrix,
  opts: { out?: Tensor; kernel?: Exclude<MatmulKernel, 'mm_scalar'>; gemvSplit?: number } = {},
): Tensor {
  const gpu = x.gpu;
  const K = gate.cols;
  const M = inputRows(x, K, gate.name);
  const N = gate.rows;
  if (up.rows !== N || up.cols !== K || up.dtype !== gate.dtype) {
    throw new Error(`matmulSwiglu: ${up.name} is [${up.rows}, ${up.cols}] ${up.dtype}, ${gate.name} [${N}, ${K}] ${gate.dtype}`);
  }
  if (gate.chunks.length !== 1 || up.chunks.length !== 1) throw new Error(`matmulSwiglu(${gate.name}): gate and up must each be one chunk`);
  const kernel = opts.kernel ?? matmulKernel(M, K, gpu, gate.dtype);
  if (kernel === 'mm_scalar') throw new Error(`matmulSwiglu(${gate.name}): K = ${K} takes mm_scalar, which has no SwiGLU form (K % 4 == 0 only)`);
  checkKernel(gpu, kernel, M, K, gate.dtype);
  const out = opts.out ?? Tensor.empty(gpu, [...x.shape.slice(0, -1), N], `swiglu(${gate.name})`);
  if (out.size !== M * N) throw new Error(`matmulSwiglu(${gate.name}): output has ${out.size} values, need ${M}×${N}`);
  if (M === 0) return out;
  const [g, u] = [gate.chunks[0].buffer, up.chunks[0].buffer];
  const split = gemvSplitOf(kernel, N, opts.gemvSplit);
  gpu.dispatch(
    `matmulSwiglu(${gate.name}):${kernel}`,
    projectionPipeline(gpu, kernel, M, gate.dtype, true, split),
    [x.buffer, g, x.buffer, out.buffer, u, x.buffer],
    projectionGroups(gpu, kernel, N, M, split, 2),
    [M, K, N, 0, N, 0, 0, 0, N, 0, 0, 0, N, 0, 0, 0, 0, 0, 0, 0],
  );
  return out;
}

/** Whether `matmulSwiglu` takes M input rows of these weights (else: gate, up and `swiglu` apart). */
export function fusesSwiglu(M: number, gate: WeightMatrix, gpu: Gpu): boolean {
  return matmulKernel(M, gate.cols, gpu, gate.dtype) !== 'mm_scalar' && gate.chunks.length === 1;
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
  /** C is columns [col0, col0 + N) of `out`, whose rows are `stride` wide (default: all of out). */
  outColumns?: ColumnSlice;
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
  const { stride, col0 } = opts.outColumns ?? { stride: N, col0: 0 };
  if (out.size !== M * stride || col0 < 0 || col0 + N > stride) {
    throw new Error(`gemm: output has ${out.size} values, need ${M}×${N}${opts.outColumns ? ` at columns ${col0}.. of rows ${stride} wide` : ''}`);
  }
  if (M === 0 || N === 0) return out;
  const vec = (transA ? M % 4 === 0 : K % 4 === 0) && (transB ? K % 4 === 0 : N % 4 === 0) && K > 0;
  const entry = vec ? 'gemm_vec' : 'gemm_scalar';
  const pipeline = gpu.pipeline('matmul', source, entry, { TRANS_A: transA ? 1 : 0, TRANS_B: transB ? 1 : 0 });
  gpu.dispatch(
    `gemm${transA ? 'ᵀ' : ''}${transB ? 'ᵀ' : ''}:${entry}`,
    pipeline,
    [a.buffer, b.buffer, out.buffer],
    [Math.ceil(N / TILE), Math.ceil(M / TILE)],
    [M, K, N, opts.accumulate ? 1 : 0, { f32: opts.alpha ?? 1 }, stride, col0],
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
