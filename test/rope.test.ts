import { test } from 'node:test';
import { KvCache } from '../src/kernels/attention.ts';
import { rope, ropeBackward, ropeBackwardRef, ropeQkv, ropeQkvRef, ropeRef } from '../src/kernels/rope.ts';
import { Tensor } from '../src/gpu/tensor.ts';
import { assertClose, randomArray, testGpu } from './helpers/gpu.ts';
import { assertGradient, numericGradient } from './helpers/finite-diff.ts';

type Case = { batch: number; tokens: number; heads: number; headDim: number; theta: number; positions: number[] };

const cases: Case[] = [
  { batch: 1, tokens: 5, heads: 3, headDim: 64, theta: 1e6, positions: [0] },
  { batch: 3, tokens: 4, heads: 2, headDim: 128, theta: 1e6, positions: [0, 17, 4090] },
  { batch: 2, tokens: 3, heads: 5, headDim: 6, theta: 1e4, positions: [7, 123] },
  { batch: 2, tokens: 7, heads: 9, headDim: 64, theta: 1e5, positions: [3000, 1] },
  { batch: 4, tokens: 1, heads: 2, headDim: 2, theta: 10, positions: [4095, 0, 1, 2048] },
];

test('rope matches the float64 reference (batch > 1, per-sequence positions up to 4096)', async () => {
  const gpu = await testGpu();
  for (const c of cases) {
    const n = c.batch * c.tokens * c.heads * c.headDim;
    const x = randomArray(n, n + c.headDim, 2);
    const pos = gpu.upload(new Uint32Array(c.positions));
    const got = await rope(Tensor.from(gpu, x, [c.batch * c.tokens, c.heads * c.headDim]), pos, c).read();
    const want = ropeRef(x, c.positions, c.batch, c.tokens, c.heads, c.headDim, c.theta);
    assertClose(got, want, 4e-6, `rope ${JSON.stringify(c)}`);
  }
});

test('ropeQkv rotates q, writes rotated k and v into the cache (rows past maxSeq dropped)', async () => {
  const gpu = await testGpu();
  const qkvCases = [
    { batch: 1, tokens: 1, heads: 4, kvHeads: 2, headDim: 8, theta: 1e4, positions: [5], maxSeq: 8 },
    { batch: 3, tokens: 4, heads: 6, kvHeads: 3, headDim: 12, theta: 1e6, positions: [0, 9, 3], maxSeq: 12 },
    { batch: 2, tokens: 3, heads: 2, kvHeads: 1, headDim: 64, theta: 1e5, positions: [4, 1], maxSeq: 6 },
  ];
  for (const c of qkvCases) {
    const rows = c.batch * c.tokens;
    const width = (c.heads + 2 * c.kvHeads) * c.headDim;
    const qkv = randomArray(rows * width, width + rows, 2);
    const cache = KvCache.create(gpu, c);
    const qr = ropeQkv(Tensor.from(gpu, qkv, [rows, width]), gpu.upload(new Uint32Array(c.positions)), cache, c);
    const want = ropeQkvRef(qkv, c.positions, c);
    assertClose(await qr.read(), want.q, 4e-6, `ropeQkv q ${JSON.stringify(c)}`);
    const kd = c.kvHeads * c.headDim;
    for (const [name, buffer, ref] of [
      ['k', cache.k, want.k],
      ['v', cache.v, want.v],
    ] as const) {
      // The cache is [batch, kvHeads, maxSeq, headDim]; untouched positions stay 0.
      const expected = new Float64Array(c.batch * c.kvHeads * c.maxSeq * c.headDim);
      for (let b = 0; b < c.batch; b++) {
        for (let t = 0; t < c.tokens; t++) {
          const pos = c.positions[b] + t;
          if (pos >= c.maxSeq) continue;
          for (let h = 0; h < c.kvHeads; h++) {
            for (let e = 0; e < c.headDim; e++)
              expected[((b * c.kvHeads + h) * c.maxSeq + pos) * c.headDim + e] = ref[(b * c.tokens + t) * kd + h * c.headDim + e];
          }
        }
      }
      assertClose(await gpu.readF32(buffer, expected.length), expected, 4e-6, `ropeQkv cache ${name} ${JSON.stringify(c)}`);
    }
    cache.destroy();
  }
});

