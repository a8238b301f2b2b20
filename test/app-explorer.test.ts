// The pass@k explorer's page helpers: the time estimate from a run's generation speed and the CSV exports.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { comparisonCurvesCsv, comparisonProblemsCsv, explorerEstimate } from '../src/app/explorer.ts';
import { defaultSettings } from '../src/app/recipe.ts';
import { parseCsv } from '../src/data/csv.ts';
import type { PassAtKComparison } from '../src/rl/evaluate.ts';

test('the estimate: tokens of both models at the recent steps’ generation speed', () => {
  const settings = defaultSettings();
  settings.grpo = { ...settings.grpo, promptsPerStep: 4, numGenerations: 4 };
  assert.equal(explorerEstimate([], settings, 8, 16), null, 'no timed step, no estimate');
  // 16 completions a step: 16 × 20 tokens in 2 s, then 16 × 30 tokens in 2 s → 200 tokens/s, 25 tokens each.
  const metrics = [
    { step: 1, 'timing/generate': 2, 'completions/mean_length': 20 },
    { step: 2, 'timing/generate': 2, 'completions/mean_length': 30 },
  ];
  const e = explorerEstimate(metrics, settings, 8, 16);
  assert.ok(e);
  assert.equal(e.tokensPerSecond, 200);
  assert.equal(e.tokens, 2 * 8 * 16 * 25);
  assert.equal(e.seconds, (2 * 8 * 16 * 25) / 200);
  // Only the newest 5 steps count.
  const slowStart = [{ step: 0, 'timing/generate': 1000, 'completions/mean_length': 20 }, ...Array.from({ length: 5 }, () => metrics[0])];
  assert.equal(explorerEstimate(slowStart, settings, 1, 1)?.tokensPerSecond, 160);
});

test('the CSV exports: one row per problem with counts and category, one row per k with both curves', () => {
  const result: PassAtKComparison = {
    samples: 2,
    seed: 0,
    problems: [
      { question: 'Q: 1+2, "quoted"\nA:', answer: '3', base: 1, adapter: 0, solvedBy: 'base-only', samples: { base: [], adapter: [] } },
      { question: 'Q: 2+2', answer: '4', base: 2, adapter: 2, solvedBy: 'both', samples: { base: [], adapter: [] } },
    ],
    curves: { base: [0.75, 1], adapter: [0.5, 0.5] },
    sizes: { 'base-only': 1, 'adapter-only': 0, both: 1, neither: 0 },
    crossing: null,
  };
  const fields = (csv: string) => parseCsv(csv).map((r) => r.fields);
  assert.deepEqual(fields(comparisonProblemsCsv(result)), [
    ['problem', 'question', 'answer', 'samples', 'correct_base', 'correct_adapter', 'category'],
    ['1', 'Q: 1+2, "quoted"\nA:', '3', '2', '1', '0', 'base-only'],
    ['2', 'Q: 2+2', '4', '2', '2', '2', 'both'],
  ]);
  assert.deepEqual(fields(comparisonCurvesCsv(result)), [
    ['k', 'pass_at_k_base', 'pass_at_k_adapter'],
    ['1', '0.75', '0.5'],
    ['2', '1', '0.5'],
  ]);
});
