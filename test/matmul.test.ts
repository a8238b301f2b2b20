import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  fusesSwiglu,
  gemm,
  gemvSplitRows,
  gemmRef,
  matmul,
  matmulConcat,
  matmulInputGrad,
  matmulSwiglu,
  matmulInputGradRef,
  matmulKernel,
  matmulRef,
  matmulWeightGrad,
  matmulWeightGradRef,
  type MatmulKernel,
} from '../src/kernels/matmul.ts';
import { acquireGpu } from '../src/gpu/device.ts';
import { Tensor, WeightMatrix, type WeightDType } from '../src/gpu/tensor.ts';
import type { Gpu } from '../src/gpu/runtime.ts';
import { swigluRef } from '../src/kernels/swiglu.ts';
import { assertClose, forEachVariant, randomArray, testGpu, WEIGHT_DTYPES } from './helpers/gpu.ts';
import { assertGradient, numericGradient } from './helpers/finite-diff.ts';

const f32Bits = new Float32Array(1);
const u32Bits = new Uint32Array(f32Bits.buffer);

/** f32 → IEEE half bits, round to nearest even (subnormals, overflow to inf, NaN kept). */
export function f32ToF16Bits(v: number): number {
  f32Bits[0] = v;
  const x = u32Bits[0];
  const sign = (x >>> 16) & 0x8000;
  const exp = (x >>> 23) & 0xff;
  let mant = x & 0x7fffff;
  if (exp === 0xff) return sign | 0x7c00 | (mant ? 0x200 : 0);
  const e = exp - 127 + 15;
  if (e >= 0x1f) return sign | 0x7c00;
  if (e <= 0) {
    if (e < -10) return sign;
    mant |= 0x800000;
    const shift = 14 - e;
    let h = mant >>> shift;
    const rem = mant & ((1 << shift) - 1);
    const half = 1 << (shift - 1);
    if (rem > half || (rem === half && h & 1)) h++;
    return sign | h;
  }
  let h = (e << 10) | (mant >>> 13);
  const rem = mant & 0x1fff;
  if (rem > 0x1000 || (rem === 0x1000 && h & 1)) h++; // may carry into the exponent: still right
  return sign | h;
}

export function f16BitsToF32(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exp = (h >>> 10) & 0x1f;
  const mant = h & 0x3ff;
  if (exp === 0) return sign * mant * 2 ** -24;
  if (exp === 0x1f) return mant ? NaN : sign * Infinity;
  return sign * (1 + mant / 1024) * 2 ** (exp - 15);
}

/** f32 → bf16 bits, round to nearest even. */
export function f32ToBf16Bits(v: number): number {
  f32Bits[0] = v;
  const x = u32Bits[0];
  if ((x & 0x7fffffff) > 0x7f800000) return (x >>> 16) | 0x40;
  return ((x + 0x7fff + ((x >>> 16) & 1)) >>> 16) & 0xffff;
}

export function bf16BitsToF32(h: number): number {
  u32Bits[0] = h << 16;
  return f32Bits[0];
}

/** Upload `values` as a [rows, cols] weight in `dtype`; returns the values the GPU really holds. */
function makeWeight(gpu: Gpu, values: Float32Array, rows: number, cols: number, dtype: WeightDType, maxChunkBytes?: number) {
  if (dtype === 'f32') return { w: WeightMatrix.upload(gpu, 'w', values, rows, cols, 'f32', maxChunkBytes), held: values };
  const bits = Uint16Array.from(values, dtype === 'f16' ? f32ToF16Bits : f32ToBf16Bits);
  const held = Float32Array.from(bits, dtype === 'f16' ? f16BitsToF32 : bf16BitsToF32);
  return { w: WeightMatrix.upload(gpu, `w_${dtype}`, bits, rows, cols, dtype, maxChunkBytes), held };
}

/** The small-M kernels this device can run for K (mm_gemv needs subgroups, mm_narrow 8-aligned packed rows). */
function smallMKernels(gpu: Gpu, K: number, dtype: WeightDType): MatmulKernel[] {
  const kernels: MatmulKernel[] = gpu.hasSubgroups ? ['mm_gemv'] : [];
  if (K % (dtype === 'f32' ? 4 : 8) === 0) kernels.push('mm_narrow');
  return kernels;
}

