import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Tensor } from '../src/gpu/tensor.ts';
import type { Gpu } from '../src/gpu/runtime.ts';
import {
  LoraLayer,
  dropoutKeep,
  dropoutMaskRef,
  dropoutSeed,
  loraBackward,
  loraBackwardRef,
  loraForward,
  loraForwardGroup,
  loraForwardRef,
  mergeLoraRef,
  type DropoutOptions,
  type LoraRefDims,
} from '../src/kernels/lora.ts';
import { loraScale } from '../src/lora/config.ts';
import { assertClose, randomArray, testGpu } from './helpers/gpu.ts';
import { assertGradient, numericGradient } from './helpers/finite-diff.ts';

interface Case {
  T: number;
  inDim: number;
  outDim: number;
  r: number;
  rs: boolean;
}

const CASES: Case[] = [
  { T: 1, inDim: 16, outDim: 24, r: 1, rs: false },
  { T: 5, inDim: 24, outDim: 96, r: 4, rs: false },
  { T: 37, inDim: 96, outDim: 16, r: 8, rs: false },
  { T: 37, inDim: 24, outDim: 24, r: 4, rs: true },
  { T: 5, inDim: 96, outDim: 96, r: 8, rs: true },
  { T: 1, inDim: 16, outDim: 16, r: 1, rs: true },
];

function setup(gpu: Gpu, c: Case, seed: number) {
  const scale = loraScale({ r: c.r, alpha: 16, useRslora: c.rs });
  const x = randomArray(c.T * c.inDim, seed, 1);
  const A = randomArray(c.r * c.inDim, seed + 1, 1 / Math.sqrt(c.inDim));
  const B = randomArray(c.outDim * c.r, seed + 2, 0.5);
  const y0 = randomArray(c.T * c.outDim, seed + 3, 1);
  const dy = randomArray(c.T * c.outDim, seed + 4, 1);
  const dx0 = randomArray(c.T * c.inDim, seed + 5, 1);
  const lora = new LoraLayer(
    c.inDim,
    c.outDim,
    c.r,
    scale,
    Tensor.from(gpu, A, [c.r, c.inDim]),
    Tensor.from(gpu, B, [c.outDim, c.r]),
    Tensor.from(gpu, new Float32Array(c.r * c.inDim), [c.r, c.inDim]),
    Tensor.from(gpu, new Float32Array(c.outDim * c.r), [c.outDim, c.r]),
  );
  const dims: LoraRefDims = { T: c.T, inDim: c.inDim, outDim: c.outDim, r: c.r, scale };
  return { scale, x, A, B, y0, dy, dx0, lora, dims };
}

/** Tolerance relative to the largest magnitude of the expected values. */
function tolFor(want: ArrayLike<number>, rel = 2e-6): number {
  let m = 0;
  for (let i = 0; i < want.length; i++) m = Math.max(m, Math.abs(want[i]));
  return rel * Math.max(1, m) * 4;
}

const label = (c: Case) => `T=${c.T} in=${c.inDim} out=${c.outDim} r=${c.r}${c.rs ? ' rsLoRA' : ''}`;

test('loraScale: alpha / r, rsLoRA alpha / sqrt(r)', () => {
  if (loraScale({ r: 8, alpha: 16, useRslora: false }) !== 2) throw new Error('plain scale');
  if (loraScale({ r: 16, alpha: 8, useRslora: true }) !== 2) throw new Error('rsLoRA scale');
});

test('loraForward matches the float64 reference (plain and rsLoRA)', async () => {
  const gpu = await testGpu();
  for (const [i, c] of CASES.entries()) {
    const s = setup(gpu, c, 100 + i * 10);
    const y = Tensor.from(gpu, s.y0, [c.T, c.outDim]);
    const d = loraForward(Tensor.from(gpu, s.x, [c.T, c.inDim]), s.lora, y);
    const want = loraForwardRef(s.x, s.A, s.B, s.dims, { y0: s.y0 });
    assertClose(await y.read(), want.y, tolFor(want.y), `y ${label(c)}`);
    assertClose(await d.read(), want.d, tolFor(want.d), `D ${label(c)}`);
    if (d.shape[0] !== c.T || d.shape[1] !== c.r) throw new Error(`D shape [${d.shape}]`);
  }
});

