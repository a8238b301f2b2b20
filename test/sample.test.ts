import { test } from 'node:test';
import assert from 'node:assert/strict';
import { keptDistributionRef, sampleRef, samplerLogprobRef, sampleTokens, uniformFor, type SampleOptions } from '../src/kernels/sample.ts';
import { Tensor } from '../src/gpu/tensor.ts';
import { randomArray, rng, testGpu } from './helpers/gpu.ts';

/** Logits with a realistic spread plus deliberate ties (repeated values) to exercise thresholds. */
function logitsFor(rows: number, vocab: number, seed: number, scale = 4): Float32Array {
  const x = randomArray(rows * vocab, seed, scale);
  const next = rng(seed + 7);
  for (let i = 0; i < x.length; i++) if (next() < 0.1) x[i] = x[Math.floor(next() * x.length)];
  return x;
}

async function gpuSample(logits: Float32Array, opts: SampleOptions): Promise<{ ids: Uint32Array; logprobs: Float32Array }> {
  const gpu = await testGpu();
  const t = Tensor.from(gpu, logits, [opts.rows, opts.vocab]);
  const out = sampleTokens(t, opts);
  const result = { ids: await gpu.readU32(out.ids, opts.rows), logprobs: await gpu.readF32(out.logprobs, opts.rows) };
  t.release();
  gpu.release(out.ids);
  gpu.release(out.logprobs);
  return result;
}

async function gpuIds(logits: Float32Array, opts: SampleOptions): Promise<Uint32Array> {
  return (await gpuSample(logits, opts)).ids;
}

test('uniformFor is a deterministic uniform in [0, 1)', () => {
  let sum = 0;
  const seen = new Set<number>();
  for (let r = 0; r < 4096; r++) {
    const u = uniformFor(1234, 7, r);
    assert.ok(u >= 0 && u < 1);
    sum += u;
    seen.add(u);
  }
  assert.ok(Math.abs(sum / 4096 - 0.5) < 0.02, `mean ${sum / 4096}`);
  assert.ok(seen.size > 4000);
  assert.equal(uniformFor(1, 2, 3), uniformFor(1, 2, 3));
  assert.notEqual(uniformFor(1, 2, 3), uniformFor(1, 3, 3));
  assert.notEqual(uniformFor(1, 2, 3), uniformFor(2, 2, 3));
});

test('greedy sampling equals argmax (lowest index on ties, padding columns ignored)', async () => {
  for (const [rows, vocab, valid] of [
    [3, 1, 1],
    [5, 300, 300],
    [7, 4099, 4000],
  ] as const) {
    const logits = logitsFor(rows, vocab, rows + vocab);
    // A tie for the maximum in row 0, and a huge padding logit in every row.
    if (vocab > 10) {
      let m = -Infinity;
      for (let i = 0; i < valid; i++) m = Math.max(m, logits[i]);
      logits[valid - 1] = m;
      logits[3] = m;
    }
    for (let r = 0; r < rows; r++) for (let i = valid; i < vocab; i++) logits[r * vocab + i] = 100;
    const opts = { rows, vocab, validVocab: valid, temperature: 0, seed: 1, step: 0 };
    const ids = await gpuIds(logits, opts);
    const want = new Uint32Array(rows);
    for (let r = 0; r < rows; r++) {
      let best = 0;
      for (let i = 1; i < valid; i++) if (logits[r * vocab + i] > logits[r * vocab + best]) best = i;
      want[r] = best;
    }
    assert.deepEqual(ids, want, `rows=${rows} vocab=${vocab}`);
    assert.deepEqual(sampleRef(logits, rows, vocab, opts).ids, want);
    if (vocab > 10) assert.equal(ids[0], 3);
  }
});