function scaleOf(ref: ArrayLike<number>): number {
  let s = 1;
  for (let i = 0; i < ref.length; i++) s = Math.max(s, Math.abs(ref[i]));
  return s;
}

test('f16 / bf16 rounding helpers', () => {
  assert.equal(f32ToF16Bits(1), 0x3c00);
  assert.equal(f32ToF16Bits(-2), 0xc000);
  assert.equal(f32ToF16Bits(65504), 0x7bff);
  assert.equal(f32ToF16Bits(1e6), 0x7c00);
  assert.equal(f32ToF16Bits(2 ** -24), 0x0001);
  assert.equal(f32ToF16Bits(1 + 2 ** -11), 0x3c00); // tie to even
  assert.equal(f32ToF16Bits(1 + 3 * 2 ** -11), 0x3c02);
  assert.equal(f16BitsToF32(f32ToF16Bits(0.1)), 0.0999755859375);
  assert.equal(f32ToBf16Bits(1), 0x3f80);
  assert.equal(bf16BitsToF32(f32ToBf16Bits(0.1)), 0.10009765625);
});

test('matmul matches the reference for every shape, dtype and kernel', async () => {
  const gpu = await testGpu();
  let seed = 1;
  await forEachVariant(WEIGHT_DTYPES, async (dtype) => {
    // K = 36 and 200 leave a tail after mm_narrow's 16-wide steps; 200 also spans several subgroup strides.
    for (const K of [8, 30, 36, 200]) {
      for (const N of [1, 7, 33, 130]) {
        const { w, held } = makeWeight(gpu, randomArray(N * K, seed++), N, K, dtype);
        const biasValues = randomArray(N, seed++);
        const bias = Tensor.from(gpu, biasValues, [N]);
        for (const M of [1, 3, 17, 64]) {
          const xv = randomArray(M * K, seed++);
          const x = Tensor.from(gpu, xv, [M, K]);
          const withBias = (M + N) % 2 === 0;
          const ref = matmulRef(xv, held, M, K, N, withBias ? biasValues : undefined);
          const tol = 1e-4 * scaleOf(ref);
          // Every kernel that applies (matmul picks one by shape and adapter).
          const kernels: MatmulKernel[] = ['mm_scalar'];
          if (K % 4 === 0) kernels.push('mm_tiled');
          if (K % 4 === 0 && M <= 4) kernels.push(...smallMKernels(gpu, K, dtype));
          assert.ok(kernels.includes(matmulKernel(M, K, gpu, dtype)));
          for (const kernel of kernels) {
            const y = matmul(x, w, { bias: withBias ? bias : undefined, kernel });
            assert.deepEqual(y.shape, [M, N]);
            assertClose(await y.read(), ref, tol, `${dtype} ${kernel} M=${M} K=${K} N=${N} bias=${withBias}`);
            y.release();
          }
          x.release();
        }
        w.destroy();
      }
    }
  });
});

test('matmul with accumulate adds X·Wᵀ + bias into out (the fused residual add), every kernel', async () => {
  const gpu = await testGpu();
  let seed = 300;
  await forEachVariant(WEIGHT_DTYPES, async (dtype) => {
    for (const [M, K, N] of [
      [1, 40, 9],
      [3, 24, 21],
      [6, 16, 5],
    ]) {
      const { w, held } = makeWeight(gpu, randomArray(N * K, seed++), N, K, dtype);
      const biasValues = randomArray(N, seed++);
      const bias = Tensor.from(gpu, biasValues, [N]);
      const xv = randomArray(M * K, seed++);
      const x = Tensor.from(gpu, xv, [M, K]);
      const residual = randomArray(M * N, seed++);
      const product = matmulRef(xv, held, M, K, N, biasValues);
      const ref = product.map((v, i) => v + residual[i]);
      const kernels: MatmulKernel[] = ['mm_scalar', 'mm_tiled', ...(M <= 4 ? smallMKernels(gpu, K, dtype) : [])];
      for (const kernel of kernels) {
        const out = Tensor.from(gpu, residual, [M, N]);
        matmul(x, w, { bias, out, accumulate: true, kernel });
        assertClose(await out.read(), ref, 1e-4 * scaleOf(ref), `${dtype} ${kernel} M=${M} K=${K} N=${N}`);
        out.release();
      }
      assert.throws(() => matmul(x, w, { accumulate: true }), /matmul\(w.*\): accumulate needs an output tensor/);
      x.release();
      bias.release();
      w.destroy();
    }
  });
});

