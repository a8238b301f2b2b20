// Fused token log-prob / entropy over vocabulary blocks (forward and backward), never holding
// [tokens, vocab] logits for the whole vocabulary, and their float64 CPU references.
//
// Forward, per block of `blockSize` lm_head rows: block logits [N, count] with the matmul kernel,
// then `lp_block` folds them into a per-row online state (max, Σ exp, Σ exp·z, target logit); the
// last block writes logprob, entropy and logZ. Backward, per block: recompute the block logits,
// turn them into dL/dlogit in place (`lp_dlogits`), and accumulate dh += dlogit · W_block
// (`lp_dhidden`). One block buffer is reused across blocks.

import familySource from '../../shaders/logprob.wgsl?raw';
import type { Gpu } from '../gpu/runtime.ts';
import { Tensor, type WeightMatrix } from '../gpu/tensor.ts';
import { linearGroups } from './dispatch.ts';
import { add } from './elementwise.ts';
import { gemm, matmul } from './matmul.ts';
import { DTYPE_CODE, withPrelude } from './prelude.ts';

const source = withPrelude(familySource);
/** Target size of the block logits buffer. */
const BLOCK_BYTES = 64 * 1024 * 1024;

export interface LogprobOptions {
  /** Logits are divided by it (GRPO uses the sampling temperature). Default 1. */
  temperature?: number;
  /** lm_head rows per block. Default: as many as keep N × blockSize × 4 bytes ≤ 64 MiB. */
  blockSize?: number;
  /**
   * Kernel variant for the per-block fold and dhidden: 'workgroup' (workgroup-memory reductions and
   * tiles, for GPUs) or 'flat' (no barriers: one invocation per row / per 4×4 dhidden tile, for CPU
   * adapters such as SwiftShader, where each barrier is a thread sync). Default: logprobVariant.
   */
  variant?: LogprobVariant;
}

export type LogprobVariant = 'workgroup' | 'flat';

const FLAT_WG = 16; // rows per workgroup of lp_block_flat*, as in logprob.wgsl
const FLAT_DH_TILE = 32; // dhidden outputs per workgroup edge of lp_dhidden_flat (8×8 × 4×4)

/** The variant used when none is forced: 'flat' on CPU adapters, 'workgroup' elsewhere. */
export function logprobVariant(gpu: Gpu, forced?: LogprobVariant): LogprobVariant {
  return forced ?? (gpu.isCpuAdapter ? 'flat' : 'workgroup');
}

/** The block size used for N rows over a vocabulary of V (exported for tests). */
export function defaultBlockSize(gpu: Gpu, N: number, V: number): number {
  const bytes = Math.min(BLOCK_BYTES, gpu.limits.maxStorageBufferBindingSize);
  let b = Math.max(1, Math.floor(bytes / (Math.max(1, N) * 4)));
  if (b >= 256) b -= b % 256;
  return Math.min(V, b);
}

function checkShapes(fn: string, hidden: Tensor, lmHead: WeightMatrix, targets: GPUBuffer): { N: number; H: number; V: number } {
  const H = lmHead.cols;
  const V = lmHead.rows;
  const N = hidden.size / H;
  if (hidden.shape[hidden.shape.length - 1] !== H || !Number.isInteger(N)) {
    throw new Error(`${fn}: hidden [${hidden.shape}] does not end in H = ${H} (lm_head [${V}, ${H}])`);
  }
  if (targets.size < N * 4) throw new Error(`${fn}: targets hold ${targets.size / 4} ids, need ${N}`);
  return { N, H, V };
}

function blockSizeFor(fn: string, gpu: Gpu, N: number, V: number, opts: LogprobOptions): number {
  const blockSize = Math.min(V, opts.blockSize ?? defaultBlockSize(gpu, N, V));
  if (!(Number.isInteger(blockSize) && blockSize >= 1)) throw new Error(`${fn}: blockSize ${opts.blockSize} must be a positive integer`);
  return blockSize;
}

function temperatureOf(fn: string, opts: LogprobOptions): number {
  const t = opts.temperature ?? 1;
  if (!(t > 0)) throw new Error(`${fn}: temperature ${t} must be > 0`);
  return t;
}

/**
 * For each of N rows of hidden states h [N, H] (already final-normed), logits z = (h · lmHeadᵀ) /
 * temperature over the vocabulary in blocks of `blockSize` rows of lmHead (a WeightMatrix [V, H]).
 * Returns per-row logprob of targets[n] (log softmax(z)[target]), entropy in nats
 * (logZ − Σ p·z), and logZ (kept for the backward). targets: GPU buffer u32 [N], each < V.
 */
