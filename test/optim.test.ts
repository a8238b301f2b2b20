import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Tensor } from '../src/gpu/tensor.ts';
import type { Gpu } from '../src/gpu/runtime.ts';
import { AdamW, AdamWRef, Sgd, SgdRef, clipCoefRef, clipGradNorm, gradNorm, gradNormRef, readScalar, type SgdConfig } from '../src/train/optim.ts';
import { zeroFill as zeroGrads, type Param } from '../src/gpu/param.ts';
import { randomArray, rng, testGpu } from './helpers/gpu.ts';

/** |actual − expected| ≤ atol + rtol·|expected| everywhere. */
function assertRel(actual: ArrayLike<number>, expected: ArrayLike<number>, rtol: number, atol: number, what: string): void {
  assert.equal(actual.length, expected.length, `${what}: length`);
  for (let i = 0; i < actual.length; i++) {
    const d = Math.abs(actual[i] - expected[i]);
    if (!(d <= atol + rtol * Math.abs(expected[i]))) {
      throw new Error(`${what}: [${i}] got ${actual[i]}, want ${expected[i]} (diff ${d})`);
    }
  }
}

const ODD_SIZES = [1, 7, 1000, 70001];

/** Sizes for the odd tensors plus many small ones. */
function sizes(many: number, seed: number): number[] {
  const next = rng(seed);
  return [...ODD_SIZES, ...Array.from({ length: many }, () => 1 + Math.floor(next() * 300))];
}

interface Setup {
  params: Param[];
  init: Float32Array[];
  /** grads[step][tensor] */
  grads: Float32Array[][];
}

function setup(gpu: Gpu, ns: number[], steps: number, seed: number, gradAmp = 1): Setup {
  const init = ns.map((n, i) => randomArray(n, seed + i));
  const grads = Array.from({ length: steps }, (_, s) => ns.map((n, i) => randomArray(n, seed * 7919 + s * 1000 + i, gradAmp)));
  const params = ns.map((n, i) => ({
    name: `p${i}`,
    value: Tensor.from(gpu, init[i], [n], `p${i}`),
    grad: Tensor.empty(gpu, [n], `g${i}`),
  }));
  return { params, init, grads };
}

function loadGrads(gpu: Gpu, params: Param[], grads: Float32Array[]): void {
  params.forEach((p, i) => gpu.write(p.grad.buffer, grads[i]));
}

async function readAll(ts: Tensor[]): Promise<Float32Array[]> {
  const out: Float32Array[] = [];
  for (const t of ts) out.push(await t.read());
  return out;
}

test('AdamW matches float64 torch AdamW over steps with varying lr, gradScale, weight decay, clipping on and off', async () => {
  const gpu = await testGpu();
  const ns = sizes(40, 11);
  const steps = 5;
  const { params, init, grads } = setup(gpu, ns, steps, 100);
  const cfg = { lr: 1e-2, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0.1 };
  const opt = new AdamW(gpu, params, cfg);
  const ref = new AdamWRef(
    init.map((a) => Float64Array.from(a)),
    cfg,
  );
  const lrs = [1e-2, 3e-2, 5e-3, 2e-2, 1e-2];
  const scales = [1, 0.5, 0.25, 1, 2];
  const maxNorms = [0, 1, 0, 10, 1e9]; // off, clipping hard, off, clipping, not reached
  let clippedSteps = 0;
  for (let s = 0; s < steps; s++) {
    loadGrads(gpu, params, grads[s]);
    const { norm, clipCoef } = clipGradNorm(
      gpu,
      params.map((p) => p.grad),
      maxNorms[s],
      { scale: scales[s] },
    );
    opt.step({ lr: lrs[s], gradScale: scales[s], clipCoef });
    const normRef = gradNormRef(grads[s], scales[s]);
    const coefRef = clipCoefRef(normRef, maxNorms[s]);
    const gpuNorm = await readScalar(norm);
    assertRel([gpuNorm], [normRef], 1e-5, 0, `norm step ${s}`);
    if (maxNorms[s] > 0) {
      assert.ok(clipCoef);
      const c = await readScalar(clipCoef);
      assertRel([c], [coefRef], 1e-5, 0, `clip coef step ${s}`);
      if (coefRef < 1) {
        clippedSteps++;
        assert.ok(c < 0.5, `step ${s}: grads of norm ${normRef} must be clipped to ${maxNorms[s]} (coef ${c})`);
      } else assert.equal(c, 1);
      clipCoef.release();
    } else assert.equal(clipCoef, undefined);
    norm.release();
    ref.update(grads[s], { lr: lrs[s], gradScale: scales[s], clipCoef: coefRef });
  }
  assert.equal(clippedSteps, 2);
  assert.equal(opt.stepCount, steps);
  const got = await readAll(params.map((p) => p.value));
  got.forEach((g, i) => assertRel(g, ref.params[i], 1e-5, 1e-6, `AdamW param ${i} (n=${ns[i]})`));
  const st = await opt.state();
  assert.equal(st.step, steps);
  st.m.forEach((m, i) => assertRel(m, ref.m[i], 1e-4, 1e-7, `AdamW m ${i}`));
  st.v.forEach((v, i) => assertRel(v, ref.v[i], 1e-4, 1e-9, `AdamW v ${i}`));
  // The grads themselves are left alone by the step.
  assert.deepEqual(await params[3].grad.read(), grads[steps - 1][3]);
});