test('loraForwardGroup: sites sharing an input, into one fused output or two, match the float64 reference', async () => {
  const gpu = await testGpu();
  for (const [T, inDim, r] of [
    [1, 32, 4],
    [8, 40, 16],
    [37, 24, 1],
  ]) {
    const x = randomArray(T * inDim, T + r, 1);
    const xt = Tensor.from(gpu, x, [T, inDim]);
    // q|k|v-like: three sites into column slices of one output 56 wide (a leading 4 columns untouched).
    const outs = [24, 16, 12];
    const stride = 4 + outs.reduce((a, b) => a + b);
    const y0 = randomArray(T * stride, 7 + T, 1);
    const fused = Tensor.from(gpu, y0, [T, stride]);
    const sites = outs.map((outDim, i) => setup(gpu, { T, inDim, outDim, r, rs: i === 1 }, 300 + 10 * i + T));
    let col0 = 4;
    const placed = sites.map((st, i) => {
      const site = { lora: st.lora, y: fused, columns: { stride, col0 } };
      col0 += outs[i];
      return site;
    });
    loraForwardGroup(xt, placed);
    const want = Float64Array.from(y0);
    for (const [i, st] of sites.entries()) {
      const delta = loraForwardRef(x, st.A, st.B, { ...st.dims, scale: st.scale }).y;
      const c0 = placed[i].columns.col0;
      for (let t = 0; t < T; t++) for (let c = 0; c < outs[i]; c++) want[t * stride + c0 + c] += delta[t * outs[i] + c];
    }
    assertClose(await fused.read(), want, tolFor(want), `fused T=${T} r=${r}`);
    // gate/up-like: two sites into two outputs of their own; then one site alone.
    const pair = [0, 1].map((i) => setup(gpu, { T, inDim, outDim: 20, r, rs: false }, 400 + 10 * i + T));
    const ys = pair.map((st) => Tensor.from(gpu, st.y0, [T, 20]));
    loraForwardGroup(
      xt,
      pair.map((st, i) => ({ lora: st.lora, y: ys[i] })),
    );
    for (const [i, st] of pair.entries()) {
      const w = loraForwardRef(x, st.A, st.B, st.dims, { y0: st.y0 }).y;
      assertClose(await ys[i].read(), w, tolFor(w), `pair ${i} T=${T} r=${r}`);
    }
    const one = setup(gpu, { T, inDim, outDim: 8, r, rs: true }, 500 + T);
    const y1 = Tensor.from(gpu, one.y0, [T, 8]);
    loraForwardGroup(xt, [{ lora: one.lora, y: y1 }]);
    const w1 = loraForwardRef(x, one.A, one.B, one.dims, { y0: one.y0 }).y;
    assertClose(await y1.read(), w1, tolFor(w1), `single T=${T} r=${r}`);
  }
  // Bad groups are named.
  const a = setup(gpu, { T: 2, inDim: 8, outDim: 8, r: 2, rs: false }, 1);
  const b = setup(gpu, { T: 2, inDim: 8, outDim: 8, r: 4, rs: false }, 2);
  const x = Tensor.from(gpu, a.x, [2, 8]);
  const y = () => Tensor.from(gpu, a.y0, [2, 8]);
  assert.throws(
    () =>
      loraForwardGroup(
        x,
        [a, a, a, a].map((s) => ({ lora: s.lora, y: y() })),
      ),
    /1 to 3 sites, got 4/,
  );
  assert.throws(
    () =>
      loraForwardGroup(x, [
        { lora: a.lora, y: y() },
        { lora: b.lora, y: y() },
      ]),
    /site 1 is \[r 4, in 8\], site 0 \[r 2, in 8\]/,
  );
  assert.throws(
    () =>
      loraForwardGroup(
        x,
        [a, a, a].map((s) => ({ lora: s.lora, y: y() })),
      ),
    /3 outputs, at most 2/,
  );
  assert.throws(() => loraForwardGroup(x, [{ lora: a.lora, y: y(), columns: { stride: 8, col0: 4 } }]), /need 2 rows of 8 holding columns 4..12/);
});

test('loraBackward matches the float64 reference and accumulates into dx', async () => {
  const gpu = await testGpu();
  for (const [i, c] of CASES.entries()) {
    const s = setup(gpu, c, 200 + i * 10);
    const x = Tensor.from(gpu, s.x, [c.T, c.inDim]);
    const y = Tensor.from(gpu, s.y0, [c.T, c.outDim]);
    const d = loraForward(x, s.lora, y);
    const dx = Tensor.from(gpu, s.dx0, [c.T, c.inDim]);
    loraBackward(x, d, Tensor.from(gpu, s.dy, [c.T, c.outDim]), s.lora, dx);
    const want = loraBackwardRef(s.x, s.dy, s.A, s.B, s.dims);
    const wantDx = want.dx.map((v, k) => v + s.dx0[k]);
    assertClose(await s.lora.gradA.read(), want.gradA, tolFor(want.gradA), `gradA ${label(c)}`);
    assertClose(await s.lora.gradB.read(), want.gradB, tolFor(want.gradB), `gradB ${label(c)}`);
    assertClose(await dx.read(), wantDx, tolFor(wantDx), `dx ${label(c)}`);
  }
});

