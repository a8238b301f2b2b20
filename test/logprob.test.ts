import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  defaultBlockSize,
  logprobVariant,
  type LogprobVariant,
  tokenLogprobs,
  tokenLogprobsBackward,
  tokenLogprobsBackwardRef,
  tokenLogprobsRef,
} from '../src/kernels/logprob.ts';
import { Tensor, WeightMatrix } from '../src/gpu/tensor.ts';
import type { Gpu } from '../src/gpu/runtime.ts';
import { assertClose, randomArray, rng, testEachVariant, testGpu } from './helpers/gpu.ts';
import { assertGradient, numericGradient } from './helpers/finite-diff.ts';

interface Case {
  N: number;
  H: number;
  V: number;
  blockSize?: number;
  temperature?: number;
  dtype?: 'f32' | 'bf16';
  /** lm_head rows per chunk (multi-chunk upload) */
  chunkRows?: number;
  /** scale of the lm_head values */
  scale?: number;
}

/** f32 → bf16 bits, round to nearest even. */
function toBf16(x: Float32Array): Uint16Array {
  const bits = new Uint32Array(x.buffer, x.byteOffset, x.length);
  const out = new Uint16Array(x.length);
  for (let i = 0; i < x.length; i++) out[i] = (bits[i] + 0x7fff + ((bits[i] >>> 16) & 1)) >>> 16;
  return out;
}

function fromBf16(b: Uint16Array): Float32Array {
  const bits = new Uint32Array(b.length);
  for (let i = 0; i < b.length; i++) bits[i] = b[i] << 16;
  return new Float32Array(bits.buffer);
}

function setup(gpu: Gpu, c: Case, seed: number) {
  const { N, H, V } = c;
  const hidden = randomArray(N * H, seed);
  let w = randomArray(V * H, seed + 1, ((c.scale ?? 1) / Math.sqrt(H)) * 3);
  const targets = new Uint32Array(N);
  const next = rng(seed + 2);
  for (let n = 0; n < N; n++) targets[n] = Math.floor(next() * V);
  if (N > 1) targets[N - 1] = V - 1; // the last column (in the last, partial block)
  const chunkBytes = c.chunkRows ? c.chunkRows * WeightMatrix.rowBytes(H, c.dtype ?? 'f32') : undefined;
  let lmHead: WeightMatrix;
  if (c.dtype === 'bf16') {
    const bits = toBf16(w);
    w = fromBf16(bits);
    lmHead = WeightMatrix.upload(gpu, 'lm_head', bits, V, H, 'bf16', chunkBytes);
  } else {
    lmHead = WeightMatrix.upload(gpu, 'lm_head', w, V, H, 'f32', chunkBytes);
  }
  if (c.chunkRows) assert.ok(lmHead.chunks.length > 1, 'expected a multi-chunk lm_head');
  return { hidden, w, targets, lmHead, h: Tensor.from(gpu, hidden, [N, H]), t: gpu.upload(targets) };
}

/** Every GPU test runs both kernel variants: workgroup reductions (GPUs) and barrier-free (CPU). */
const variants: LogprobVariant[] = ['workgroup', 'flat'];

const forwardCases: Case[] = [
  { N: 1, H: 8, V: 37 },
  { N: 3, H: 16, V: 1000, blockSize: 300 },
  { N: 9, H: 20, V: 301, blockSize: 64, temperature: 0.7 },
  { N: 17, H: 6, V: 130, blockSize: 50, temperature: 1.6 }, // K % 4 != 0: scalar matmul
  { N: 12, H: 32, V: 517, blockSize: 128, chunkRows: 100 }, // blocks straddle chunks
  { N: 5, H: 24, V: 333, blockSize: 70, dtype: 'bf16', chunkRows: 90, temperature: 0.6 },
  { N: 70, H: 16, V: 200 }, // one block
  { N: 37, H: 12, V: 203, blockSize: 68 }, // blocks of 68 (vec4 fold) then a last block of 67 (scalar)
];

