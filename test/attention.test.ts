import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import {
  KvCache,
  attention,
  attentionBackward,
  attentionBackwardRef,
  attentionRef,
  attentionVariant,
  writeKv,
  type AttentionVariant,
} from '../src/kernels/attention.ts';
import { Tensor } from '../src/gpu/tensor.ts';
import { acquireGpu } from '../src/gpu/device.ts';
import type { Gpu } from '../src/gpu/runtime.ts';
import { assertClose, randomArray, testEachVariant } from './helpers/gpu.ts';
import { assertGradient, numericGradient } from './helpers/finite-diff.ts';

// One device for the whole file (pipelines compile once), limited to WebGPU's default 16 KiB of
// workgroup memory so that a kernel needing more fails here rather than on a real browser.
let shared: Promise<Gpu> | null = null;
function testGpu(): Promise<Gpu> {
  shared ??= acquireGpu({ debug: true, wantLimits: { maxComputeWorkgroupStorageSize: 16384, maxComputeInvocationsPerWorkgroup: 256 } });
  return shared;
}
after(async () => {
  if (shared) (await shared).destroy();
});

const TOL = 1e-4;

/**
 * Every kernel test runs for both families: the workgroup-memory `tiled` kernels (real GPUs) and
 * the barrier-free `flat` ones (CPU adapters, the default here).
 */
function testVariants(name: string, body: (variant: AttentionVariant) => Promise<void>): void {
  testEachVariant(['tiled', 'flat'] as const, (variant) => `${variant}: ${name}`, body);
}

/** CPU mirror of writeKv: token-major rows into a [batch, kvHeads, seq, headDim] array. */
function writeRef(cache: Float32Array, rows: ArrayLike<number>, positions: number[], tokens: number, kvHeads: number, seq: number, hd: number): void {
  const batch = positions.length;
  for (let b = 0; b < batch; b++)
    for (let t = 0; t < tokens; t++)
      for (let h = 0; h < kvHeads; h++) {
        const pos = positions[b] + t;
        if (pos >= seq) continue;
        for (let d = 0; d < hd; d++) cache[((b * kvHeads + h) * seq + pos) * hd + d] = rows[((b * tokens + t) * kvHeads + h) * hd + d];
      }
}

interface Setup {
  gpu: Gpu;
  cache: KvCache;
  kRef: Float32Array;
  vRef: Float32Array;
}

/** A cache filled with random values (standing for earlier tokens) on the GPU and on the CPU. */
function randomCache(gpu: Gpu, batch: number, kvHeads: number, maxSeq: number, headDim: number, seed: number): Setup {
  const cache = KvCache.create(gpu, { batch, kvHeads, maxSeq, headDim });
  const n = batch * kvHeads * maxSeq * headDim;
  const kRef = randomArray(n, seed);
  const vRef = randomArray(n, seed + 1);
  gpu.write(cache.k, kRef);
  gpu.write(cache.v, vRef);
  return { gpu, cache, kRef, vRef };
}

/** Write `tokens` new rows per sequence at `positions`, run attention, check against the reference. */
async function step(
  s: Setup,
  variant: AttentionVariant,
  positions: number[],
  tokens: number,
  heads: number,
  seed: number,
  what: string,
  maxLength?: number,
  qScale = 1,
) {
  const { gpu, cache, kRef, vRef } = s;
  const { batch, kvHeads, maxSeq, headDim } = cache;
  const q = randomArray(batch * tokens * heads * headDim, seed, qScale);
  const k = randomArray(batch * tokens * kvHeads * headDim, seed + 1);
  const v = randomArray(batch * tokens * kvHeads * headDim, seed + 2);
  const pos = gpu.upload(Uint32Array.from(positions), 'positions');
  writeKv(cache, Tensor.from(gpu, k, [batch * tokens, kvHeads * headDim]), Tensor.from(gpu, v, [batch * tokens, kvHeads * headDim]), pos, tokens);
  writeRef(kRef, k, positions, tokens, kvHeads, maxSeq, headDim);
  writeRef(vRef, v, positions, tokens, kvHeads, maxSeq, headDim);
  const lse = Tensor.empty(gpu, [batch, heads, tokens], 'lse');
  const out = attention(Tensor.from(gpu, q, [batch * tokens, heads * headDim]), cache, pos, { tokens, heads, lse, maxLength, variant });
  const got = await out.read();
  const gotLse = await lse.read();
  const want = attentionRef(q, kRef, vRef, positions, batch, tokens, heads, kvHeads, headDim, maxSeq);
  assertClose(got, want.out, TOL, `${variant} ${what} out`);
  assertClose(gotLse, want.lse, TOL, `${variant} ${what} lse`);
  gpu.release(pos);
  return { out: got, lse: gotLse, q };
}