test('matmulConcat: q/k/v-style weights (with biases, chunked, odd sizes) in one projection, every kernel', async () => {
  const gpu = await testGpu();
  let seed = 400;
  await forEachVariant(WEIGHT_DTYPES, async (dtype) => {
    for (const [M, K, rows] of [
      [1, 40, [12, 5, 5]],
      [3, 24, [9, 3, 3]],
      [7, 16, [8, 4, 4]],
      [2, 30, [6, 2, 2]],
    ] as [number, number, number[]][]) {
      // The first part comes in 2-row chunks: 6+ pieces, so more than one dispatch of three.
      const parts = rows.map((N, i) => {
        const { w, held } = makeWeight(gpu, randomArray(N * K, seed++), N, K, dtype, i === 0 ? WeightMatrix.rowBytes(K, dtype) * 2 : undefined);
        const biasValues = i === 1 ? undefined : randomArray(N, seed++);
        return { w, held, biasValues, bias: biasValues && Tensor.from(gpu, biasValues, [N]) };
      });
      const xv = randomArray(M * K, seed++);
      const x = Tensor.from(gpu, xv, [M, K]);
      const total = rows.reduce((a, b) => a + b, 0);
      const ref = new Float64Array(M * total);
      let col = 0;
      for (const p of parts) {
        const y = matmulRef(xv, p.held, M, K, p.w.rows, p.biasValues);
        for (let m = 0; m < M; m++) for (let j = 0; j < p.w.rows; j++) ref[m * total + col + j] = y[m * p.w.rows + j];
        col += p.w.rows;
      }
      const kernels: MatmulKernel[] = [
        'mm_scalar',
        ...(K % 4 === 0 ? ['mm_tiled' as const] : []),
        ...(M <= 4 && K % 4 === 0 ? smallMKernels(gpu, K, dtype) : []),
      ];
      for (const kernel of kernels) {
        const y = matmulConcat(x, parts, { kernel });
        assert.deepEqual(y.shape, [M, total]);
        assertClose(await y.read(), ref, 1e-4 * scaleOf(ref), `${dtype} ${kernel} M=${M} K=${K} rows=${rows}`);
        y.release();
      }
      x.release();
      for (const p of parts) p.w.destroy();
    }
  });
  const w32 = makeWeight(gpu, randomArray(8, 1), 2, 4, 'f32').w;
  const w16 = makeWeight(gpu, randomArray(8, 2), 2, 4, 'f16').w;
  assert.throws(
    () => matmulConcat(Tensor.from(gpu, randomArray(4, 3), [1, 4]), [{ w: w32 }, { w: w16 }]),
    /matmulConcat\(w\+w_f16\): w_f16 is \[2, 4\] f16, expected K = 4 f32/,
  );
});

