// The decode loop of generate(): end-of-sequence handling across the every-8-steps id read, and
// what one steady-state token costs in GPU runtime work (docs/DESIGN.md §6.2).

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { acquireGpu } from '../src/gpu/device.ts';
import { countersSince, type Gpu, type GpuCounters } from '../src/gpu/runtime.ts';
import { LanguageModel } from '../src/model/model.ts';
import { generate } from '../src/model/generate.ts';
import { writeRandomModel } from '../src/model/random-model.ts';
import { openSource } from '../src/io/source.ts';
import { loadModel } from '../src/model/weights.ts';
import { testGpu } from './helpers/gpu.ts';

const dir = mkdtempSync(join(tmpdir(), 'webgrpo-generate-'));
writeRandomModel(dir, {
  architecture: 'qwen2',
  dtype: 'BF16',
  tied: true,
  hiddenSize: 32,
  numLayers: 2,
  numHeads: 4,
  numKvHeads: 2,
  intermediateSize: 48,
  vocabSize: 24,
  seed: 3,
});

async function tinyModel(gpu: Gpu): Promise<LanguageModel> {
  const { config, weights } = await loadModel(openSource(dir), gpu);
  return new LanguageModel(gpu, config, weights);
}

test('a sequence ends at its first eos token, wherever it falls between id reads', async () => {
  const model = await tinyModel(await testGpu());
  const opts = { maxNewTokens: 21, temperature: 1.2, seed: 11, n: 6 };
  const prompts = [[1, 2, 3], [4]];
  const free = await generate(model, prompts, { ...opts, eosTokenIds: [] });
  // The two ids drawn most often as eos tokens: many sequences stop, at various steps.
  const counts = new Map<number, number>();
  for (const c of free) for (const id of c.ids) counts.set(id, (counts.get(id) ?? 0) + 1);
  const eos = [...counts].sort((a, b) => b[1] - a[1]).map(([id]) => id);
  const eosTokenIds = [eos[0], eos[1]];
  const stopped = await generate(model, prompts, { ...opts, eosTokenIds });
  const stops = new Set<number>();
  for (const [b, c] of stopped.entries()) {
    const f = free[b];
    const first = f.ids.findIndex((id) => eosTokenIds.includes(id));
    const keep = first < 0 ? f.ids.length : first + 1;
    // Same (seed, step, row) and the same logits: the free run, cut after its first eos.
    assert.deepEqual(c.ids, f.ids.slice(0, keep), `sequence ${b}`);
    assert.deepEqual(c.logprobs, f.logprobs.slice(0, keep), `sequence ${b} log-probs`);
    assert.equal(c.finishReason, first < 0 ? 'length' : 'eos');
    assert.equal(c.prompt, Math.floor(b / opts.n));
    stops.add(keep);
  }
  assert.ok(stops.size >= 3, `stops at several lengths: ${[...stops]}`);
  for (const c of stopped) for (const lp of c.logprobs) assert.ok(lp < 0 && Number.isFinite(lp));
});

test('a steady-state decode token: no buffer, bind group or pipeline created, ≤ 1 submit, ≤ 1/8 read-back', async () => {
  // Not the debug device: debug mode submits every dispatch alone.
  const gpu = await acquireGpu({ debug: false });
  try {
    const model = await tinyModel(gpu);
    const prompts = [
      [1, 2, 3],
      [5, 6],
    ];
    // Counters after steps 8 and 24 of one run: what tokens 9..24 cost once every cache is warm.
    const seen = new Map<number, GpuCounters>();
    const afterStep = (step: number) => void (step === 7 || step === 23 ? seen.set(step, gpu.counters()) : undefined);
    const out = await generate(model, prompts, { temperature: 1, topP: 0.9, seed: 4, n: 2, eosTokenIds: [], maxNewTokens: 24, afterStep });
    assert.ok(out.every((c) => c.ids.length === 24));
    const perToken = countersSince(seen.get(7)!, seen.get(23)!);
    assert.equal(perToken.buffersCreated, 0);
    assert.equal(perToken.bindGroupsCreated, 0);
    assert.equal(perToken.pipelinesCreated, 0);
    assert.ok(perToken.submits <= 16, `${perToken.submits} submits for 16 tokens`);
    assert.ok(perToken.readbacks <= 2, `${perToken.readbacks} read-backs for 16 tokens`);
    // 2 layers: real work is recorded per token, and its parameters are uploaded.
    assert.ok(perToken.dispatches >= 16 * 2 * 8, `${perToken.dispatches} dispatches for 16 tokens`);
    assert.ok(perToken.uniformBytes > 0);
  } finally {
    await gpu.sync();
    gpu.destroy();
  }
});

test('a 520-token decode: attention splits once a token attends past 512 positions, and nothing is created but at the crossing', async () => {
  const gpu = await acquireGpu({ debug: false });
  try {
    const model = await tinyModel(gpu);
    // Prompt of 3: step s attends to 3 + s positions, so steps 0..509 take 1 split and 510.. take
    // 2 splits and a combine.
    const seen = new Map<number, GpuCounters>();
    const afterStep = (step: number) => void ([7, 509, 511, 518].includes(step) ? seen.set(step, gpu.counters()) : undefined);
    const out = await generate(model, [[1, 2, 3]], { temperature: 1, topP: 0.9, seed: 5, n: 2, eosTokenIds: [], maxNewTokens: 520, afterStep });
    assert.ok(out.every((c) => c.ids.length === 520));
    const unsplit = countersSince(seen.get(7)!, seen.get(509)!);
    const crossing = countersSince(seen.get(509)!, seen.get(511)!);
    const split = countersSince(seen.get(511)!, seen.get(518)!);
    for (const w of [unsplit, split]) assert.deepEqual([w.buffersCreated, w.bindGroupsCreated, w.pipelinesCreated], [0, 0, 0]);
    // 2 layers × 8 plus embedding, final norm, LM head and sampler; past 512 positions, + the combine.
    assert.equal(unsplit.dispatches, 502 * 20);
    assert.equal(crossing.dispatches, 2 * 22);
    assert.equal(split.dispatches, 7 * 22);
    // The crossing takes the 2-split partial buffer and the combine pipeline; the buffer pool's
    // order settles by the token after (bind groups made in both).
    assert.ok(crossing.buffersCreated >= 1 && crossing.pipelinesCreated >= 1, JSON.stringify(crossing));
  } finally {
    await gpu.sync();
    gpu.destroy();
  }
});
