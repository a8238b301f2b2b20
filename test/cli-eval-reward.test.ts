// `webgrpo reward` and `webgrpo eval` end to end.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import { writeTinyArithmeticModel } from './helpers/tiny-model.ts';

const run = (args: string[]) => spawnSync(process.execPath, ['bin/webgrpo.mjs', ...args], { encoding: 'utf8' });

test('webgrpo reward grades one pair and a JSONL batch', () => {
  const one = run(['reward', '--completion', 'so the answer is \\boxed{\\frac{14}{3}}', '--answer', '4\\frac{2}{3}', '--reward', 'math,format', '--json']);
  assert.equal(one.status, 0, one.stderr);
  assert.deepEqual(JSON.parse(one.stdout.trim().split('\n').pop()!), { reward: 1, rewards: { math: 1, format: 0 } });
  const dir = mkdtempSync(join(tmpdir(), 'webgrpo-reward-'));
  const pairs = join(dir, 'pairs.jsonl');
  writeFileSync(
    pairs,
    [
      { completion: '#### 1,000', answer: '1000' },
      { completion: '\\boxed{7}', answer: '8' },
    ]
      .map((x) => JSON.stringify(x))
      .join('\n'),
  );
  const batch = run(['reward', '--input', pairs]);
  assert.equal(batch.status, 0, batch.stderr);
  assert.deepEqual(
    batch.stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l).reward),
    [1, 0],
  );
  writeFileSync(pairs, '{"completion": "x"}\n');
  const bad = run(['reward', '--input', pairs]);
  assert.equal(bad.status, 2);
  assert.match(bad.stderr, /line 1 needs string fields "completion" and "answer"/);
});

test('webgrpo eval prints pass@k and writes per-problem counts', () => {
  const root = mkdtempSync(join(tmpdir(), 'webgrpo-eval-'));
  const modelDir = join(root, 'model');
  writeTinyArithmeticModel(modelDir, 4);
  const counts = join(root, 'counts.jsonl');
  const res = run([
    'eval',
    '--model',
    modelDir,
    '--dataset',
    'arithmetic:1',
    '--problems',
    '3',
    '--samples',
    '4',
    '--k',
    '1,4',
    '--max-new-tokens',
    '6',
    '--out',
    counts,
    '--json',
  ]);
  assert.equal(res.status, 0, res.stderr);
  const result = JSON.parse(res.stdout.trim().split('\n').pop()!);
  assert.deepEqual(Object.keys(result.model), ['pass@1', 'pass@4']);
  const rows = readFileSync(counts, 'utf8')
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l));
  assert.equal(rows.length, 3);
  for (const r of rows) assert.ok(Number.isInteger(r.correct_model) && r.correct_model >= 0 && r.correct_model <= 4);
  // pass@1 is the mean fraction correct.
  const mean = rows.reduce((a, r) => a + r.correct_model / 4, 0) / 3;
  assert.ok(Math.abs(result.model['pass@1'] - mean) < 1e-12);
  const bad = run(['eval', '--model', modelDir, '--dataset', 'arithmetic:1', '--samples', '2', '--k', '4']);
  assert.equal(bad.status, 2);
  assert.match(bad.stderr, /--k values must be integers in 1..2/);
});

test('webgrpo export-trl writes the run as a TRL script', () => {
  const runDir = mkdtempSync(join(tmpdir(), 'webgrpo-export-'));
  writeFileSync(
    join(runDir, 'config.json'),
    JSON.stringify({
      model: 'hf:Qwen/Qwen2.5-0.5B-Instruct',
      dataset: 'hf:openai/gsm8k:main:train',
      num_generations: 8,
      loss_type: 'dr_grpo',
      lora: { r: 16, alpha: 32, dropout: 0, useRslora: false, targetModules: ['q_proj', 'v_proj'] },
    }),
  );
  const res = run(['export-trl', runDir]);
  assert.equal(res.status, 0, res.stderr);
  const script = readFileSync(join(runDir, 'train_trl.py'), 'utf8');
  assert.match(script, /loss_type="dr_grpo"/);
  assert.match(script, /MODEL = "Qwen\/Qwen2\.5-0\.5B-Instruct"/);
  const missing = run(['export-trl', join(runDir, 'nope')]);
  assert.equal(missing.status, 2);
  assert.match(missing.stderr, /config\.json not found/);
});