test('AdamW positional step(lr, gradScale), no weight decay, other betas', async () => {
  const gpu = await testGpu();
  const ns = [1, 7, 1000];
  const { params, init, grads } = setup(gpu, ns, 3, 200);
  const cfg = { lr: 1e-3, beta1: 0.8, beta2: 0.95, eps: 1e-6, weightDecay: 0 };
  const opt = new AdamW(gpu, params, cfg);
  const ref = new AdamWRef(
    init.map((a) => Float64Array.from(a)),
    cfg,
  );
  for (let s = 0; s < 3; s++) {
    loadGrads(gpu, params, grads[s]);
    if (s === 0) opt.step();
    else opt.step(5e-3 * s, 1 / (s + 1));
    ref.update(grads[s], s === 0 ? {} : { lr: 5e-3 * s, gradScale: 1 / (s + 1) });
  }
  const got = await readAll(params.map((p) => p.value));
  got.forEach((g, i) => assertRel(g, ref.params[i], 1e-5, 1e-6, `AdamW param ${i}`));
});

for (const sgdCfg of [
  { lr: 0.05 },
  { lr: 0.05, weightDecay: 0.01 },
  { lr: 0.05, momentum: 0.9, weightDecay: 0.01 },
  { lr: 0.05, momentum: 0.9, nesterov: true },
] satisfies SgdConfig[]) {
  test(`SGD ${JSON.stringify(sgdCfg)} matches float64 torch SGD, with clipping and gradScale`, async () => {
    const gpu = await testGpu();
    const ns = sizes(20, 5);
    const steps = 4;
    const { params, init, grads } = setup(gpu, ns, steps, 300);
    const opt = new Sgd(gpu, params, sgdCfg);
    const ref = new SgdRef(
      init.map((a) => Float64Array.from(a)),
      sgdCfg,
    );
    const lrs = [0.05, 0.1, 0.02, 0.05];
    const scales = [1, 0.5, 1, 0.25];
    const maxNorms = [0, 2, 0, 1];
    for (let s = 0; s < steps; s++) {
      loadGrads(gpu, params, grads[s]);
      const { norm, clipCoef } = clipGradNorm(
        gpu,
        params.map((p) => p.grad),
        maxNorms[s],
        { scale: scales[s] },
      );
      opt.step({ lr: lrs[s], gradScale: scales[s], clipCoef });
      const coefRef = clipCoefRef(gradNormRef(grads[s], scales[s]), maxNorms[s]);
      if (maxNorms[s] > 0) assert.ok(coefRef < 0.1, 'the clipped steps really clip');
      ref.update(grads[s], { lr: lrs[s], gradScale: scales[s], clipCoef: coefRef });
      norm.release();
      clipCoef?.release();
    }
    const got = await readAll(params.map((p) => p.value));
    got.forEach((g, i) => assertRel(g, ref.params[i], 1e-5, 1e-6, `SGD param ${i} (n=${ns[i]})`));
    const st = await opt.state();
    assert.equal(st.step, steps);
    if (sgdCfg.momentum) st.momentumBuffer.forEach((b, i) => assertRel(b, ref.buf[i]!, 1e-5, 1e-6, `SGD momentum ${i}`));
    else assert.equal(st.momentumBuffer.length, 0);
  });
}