test('matmulSwiglu = silu(X·Wgᵀ) ⊙ (X·Wuᵀ) in one dispatch, every dtype and kernel with a SwiGLU form', async () => {
  const gpu = await testGpu();
  let seed = 500;
  await forEachVariant(WEIGHT_DTYPES, async (dtype) => {
    for (const [M, K, N] of [
      [1, 40, 13],
      [2, 200, 6],
      [4, 16, 70],
      [8, 40, 13],
      [37, 24, 70],
    ]) {
      const g = makeWeight(gpu, randomArray(N * K, seed++, 0.5), N, K, dtype);
      const u = makeWeight(gpu, randomArray(N * K, seed++, 0.5), N, K, dtype);
      const xv = randomArray(M * K, seed++);
      const x = Tensor.from(gpu, xv, [M, K]);
      const ref = swigluRef(matmulRef(xv, g.held, M, K, N), matmulRef(xv, u.held, M, K, N));
      assert.ok(fusesSwiglu(M, g.w, gpu));
      const kernels = M <= 4 ? ['mm_tiled', ...smallMKernels(gpu, K, dtype)] : ['mm_tiled'];
      assert.ok(kernels.includes(matmulKernel(M, K, gpu, dtype)));
      for (const kernel of kernels as ('mm_tiled' | 'mm_narrow' | 'mm_gemv')[]) {
        const y = matmulSwiglu(x, g.w, u.w, { kernel });
        assert.deepEqual(y.shape, [M, N]);
        assertClose(await y.read(), ref, 1e-4 * scaleOf(ref), `${dtype} ${kernel} M=${M} K=${K} N=${N}`);
        y.release();
      }
      x.release();
      g.w.destroy();
      u.w.destroy();
    }
  });
  const g = makeWeight(gpu, randomArray(60, 1), 4, 15, 'f32').w;
  assert.throws(() => matmulSwiglu(Tensor.from(gpu, randomArray(15 * 8, 2), [8, 15]), g, g), /K = 15 takes mm_scalar, which has no SwiGLU form/);
  assert.equal(fusesSwiglu(8, g, gpu), false);
});

test('mm_gemv in every form (16 rows per workgroup, split K over 1 or 2 rows) matches the reference', async (t) => {
  const gpu = await testGpu();
  if (!gpu.hasSubgroups) return t.skip('no subgroups on this device');
  let seed = 700;
  await forEachVariant(WEIGHT_DTYPES, async (dtype) => {
    // K = 36 and 1000 end in a partial sweep of the 128 invocations (K/4 = 9, 250); N = 33 leaves the
    // last split workgroup of 2 rows half empty.
    for (const [M, K, N] of [
      [1, 36, 33],
      [2, 1000, 17],
      [3, 200, 7],
      [4, 512, 40],
    ]) {
      const { w, held } = makeWeight(gpu, randomArray(N * K, seed++), N, K, dtype);
      const u = makeWeight(gpu, randomArray(N * K, seed++, 0.5), N, K, dtype);
      const biasValues = randomArray(N, seed++);
      const bias = Tensor.from(gpu, biasValues, [N]);
      const xv = randomArray(M * K, seed++);
      const x = Tensor.from(gpu, xv, [M, K]);
      const residual = randomArray(M * N, seed++);
      const ref = matmulRef(xv, held, M, K, N, biasValues);
      const swiglu = swigluRef(matmulRef(xv, held, M, K, N), matmulRef(xv, u.held, M, K, N));
      for (const gemvSplit of [0, 1, 2]) {
        const label = `${dtype} split=${gemvSplit} M=${M} K=${K} N=${N}`;
        const y = matmul(x, w, { bias, kernel: 'mm_gemv', gemvSplit });
        assertClose(await y.read(), ref, 1e-4 * scaleOf(ref), label);
        const out = Tensor.from(gpu, residual, [M, N]);
        matmul(x, w, { bias, out, accumulate: true, kernel: 'mm_gemv', gemvSplit });
        const summed = ref.map((v, i) => v + residual[i]);
        assertClose(await out.read(), summed, 1e-4 * scaleOf(summed), `${label} accumulate`);
        // Three pieces in one dispatch (z picks the piece), each with its own rows.
        const qkv = await matmulConcat(x, [{ w, bias }, { w: u.w }, { w, bias }], { kernel: 'mm_gemv', gemvSplit }).read();
        const upRef = matmulRef(xv, u.held, M, K, N);
        for (let m = 0; m < M; m++) {
          for (let j = 0; j < N; j++) {
            const row = m * 3 * N;
            assert.ok(
              Math.abs(qkv[row + j] - ref[m * N + j]) <= 1e-4 * scaleOf(ref) && Math.abs(qkv[row + 2 * N + j] - ref[m * N + j]) <= 1e-4 * scaleOf(ref),
              `${label} concat q/v`,
            );
            assert.ok(Math.abs(qkv[row + N + j] - upRef[m * N + j]) <= 1e-4 * scaleOf(upRef), `${label} concat k`);
          }
        }
        assertClose(await matmulSwiglu(x, w, u.w, { kernel: 'mm_gemv', gemvSplit }).read(), swiglu, 1e-4 * scaleOf(swiglu), `${label} swiglu`);
        y.release();
        out.release();
      }
      x.release();
      bias.release();
      w.destroy();
      u.w.destroy();
    }
  });
  const w = makeWeight(gpu, randomArray(64, 1), 4, 16, 'f32').w;
  assert.throws(() => matmul(Tensor.from(gpu, randomArray(16, 2), [1, 16]), w, { kernel: 'mm_gemv', gemvSplit: 3 }), /0, 1 or 2 rows per workgroup, not 3/);
});