testVariants('prefill matches the reference (batch, tokens, GQA ratios, head sizes)', async (variant) => {
  const gpu = await testGpu();
  const steps: (() => Promise<unknown>)[] = [];
  const caches: KvCache[] = [];
  let seed = 1;
  const ratios = [
    [4, 4],
    [4, 2],
    [6, 2],
    [4, 1],
  ];
  const tokenCounts = [1, 5, 33, 70];
  // Every head size meets every GQA ratio and every token count; batch 1 and 2 alternate.
  [16, 64, 128].forEach((headDim, hi) => {
    ratios.forEach(([heads, kvHeads], ri) => {
      const batch = 1 + ((hi + ri) % 2);
      const maxSeq = 80;
      const s = randomCache(gpu, batch, kvHeads, maxSeq, headDim, seed++);
      for (const tokens of [tokenCounts[(ri + hi) % 4], tokenCounts[(ri + hi + 2) % 4]]) {
        // The second sequence starts later: different positions within one batch.
        const positions = batch === 1 ? [0] : [0, tokens === 70 ? 9 : 3];
        steps.push(() => step(s, variant, positions, tokens, heads, seed++, `hd=${headDim} h=${heads}/${kvHeads} b=${batch} t=${tokens}`));
      }
      caches.push(s.cache);
    });
  });
  for (const run of steps) await run();
  for (const c of caches) c.destroy();
});

testVariants('chunked prefill (10 then 7 tokens) equals one-shot prefill', async (variant) => {
  const gpu = await testGpu();
  for (const [headDim, heads, kvHeads] of [
    [16, 6, 2],
    [64, 4, 1],
  ]) {
    const batch = 2,
      maxSeq = 20,
      total = 17;
    const q = randomArray(batch * total * heads * headDim, 100);
    const k = randomArray(batch * total * kvHeads * headDim, 101);
    const v = randomArray(batch * total * kvHeads * headDim, 102);
    const rowsOf = (data: Float32Array, width: number, t0: number, t1: number) => {
      const out = new Float32Array(batch * (t1 - t0) * width);
      for (let b = 0; b < batch; b++) out.set(data.subarray((b * total + t0) * width, (b * total + t1) * width), b * (t1 - t0) * width);
      return out;
    };
    const run = async (cache: KvCache, t0: number, t1: number) => {
      const tokens = t1 - t0;
      const pos = gpu.upload(Uint32Array.from([t0, t0]), 'positions');
      writeKv(
        cache,
        Tensor.from(gpu, rowsOf(k, kvHeads * headDim, t0, t1), [batch * tokens, kvHeads * headDim]),
        Tensor.from(gpu, rowsOf(v, kvHeads * headDim, t0, t1), [batch * tokens, kvHeads * headDim]),
        pos,
        tokens,
      );
      const lse = Tensor.empty(gpu, [batch, heads, tokens]);
      const out = attention(Tensor.from(gpu, rowsOf(q, heads * headDim, t0, t1), [batch * tokens, heads * headDim]), cache, pos, {
        tokens,
        heads,
        lse,
        variant,
      });
      return { out: await out.read(), lse: await lse.read() };
    };
    const whole = KvCache.create(gpu, { batch, kvHeads, maxSeq, headDim });
    const chunked = KvCache.create(gpu, { batch, kvHeads, maxSeq, headDim });
    const one = await run(whole, 0, total);
    const a = await run(chunked, 0, 10);
    const b = await run(chunked, 10, total);
    const width = heads * headDim;
    for (let s = 0; s < batch; s++) {
      const wantA = one.out.subarray(s * total * width, (s * total + 10) * width);
      const wantB = one.out.subarray((s * total + 10) * width, (s * total + total) * width);
      assertClose(a.out.subarray(s * 10 * width, (s + 1) * 10 * width), wantA, 1e-5, `${variant} hd=${headDim} chunk 1 seq ${s}`);
      assertClose(b.out.subarray(s * 7 * width, (s + 1) * 7 * width), wantB, 1e-5, `${variant} hd=${headDim} chunk 2 seq ${s}`);
      for (let h = 0; h < heads; h++) {
        const row = one.lse.subarray((s * heads + h) * total, (s * heads + h + 1) * total);
        assertClose(a.lse.subarray((s * heads + h) * 10, (s * heads + h + 1) * 10), row.subarray(0, 10), 1e-5, `lse chunk 1`);
        assertClose(b.lse.subarray((s * heads + h) * 7, (s * heads + h + 1) * 7), row.subarray(10), 1e-5, `lse chunk 2`);
      }
    }
    // Both caches hold the same rows.
    assertClose(await gpu.readF32(chunked.k), await gpu.readF32(whole.k), 0, 'cache k');
    assertClose(await gpu.readF32(chunked.v), await gpu.readF32(whole.v), 0, 'cache v');
    whole.destroy();
    chunked.destroy();
  }
});

