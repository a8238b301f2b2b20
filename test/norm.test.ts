import { test } from 'node:test';
import { normVariant, rmsNorm, rmsNormBackward, rmsNormBackwardRef, rmsNormRef, rmsNormRstdRef, type NormVariant } from '../src/kernels/norm.ts';
import { Tensor } from '../src/gpu/tensor.ts';
import { assertClose, randomArray, testEachVariant, testGpu } from './helpers/gpu.ts';
import { assertGradient, numericGradient } from './helpers/finite-diff.ts';

/** Weights near 1 like a trained norm, with some spread. */
function normWeight(dim: number, seed: number): Float32Array {
  const w = randomArray(dim, seed, 0.5);
  for (let i = 0; i < dim; i++) w[i] += 1;
  return w;
}

/** Every GPU test runs both kernel variants: workgroup reductions (GPUs) and barrier-free (CPU). */
const variants: NormVariant[] = ['workgroup', 'flat'];

testEachVariant(variants, 'rmsNorm matches the CPU reference at odd row lengths', async (variant) => {
  const gpu = await testGpu();
  for (const [rows, dim, eps] of [
    [1, 1, 1e-6],
    [3, 7, 1e-6],
    [5, 64, 1e-5],
    [2, 65, 1e-6],
    [4, 896, 1e-6],
    [3, 1000, 1e-5],
    [2, 300, 1e-6],
    [37, 33, 1e-6],
  ]) {
    const x = randomArray(rows * dim, rows * 100 + dim, 3);
    const w = normWeight(dim, dim);
    const out = await rmsNorm(Tensor.from(gpu, x, [rows, dim]), Tensor.from(gpu, w, [dim]), eps, { variant }).read();
    assertClose(out, rmsNormRef(x, w, rows, dim, eps), 2e-5, `rmsNorm rows=${rows} dim=${dim}`);
  }
});

testEachVariant(variants, 'rmsNorm eps matters for tiny rows and saveRstd holds 1/rms', async (variant) => {
  const gpu = await testGpu();
  const rows = 6,
    dim = 40,
    eps = 1e-2;
  const x = randomArray(rows * dim, 7, 0.05);
  const w = normWeight(dim, 8);
  const rstd = Tensor.empty(gpu, [rows]);
  const out = await rmsNorm(Tensor.from(gpu, x, [rows, dim]), Tensor.from(gpu, w, [dim]), eps, { saveRstd: rstd, variant }).read();
  assertClose(out, rmsNormRef(x, w, rows, dim, eps), 1e-5, 'rmsNorm eps=1e-2');
  const want = rmsNormRstdRef(x, rows, dim, eps);
  assertClose(await rstd.read(), want, 1e-5 * Math.max(...want), 'rstd');
});

