import { test } from 'node:test';
import { swiglu, swigluBackward, swigluBackwardRef, swigluRef } from '../src/kernels/swiglu.ts';
import { Tensor } from '../src/gpu/tensor.ts';
import { assertClose, randomArray, testGpu } from './helpers/gpu.ts';

test('swiglu matches the CPU reference at odd sizes', async () => {
  const gpu = await testGpu();
  for (const n of [1, 7, 255, 1000, 4864 * 3 + 1]) {
    const g = randomArray(n, n, 6),
      u = randomArray(n, n + 1, 2);
    const out = await swiglu(Tensor.from(gpu, g, [n]), Tensor.from(gpu, u, [n])).read();
    assertClose(out, swigluRef(g, u), 1e-5, `swiglu n=${n}`);
  }
});

test('swiglu is finite and exact for huge |gate|', async () => {
  const gpu = await testGpu();
  const g = Float32Array.from([-1e30, -3e38, -1000, -89, -88, 88, 89, 1000, 3e38, 0, -0, 1e-30]);
  const u = Float32Array.from(g, (_, i) => (i % 2 ? 0.5 : -0.75));
  const out = await swiglu(Tensor.from(gpu, g, [g.length]), Tensor.from(gpu, u, [u.length])).read();
  const want = swigluRef(g, u);
  for (let i = 0; i < out.length; i++) {
    if (!Number.isFinite(out[i])) throw new Error(`swiglu(${g[i]}) = ${out[i]}`);
    const tol = 1e-6 * Math.max(1, Math.abs(want[i]));
    if (!(Math.abs(out[i] - want[i]) <= tol)) throw new Error(`swiglu(${g[i]}, ${u[i]}) = ${out[i]}, want ${want[i]}`);
  }
});

test('swiglu writes into a given out tensor', async () => {
  const gpu = await testGpu();
  const g = randomArray(33, 1, 4),
    u = randomArray(33, 2);
  const out = Tensor.empty(gpu, [3, 11]);
  if (swiglu(Tensor.from(gpu, g, [3, 11]), Tensor.from(gpu, u, [3, 11]), out) !== out) throw new Error('did not return out');
  assertClose(await out.read(), swigluRef(g, u), 1e-5, 'swiglu into out');
});

test('swigluBackwardRef is the gradient of the reference (central differences)', () => {
  const n = 40;
  const g = Array.from(randomArray(n, 3, 8)),
    u = Array.from(randomArray(n, 4, 2)),
    dy = randomArray(n, 5);
  const loss = (gg: number[], uu: number[]) => swigluRef(gg, uu).reduce((s, y, i) => s + y * dy[i], 0);
  const { dgate, dup } = swigluBackwardRef(g, u, dy);
  const h = 1e-6;
  const fdG = new Float64Array(n),
    fdU = new Float64Array(n);
  for (let k = 0; k < n; k++) {
    const gp = g.slice(),
      gm = g.slice(),
      up = u.slice(),
      um = u.slice();
    (gp[k] += h), (gm[k] -= h), (up[k] += h), (um[k] -= h);
    fdG[k] = (loss(gp, u) - loss(gm, u)) / (2 * h);
    fdU[k] = (loss(g, up) - loss(g, um)) / (2 * h);
  }
  assertClose(dgate, fdG, 1e-7, 'dgate vs finite differences');
  assertClose(dup, fdU, 1e-7, 'dup vs finite differences');
});

test('swigluBackward matches its reference', async () => {
  const gpu = await testGpu();
  for (const n of [1, 257, 3001]) {
    const g = randomArray(n, n, 6),
      u = randomArray(n, n + 1, 2),
      dy = randomArray(n, n + 2);
    const t = (a: Float32Array) => Tensor.from(gpu, a, [n]);
    const { dgate, dup } = swigluBackward(t(g), t(u), t(dy));
    const want = swigluBackwardRef(g, u, dy);
    assertClose(await dgate.read(), want.dgate, 1e-5, `dgate n=${n}`);
    assertClose(await dup.read(), want.dup, 1e-5, `dup n=${n}`);
  }
});