testVariants('decode steps after prefill, sequences at different positions', async (variant) => {
  const gpu = await testGpu();
  for (const [headDim, heads, kvHeads] of [
    [64, 6, 2],
    [128, 4, 1],
  ]) {
    const batch = 3;
    const s = randomCache(gpu, batch, kvHeads, 40, headDim, 200);
    // Prompts of lengths 5, 12 and 1 share one prefill of 12 tokens (the shorter ones overwrite
    // their tail while decoding).
    await step(s, variant, [0, 0, 0], 12, heads, 210, `hd=${headDim} prefill`);
    const pos = [5, 12, 1];
    for (let i = 0; i < 4; i++) {
      await step(
        s,
        variant,
        pos.map((p) => p + i),
        1,
        heads,
        220 + i,
        `hd=${headDim} decode ${i}`,
      );
    }
    s.cache.destroy();
  }
});

testVariants('decode with long contexts splits the keys and combines', async (variant) => {
  const gpu = await testGpu();
  for (const [headDim, heads, kvHeads] of [
    [16, 4, 2],
    [64, 2, 1],
  ]) {
    const batch = 3,
      maxSeq = 1300;
    const s = randomCache(gpu, batch, kvHeads, maxSeq, headDim, 300);
    // 3 splits of 512 keys: sequence 2 has keys only in the first split, sequence 1 ends exactly at a split edge.
    await step(s, variant, [1250, 511, 17], 1, heads, 310, `hd=${headDim} long decode`);
    await step(s, variant, [1299, 512, 0], 1, heads, 320, `hd=${headDim} long decode 2`);
    // A length hint below maxSeq: fewer splits.
    await step(s, variant, [600, 100, 2], 1, heads, 330, `hd=${headDim} hinted decode`, 601);
    // A hint of exactly 512 in the 1300-position cache: one split, no combine.
    await step(s, variant, [511, 100, 2], 1, heads, 340, `hd=${headDim} one-split hinted decode`, 512);
    const q = Tensor.from(gpu, new Float32Array(batch * heads * headDim), [batch, heads * headDim]);
    const pos = gpu.upload(new Uint32Array(batch), 'positions');
    assert.throws(() => attention(q, s.cache, pos, { tokens: 1, heads, maxLength: 0, variant }), /maxLength must be an integer ≥ tokens \(1\), got 0/);
    gpu.release(pos);
    s.cache.destroy();
  }
});