test('gemvSplitRows splits K where 16 rows per workgroup leave a GPU idle, not for the LM head', () => {
  assert.equal(gemvSplitRows(896), 1); // q/o: 56 workgroups of 16 rows → 896 of one row
  assert.equal(gemvSplitRows(896 + 128 + 128), 2); // q|k|v in one dispatch
  assert.equal(gemvSplitRows(4864), 2); // gate/up: 304 → 2432 workgroups
  assert.equal(gemvSplitRows(8192), 0); // 512 workgroups of 16 rows already
  assert.equal(gemvSplitRows(151936), 0); // LM head: 9496 workgroups
});

test('mm_narrow without subgroups (every invocation loads its own inputs) matches the reference', async () => {
  const gpu = await acquireGpu({ debug: true, withoutFeatures: ['subgroups'] });
  assert.equal(gpu.hasSubgroups, false);
  let seed = 900;
  try {
    await forEachVariant(WEIGHT_DTYPES, async (dtype) => {
      for (const [M, K, N] of [
        [1, 8, 7],
        [3, 200, 33],
        [4, 48, 130],
      ]) {
        const { w, held } = makeWeight(gpu, randomArray(N * K, seed++), N, K, dtype);
        const u = makeWeight(gpu, randomArray(N * K, seed++), N, K, dtype);
        const xv = randomArray(M * K, seed++);
        const x = Tensor.from(gpu, xv, [M, K]);
        assert.equal(matmulKernel(M, K, gpu, dtype), 'mm_narrow');
        const ref = matmulRef(xv, held, M, K, N);
        assertClose(await matmul(x, w).read(), ref, 1e-4 * scaleOf(ref), `${dtype} M=${M} K=${K} N=${N}`);
        const swiglu = swigluRef(ref, matmulRef(xv, u.held, M, K, N));
        assertClose(await matmulSwiglu(x, w, u.w).read(), swiglu, 1e-4 * scaleOf(swiglu), `${dtype} swiglu M=${M} K=${K} N=${N}`);
        w.destroy();
        u.w.destroy();
      }
    });
  } finally {
    gpu.destroy();
  }
});

test('matmul over row chunks with rowStart / count subsets and bias', async () => {
  const gpu = await testGpu();
  const K = 40,
    N = 37;
  let seed = 100;
  await forEachVariant(WEIGHT_DTYPES, async (dtype) => {
    // 5 rows per chunk: 8 chunks, the last one short.
    const { w, held } = makeWeight(gpu, randomArray(N * K, seed++), N, K, dtype, WeightMatrix.rowBytes(K, dtype) * 5);
    assert.equal(w.chunks.length, 8);
    const biasValues = randomArray(N, seed++);
    const bias = Tensor.from(gpu, biasValues, [N]);
    for (const M of [1, 4, 9]) {
      const xv = randomArray(M * K, seed++);
      const x = Tensor.from(gpu, xv, [M, K]);
      const full = matmulRef(xv, held, M, K, N, biasValues);
      for (const [rowStart, count] of [
        [0, N],
        [3, 20],
        [10, 5],
        [36, 1],
        [7, 30],
      ]) {
        const ref = new Float64Array(M * count);
        for (let m = 0; m < M; m++) for (let j = 0; j < count; j++) ref[m * count + j] = full[m * N + rowStart + j];
        const kernels: (MatmulKernel | undefined)[] = M === 1 ? smallMKernels(gpu, K, dtype) : [undefined];
        for (const kernel of kernels) {
          const y = matmul(x, w, { bias, rowStart, count, kernel });
          assertClose(await y.read(), ref, 1e-4 * scaleOf(ref), `${dtype} chunks ${kernel ?? ''} M=${M} rows ${rowStart}+${count}`);
          y.release();
        }
      }
      // Writing into a given output tensor, without bias.
      const out = Tensor.from(gpu, new Float32Array(M * 12).fill(NaN), [M, 12]);
      matmul(x, w, { rowStart: 22, count: 12, out });
      const ref = matmulRef(xv, held.subarray(22 * K, 34 * K), M, K, 12);
      assertClose(await out.read(), ref, 1e-4 * scaleOf(ref), `${dtype} chunks out= M=${M}`);
      x.release();
    }
    w.destroy();
  });
});

