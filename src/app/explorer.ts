// The pass@k explorer's page-side helpers (pure, unit-tested): the time a comparison will take from
// the run's measured generation speed, and its CSV exports (per-problem counts, the curves).

import type { StepMetrics } from '../rl/grpo.ts';
import { csvText } from './export.ts';
import type { PassAtKComparison, RunConfig } from './protocol.ts';

/** Steps whose generation speed the estimate averages (the newest ones). */
const RECENT_STEPS = 5;

/**
 * About how long sampling n completions per problem takes, for the base model and the adapter: the
 * tokens to sample (2 × problems × n × the recent mean completion length) at the tokens per second
 * the run's recent steps generated at (completions/mean_length × completions per step over
 * timing/generate). Null while no step has been timed.
 */
export function explorerEstimate(
  metrics: readonly StepMetrics[],
  settings: RunConfig,
  problems: number,
  samples: number,
): { seconds: number; tokens: number; tokensPerSecond: number } | null {
  const perStep = settings.grpo.promptsPerStep * settings.grpo.numGenerations;
  const recent = metrics.slice(-RECENT_STEPS).filter((m) => m['timing/generate'] > 0 && m['completions/mean_length'] > 0);
  if (recent.length === 0) return null;
  const generated = recent.reduce((a, m) => a + perStep * m['completions/mean_length'], 0);
  const seconds = recent.reduce((a, m) => a + m['timing/generate'], 0);
  const tokensPerSecond = generated / seconds;
  const meanLength = generated / perStep / recent.length;
  const tokens = 2 * problems * samples * meanLength;
  return { seconds: tokens / tokensPerSecond, tokens, tokensPerSecond };
}

/** One row per problem: its correct counts out of n for the base model and the adapter, and its category. */
export function comparisonProblemsCsv(result: PassAtKComparison): string {
  return csvText([
    ['problem', 'question', 'answer', 'samples', 'correct_base', 'correct_adapter', 'category'],
    ...result.problems.map((p, i) => [i + 1, p.question, p.answer, result.samples, p.base, p.adapter, p.solvedBy]),
  ]);
}

/** One row per k = 1..n: the mean pass@k of the base model and of the adapter. */
export function comparisonCurvesCsv(result: PassAtKComparison): string {
  return csvText([['k', 'pass_at_k_base', 'pass_at_k_adapter'], ...result.curves.base.map((b, i) => [i + 1, b, result.curves.adapter[i]])]);
}