testEachVariant(variants, 'tokenLogprobs matches the float64 reference (blocks, chunks, bf16, temperature)', async (variant) => {
  const gpu = await testGpu();
  for (const [i, c] of forwardCases.entries()) {
    const s = setup(gpu, c, 10 + i);
    const got = tokenLogprobs(s.h, s.lmHead, s.t, { temperature: c.temperature, blockSize: c.blockSize, variant });
    const want = tokenLogprobsRef(s.hidden, s.w, s.targets, c.N, c.H, c.V, c.temperature);
    const what = JSON.stringify(c);
    assertClose(await got.logZ.read(), want.logZ, 2e-4, `logZ ${what}`);
    assertClose(await got.logprobs.read(), want.logprobs, 2e-4, `logprob ${what}`);
    assertClose(await got.entropies.read(), want.entropies, 2e-4, `entropy ${what}`);
    s.lmHead.destroy();
  }
});

testEachVariant(variants, 'tokenLogprobs stays finite and accurate with extreme logits (scale 50)', async (variant) => {
  const gpu = await testGpu();
  for (const [i, c] of [
    { N: 6, H: 16, V: 400, blockSize: 96, scale: 50 },
    { N: 4, H: 16, V: 250, blockSize: 32, scale: 50, temperature: 0.5 },
  ].entries()) {
    const s = setup(gpu, c, 40 + i);
    const got = tokenLogprobs(s.h, s.lmHead, s.t, { temperature: c.temperature, blockSize: c.blockSize, variant });
    const want = tokenLogprobsRef(s.hidden, s.w, s.targets, c.N, c.H, c.V, c.temperature);
    const [lz, lp, en] = [await got.logZ.read(), await got.logprobs.read(), await got.entropies.read()];
    for (const x of [...lz, ...lp, ...en]) assert.ok(Number.isFinite(x), `non-finite output ${x}`);
    for (const x of en) assert.ok(x >= 0);
    // Logits reach a few hundred: f32 rounding of the logits themselves is ~1e-5 relative.
    assertClose(lz, want.logZ, 5e-3, 'logZ (extreme)');
    assertClose(lp, want.logprobs, 5e-3, 'logprob (extreme)');
    assertClose(en, want.entropies, 5e-3, 'entropy (extreme)');
    assert.ok(Math.min(...want.logprobs) < -50, 'the case should have very unlikely targets');
    s.lmHead.destroy();
  }
});

test('the flat variant is the default on CPU adapters only', async () => {
  const gpu = await testGpu();
  assert.equal(logprobVariant(gpu), gpu.isCpuAdapter ? 'flat' : 'workgroup');
  assert.equal(logprobVariant(gpu, 'workgroup'), 'workgroup');
});

test('default block size keeps the block buffer near 64 MiB', async () => {
  const gpu = await testGpu();
  assert.equal(defaultBlockSize(gpu, 1, 151936), 151936);
  const b = defaultBlockSize(gpu, 2048, 151936);
  assert.ok(2048 * b * 4 <= 64 * 1024 * 1024 && b >= 4096, `block ${b}`);
});

/** The scalar objective whose gradient the backward computes. */
function objective(
  hidden: ArrayLike<number>,
  w: ArrayLike<number>,
  targets: ArrayLike<number>,
  gL: ArrayLike<number>,
  gE: ArrayLike<number>,
  N: number,
  H: number,
  V: number,
  T: number,
): number {
  const r = tokenLogprobsRef(hidden, w, targets, N, H, V, T);
  let s = 0;
  for (let n = 0; n < N; n++) s += gL[n] * r.logprobs[n] + gE[n] * r.entropies[n];
  return s;
}