test('matmul takes leading batch dimensions and rejects bad shapes', async () => {
  const gpu = await testGpu();
  const xv = randomArray(2 * 3 * 8, 7),
    wv = randomArray(5 * 8, 8);
  const w = WeightMatrix.upload(gpu, 'w', wv, 5, 8, 'f32');
  const y = matmul(Tensor.from(gpu, xv, [2, 3, 8]), w);
  assert.deepEqual(y.shape, [2, 3, 5]);
  assertClose(await y.read(), matmulRef(xv, wv, 6, 8, 5), 1e-5, 'batched');
  assert.throws(() => matmul(Tensor.from(gpu, xv, [6, 8]), w, { rowStart: 3, count: 3 }), /outside/);
  assert.throws(() => matmul(Tensor.from(gpu, xv, [8, 6]), w), /does not end in K/);
  w.destroy();
});

test('gemm matches the reference for all transpose flags, alpha and accumulate', async () => {
  const gpu = await testGpu();
  let seed = 1000;
  // (8,12,16) and (64,96,20) take the vec4 kernel, (12,7,8) with transA only too (K tail); the rest scalar.
  for (const [M, K, N] of [
    [5, 7, 9],
    [8, 12, 16],
    [12, 7, 8],
    [17, 30, 33],
    [64, 96, 20],
  ]) {
    for (const transA of [false, true]) {
      for (const transB of [false, true]) {
        const av = randomArray(M * K, seed++),
          bv = randomArray(K * N, seed++);
        const a = Tensor.from(gpu, av, transA ? [K, M] : [M, K]);
        const b = Tensor.from(gpu, bv, transB ? [N, K] : [K, N]);
        const what = `gemm M=${M} K=${K} N=${N} transA=${transA} transB=${transB}`;
        const ref = gemmRef(av, bv, M, K, N, { transA, transB });
        const c = gemm(a, b, { transA, transB });
        assert.deepEqual(c.shape, [M, N]);
        assertClose(await c.read(), ref, 1e-4 * scaleOf(ref), what);
        // C += 0.5 · op(A)·op(B) on top of the previous result.
        const prev = Float64Array.from(await c.read());
        gemm(a, b, { transA, transB, out: c, accumulate: true, alpha: 0.5 });
        const ref2 = gemmRef(av, bv, M, K, N, { transA, transB, alpha: 0.5, c: prev });
        assertClose(await c.read(), ref2, 1e-4 * scaleOf(ref2), `${what} accumulate`);
        a.release(), b.release(), c.release();
      }
    }
  }
  assert.throws(() => gemm(Tensor.from(gpu, randomArray(6, 1), [2, 3]), Tensor.from(gpu, randomArray(8, 2), [4, 2])), /inner/);
});