test('GPU ids equal the float64 reference ids for fixed (seed, step)', async () => {
  const combos: Omit<SampleOptions, 'rows' | 'vocab' | 'validVocab' | 'seed' | 'step'>[] = [
    { temperature: 1 },
    { temperature: 0.7, topK: 5 },
    { temperature: 1, topK: 1 },
    { temperature: 1.3, topP: 0.9 },
    { temperature: 1, topP: 0.3 },
    { temperature: 0.6, minP: 0.1 },
    { temperature: 0.8, topK: 40, topP: 0.95, minP: 0.05 },
    { temperature: 1, topK: 3, topP: 0.5 },
  ];
  let compared = 0;
  let mismatches = 0;
  for (const [rows, vocab, valid] of [
    [24, 257, 257],
    [16, 3000, 2900],
  ] as const) {
    const logits = logitsFor(rows, vocab, vocab);
    for (let r = 0; r < rows; r++) for (let i = valid; i < vocab; i++) logits[r * vocab + i] = 50; // padding
    for (const [c, combo] of combos.entries()) {
      const opts = { rows, vocab, validVocab: valid, seed: 99 + c, step: 3, ...combo };
      const ids = await gpuIds(logits, opts);
      const want = sampleRef(logits, rows, vocab, opts).ids;
      for (let r = 0; r < rows; r++) {
        assert.ok(ids[r] < valid, `padding id ${ids[r]} for ${JSON.stringify(combo)}`);
        const dist = keptDistributionRef(logits.subarray(r * vocab, r * vocab + valid), { validVocab: valid, ...combo });
        assert.ok(dist[ids[r]] > 0, `id ${ids[r]} outside the kept set for ${JSON.stringify(combo)} row ${r}`);
        compared++;
        if (ids[r] !== want[r]) mismatches++;
      }
    }
  }
  // f32 vs float64 rounding may flip a draw that lands within ~1e-6 of a boundary: allow none here
  // (the chance over these rows is ~1e-3), so a systematic difference fails loudly.
  assert.equal(mismatches, 0, `${mismatches} of ${compared} ids differ from the reference`);
});

test('log-probs are log_softmax(logits / T) of the sampled id over the valid vocabulary, before truncation', async () => {
  const [rows, vocab, valid] = [12, 1030, 1000];
  const logits = logitsFor(rows, vocab, 11);
  for (let r = 0; r < rows; r++) for (let i = valid; i < vocab; i++) logits[r * vocab + i] = 60; // padding never counts
  for (const combo of [{ temperature: 0 }, { temperature: 1 }, { temperature: 0.7, topK: 5, topP: 0.9 }, { temperature: 1.4, minP: 0.2 }]) {
    const opts = { rows, vocab, validVocab: valid, seed: 5, step: 2, ...combo };
    const got = await gpuSample(logits, opts);
    const want = sampleRef(logits, rows, vocab, opts);
    assert.deepEqual(got.ids, want.ids);
    for (let r = 0; r < rows; r++) {
      assert.ok(Math.abs(got.logprobs[r] - want.logprobs[r]) < 1e-4, `row ${r} ${JSON.stringify(combo)}: ${got.logprobs[r]} vs ${want.logprobs[r]}`);
    }
    // Truncation (top-k 5) does not renormalise the reported log-prob: it stays below the kept share.
    if (combo.topK)
      for (let r = 0; r < rows; r++)
        assert.ok(
          want.logprobs[r] < Math.log(keptDistributionRef(logits.subarray(r * vocab, r * vocab + valid), { validVocab: valid, ...combo })[want.ids[r]]),
        );
  }
  // The reference itself: a hand-computed row, and greedy uses T = 1.
  const row = [Math.log(1), Math.log(2), Math.log(5)];
  assert.ok(Math.abs(samplerLogprobRef(row, 1, 1) - Math.log(0.25)) < 1e-12);
  assert.ok(Math.abs(samplerLogprobRef(row, 2, 0) - Math.log(5 / 8)) < 1e-12);
  assert.ok(Math.abs(samplerLogprobRef(row, 0, 0.5) - Math.log(1 / 30)) < 1e-12); // weights 1, 4, 25
});

test('outputs land at the given element offset', async () => {
  const gpu = await testGpu();
  const [rows, vocab] = [3, 50];
  const logits = logitsFor(rows, vocab, 3);
  const t = Tensor.from(gpu, logits, [rows, vocab]);
  const ids = gpu.upload(new Uint32Array(10).fill(7), 'ids');
  const logprobs = gpu.upload(new Float32Array(10).fill(1), 'logprobs');
  const opts = { rows, vocab, validVocab: vocab, temperature: 0.9, seed: 8, step: 1 };
  sampleTokens(t, { ...opts, out: { ids, logprobs, offset: 4 } });
  const want = sampleRef(logits, rows, vocab, opts);
  assert.deepEqual([...(await gpu.readU32(ids))], [7, 7, 7, 7, ...want.ids, 7, 7, 7]);
  const lp = await gpu.readF32(logprobs);
  assert.deepEqual([...lp.subarray(0, 4), ...lp.subarray(7)], [1, 1, 1, 1, 1, 1, 1]);
  for (let r = 0; r < rows; r++) assert.ok(Math.abs(lp[4 + r] - want.logprobs[r]) < 1e-5);
  assert.throws(() => sampleTokens(t, { ...opts, out: { ids, logprobs, offset: 8 } }), /out\.ids holds 40 bytes, need 44 \(offset 8 \+ 3 rows\)/);
  for (const b of [ids, logprobs]) gpu.release(b);
  t.release();
});