test('ropeQkv with per-head q/k norms (Qwen3): normed and rotated q, cache k/v, and what backward needs', async () => {
  const gpu = await testGpu();
  for (const c of [
    { batch: 1, tokens: 1, heads: 4, kvHeads: 2, headDim: 8, theta: 1e4, positions: [5], maxSeq: 8, eps: 1e-6 },
    { batch: 3, tokens: 4, heads: 6, kvHeads: 3, headDim: 12, theta: 1e6, positions: [0, 9, 3], maxSeq: 12, eps: 1e-5 },
    { batch: 2, tokens: 3, heads: 2, kvHeads: 1, headDim: 128, theta: 1e6, positions: [4, 1], maxSeq: 6, eps: 1e-6 },
  ]) {
    const rows = c.batch * c.tokens;
    const width = (c.heads + 2 * c.kvHeads) * c.headDim;
    // Rows of very different scales: the norm must take each head's own 1/rms.
    const qkv = randomArray(rows * width, width + rows, 2).map((v, i) => v * 10 ** ((Math.floor(i / c.headDim) % 3) - 1));
    const qNorm = randomArray(c.headDim, 11, 1).map((v) => 1 + v);
    const kNorm = randomArray(c.headDim, 12, 1).map((v) => 1 + v);
    const want = ropeQkvRef(qkv, c.positions, { ...c, qkNorm: { q: qNorm, k: kNorm, eps: c.eps } });
    const kd = c.kvHeads * c.headDim;
    for (const saving of [false, true]) {
      const cache = KvCache.create(gpu, c);
      const save = saving
        ? {
            qPre: Tensor.empty(gpu, [rows, c.heads * c.headDim]),
            kPre: Tensor.empty(gpu, [rows, kd]),
            rstdQ: Tensor.empty(gpu, [rows * c.heads]),
            rstdK: Tensor.empty(gpu, [rows * c.kvHeads]),
          }
        : undefined;
      const qkNorm = { q: Tensor.from(gpu, qNorm, [c.headDim]), k: Tensor.from(gpu, kNorm, [c.headDim]), eps: c.eps, save };
      const qr = ropeQkv(Tensor.from(gpu, qkv, [rows, width]), gpu.upload(new Uint32Array(c.positions)), cache, { ...c, qkNorm });
      const what = `${JSON.stringify(c)} save=${saving}`;
      assertClose(await qr.read(), want.q, 4e-6, `q ${what}`);
      const cacheRows = async (buffer: GPUBuffer) => {
        const all = await gpu.readF32(buffer, c.batch * c.kvHeads * c.maxSeq * c.headDim);
        const out = new Float32Array(rows * kd);
        for (let b = 0; b < c.batch; b++)
          for (let t = 0; t < c.tokens; t++)
            for (let h = 0; h < c.kvHeads; h++)
              for (let e = 0; e < c.headDim; e++) {
                const pos = c.positions[b] + t;
                // Positions past maxSeq are dropped: compare them as the reference's value.
                out[(b * c.tokens + t) * kd + h * c.headDim + e] = pos < c.maxSeq ? all[((b * c.kvHeads + h) * c.maxSeq + pos) * c.headDim + e] : Number.NaN;
              }
        return out;
      };
      const keep = (ref: Float64Array, got: Float32Array) => ref.map((v, i) => (Number.isNaN(got[i]) ? Number.NaN : v));
      const gotK = await cacheRows(cache.k);
      const gotV = await cacheRows(cache.v);
      assertClose(
        gotK.filter((v) => !Number.isNaN(v)),
        keep(want.k, gotK).filter((v) => !Number.isNaN(v)),
        4e-6,
        `cache k ${what}`,
      );
      assertClose(
        gotV.filter((v) => !Number.isNaN(v)),
        keep(want.v, gotV).filter((v) => !Number.isNaN(v)),
        0,
        `cache v ${what}`,
      );
      if (save) {
        assertClose(await save.qPre.read(), want.qPre, 0, `qPre ${what}`);
        assertClose(await save.kPre.read(), want.kPre, 0, `kPre ${what}`);
        assertClose(await save.rstdQ.read(), want.rstdQ!, 1e-5 * Math.max(...want.rstdQ!), `rstdQ ${what}`);
        assertClose(await save.rstdK.read(), want.rstdK!, 1e-5 * Math.max(...want.rstdK!), `rstdK ${what}`);
      }
      cache.destroy();
    }
  }
});