testEachVariant(variants, 'rmsNorm per head (Qwen3 q/k-norm view) into a given out tensor', async (variant) => {
  const gpu = await testGpu();
  for (const [tokens, heads, headDim] of [
    [5, 3, 64],
    [3, 2, 128],
    [7, 5, 6],
  ]) {
    const x = randomArray(tokens * heads * headDim, tokens + heads + headDim, 2);
    const w = normWeight(headDim, headDim + 1);
    const out = Tensor.empty(gpu, [tokens, heads * headDim]);
    const rstd = Tensor.empty(gpu, [tokens * heads]);
    const got = rmsNorm(Tensor.from(gpu, x, [tokens, heads * headDim]), Tensor.from(gpu, w, [headDim]), 1e-6, {
      out,
      rows: tokens * heads,
      dim: headDim,
      saveRstd: rstd,
      variant,
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

test('rmsNormBackwardRef is the gradient of the reference (central differences)', () => {
  const rows = 3,
    dim = 7,
    eps = 1e-3;
  const x = Array.from(randomArray(rows * dim, 21, 2)),
    w = Array.from(normWeight(dim, 22)),
    dy = randomArray(rows * dim, 23);
  const loss = (xx: number[], ww: number[]) => rmsNormRef(xx, ww, rows, dim, eps).reduce((s, y, i) => s + y * dy[i], 0);
  const { dx, dweight } = rmsNormBackwardRef(dy, x, w, rows, dim, eps);
  const h = 1e-6;
  const fdx = numericGradient(() => loss(x, w), x, h);
  const fdw = numericGradient(() => loss(x, w), w, h);
  assertGradient(dx, fdx, 1e-7, 'dx vs finite differences');
  assertGradient(dweight, fdw, 1e-7, 'dweight vs finite differences');
});

testEachVariant(variants, 'rmsNormBackward matches its reference (rows, per head, multi-block dweight)', async (variant) => {
  const gpu = await testGpu();
  // [rows, dim, eps]; rows = 130 and 70 give several row blocks (the last one partial) for dweight.
  for (const [rows, dim, eps] of [
    [3, 7, 1e-6],
    [5, 64, 1e-5],
    [130, 96, 1e-6],
    [4, 1000, 1e-6],
    [18, 64, 1e-6],
    [70, 300, 1e-6],
  ]) {
    const x = randomArray(rows * dim, rows + dim, 2),
      w = normWeight(dim, dim + 5),
      dy = randomArray(rows * dim, rows * dim, 1);
    const xt = Tensor.from(gpu, x, [rows, dim]),
      wt = Tensor.from(gpu, w, [dim]);
    const rstd = Tensor.empty(gpu, [rows]);
    rmsNorm(xt, wt, eps, { saveRstd: rstd, variant });
    const { dx, dweight } = rmsNormBackward(Tensor.from(gpu, dy, [rows, dim]), xt, wt, rstd, { rows, dim, variant });
    const want = rmsNormBackwardRef(dy, x, w, rows, dim, eps);
    assertClose(await dx.read(), want.dx, 2e-5, `dx rows=${rows} dim=${dim}`);
    assertClose(await dweight.read(), want.dweight, 1e-5 * Math.sqrt(rows) * 4, `dweight rows=${rows} dim=${dim}`);
  }
});

testEachVariant(variants, 'rmsNormBackward per head into given tensors', async (variant) => {
  const gpu = await testGpu();
  const tokens = 6,
    heads = 3,
    headDim = 64,
    eps = 1e-6,
    rows = tokens * heads;
  const x = randomArray(rows * headDim, 31, 2),
    w = normWeight(headDim, 32),
    dy = randomArray(rows * headDim, 33);
  const xt = Tensor.from(gpu, x, [tokens, heads * headDim]),
    wt = Tensor.from(gpu, w, [headDim]);
  const rstd = Tensor.empty(gpu, [rows]);
  rmsNorm(xt, wt, eps, { rows, dim: headDim, saveRstd: rstd, variant });
  const dxOut = Tensor.empty(gpu, [tokens, heads * headDim]),
    dwOut = Tensor.empty(gpu, [headDim]);
  const { dx, dweight } = rmsNormBackward(Tensor.from(gpu, dy, [tokens, heads * headDim]), xt, wt, rstd, {
    rows,
    dim: headDim,
    dx: dxOut,
    dweight: dwOut,
    variant,
  });
  if (dx !== dxOut || dweight !== dwOut) throw new Error('did not return the given tensors');
  const want = rmsNormBackwardRef(dy, x, w, rows, headDim, eps);
  assertClose(await dx.read(), want.dx, 2e-5, 'per-head dx');
  assertClose(await dweight.read(), want.dweight, 5e-5, 'per-head dweight');
});

test('the flat variant is the default on CPU adapters only', async () => {
  const gpu = await testGpu();
  const want = gpu.isCpuAdapter ? 'flat' : 'workgroup';
  if (normVariant(gpu) !== want) throw new Error(`default variant ${normVariant(gpu)}, want ${want}`);
  if (normVariant(gpu, 'workgroup') !== 'workgroup') throw new Error('a forced variant was ignored');
});
