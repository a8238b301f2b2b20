// Matmul throughput for Qwen2.5-0.5B projection shapes, ours (f32 and packed f16 weights) side by
// side with @tensorflow/tfjs-backend-webgpu (f32, tf.matMul(x, w, false, true)) on the same GPU
// device in the same run. `--quick` (default) trims shapes/repetitions and skips sizes whose
// estimated time per run (from earlier rows of the same implementation and M class) is over 3 s
// (SwiftShader); `--full` runs everything with 10 timed runs. Each row takes the fastest of 2 (quick)
// or 3 (full) interleaved rounds. `--m=1,8` keeps only those token counts and `--shape=down` only
// shapes whose name contains the word (to time one row quickly); `--small` keeps the first shape at M = 1 and 8. Returns the table as `matmul` rows of GFLOP/s
// (null = skipped).

import * as tf from '@tensorflow/tfjs-core';
import { WebGPUBackend } from '@tensorflow/tfjs-backend-webgpu';
import { acquireGpu } from '../src/gpu/device.ts';
import type { Gpu } from '../src/gpu/runtime.ts';
import { Tensor, WeightMatrix } from '../src/gpu/tensor.ts';
import { matmul, matmulKernel } from '../src/kernels/matmul.ts';

const SHAPES: { name: string; K: number; N: number }[] = [
  { name: 'q/o 896×896', K: 896, N: 896 },
  { name: 'up 896×4864', K: 896, N: 4864 },
  { name: 'down 4864×896', K: 4864, N: 896 },
  { name: 'lm_head 896×151936', K: 896, N: 151936 },
];
const TOKENS = [1, 8, 64, 512];

type Impl = 'ours f32' | 'ours f16' | 'tfjs f32';
const IMPLS: Impl[] = ['ours f32', 'ours f16', 'tfjs f32'];

/** Pseudo-random values in [-1, 1): a 64K block repeated (filling 136M values randomly is slow). */
function values(n: number, seed: number): Float32Array {
  const block = new Float32Array(Math.min(n, 65536));
  let s = seed >>> 0;
  for (let i = 0; i < block.length; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    block[i] = s / 2 ** 31 - 1;
  }
  const out = new Float32Array(n);
  for (let i = 0; i < n; i += block.length) out.set(block.subarray(0, Math.min(block.length, n - i)), i);
  return out;
}

function toF16Bits(src: Float32Array): Uint16Array {
  // Truncating conversion is fine for timing (values are in [-1, 1), never subnormal-sensitive).
  const u = new Uint32Array(src.buffer, src.byteOffset, src.length);
  const out = new Uint16Array(src.length);
  for (let i = 0; i < u.length; i++) {
    const x = u[i];
    const e = ((x >>> 23) & 0xff) - 112;
    out[i] = ((x >>> 16) & 0x8000) | (e <= 0 ? 0 : (e << 10) | ((x >>> 13) & 0x3ff));
  }
  return out;
}

/**
 * ms per run: one warm-up, then at least `reps` runs batched into one submission and a queue sync,
 * more for fast kernels (up to 64, aiming at half a second) so the fixed cost of a sync (tens of ms
 * on SwiftShader) does not swamp the kernel time.
 */
async function timeIt(gpu: Gpu, run: () => void, flush: () => void, reps: number): Promise<number> {
  const t = performance.now();
  run();
  flush();
  await gpu.sync();
  const once = performance.now() - t;
  const n = Math.max(reps, Math.min(64, Math.ceil(500 / Math.max(once, 1e-3))));
  const t0 = performance.now();
  for (let i = 0; i < n; i++) run();
  flush();
  await gpu.sync();
  return (performance.now() - t0) / n;
}

/** Submit what tfjs has recorded (it batches dispatches into its own encoder and pass). */
function flushTfjs(backend: WebGPUBackend): void {
  backend.endComputePassEncoder();
  if ((backend as unknown as { commandEncoder: GPUCommandEncoder | null }).commandEncoder) backend.submitQueue();
}

function registerTfjsOnDawn(gpu: Gpu): WebGPUBackend {
  // tfjs-backend-webgpu refuses to construct without navigator.gpu (Node 20 has no navigator).
  // We hand it our device, so its own adapter request is never used.
  const g = globalThis as { navigator?: { gpu?: unknown } };
  if (!g.navigator) Object.defineProperty(globalThis, 'navigator', { value: {}, configurable: true, writable: true });
  if (!g.navigator!.gpu) {
    g.navigator!.gpu = { requestAdapter: () => Promise.reject(new Error('bench: tfjs must use the shared device')) };
  }
  const backend = new WebGPUBackend(gpu.device, gpu.adapter as unknown as GPUAdapterInfo);
  tf.registerBackend('webgpu', () => backend);
  return backend;
}

interface MatmulRow {
  shape: string;
  m: number;
  ours_f32: number | null;
  ours_f16: number | null;
  tfjs_f32: number | null;
}