test('rope stays exact at long positions and far past them', async () => {
  const gpu = await testGpu();
  const c = { batch: 3, tokens: 6, heads: 2, headDim: 64, theta: 1e6, positions: [32760, 131072, 4_000_000_000] };
  const n = c.batch * c.tokens * c.heads * c.headDim;
  const x = randomArray(n, 99, 1);
  const got = await rope(Tensor.from(gpu, x, [c.batch * c.tokens, c.heads * c.headDim]), gpu.upload(new Uint32Array(c.positions)), c).read();
  assertClose(got, ropeRef(x, c.positions, c.batch, c.tokens, c.heads, c.headDim, c.theta), 4e-6, 'rope at large positions');
});

test('rope writes into a given out tensor and refuses to work in place', async () => {
  const gpu = await testGpu();
  const c = { batch: 2, tokens: 2, heads: 1, headDim: 8, theta: 1e4 };
  const x = randomArray(32, 5);
  const xt = Tensor.from(gpu, x, [4, 8]);
  const pos = gpu.upload(new Uint32Array([5, 9]));
  const out = Tensor.empty(gpu, [4, 8]);
  if (rope(xt, pos, { ...c, out }) !== out) throw new Error('rope did not return out');
  assertClose(await out.read(), ropeRef(x, [5, 9], 2, 2, 1, 8, 1e4), 1e-5, 'rope into out');
  let threw = false;
  try {
    rope(xt, pos, { ...c, out: xt });
  } catch {
    threw = true;
  }
  if (!threw) throw new Error('in-place rope was accepted');
});

test('ropeBackwardRef is the gradient of the reference (central differences)', () => {
  const batch = 2,
    tokens = 3,
    heads = 2,
    headDim = 8,
    theta = 1e4,
    positions = [3, 250];
  const n = batch * tokens * heads * headDim;
  const x = Array.from(randomArray(n, 11));
  const dy = randomArray(n, 12);
  const loss = (v: number[]) => ropeRef(v, positions, batch, tokens, heads, headDim, theta).reduce((s, y, i) => s + y * dy[i], 0);
  const grad = ropeBackwardRef(dy, positions, batch, tokens, heads, headDim, theta);
  const h = 1e-5;
  assertGradient(
    grad,
    numericGradient(() => loss(x), x, h),
    1e-8,
    'rope gradient vs finite differences',
  );
});

test('ropeBackward matches its reference', async () => {
  const gpu = await testGpu();
  for (const c of cases.slice(1, 4)) {
    const n = c.batch * c.tokens * c.heads * c.headDim;
    const dy = randomArray(n, n + 3, 2);
    const pos = gpu.upload(new Uint32Array(c.positions));
    const got = await ropeBackward(Tensor.from(gpu, dy, [c.batch * c.tokens, c.heads * c.headDim]), pos, c).read();
    assertClose(got, ropeBackwardRef(dy, c.positions, c.batch, c.tokens, c.heads, c.headDim, c.theta), 1e-5, `ropeBackward ${JSON.stringify(c)}`);
  }
});
