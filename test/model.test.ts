// End to end: random tiny models of each architecture, stored in F32 / BF16 / F16, tied and
// untied, scored on WebGPU and by the independent float64 reference.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execFileSync } from 'node:child_process';
import { LanguageModel } from '../src/model/model.ts';
import { generate } from '../src/model/generate.ts';
import { referenceLogits, referenceScore } from '../src/model/reference.ts';
import { openSource } from '../src/io/source.ts';
import { loadCpuWeights, loadModel } from '../src/model/weights.ts';
import { writeRandomModel } from '../src/model/random-model.ts';
import { assertClose, rng, testGpu } from './helpers/gpu.ts';

type Case = Parameters<typeof writeRandomModel>[1] & { label: string };

const small = { hiddenSize: 64, numLayers: 2, numHeads: 4, numKvHeads: 2, intermediateSize: 96, vocabSize: 300 };
const cases: Case[] = [
  { label: 'llama F32 tied', architecture: 'llama', dtype: 'F32', tied: true, ...small },
  { label: 'llama BF16 untied, 2 shards', architecture: 'llama', dtype: 'BF16', tied: false, shards: 2, ...small },
  { label: 'qwen2 F16 tied (biases)', architecture: 'qwen2', dtype: 'F16', tied: true, ...small },
  { label: 'qwen2 BF16 tied (biases)', architecture: 'qwen2', dtype: 'BF16', tied: true, ...small },
  { label: 'qwen3 BF16 untied (q/k-norm, head_dim 32)', architecture: 'qwen3', dtype: 'BF16', tied: false, ...small, headDim: 32 },
  { label: 'qwen3 F32 tied with lm_head stored', architecture: 'qwen3', dtype: 'F32', tied: true, storeLmHeadWhenTied: true, ...small, headDim: 32 },
];

function randomIds(n: number, vocab: number, seed: number): number[] {
  const next = rng(seed);
  return Array.from({ length: n }, () => Math.floor(next() * vocab));
}

const dirs = new Map<string, string>();
function modelDir(c: Case, i: number): string {
  let dir = dirs.get(c.label);
  if (!dir) {
    dir = mkdtempSync(join(tmpdir(), 'webgrpo-model-'));
    writeRandomModel(dir, { ...c, seed: 100 + i });
    dirs.set(c.label, dir);
  }
  return dir;
}

for (const [i, c] of cases.entries()) {
  test(`score matches the float64 reference: ${c.label}`, async () => {
    const gpu = await testGpu();
    const dir = modelDir(c, i);
    const { config, weights } = await loadModel(openSource(dir), gpu);
    const cpu = await loadCpuWeights(openSource(dir));
    const ids = randomIds(13, config.vocabSize, i);
    const model = new LanguageModel(gpu, config, weights);
    for (const temperature of [1, 0.7]) {
      const got = await model.score(ids, temperature);
      const want = referenceScore(cpu.config, cpu.tensors, ids, temperature);
      assertClose(got.logprobs, want.logprobs, 2e-3, `${c.label} logprobs T=${temperature}`);
      assertClose(got.entropies, want.entropies, 2e-3, `${c.label} entropies T=${temperature}`);
      // The distribution must not be degenerate, or agreement would prove little.
      assert.ok(Math.max(...want.entropies) > 0.5, 'reference entropies are informative');
    }
  });
}

test('KV-cache greedy decoding equals greedy decoding by full recompute', async () => {
  const gpu = await testGpu();
  const c = cases[4];
  const dir = modelDir(c, 4);
  const { config, weights } = await loadModel(openSource(dir), gpu);
  const cpu = await loadCpuWeights(openSource(dir));
  const model = new LanguageModel(gpu, config, weights);
  const prompts = [randomIds(5, config.vocabSize, 7), randomIds(9, config.vocabSize, 8)];
  const steps = 6;
  const completions = await generate(model, prompts, { maxNewTokens: steps, temperature: 0, seed: 1, eosTokenIds: [] });
  assert.equal(completions.length, 2);
  for (const [p, prompt] of prompts.entries()) {
    const seq = [...prompt];
    for (let s = 0; s < steps; s++) {
      const logits = referenceLogits(cpu.config, cpu.tensors, seq);
      const last = logits.subarray((seq.length - 1) * config.vocabSize);
      let best = 0;
      for (let v = 1; v < last.length; v++) if (last[v] > last[best]) best = v;
      seq.push(best);
    }
    assert.deepEqual(completions[p].ids, seq.slice(prompt.length), `prompt ${p}`);
  }
});

test('sampled generation is reproducible for a seed and varies across completions', async () => {
  const gpu = await testGpu();
  const dir = modelDir(cases[0], 0);
  const { config, weights } = await loadModel(openSource(dir), gpu);
  const model = new LanguageModel(gpu, config, weights);
  const opts = { maxNewTokens: 8, temperature: 1, topP: 0.95, seed: 42, n: 4, eosTokenIds: [] };
  const a = await generate(model, [[1, 2, 3]], opts);
  const b = await generate(model, [[1, 2, 3]], opts);
  assert.deepEqual(a, b);
  assert.ok(new Set(a.map((x) => x.ids.join(','))).size > 1, 'different completions from one prompt');
  // Sampler log-probs are the untruncated tempered log-probs the scoring pass computes.
  for (const comp of a) {
    assert.equal(comp.logprobs.length, comp.ids.length);
    const scored = await model.score([1, 2, 3, ...comp.ids], opts.temperature);
    assertClose(comp.logprobs, scored.logprobs.slice(2), 1e-3, 'sampler log-probs vs score');
  }
  const validVocab = 50;
  const restricted = await generate(model, [[4, 5]], { ...opts, validVocab });
  for (const comp of restricted) for (const id of comp.ids) assert.ok(id < validVocab, `id ${id} beyond validVocab`);
});

test('webgrpo score --json agrees with the reference (CLI end to end)', async () => {
  const c = cases[2];
  const dir = modelDir(c, 2);
  const cpu = await loadCpuWeights(openSource(dir));
  const ids = randomIds(10, cpu.config.vocabSize, 99);
  const stdout = execFileSync(process.execPath, ['bin/webgrpo.mjs', 'score', '--model', dir, '--ids', ids.join(','), '--json'], {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const lines = stdout.trim().split('\n');
  const got = JSON.parse(lines[lines.length - 1]) as { logprobs: number[]; entropies: number[] };
  const want = referenceScore(cpu.config, cpu.tensors, ids);
  assert.equal(got.logprobs.length, ids.length - 1);
  assertClose(got.logprobs, want.logprobs, 2e-3, 'CLI logprobs');
  assertClose(got.entropies, want.entropies, 2e-3, 'CLI entropies');
});
