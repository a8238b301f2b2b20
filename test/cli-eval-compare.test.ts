// `webgrpo eval --compare-base`: the pass@k explorer's computation (comparePassAtK) from the CLI,
// on the built-in tiny model with a hand-written random adapter, checked against plain `webgrpo eval`
// runs of the base model and of the adapter on the same problems and seed.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import { writePeftAdapter } from './helpers/peft.ts';

const MODEL = 'public/models/tiny-arith';
const SAMPLES = 8;
const PROBLEMS = 4;

function run(args: string[]) {
  const r = spawnSync(process.execPath, ['bin/webgrpo.mjs', ...args], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  return r;
}

const readJsonl = (path: string) =>
  readFileSync(path, 'utf8')
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l));

/** C(n, k) as a float. */
function binomial(n: number, k: number): number {
  let r = 1;
  for (let i = 1; i <= k; i++) r = (r * (n - k + i)) / i;
  return r;
}

test('webgrpo eval --compare-base writes base and adapter counts with their category and prints the curves', () => {
  const root = mkdtempSync(join(tmpdir(), 'webgrpo-compare-'));
  const adapter = join(root, 'adapter');
  // Small random LoRA on the attention projections: the adapter changes the samples, not every answer.
  writePeftAdapter(adapter, { layers: 2, dims: { q_proj: [64, 64], v_proj: [64, 32] }, r: 2, alpha: 1, seed: 5 });
  const common = [
    '--model',
    MODEL,
    '--dataset',
    'arithmetic:2',
    '--problems',
    String(PROBLEMS),
    '--samples',
    String(SAMPLES),
    '--max-new-tokens',
    '40',
    '--seed',
    '3',
  ];
  const out = join(root, 'counts.jsonl');
  const res = run(['eval', ...common, '--adapter', adapter, '--compare-base', '--k', '1,2,4,8', '--out', out, '--json']);
  const summary = JSON.parse(res.stdout.trim().split('\n').pop()!);
  const rows = readJsonl(out);
  assert.equal(rows.length, PROBLEMS);

  // The same counts as evaluating each alone (one batch of problems, so the same sampling seeds).
  const alone = (extra: string[], key: string) => {
    const file = join(root, `${key}.jsonl`);
    run(['eval', ...common, ...extra, '--out', file]);
    return readJsonl(file).map((r) => r[key]);
  };
  assert.deepEqual(
    rows.map((r) => r.correct_base),
    alone([], 'correct_model'),
  );
  assert.deepEqual(
    rows.map((r) => r.correct_adapter),
    alone(['--adapter', adapter], 'correct_adapter'),
  );

  const counts = { 'base-only': 0, 'adapter-only': 0, both: 0, neither: 0 };
  for (const r of rows) {
    assert.equal(r.samples, SAMPLES);
    const want = r.correct_base > 0 ? (r.correct_adapter > 0 ? 'both' : 'base-only') : r.correct_adapter > 0 ? 'adapter-only' : 'neither';
    assert.equal(r.category, want, JSON.stringify(r));
    counts[want as keyof typeof counts]++;
  }
  assert.deepEqual(summary.solvedBy, counts);
  for (const which of ['base', 'adapter']) {
    for (const k of [1, 2, 4, 8]) {
      const want = rows.reduce((a, r) => a + 1 - binomial(SAMPLES - r[`correct_${which}`], k) / binomial(SAMPLES, k), 0) / PROBLEMS;
      assert.ok(Math.abs(summary[which][`pass@${k}`] - want) < 1e-12, `${which} pass@${k}: ${summary[which][`pass@${k}`]} vs ${want}`);
    }
  }
  // The trained tiny model solves some level-2 sums, so the comparison is not all "neither".
  assert.ok(summary.base['pass@8'] > 0, `base pass@8 ${summary.base['pass@8']}`);
  console.log(`# base ${JSON.stringify(summary.base)} adapter ${JSON.stringify(summary.adapter)} solved by ${JSON.stringify(summary.solvedBy)}`);

  const text = run(['eval', ...common, '--adapter', adapter, '--compare-base', '--k', '1,8']).stdout;
  assert.match(text, /^base +pass@1 [\d.]+% +pass@8 [\d.]+%$/m);
  assert.match(text, /^adapter +pass@1 [\d.]+% +pass@8 [\d.]+%$/m);
  assert.match(
    text,
    new RegExp(
      `solved by: base-only ${counts['base-only']}, adapter-only ${counts['adapter-only']}, both ${counts.both}, neither ${counts.neither} \\(of ${PROBLEMS}\\)`,
    ),
  );
  assert.match(text, /the curves (cross at k ≈ [\d.]+|do not cross)/);

  const bad = spawnSync(process.execPath, ['bin/webgrpo.mjs', 'eval', ...common, '--compare-base'], { encoding: 'utf8' });
  assert.equal(bad.status, 2);
  assert.match(bad.stderr, /--compare-base needs --adapter/);
});