function fdCheck(dropout?: DropoutOptions): void {
  const T = 3,
    inDim = 7,
    outDim = 5,
    r = 2,
    scale = 1.7;
  const dims = { T, inDim, outDim, r, scale };
  const x = Array.from(randomArray(T * inDim, 11, 1));
  const A = Array.from(randomArray(r * inDim, 12, 1));
  const B = Array.from(randomArray(outDim * r, 13, 1));
  const G = randomArray(T * outDim, 14, 1);
  const loss = (xx: number[], aa: number[], bb: number[]) => loraForwardRef(xx, aa, bb, dims, { dropout }).y.reduce((acc, v, k) => acc + v * G[k], 0);
  const an = loraBackwardRef(x, G, A, B, dims, { dropout });
  const h = 1e-5;
  const check = (which: string, arr: number[], grad: Float64Array) =>
    assertGradient(
      grad,
      numericGradient(() => loss(x, A, B), arr, h),
      (g) => 1e-6 * Math.max(1, Math.abs(g)),
      `${which}${dropout ? ' (dropout)' : ''}`,
    );
  check('gradA', A, an.gradA);
  check('gradB', B, an.gradB);
  check('dx', x, an.dx);
}

test('loraBackwardRef is the gradient of Σ y·G (central differences), with and without dropout', () => {
  fdCheck();
  fdCheck({ p: 0.4, seed: 77 });
});

test('dropout: forward and backward match the reference with the recomputed mask', async () => {
  const gpu = await testGpu();
  for (const [i, c] of [CASES[1], CASES[2], CASES[3]].entries()) {
    const s = setup(gpu, c, 300 + i * 10);
    const dropout = { p: 0.3, seed: dropoutSeed(5, i, 3) };
    const x = Tensor.from(gpu, s.x, [c.T, c.inDim]);
    const y = Tensor.from(gpu, s.y0, [c.T, c.outDim]);
    const d = loraForward(x, s.lora, y, { dropout });
    const wantF = loraForwardRef(s.x, s.A, s.B, s.dims, { y0: s.y0, dropout });
    assertClose(await y.read(), wantF.y, tolFor(wantF.y), `dropout y ${label(c)}`);
    assertClose(await d.read(), wantF.d, tolFor(wantF.d), `dropout D ${label(c)}`);
    const dx = Tensor.from(gpu, s.dx0, [c.T, c.inDim]);
    loraBackward(x, d, Tensor.from(gpu, s.dy, [c.T, c.outDim]), s.lora, dx, { dropout });
    const want = loraBackwardRef(s.x, s.dy, s.A, s.B, s.dims, { dropout });
    const wantDx = want.dx.map((v, k) => v + s.dx0[k]);
    assertClose(await s.lora.gradA.read(), want.gradA, tolFor(want.gradA), `dropout gradA ${label(c)}`);
    assertClose(await s.lora.gradB.read(), want.gradB, tolFor(want.gradB), `dropout gradB ${label(c)}`);
    assertClose(await dx.read(), wantDx, tolFor(wantDx), `dropout dx ${label(c)}`);
    // Without the mask the results would differ: the test is not vacuous.
    const plain = loraForwardRef(s.x, s.A, s.B, s.dims, { y0: s.y0 });
    if (Math.abs(plain.y[0] - wantF.y[0]) + Math.abs(plain.d[0] - wantF.d[0]) === 0 && c.T > 1) {
      throw new Error('dropout had no effect');
    }
  }
});