export function tokenLogprobs(
  hidden: Tensor,
  lmHead: WeightMatrix,
  targets: GPUBuffer,
  opts: LogprobOptions = {},
): { logprobs: Tensor; entropies: Tensor; logZ: Tensor } {
  const gpu = hidden.gpu;
  const { N, V } = checkShapes('tokenLogprobs', hidden, lmHead, targets);
  const temperature = temperatureOf('tokenLogprobs', opts);
  const logprobs = Tensor.empty(gpu, [N], 'logprobs');
  const entropies = Tensor.empty(gpu, [N], 'entropies');
  const logZ = Tensor.empty(gpu, [N], 'logZ');
  if (N === 0) return { logprobs, entropies, logZ };
  const blockSize = blockSizeFor('tokenLogprobs', gpu, N, V, opts);
  const blockBuffer = gpu.buffer(N * blockSize * 4, 'logits-block');
  const state = gpu.buffer(N * 16, 'logprob-state');
  const flat = logprobVariant(gpu, opts.variant) === 'flat';
  for (let rowStart = 0; rowStart < V; rowStart += blockSize) {
    const count = Math.min(blockSize, V - rowStart);
    const block = new Tensor(gpu, blockBuffer, [N, count]);
    matmul(hidden, lmHead, { out: block, rowStart, count });
    const entry = flat ? (count % 4 === 0 ? 'lp_block_flat4' : 'lp_block_flat') : 'lp_block';
    gpu.dispatch(
      flat ? `logprob-block:${entry}` : 'logprob-block',
      gpu.pipeline('logprob', source, entry),
      [blockBuffer, targets, state, logprobs.buffer, entropies.buffer, logZ.buffer],
      flat ? linearGroups(gpu, N, FLAT_WG) : linearGroups(gpu, N, 1),
      [N, count, rowStart, rowStart === 0 ? 1 : 0, rowStart + count >= V ? 1 : 0, { f32: temperature }],
    );
  }
  gpu.release(blockBuffer);
  gpu.release(state);
  return { logprobs, entropies, logZ };
}

/**
 * Gradient w.r.t. hidden [N, H] of Σ_n gLogprob[n]·logprob[n] + gEntropy[n]·entropy[n], given the
 * forward's logZ and entropies. Recomputes the logits block by block:
 * dz = gLogprob·(onehot − p) − gEntropy·p·(z − E[z]), dlogit = dz / temperature, dh += dlogit · W_block.
 * `gEntropy` may be omitted (no entropy term). Returns `out` (a new [N, H] tensor by default).
 */
export function tokenLogprobsBackward(
  hidden: Tensor,
  lmHead: WeightMatrix,
  targets: GPUBuffer,
  saved: { logZ: Tensor; entropies: Tensor },
  grads: { gLogprob: Tensor; gEntropy?: Tensor },
  opts: LogprobOptions & { out?: Tensor; dLmHead?: Tensor } = {},
): Tensor {
  const gpu = hidden.gpu;
  const { N, H, V } = checkShapes('tokenLogprobsBackward', hidden, lmHead, targets);
  const temperature = temperatureOf('tokenLogprobsBackward', opts);
  for (const [name, t] of [
    ['logZ', saved.logZ],
    ['entropies', saved.entropies],
    ['gLogprob', grads.gLogprob],
    ['gEntropy', grads.gEntropy],
  ] as const) {
    if (t && t.size !== N) throw new Error(`tokenLogprobsBackward: ${name} has ${t.size} values, need ${N}`);
  }
  const out = opts.out ?? Tensor.empty(gpu, [N, H], 'dhidden');
  if (out.size !== N * H) throw new Error(`tokenLogprobsBackward: out has ${out.size} values, need ${N}×${H}`);
  if (N === 0) return out;
  const blockSize = blockSizeFor('tokenLogprobsBackward', gpu, N, V, opts);
  const blockBuffer = gpu.buffer(N * blockSize * 4, 'dlogits-block');
  const dlogits = gpu.pipeline('logprob', source, 'lp_dlogits');
  const flat = logprobVariant(gpu, opts.variant) === 'flat';
  const dhEntry = flat ? 'lp_dhidden_flat' : 'lp_dhidden';
  const dhTile = flat ? FLAT_DH_TILE : 64;
  const dhidden = gpu.pipeline('logprob', source, dhEntry, { DTYPE: DTYPE_CODE[lmHead.dtype] });
  const gEntropy = grads.gEntropy ?? grads.gLogprob;
  let accumulate = 0;
  for (let rowStart = 0; rowStart < V; rowStart += blockSize) {
    const count = Math.min(blockSize, V - rowStart);
    const block = new Tensor(gpu, blockBuffer, [N, count]);
    matmul(hidden, lmHead, { out: block, rowStart, count });
    gpu.dispatch(
      'logprob-dlogits',
      dlogits,
      [blockBuffer, targets, saved.logZ.buffer, saved.entropies.buffer, grads.gLogprob.buffer, gEntropy.buffer],
      linearGroups(gpu, N * count, 256),
      [N, count, rowStart, grads.gEntropy ? 1 : 0, { f32: temperature }],
    );
    if (opts.dLmHead) accumulateLmHeadGrad(block, hidden, opts.dLmHead, rowStart);
    const end = rowStart + count;
    for (const chunk of lmHead.chunks) {
      const lo = Math.max(rowStart, chunk.rowStart);
      const hi = Math.min(end, chunk.rowStart + chunk.rows);
      if (lo >= hi) continue;
      gpu.dispatch(
        `logprob-dhidden(${lmHead.name})${flat ? ':flat' : ''}`,
        dhidden,
        [blockBuffer, chunk.buffer, out.buffer],
        [Math.ceil(H / dhTile), Math.ceil(N / dhTile)],
        [N, H, count, lo - rowStart, hi - lo, lo - chunk.rowStart, accumulate],
      );
      accumulate = 1;
    }
  }
  gpu.release(blockBuffer);
  return out;
}