test('gemm into a column slice of a wider output (outColumns) leaves the other columns alone', async () => {
  const gpu = await testGpu();
  // (5, 8, 12) takes the vec4 kernel, (3, 7, 5) the scalar one.
  for (const [M, K, N] of [
    [5, 8, 12],
    [3, 7, 5],
  ]) {
    const stride = N + 9;
    const col0 = 4;
    const a = randomArray(M * K, M + 1);
    const b = randomArray(K * N, K + 2);
    const c0 = randomArray(M * stride, N + 3);
    const out = Tensor.from(gpu, c0, [M, stride]);
    gemm(Tensor.from(gpu, a, [M, K]), Tensor.from(gpu, b, [K, N]), { out, accumulate: true, alpha: 0.5, outColumns: { stride, col0 } });
    const product = gemmRef(a, b, M, K, N, { alpha: 0.5 });
    const want = Float64Array.from(c0);
    for (let m = 0; m < M; m++) for (let n = 0; n < N; n++) want[m * stride + col0 + n] += product[m * N + n];
    assertClose(await out.read(), want, 1e-5, `gemm slice M=${M} K=${K} N=${N}`);
    assert.throws(
      () => gemm(Tensor.from(gpu, a, [M, K]), Tensor.from(gpu, b, [K, N]), { out, outColumns: { stride, col0: stride - N + 1 } }),
      /gemm: output has/,
    );
  }
});

test('matmulInputGrad matches the reference for every shape and dtype', async () => {
  const gpu = await testGpu();
  let seed = 2000;
  await forEachVariant(WEIGHT_DTYPES, async (dtype) => {
    // K = 36 and 200 leave a tail after mm_narrow's 16-wide steps; 200 also spans several subgroup strides.
    for (const K of [8, 30, 36, 200]) {
      for (const N of [7, 64, 130]) {
        const { w, held } = makeWeight(gpu, randomArray(N * K, seed++), N, K, dtype);
        for (const M of [1, 5, 33]) {
          const dyv = randomArray(M * N, seed++);
          const dy = Tensor.from(gpu, dyv, [M, N]);
          const ref = matmulInputGradRef(dyv, held, M, N, K);
          const dx = matmulInputGrad(dy, w);
          assert.deepEqual(dx.shape, [M, K]);
          assertClose(await dx.read(), ref, 1e-4 * scaleOf(ref), `inputGrad ${dtype} M=${M} N=${N} K=${K}`);
          dy.release(), dx.release();
        }
        w.destroy();
      }
    }
  });
});

test('matmulInputGrad over row chunks, into out, with accumulate', async () => {
  const gpu = await testGpu();
  let seed = 3000;
  await forEachVariant(WEIGHT_DTYPES, async (dtype) => {
    for (const K of [40, 30]) {
      const N = 37;
      // 5 rows per chunk: 8 chunks, the last one short.
      const { w, held } = makeWeight(gpu, randomArray(N * K, seed++), N, K, dtype, WeightMatrix.rowBytes(K, dtype) * 5);
      assert.equal(w.chunks.length, 8);
      for (const M of [1, 6, 35]) {
        const dyv = randomArray(M * N, seed++);
        const dy = Tensor.from(gpu, dyv, [M, N]);
        const ref = matmulInputGradRef(dyv, held, M, N, K);
        const what = `inputGrad chunks ${dtype} M=${M} K=${K}`;
        // Overwrites whatever `out` held.
        const out = Tensor.from(gpu, new Float32Array(M * K).fill(NaN), [M, K]);
        assert.equal(matmulInputGrad(dy, w, { out }), out);
        assertClose(await out.read(), ref, 1e-4 * scaleOf(ref), what);
        // dX += dY·W on top of non-zero values.
        const prevv = randomArray(M * K, seed++, 3);
        const acc = Tensor.from(gpu, prevv, [M, K]);
        matmulInputGrad(dy, w, { out: acc, accumulate: true });
        const ref2 = ref.map((v, i) => v + prevv[i]);
        assertClose(await acc.read(), ref2, 1e-4 * scaleOf(ref2), `${what} accumulate`);
        dy.release(), out.release(), acc.release();
      }
      w.destroy();
    }
  });
});