test('gradNorm over many tensors matches the float64 reference; scale multiplies it', async () => {
  const gpu = await testGpu();
  const ns = [...sizes(60, 9), 4096, 4097, 300000];
  const data = ns.map((n, i) => randomArray(n, 900 + i, i % 3 === 0 ? 10 : 0.01));
  const ts = data.map((d, i) => Tensor.from(gpu, d, [ns[i]]));
  assertRel([await readScalar(gradNorm(gpu, ts))], [gradNormRef(data)], 1e-5, 0, 'norm');
  assertRel([await readScalar(gradNorm(gpu, ts, { scale: -0.125 }))], [gradNormRef(data, 0.125)], 1e-5, 0, 'scaled norm');
  for (const n of ODD_SIZES) {
    const d = randomArray(n, n);
    assertRel([await readScalar(gradNorm(gpu, [Tensor.from(gpu, d, [n])]))], [gradNormRef([d])], 1e-5, 0, `norm n=${n}`);
  }
  assert.equal(await readScalar(gradNorm(gpu, [])), 0);
  // Reusing output tensors, and the coefficient for a norm below maxNorm is exactly 1.
  const norm = Tensor.empty(gpu, [1]),
    coef = Tensor.empty(gpu, [1]);
  const small = [Tensor.from(gpu, [3, 4], [2])];
  const r = clipGradNorm(gpu, small, 10, { norm, coef });
  assert.equal(r.norm, norm);
  assert.equal(r.clipCoef, coef);
  assertRel([await readScalar(norm)], [5], 1e-6, 0, 'norm [3,4]');
  assert.equal(await readScalar(coef), 1);
  clipGradNorm(gpu, small, 1, { norm, coef });
  assertRel([await readScalar(coef)], [1 / (5 + 1e-6)], 1e-6, 0, 'coef [3,4] max 1');
});

test('zeroGrads zeroes every tensor, whole and only', async () => {
  const gpu = await testGpu();
  const ts = ODD_SIZES.map((n) => Tensor.from(gpu, randomArray(n, n + 5), [n]));
  const keep = randomArray(1000, 77);
  const other = Tensor.from(gpu, keep, [1000]);
  zeroGrads(gpu, ts);
  for (const t of ts) {
    const v = await t.read();
    assert.ok(
      v.every((x) => x === 0),
      `size ${t.size} zeroed`,
    );
  }
  assert.deepEqual(await other.read(), keep);
});

test('gradient accumulation: grads summed over micro-batches with gradScale 1/k equal one step on the mean', async () => {
  const gpu = await testGpu();
  const ns = [7, 1000];
  const { params, init, grads } = setup(gpu, ns, 3, 400);
  const cfg = { lr: 1e-2, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0.01 };
  const opt = new AdamW(gpu, params, cfg);
  const ref = new AdamWRef(
    init.map((a) => Float64Array.from(a)),
    cfg,
  );
  // Sum the three micro-batch grads on the CPU in f32 (as an accumulating backward would).
  const summed = ns.map((n, i) => {
    const out = new Float32Array(n);
    for (let k = 0; k < 3; k++) for (let j = 0; j < n; j++) out[j] += grads[k][i][j];
    return out;
  });
  loadGrads(gpu, params, summed);
  const { clipCoef, norm } = clipGradNorm(
    gpu,
    params.map((p) => p.grad),
    0.5,
    { scale: 1 / 3 },
  );
  opt.step({ gradScale: 1 / 3, clipCoef });
  zeroGrads(
    gpu,
    params.map((p) => p.grad),
  );
  const mean = summed.map((s) => Array.from(s, (x) => x / 3));
  ref.update(mean, { clipCoef: clipCoefRef(gradNormRef(mean), 0.5) });
  assertRel([await readScalar(norm)], [gradNormRef(mean)], 1e-5, 0, 'norm of the mean grads');
  const got = await readAll(params.map((p) => p.value));
  got.forEach((g, i) => assertRel(g, ref.params[i], 1e-5, 1e-6, `param ${i}`));
  for (const p of params) assert.ok((await p.grad.read()).every((x) => x === 0));
});