export async function benchMatmul(args: string[]): Promise<{ matmul: MatmulRow[] }> {
  const full = args.includes('--full') || args.includes('--device');
  const small = args.includes('--small');
  const table: MatmulRow[] = [];
  const reps = full ? 10 : 2;
  const rounds = full ? 3 : 2;
  const maxRunSeconds = full ? Infinity : 3;
  const flag = (name: string) => args.find((a) => a.startsWith(`--${name}=`))?.slice(name.length + 3);
  const tokens = flag('m')?.split(',').map(Number) ?? (small ? TOKENS.slice(0, 2) : TOKENS);
  const shapes = small ? SHAPES.slice(0, 1) : SHAPES.filter((s) => s.name.includes(flag('shape') ?? ''));
  const gpu = await acquireGpu({ debug: false });
  const backend = registerTfjsOnDawn(gpu);
  await tf.setBackend('webgpu');
  await tf.ready();
  console.log(
    `matmul bench (${full ? 'full' : 'quick'}): ${gpu.adapter.vendor} ${gpu.adapter.architecture} ${gpu.adapter.description}, ` +
      `best of ${rounds} interleaved rounds of ${reps}+ timed runs after a warm-up; GFLOP/s = 2·M·K·N / time`,
  );
  const rates = new Map<string, number>(); // `${impl}|${M}` → GFLOP/s measured on an earlier shape
  const estimateSeconds = (impl: Impl, M: number, flops: number): number => {
    let best: number | undefined;
    let bestDist = Infinity;
    for (const [key, rate] of rates) {
      const [i, m] = key.split('|');
      // Rates of small-M (GEMV-like) runs say nothing about big M and back: compare within a class.
      if (i !== impl || Number(m) <= 4 !== M <= 4) continue;
      const dist = Math.abs(Math.log(Number(m) / M));
      if (dist < bestDist) (bestDist = dist), (best = rate);
    }
    return best === undefined ? 0 : flops / (best * 1e9);
  };
  const rows: string[][] = [['shape K×N', 'M', 'kernel', 'ours f32', 'ours f16', 'tfjs f32', 'ours/tfjs']];
  for (const { name, K, N } of shapes) {
    const wv = values(N * K, K + N);
    const weights: Record<'f32' | 'f16', WeightMatrix | null> = { f32: null, f16: null };
    const tfjsHeld: { w: tf.Tensor | null } = { w: null };
    const tfjsWeight = () => (tfjsHeld.w ??= tf.tensor2d(wv, [N, K]));
    const weight = (dtype: 'f32' | 'f16') => (weights[dtype] ??= WeightMatrix.upload(gpu, name, dtype === 'f32' ? wv : toF16Bits(wv), N, K, dtype));
    for (const M of tokens) {
      const flops = 2 * M * K * N;
      const gflops: Record<Impl, number | null> = { 'ours f32': null, 'ours f16': null, 'tfjs f32': null };
      const skipped = IMPLS.filter((impl) => estimateSeconds(impl, M, flops) > maxRunSeconds);
      if (skipped.length === IMPLS.length) {
        table.push({ shape: name.replace('×', 'x'), m: M, ours_f32: null, ours_f16: null, tfjs_f32: null });
        rows.push([name, String(M), matmulKernel(M, K, gpu, 'f32'), 'skip', 'skip', 'skip', '']);
        continue;
      }
      const xv = values(M * K, M);
      const x = Tensor.from(gpu, xv, [M, K]);
      const out = Tensor.empty(gpu, [M, N]);
      // Interleaved rounds, fastest of each: a neighbour's load on a shared machine hits every
      // implementation alike instead of whichever happened to run during it.
      const tx = tf.tensor2d(xv, [M, K]);
      const runs: Record<Impl, () => void> = {
        'ours f32': () => void matmul(x, weight('f32'), { out }),
        'ours f16': () => void matmul(x, weight('f16'), { out }),
        'tfjs f32': () => tf.matMul(tx, tfjsWeight(), false, true).dispose(),
      };
      for (let round = 0; round < rounds; round++) {
        for (const impl of IMPLS) {
          if (skipped.includes(impl)) continue;
          const flush = impl === 'tfjs f32' ? () => flushTfjs(backend) : () => gpu.flush();
          const ms = await timeIt(gpu, runs[impl], flush, reps);
          gflops[impl] = Math.max(gflops[impl] ?? 0, flops / (ms * 1e6));
        }
      }
      for (const impl of IMPLS) if (gflops[impl] !== null) rates.set(`${impl}|${M}`, gflops[impl]!);
      tx.dispose();
      x.release();
      out.release();
      const round = (v: number | null) => (v === null ? null : Math.round(v * 1000) / 1000);
      table.push({
        shape: name.replace('×', 'x'),
        m: M,
        ours_f32: round(gflops['ours f32']),
        ours_f16: round(gflops['ours f16']),
        tfjs_f32: round(gflops['tfjs f32']),
      });
      const fmt = (v: number | null) => (v === null ? 'skip' : v < 10 ? v.toFixed(3) : v.toFixed(1));
      const ratio = gflops['ours f32'] !== null && gflops['tfjs f32'] !== null ? `${(gflops['ours f32'] / gflops['tfjs f32']).toFixed(2)}×` : '';
      rows.push([name, String(M), matmulKernel(M, K, gpu, 'f32'), fmt(gflops['ours f32']), fmt(gflops['ours f16']), fmt(gflops['tfjs f32']), ratio]);
      console.log(`  ${rows[rows.length - 1].join('  ')}`);
    }
    weights.f32?.destroy();
    weights.f16?.destroy();
    tfjsHeld.w?.dispose();
  }
  const widths = rows[0].map((_, c) => Math.max(...rows.map((r) => r[c].length)));
  console.log('\nGFLOP/s (higher is better); ours/tfjs compares the f32 columns');
  for (const [i, r] of rows.entries()) {
    console.log(r.map((cell, c) => (c < 3 ? cell.padEnd(widths[c]) : cell.padStart(widths[c]))).join('  '));
    if (i === 0) console.log(widths.map((w) => '-'.repeat(w)).join('  '));
  }
  tf.removeBackend('webgpu');
  gpu.destroy();
  return { matmul: table };
}