testVariants('long prefill with earlier context crosses many key tiles', async (variant) => {
  const gpu = await testGpu();
  const s = randomCache(gpu, 2, 2, 200, 32, 400);
  await step(s, variant, [120, 57], 40, 4, 410, 'hd=32 long prefill');
  // Scores in the hundreds: exp overflows f32 unless the running max is subtracted.
  await step(s, variant, [150, 0], 12, 4, 420, 'hd=32 large scores prefill', undefined, 250);
  await step(s, variant, [170, 30], 1, 4, 430, 'hd=32 large scores decode', undefined, 250);
  s.cache.destroy();
});

test('copySequence copies one sequence prefix to another slot', async () => {
  const gpu = await testGpu();
  const batch = 4,
    kvHeads = 2,
    maxSeq = 9,
    headDim = 8;
  const s = randomCache(gpu, batch, kvHeads, maxSeq, headDim, 500);
  s.cache.copySequence(1, 3, 6);
  s.cache.copySequence(1, 0, 2);
  const k = await gpu.readF32(s.cache.k);
  const v = await gpu.readF32(s.cache.v);
  const copyRef = (a: Float32Array, from: number, to: number, len: number) => {
    for (let h = 0; h < kvHeads; h++) {
      const src = (from * kvHeads + h) * maxSeq * headDim,
        dst = (to * kvHeads + h) * maxSeq * headDim;
      a.copyWithin(dst, src, src + len * headDim);
    }
  };
  copyRef(s.kRef, 1, 3, 6);
  copyRef(s.vRef, 1, 3, 6);
  copyRef(s.kRef, 1, 0, 2);
  copyRef(s.vRef, 1, 0, 2);
  assertClose(k, s.kRef, 0, 'k after copy');
  assertClose(v, s.vRef, 0, 'v after copy');
  assert.throws(() => s.cache.copySequence(0, 4, 1));
  s.cache.destroy();
});

test('reference: softmax rows sum to one and lse is consistent', () => {
  // One query, two keys, hd 4: out is the softmax-weighted mix of v, lse = log(sum exp(scores)).
  const q = [1, 0, 0, 0];
  const k = [1, 0, 0, 0, 0, 2, 0, 0];
  const v = [1, 2, 3, 4, 5, 6, 7, 8];
  const { out, lse } = attentionRef(q, k, v, [1], 1, 1, 1, 1, 4, 2);
  const s0 = 1 / 2,
    s1 = 0;
  const p0 = Math.exp(s0) / (Math.exp(s0) + Math.exp(s1));
  assertClose(
    out,
    [1, 2, 3, 4].map((x, i) => p0 * x + (1 - p0) * v[4 + i]),
    1e-12,
    'ref out',
  );
  assertClose(lse, [Math.log(Math.exp(s0) + Math.exp(s1))], 1e-12, 'ref lse');
});

test('backward reference matches central finite differences', () => {
  const batch = 2,
    tokens = 3,
    heads = 4,
    kvHeads = 2,
    hd = 4,
    seq = 6;
  const positions = [0, 2];
  const q = Float64Array.from(randomArray(batch * tokens * heads * hd, 600));
  const k = Float64Array.from(randomArray(batch * kvHeads * seq * hd, 601));
  const v = Float64Array.from(randomArray(batch * kvHeads * seq * hd, 602));
  const w = Float64Array.from(randomArray(batch * tokens * heads * hd, 603));
  const loss = () => {
    const { out } = attentionRef(q, k, v, positions, batch, tokens, heads, kvHeads, hd, seq);
    let s = 0;
    for (let i = 0; i < out.length; i++) s += w[i] * out[i];
    return s;
  };
  const grads = attentionBackwardRef(q, k, v, positions, w, batch, tokens, heads, kvHeads, hd, seq);
  const eps = 1e-5;
  for (const [name, x, g] of [
    ['q', q, grads.dq],
    ['k', k, grads.dk],
    ['v', v, grads.dv],
  ] as const) {
    assertGradient(g, numericGradient(loss, x, eps), 1e-8, `d${name}`);
  }
  // Cache positions nobody attends to (past every query) get no gradient; some do get one.
  assert.ok(grads.dk.some((x) => x !== 0));
  for (let h = 0; h < kvHeads; h++) for (let d = 0; d < hd; d++) assert.equal(grads.dk[((0 * kvHeads + h) * seq + 5) * hd + d], 0);
});