test('dropout: the GPU mask is the reference mask, at rate ≈ p; p = 0 is no dropout', async () => {
  const gpu = await testGpu();
  // With A = B = I (r = in = out) and scale 1, y = dropout(x): read the GPU mask directly.
  const n = 16,
    T = 256,
    p = 0.25,
    seed = dropoutSeed(42);
  const eye = new Float32Array(n * n);
  for (let k = 0; k < n; k++) eye[k * n + k] = 1;
  const lora = new LoraLayer(n, n, n, 1, Tensor.from(gpu, eye, [n, n]), Tensor.from(gpu, eye, [n, n]), Tensor.empty(gpu, [n, n]), Tensor.empty(gpu, [n, n]));
  const ones = new Float32Array(T * n).fill(1);
  const y = Tensor.from(gpu, new Float32Array(T * n), [T, n]);
  loraForward(Tensor.from(gpu, ones, [T, n]), lora, y, { dropout: { p, seed } }).release();
  const got = await y.read();
  const mask = dropoutMaskRef(seed, p, T * n);
  assertClose(got, mask, 1e-6, 'GPU mask vs dropoutMaskRef');
  const dropped = got.filter((v) => v === 0).length / got.length;
  if (Math.abs(dropped - p) > 0.03) throw new Error(`GPU drop rate ${dropped}, want ≈ ${p}`);
  for (let k = 0; k < 50; k++) if ((mask[k] !== 0) !== dropoutKeep(seed, p, k)) throw new Error('dropoutKeep disagrees');

  // Larger CPU sample of the same hash: rate within 3σ, and different seeds give different masks.
  for (const q of [0.05, 0.1, 0.5, 0.9]) {
    const m = dropoutMaskRef(dropoutSeed(q * 100), q, 200000);
    const rate = m.filter((v) => v === 0).length / m.length;
    const sigma = Math.sqrt((q * (1 - q)) / m.length);
    if (Math.abs(rate - q) > 4 * sigma) throw new Error(`drop rate ${rate} for p = ${q}`);
  }
  const m1 = dropoutMaskRef(1, 0.5, 1000),
    m2 = dropoutMaskRef(2, 0.5, 1000);
  if (m1.every((v, k) => v === m2[k])) throw new Error('seeds 1 and 2 give the same mask');

  // p = 0 is bit-identical to no dropout.
  const c = CASES[2];
  const s = setup(gpu, c, 400);
  const x = Tensor.from(gpu, s.x, [c.T, c.inDim]);
  const ya = Tensor.from(gpu, s.y0, [c.T, c.outDim]);
  const yb = Tensor.from(gpu, s.y0, [c.T, c.outDim]);
  loraForward(x, s.lora, ya);
  loraForward(x, s.lora, yb, { dropout: { p: 0, seed: 9 } });
  const [a, b] = [await ya.read(), await yb.read()];
  if (!a.every((v, k) => v === b[k])) throw new Error('p = 0 differs from no dropout');
});

test('two backward calls accumulate: gradients double', async () => {
  const gpu = await testGpu();
  const c = CASES[1];
  const s = setup(gpu, c, 500);
  const x = Tensor.from(gpu, s.x, [c.T, c.inDim]);
  const dy = Tensor.from(gpu, s.dy, [c.T, c.outDim]);
  const y = Tensor.from(gpu, s.y0, [c.T, c.outDim]);
  const dropout = { p: 0.2, seed: 123 };
  const d = loraForward(x, s.lora, y, { dropout });
  const dx = Tensor.from(gpu, new Float32Array(c.T * c.inDim), [c.T, c.inDim]);
  loraBackward(x, d, dy, s.lora, dx, { dropout });
  loraBackward(x, d, dy, s.lora, dx, { dropout });
  const want = loraBackwardRef(s.x, s.dy, s.A, s.B, s.dims, { dropout });
  const twice = (a: Float64Array) => a.map((v) => 2 * v);
  assertClose(await s.lora.gradA.read(), twice(want.gradA), 2 * tolFor(want.gradA), 'gradA ×2');
  assertClose(await s.lora.gradB.read(), twice(want.gradB), 2 * tolFor(want.gradB), 'gradB ×2');
  assertClose(await dx.read(), twice(want.dx), 2 * tolFor(want.dx), 'dx ×2');
  // dx = null skips the input gradient but still accumulates the weight gradients.
  loraBackward(x, d, dy, s.lora, null, { dropout });
  assertClose(
    await s.lora.gradB.read(),
    want.gradB.map((v) => 3 * v),
    3 * tolFor(want.gradB),
    'gradB ×3',
  );
});

test('mergeLoraRef: W + scale · B A, equal to the forward on any x', () => {
  const out = 6,
    inDim = 5,
    r = 3,
    scale = 0.75,
    T = 4;
  const W = randomArray(out * inDim, 1),
    A = randomArray(r * inDim, 2),
    B = randomArray(out * r, 3),
    x = randomArray(T * inDim, 4);
  const merged = mergeLoraRef(W, A, B, out, inDim, r, scale);
  const base = new Float64Array(T * out);
  for (let t = 0; t < T; t++) for (let o = 0; o < out; o++) for (let i = 0; i < inDim; i++) base[t * out + o] += x[t * inDim + i] * W[o * inDim + i];
  const viaLora = loraForwardRef(x, A, B, { T, inDim, outDim: out, r, scale }, { y0: base }).y;
  const viaMerged = new Float64Array(T * out);
  for (let t = 0; t < T; t++) for (let o = 0; o < out; o++) for (let i = 0; i < inDim; i++) viaMerged[t * out + o] += x[t * inDim + i] * merged[o * inDim + i];
  assertClose(viaMerged, viaLora, 1e-5, 'merged forward');
});