test('with next, the ids also become the next step input and every position grows by one', async () => {
  const gpu = await testGpu();
  const [rows, vocab] = [4, 70];
  const logits = logitsFor(rows, vocab, 9);
  const t = Tensor.from(gpu, logits, [rows, vocab]);
  const ids = gpu.upload(new Uint32Array(2 * rows), 'ids');
  const logprobs = gpu.upload(new Float32Array(2 * rows), 'logprobs');
  const next = { ids: gpu.upload(new Uint32Array(rows).fill(99), 'next'), positions: gpu.upload(Uint32Array.from([0, 5, 9, 3]), 'positions') };
  const opts = { rows, vocab, validVocab: vocab - 3, temperature: 1, topK: 20, seed: 2, step: 6 };
  sampleTokens(t, { ...opts, out: { ids, logprobs, offset: rows }, next });
  const want = sampleRef(logits, rows, vocab, opts);
  assert.deepEqual((await gpu.readU32(ids)).subarray(rows), want.ids);
  assert.deepEqual(await gpu.readU32(next.ids), want.ids);
  assert.deepEqual([...(await gpu.readU32(next.positions))], [1, 6, 10, 4]);
  const lp = (await gpu.readF32(logprobs)).subarray(rows);
  for (let r = 0; r < rows; r++) assert.ok(Math.abs(lp[r] - want.logprobs[r]) < 1e-5);
  assert.throws(
    () => sampleTokens(t, { ...opts, next: { ids: gpu.upload(new Uint32Array(2), 'short'), positions: next.positions } }),
    /next\.ids holds 8 bytes, need 16/,
  );
  for (const b of [ids, logprobs, next.ids, next.positions]) gpu.release(b);
  t.release();
});

test('top-k keeps every logit tied with the k-th largest; top-p keeps ties at the threshold', () => {
  const row = [1, 3, 2, 3, 0, 2, 2];
  const k2 = keptDistributionRef(row, { validVocab: 7, temperature: 1, topK: 2 });
  assert.deepEqual(
    [...k2].map((p) => p > 0),
    [false, true, false, true, false, false, false],
  );
  const k3 = keptDistributionRef(row, { validVocab: 7, temperature: 1, topK: 3 });
  assert.deepEqual(
    [...k3].map((p) => p > 0),
    [false, true, true, true, false, true, true],
  );
  // Two equal top logits hold half the mass each: top-p 0.3 keeps both.
  const p = keptDistributionRef([5, 5, 0, 0], { validVocab: 4, temperature: 1, topP: 0.3 });
  assert.deepEqual(
    [...p].map((x) => x > 0),
    [true, true, false, false],
  );
  const mp = keptDistributionRef([0, Math.log(0.5), Math.log(0.09)], { validVocab: 3, temperature: 1, minP: 0.1 });
  assert.deepEqual(
    [...mp].map((x) => x > 0),
    [true, true, false],
  );
});

test('empirical frequencies match the renormalised kept distribution', async () => {
  const vocab = 40;
  const base = logitsFor(1, vocab, 5, 2);
  const rows = 1500;
  const logits = new Float32Array(rows * vocab);
  for (let r = 0; r < rows; r++) logits.set(base, r * vocab);
  for (const combo of [{ temperature: 1 }, { temperature: 0.8, topK: 10, topP: 0.9 }, { temperature: 1.5, minP: 0.2 }]) {
    const dist = keptDistributionRef(base, { validVocab: vocab - 2, ...combo });
    const counts = new Float64Array(vocab);
    const steps = 3;
    for (let step = 0; step < steps; step++) {
      const ids = await gpuIds(logits, { rows, vocab, validVocab: vocab - 2, seed: 42, step, ...combo });
      for (const id of ids) counts[id]++;
    }
    const n = rows * steps;
    let chi2 = 0;
    let dof = -1;
    for (let i = dist.length; i < vocab; i++) assert.equal(counts[i], 0, `padding id ${i} drawn`);
    for (let i = 0; i < dist.length; i++) {
      if (dist[i] === 0) {
        assert.equal(counts[i], 0, `token ${i} outside the kept set was drawn (${JSON.stringify(combo)})`);
        continue;
      }
      chi2 += (counts[i] - n * dist[i]) ** 2 / (n * dist[i]);
      dof++;
    }
    // Mean dof, sd sqrt(2·dof): a bound of dof + 6·sd fails only for a real bias.
    assert.ok(chi2 < dof + 6 * Math.sqrt(2 * dof), `chi2 ${chi2.toFixed(1)} with ${dof} dof for ${JSON.stringify(combo)}`);
  }
});