testVariants('backward kernels match the reference', async (variant) => {
  const gpu = await testGpu();
  const cases: [number, number, number, number, number[], number][] = [
    // headDim, heads, kvHeads, tokens, positions, maxSeq
    [16, 6, 2, 21, [0, 5], 30],
    [64, 4, 1, 33, [0], 40],
    [128, 4, 2, 9, [3, 0], 16],
    [16, 2, 2, 70, [0], 70],
  ];
  let seed = 700;
  for (const [headDim, heads, kvHeads, tokens, positions, maxSeq] of cases) {
    const batch = positions.length;
    const what = `${variant} hd=${headDim} h=${heads}/${kvHeads} t=${tokens} pos=${positions}`;
    const s = randomCache(gpu, batch, kvHeads, maxSeq, headDim, seed++);
    const q = randomArray(batch * tokens * heads * headDim, seed++);
    const k = randomArray(batch * tokens * kvHeads * headDim, seed++);
    const v = randomArray(batch * tokens * kvHeads * headDim, seed++);
    const dOut = randomArray(batch * tokens * heads * headDim, seed++);
    const pos = gpu.upload(Uint32Array.from(positions), 'positions');
    const kvShape = [batch * tokens, kvHeads * headDim];
    writeKv(s.cache, Tensor.from(gpu, k, kvShape), Tensor.from(gpu, v, kvShape), pos, tokens);
    writeRef(s.kRef, k, positions, tokens, kvHeads, maxSeq, headDim);
    writeRef(s.vRef, v, positions, tokens, kvHeads, maxSeq, headDim);
    const qT = Tensor.from(gpu, q, [batch * tokens, heads * headDim]);
    const lse = Tensor.empty(gpu, [batch, heads, tokens]);
    const out = attention(qT, s.cache, pos, { tokens, heads, lse });
    const g = attentionBackward(qT, s.cache, pos, out, Tensor.from(gpu, dOut, [batch * tokens, heads * headDim]), lse, { tokens, heads, variant });
    const want = attentionBackwardRef(q, s.kRef, s.vRef, positions, dOut, batch, tokens, heads, kvHeads, headDim, maxSeq);
    // The rows this call wrote, in the writeKv layout.
    const rows = (a: Float64Array) => {
      const r = new Float64Array(batch * tokens * kvHeads * headDim);
      for (let b = 0; b < batch; b++)
        for (let t = 0; t < tokens; t++)
          for (let h = 0; h < kvHeads; h++)
            for (let d = 0; d < headDim; d++)
              r[((b * tokens + t) * kvHeads + h) * headDim + d] = a[((b * kvHeads + h) * maxSeq + positions[b] + t) * headDim + d];
      return r;
    };
    assertClose(await g.dq.read(), want.dq, 2e-4, `${what} dq`);
    assertClose(await g.dk.read(), rows(want.dk), 2e-4, `${what} dk`);
    assertClose(await g.dv.read(), rows(want.dv), 2e-4, `${what} dv`);
    gpu.release(pos);
    s.cache.destroy();
  }
});

test('CPU adapters pick the flat kernels; flat takes headDim up to 128', async () => {
  const gpu = await testGpu();
  assert.equal(attentionVariant(gpu, 64), gpu.isCpuAdapter ? 'flat' : 'tiled');
  assert.equal(attentionVariant(gpu, 256), 'tiled');
  const cache = KvCache.create(gpu, { batch: 1, kvHeads: 1, maxSeq: 4, headDim: 256 });
  const pos = gpu.upload(new Uint32Array(1));
  assert.throws(() => attention(Tensor.empty(gpu, [1, 256]), cache, pos, { tokens: 1, heads: 1, variant: 'flat' }), /headDim/);
  gpu.release(pos);
  cache.destroy();
});
