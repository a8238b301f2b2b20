import { test } from 'node:test';
import { rmsNorm, rmsNormRef, rmsNormRstdRef } from '../src/kernels/norm.ts';
import { Tensor } from '../src/gpu/tensor.ts';
import { assertClose, randomArray, testGpu } from './helpers/gpu.ts';

/** Weights near 1 like a trained norm, with some spread. */
function normWeight(dim: number, seed: number): Float32Array {
  const w = randomArray(dim, seed, 0.5);
  for (let i = 0; i < dim; i++) w[i] += 1;
  return w;
}

test('rmsNorm matches the CPU reference at odd row lengths', async () => {
  const gpu = await testGpu();
  for (const [rows, dim, eps] of [[1, 1, 1e-6], [3, 7, 1e-6], [5, 64, 1e-5], [2, 65, 1e-6], [4, 896, 1e-6], [3, 1000, 1e-5], [2, 300, 1e-6]]) {
    const x = randomArray(rows * dim, rows * 100 + dim, 3);
    const w = normWeight(dim, dim);
    const out = await rmsNorm(Tensor.from(gpu, x, [rows, dim]), Tensor.from(gpu, w, [dim]), eps).read();
    assertClose(out, rmsNormRef(x, w, rows, dim, eps), 2e-5, `rmsNorm rows=${rows} dim=${dim}`);
  }
});

test('rmsNorm eps matters for tiny rows and saveRstd holds 1/rms', async () => {
  const gpu = await testGpu();
  const rows = 6, dim = 40, eps = 1e-2;
  const x = randomArray(rows * dim, 7, 0.05);
  const w = normWeight(dim, 8);
  const rstd = Tensor.empty(gpu, [rows]);
  const out = await rmsNorm(Tensor.from(gpu, x, [rows, dim]), Tensor.from(gpu, w, [dim]), eps, { saveRstd: rstd }).read();
  assertClose(out, rmsNormRef(x, w, rows, dim, eps), 1e-5, 'rmsNorm eps=1e-2');
  const want = rmsNormRstdRef(x, rows, dim, eps);
  assertClose(await rstd.read(), want, 1e-5 * Math.max(...want), 'rstd');
});

test('rmsNorm per head (Qwen3 q/k-norm view) into a given out tensor', async () => {
  const gpu = await testGpu();
  for (const [tokens, heads, headDim] of [[5, 3, 64], [3, 2, 128], [7, 5, 6]]) {
    const x = randomArray(tokens * heads * headDim, tokens + heads + headDim, 2);
    const w = normWeight(headDim, headDim + 1);
    const out = Tensor.empty(gpu, [tokens, heads * headDim]);
    const rstd = Tensor.empty(gpu, [tokens * heads]);
    const got = rmsNorm(Tensor.from(gpu, x, [tokens, heads * headDim]), Tensor.from(gpu, w, [headDim]), 1e-6, {
      out,
      rows: tokens * heads,
      dim: headDim,
      saveRstd: rstd,
    });
    if (got !== out) throw new Error('rmsNorm did not return the out tensor');
    assertClose(await out.read(), rmsNormRef(x, w, tokens * heads, headDim, 1e-6), 2e-5, `per-head ${tokens}x${heads}x${headDim}`);
    const want = rmsNormRstdRef(x, tokens * heads, headDim, 1e-6);
    assertClose(await rstd.read(), want, 1e-5 * Math.max(...want), 'per-head rstd');
  }
});

test('rmsNorm rejects shapes that do not divide', async () => {
  const gpu = await testGpu();
  let threw = false;
  try {
    rmsNorm(Tensor.from(gpu, randomArray(10, 1), [10]), Tensor.from(gpu, randomArray(3, 2), [3]), 1e-6);
  } catch {
    threw = true;
  }
  if (!threw) throw new Error('expected a shape error');
});