/**
 * dLmHead[rowStart : rowStart+count, :] += dlogitsᵀ · hidden (the lm_head weight gradient, for
 * full-parameter training). A block covering the whole vocabulary accumulates in place; a partial
 * block goes through scratch tensors, since a binding cannot start at an arbitrary row.
 */
function accumulateLmHeadGrad(dlogits: Tensor, hidden: Tensor, dLmHead: Tensor, rowStart: number): void {
  const gpu = hidden.gpu;
  const [N, count] = dlogits.shape;
  const H = hidden.size / N;
  if (dLmHead.size % H !== 0 || rowStart + count > dLmHead.size / H) {
    throw new Error(`tokenLogprobsBackward: dLmHead has ${dLmHead.size} values, not [vocab, ${H}] covering rows ${rowStart}..${rowStart + count}`);
  }
  const rows = new Tensor(gpu, hidden.buffer, [N, H]);
  if (count * H === dLmHead.size) {
    gemm(dlogits, rows, { transA: true, out: new Tensor(gpu, dLmHead.buffer, [count, H]), accumulate: true });
    return;
  }
  const delta = gemm(dlogits, rows, { transA: true, out: Tensor.empty(gpu, [count, H], 'dLmHead.block') });
  const current = Tensor.empty(gpu, [count, H], 'dLmHead.current');
  gpu.copy(dLmHead.buffer, rowStart * H * 4, current.buffer, 0, count * H * 4);
  const sum = add(current, delta);
  gpu.copy(sum.buffer, 0, dLmHead.buffer, rowStart * H * 4, count * H * 4);
  for (const t of [delta, current, sum]) t.release();
}

function logitsRow(hidden: ArrayLike<number>, lmHead: ArrayLike<number>, n: number, H: number, V: number, temperature: number): Float64Array {
  const z = new Float64Array(V);
  for (let v = 0; v < V; v++) {
    let s = 0;
    for (let k = 0; k < H; k++) s += hidden[n * H + k] * lmHead[v * H + k];
    z[v] = s / temperature;
  }
  return z;
}

/** Float64 reference of tokenLogprobs (lmHead as decoded values [V, H], row-major). */
export function tokenLogprobsRef(
  hidden: ArrayLike<number>,
  lmHead: ArrayLike<number>,
  targets: ArrayLike<number>,
  N: number,
  H: number,
  V: number,
  temperature = 1,
): { logprobs: Float64Array; entropies: Float64Array; logZ: Float64Array } {
  const logprobs = new Float64Array(N),
    entropies = new Float64Array(N),
    logZ = new Float64Array(N);
  for (let n = 0; n < N; n++) {
    const z = logitsRow(hidden, lmHead, n, H, V, temperature);
    let m = -Infinity;
    for (const v of z) m = Math.max(m, v);
    let s = 0,
      t = 0;
    for (const v of z) {
      const e = Math.exp(v - m);
      s += e;
      t += e * (v - m);
    }
    logZ[n] = m + Math.log(s);
    entropies[n] = Math.log(s) - t / s;
    logprobs[n] = z[targets[n]] - logZ[n];
  }
  return { logprobs, entropies, logZ };
}

/** Float64 reference of tokenLogprobsBackward: dhidden [N, H]. */
export function tokenLogprobsBackwardRef(
  hidden: ArrayLike<number>,
  lmHead: ArrayLike<number>,
  targets: ArrayLike<number>,
  gLogprob: ArrayLike<number>,
  gEntropy: ArrayLike<number> | null,
  N: number,
  H: number,
  V: number,
  temperature = 1,
): Float64Array {
  const dh = new Float64Array(N * H);
  const { logZ, entropies } = tokenLogprobsRef(hidden, lmHead, targets, N, H, V, temperature);
  for (let n = 0; n < N; n++) {
    const z = logitsRow(hidden, lmHead, n, H, V, temperature);
    const ez = logZ[n] - entropies[n];
    for (let v = 0; v < V; v++) {
      const p = Math.exp(z[v] - logZ[n]);
      let dz = gLogprob[n] * ((v === targets[n] ? 1 : 0) - p);
      if (gEntropy) dz -= gEntropy[n] * p * (z[v] - ez);
      const g = dz / temperature;
      for (let k = 0; k < H; k++) dh[n * H + k] += g * lmHead[v * H + k];
    }
  }
  return dh;
}