test('matmulInputGrad takes leading batch dimensions and rejects bad shapes', async () => {
  const gpu = await testGpu();
  const dyv = randomArray(2 * 3 * 5, 11),
    wv = randomArray(5 * 8, 12);
  const w = WeightMatrix.upload(gpu, 'w', wv, 5, 8, 'f32');
  const dx = matmulInputGrad(Tensor.from(gpu, dyv, [2, 3, 5]), w);
  assert.deepEqual(dx.shape, [2, 3, 8]);
  assertClose(await dx.read(), matmulInputGradRef(dyv, wv, 6, 5, 8), 1e-5, 'batched inputGrad');
  assert.throws(() => matmulInputGrad(Tensor.from(gpu, dyv, [5, 6]), w), /does not end in N/);
  assert.throws(() => matmulInputGrad(Tensor.from(gpu, dyv, [6, 5]), w, { accumulate: true }), /needs an output/);
  assert.throws(() => matmulInputGrad(Tensor.from(gpu, dyv, [6, 5]), w, { out: Tensor.empty(gpu, [6, 7]) }), /output has/);
  w.destroy();
});

test('matmulInputGradRef is the gradient of sum((X·Wᵀ)∘G) with respect to X (finite differences)', () => {
  const M = 3,
    N = 5,
    K = 4;
  const x = Float64Array.from(randomArray(M * K, 41));
  const w = Float64Array.from(randomArray(N * K, 42));
  const g = Float64Array.from(randomArray(M * N, 43));
  const loss = (xv: Float64Array) => matmulRef(xv, w, M, K, N).reduce((s, v, i) => s + v * g[i], 0);
  const grad = matmulInputGradRef(g, w, M, N, K);
  const h = 1e-5;
  assertGradient(
    grad,
    numericGradient(() => loss(x), x, h),
    1e-8,
    'inputGrad finite differences',
  );
  // A nonzero gradient (so the comparison above is not vacuous).
  assert.ok(grad.some((v) => Math.abs(v) > 0.1));
});

test('matmulWeightGrad = dYᵀ·X matches the reference, with accumulate', async () => {
  const gpu = await testGpu();
  let seed = 4000;
  // (8, 16, 12) takes gemm's vec4 kernel; the others the scalar one.
  for (const [M, N, K] of [
    [5, 7, 9],
    [8, 16, 12],
    [33, 64, 30],
    [1, 3, 8],
  ]) {
    const dyv = randomArray(M * N, seed++),
      xv = randomArray(M * K, seed++);
    const dy = Tensor.from(gpu, dyv, [M, N]);
    const x = Tensor.from(gpu, xv, [M, K]);
    const what = `weightGrad M=${M} N=${N} K=${K}`;
    const dw = Tensor.from(gpu, new Float32Array(N * K).fill(NaN), [N, K]);
    assert.equal(matmulWeightGrad(dy, x, dw), dw);
    const ref = matmulWeightGradRef(dyv, xv, M, N, K);
    assertClose(await dw.read(), ref, 1e-4 * scaleOf(ref), what);
    const prev = randomArray(N * K, seed++, 2);
    const acc = Tensor.from(gpu, prev, [N, K]);
    matmulWeightGrad(dy, x, acc, { accumulate: true });
    const ref2 = matmulWeightGradRef(dyv, xv, M, N, K, prev);
    assertClose(await acc.read(), ref2, 1e-4 * scaleOf(ref2), `${what} accumulate`);
    dy.release(), x.release(), dw.release(), acc.release();
  }
  // The reference is the gradient of L(W) = sum((X·Wᵀ)∘G) (central finite differences).
  const M = 4,
    N = 3,
    K = 5;
  const x = Float64Array.from(randomArray(M * K, 51)),
    w = Float64Array.from(randomArray(N * K, 52)),
    g = Float64Array.from(randomArray(M * N, 53));
  const loss = (wv: Float64Array) => matmulRef(x, wv, M, K, N).reduce((s, v, i) => s + v * g[i], 0);
  const grad = matmulWeightGradRef(g, x, M, N, K);
  assertGradient(
    grad,
    numericGradient(() => loss(w), w, 1e-5),
    1e-8,
    'weightGrad finite differences',
  );
  assert.throws(() => matmulWeightGrad(Tensor.empty(gpu, [4, 3]), Tensor.empty(gpu, [5, 2]), Tensor.empty(gpu, [3, 2])), /row counts/);
  assert.throws(() => matmulWeightGrad(Tensor.empty(gpu, [4, 3]), Tensor.empty(gpu, [4, 2]), Tensor.empty(gpu, [2, 2])), /dW has/);
});