test('state() / loadState() round trip: a restored optimizer continues identically', async () => {
  const gpu = await testGpu();
  const ns = [1, 7, 1000, 70001];
  const steps = 4;
  const a = setup(gpu, ns, steps, 500);
  const adamCfg = { lr: 1e-2, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0.05 };
  const sgdCfg = { lr: 0.05, momentum: 0.9, weightDecay: 0.01 };
  const copyParams = async (ps: Param[]) =>
    Promise.all(ps.map(async (p) => ({ name: p.name, value: Tensor.from(gpu, await p.value.read(), p.value.shape), grad: Tensor.empty(gpu, p.grad.shape) })));

  for (const kind of ['adamw', 'sgd'] as const) {
    const params = a.params.map((p, i) => ({ ...p, value: Tensor.from(gpu, a.init[i], [ns[i]]) }));
    const make = (ps: Param[]) => (kind === 'adamw' ? new AdamW(gpu, ps, adamCfg) : new Sgd(gpu, ps, sgdCfg));
    const opt = make(params);
    for (let s = 0; s < 2; s++) {
      loadGrads(gpu, params, a.grads[s]);
      opt.step({ lr: 0.01 * (s + 1) });
    }
    const saved = await opt.state();
    const params2 = await copyParams(params);
    const opt2 = make(params2);
    if (opt instanceof AdamW) (opt2 as AdamW).loadState(saved as Awaited<ReturnType<AdamW['state']>>);
    else (opt2 as Sgd).loadState(saved as Awaited<ReturnType<Sgd['state']>>);
    assert.equal(opt2.stepCount, 2);
    for (let s = 2; s < steps; s++) {
      loadGrads(gpu, params, a.grads[s]);
      loadGrads(gpu, params2, a.grads[s]);
      opt.step({ lr: 0.01 * (s + 1), gradScale: 0.5 });
      opt2.step({ lr: 0.01 * (s + 1), gradScale: 0.5 });
    }
    const x = await readAll(params.map((p) => p.value));
    const y = await readAll(params2.map((p) => p.value));
    x.forEach((v, i) => assert.deepEqual(y[i], v, `${kind}: restored param ${i} continues bit-identically`));
    assert.deepEqual(await opt2.state(), await opt.state());
  }
});

test('bad configurations and state are rejected', async () => {
  const gpu = await testGpu();
  const p: Param = { name: 'w', value: Tensor.empty(gpu, [4]), grad: Tensor.empty(gpu, [5]) };
  const cfg = { lr: 1e-3, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0 };
  assert.throws(() => new AdamW(gpu, [p], cfg), /grad has 5/);
  const q: Param = { name: 'w', value: Tensor.empty(gpu, [4]), grad: Tensor.empty(gpu, [4]) };
  assert.throws(() => new AdamW(gpu, [q], { ...cfg, beta2: 1 }), /betas/);
  const opt = new AdamW(gpu, [q], cfg);
  assert.throws(() => opt.loadState({ step: 1, m: [new Float32Array(3)], v: [new Float32Array(4)] }), /3 values/);
  assert.throws(() => opt.step(NaN), /lr/);
  assert.throws(() => new Sgd(gpu, [q], { lr: 1, nesterov: true }), /nesterov/);
  // Let the zeroing of the moments finish: destroying the device with work in flight can crash Dawn.
  await gpu.sync();
});