test('backward reference matches central finite differences', () => {
  const N = 3,
    H = 5,
    V = 11,
    T = 0.8;
  const hidden = Float64Array.from(randomArray(N * H, 70));
  const w = randomArray(V * H, 71, 2);
  const targets = [2, 10, 0];
  const gL = randomArray(N, 72),
    gE = randomArray(N, 73);
  const dh = tokenLogprobsBackwardRef(hidden, w, targets, gL, gE, N, H, V, T);
  const eps = 1e-5;
  const fd = numericGradient(() => objective(hidden, w, targets, gL, gE, N, H, V, T), hidden, eps);
  assertGradient(dh, fd, 1e-7, 'dhidden vs finite differences');
  // And without the entropy term.
  const dhL = tokenLogprobsBackwardRef(hidden, w, targets, gL, null, N, H, V, T);
  const zero = new Float64Array(N);
  const fdL = numericGradient(() => objective(hidden, w, targets, gL, zero, N, H, V, T), hidden, eps);
  assertGradient(dhL, fdL, 1e-7, 'dhidden (no entropy) vs finite differences');
});

testEachVariant(variants, 'tokenLogprobsBackward matches the float64 reference', async (variant) => {
  const gpu = await testGpu();
  const cases: (Case & { entropy: boolean })[] = [
    { N: 3, H: 16, V: 100, blockSize: 40, entropy: true },
    { N: 70, H: 72, V: 301, blockSize: 128, temperature: 0.7, chunkRows: 90, entropy: true }, // > 64 rows and cols
    { N: 9, H: 6, V: 130, blockSize: 50, temperature: 1.3, entropy: false },
    { N: 5, H: 24, V: 333, blockSize: 70, dtype: 'bf16', chunkRows: 90, temperature: 0.6, entropy: true },
  ];
  for (const [i, c] of cases.entries()) {
    const s = setup(gpu, c, 80 + i);
    const gL = randomArray(c.N, 90 + i),
      gE = randomArray(c.N, 95 + i);
    const opts = { temperature: c.temperature, blockSize: c.blockSize, variant };
    const fwd = tokenLogprobs(s.h, s.lmHead, s.t, opts);
    const grads = { gLogprob: Tensor.from(gpu, gL, [c.N]), gEntropy: c.entropy ? Tensor.from(gpu, gE, [c.N]) : undefined };
    const dh = await tokenLogprobsBackward(s.h, s.lmHead, s.t, fwd, grads, opts).read();
    const want = tokenLogprobsBackwardRef(s.hidden, s.w, s.targets, gL, c.entropy ? gE : null, c.N, c.H, c.V, c.temperature);
    let scale = 0;
    for (const x of want) scale = Math.max(scale, Math.abs(x));
    assert.ok(scale > 0.05, 'gradient should not be trivially small');
    assertClose(dh, want, 2e-4 * Math.max(1, scale), `dhidden ${JSON.stringify(c)}`);
    s.lmHead.destroy();
  }
});

test('the lm_head gradient accumulated block by block equals the whole-vocabulary block', async () => {
  const gpu = await testGpu();
  const c: Case = { N: 7, H: 16, V: 130, blockSize: 130, temperature: 0.9 };
  const s = setup(gpu, c, 123);
  const grads = { gLogprob: Tensor.from(gpu, randomArray(c.N, 5), [c.N]), gEntropy: Tensor.from(gpu, randomArray(c.N, 6), [c.N]) };
  const start = randomArray(c.V * c.H, 7);
  const gradFor = async (blockSize: number) => {
    const opts = { temperature: c.temperature, blockSize };
    const fwd = tokenLogprobs(s.h, s.lmHead, s.t, opts);
    const dLmHead = Tensor.from(gpu, start, [c.V, c.H]);
    tokenLogprobsBackward(s.h, s.lmHead, s.t, fwd, grads, { ...opts, dLmHead });
    return dLmHead.read();
  };
  const whole = await gradFor(130);
  const blocks = await gradFor(48); // 48 + 48 + 34 rows: partial blocks through scratch copies
  let moved = 0;
  whole.forEach((v, i) => (moved = Math.max(moved, Math.abs(v - start[i]))));
  assert.ok(moved > 1e-3, 'the gradient is not trivially small');
  assertClose(blocks, whole, 1e-5, 'dLmHead by blocks vs whole');
  s.lmHead.destroy();
});
