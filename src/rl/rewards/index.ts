// Reward registry (DESIGN.md §10): built-in reward functions by name and their weighted sum.
import { countdownReward } from './countdown.ts';
import { formatReward } from './format.ts';
import { COSINE_PAPER, cosineLengthReward, overlongPenalty, type CosineParams } from './length.ts';
import { boxedAnswerReward, extractGold, mathAccuracyReward } from './math.ts';
import { STORY_REWARDS } from './story.ts';

export * from './countdown.ts';
export * from './format.ts';
export * from './length.ts';
export * from './math.ts';
export * from './story.ts';

/** Row fields a reward may read: the dataset columns plus what the trainer adds (see below). */
export type RewardRow = { answer?: string; [k: string]: unknown };

/**
 * A reward function: a number, or null when it does not apply to this row (then it is left out of
 * the weighted sum, like TRL's nansum over None rewards).
 */
export type RewardFn = (completion: string, row: RewardRow) => number | null | Promise<number | null>;

const num = (v: unknown): number | null => (typeof v === 'number' && Number.isFinite(v) ? v : null);

/** `row.answer` as a non-empty string, else null. */
function goldOf(row: RewardRow): string | null {
  const a = row.answer;
  if (typeof a === 'number') return String(a);
  return typeof a === 'string' && a.trim().length > 0 ? a : null;
}

const warnedGolds = new Set<string>();

/**
 * `row.answer` when its final answer can be extracted, else null; an unreadable gold is reported
 * once (console.warn) per gold string.
 */
function gradableGold(row: RewardRow): string | null {
  const gold = goldOf(row);
  if (gold === null) return null;
  if (extractGold(gold) !== null) return gold;
  if (!warnedGolds.has(gold) && warnedGolds.size < 10_000) {
    warnedGolds.add(gold);
    const id = ['id', 'idx', 'index', 'unique_id', 'problem'].map((k) => row[k]).find((v) => typeof v === 'string' || typeof v === 'number');
    console.warn(
      `math reward: the gold answer ${JSON.stringify(gold.slice(0, 120))}${id !== undefined ? ` (row ${JSON.stringify(String(id).slice(0, 80))})` : ''} states no answer that can be parsed; the row is not graded (reward null).`,
    );
  }
  return null;
}

/**
 * Whether the completion is correct, for the cosine reward: `row.correct` when the caller gives it
 * (boolean, or a number where > 0 is correct), else the math accuracy against `row.answer`, else
 * null (unknown).
 */
function correctnessOf(completion: string, row: RewardRow): boolean | null {
  if (typeof row.correct === 'boolean') return row.correct;
  if (typeof row.correct === 'number') return row.correct > 0;
  const gold = goldOf(row);
  return gold === null ? null : mathAccuracyReward(completion, gold) === 1;
}

/**
 * Cosine length reward with the given values. Needs the completion length in tokens
 * (`row.completion_length`), the budget L (`row.cosine_max_len`, else `row.max_completion_length`)
 * and correctness (`row.correct`, else graded with the math reward against `row.answer`); null when
 * any is missing.
 */
function makeCosineReward(params: CosineParams = COSINE_PAPER): RewardFn {
  return (completion, row) => {
    const length = num(row.completion_length);
    const maxLength = num(row.cosine_max_len) ?? num(row.max_completion_length);
    if (length === null || maxLength === null || maxLength <= 0) return null;
    const correct = correctnessOf(completion, row);
    if (correct === null) return null;
    return cosineLengthReward(correct, length, maxLength, params);
  };
}

/**
 * DAPO soft overlong penalty. Needs `row.completion_length` (tokens) and L_max
 * (`row.max_completion_length`); L_cache is `cacheLength`, else `row.overlong_cache_length`, else
 * 20% of L_max (DAPO's 4096 of 20480). Null when a length is missing.
 */
function makeOverlongReward(cacheLength?: number): RewardFn {
  return (_completion, row) => {
    const length = num(row.completion_length);
    const maxLength = num(row.max_completion_length);
    if (length === null || maxLength === null || maxLength <= 0) return null;
    const cache = cacheLength ?? num(row.overlong_cache_length) ?? Math.max(1, Math.round(0.2 * maxLength));
    return overlongPenalty(length, maxLength, Math.min(cache, maxLength));
  };
}

/**
 * Built-in rewards by name:
 * - `math`: 1/0 accuracy of the final answer (extractFinal: `<answer>`, \boxed{}, "final answer
 *   is", `#### N`, the last expression) against the final answer of `row.answer`, with TRL's
 *   verifier's equivalence rules; null without a gold or when the gold states no parseable answer.
 * - `boxed_math`: the same, with only the completion's last \boxed{} counting (no box: 0).
 * - `format`: 1/0 R1 format, `<think>…</think>` then `<answer>…</answer>`.
 * - `countdown`: TinyZero Countdown (1 / 0.1 / 0) with `row.target` and `row.nums` (or
 *   `row.numbers`); null without them.
 * - `cosine`: cosine length reward with the paper's values (COSINE_PAPER); see makeCosineReward for
 *   the row fields it needs (length, budget, correctness).
 * - `overlong`: DAPO soft overlong penalty; see makeOverlongReward.
 * - `mention_word`, `happy_ending`, `target_length`, `no_repeat`: the story tasks (story.ts).
 */
export const BUILTIN_REWARDS: Record<string, RewardFn> = {
  math: (completion, row) => {
    const gold = gradableGold(row);
    return gold === null ? null : mathAccuracyReward(completion, gold);
  },
  boxed_math: (completion, row) => {
    const gold = gradableGold(row);
    return gold === null ? null : boxedAnswerReward(completion, gold);
  },
  format: (completion) => formatReward(completion),
  countdown: (completion, row) => {
    const target = num(row.target);
    const nums = Array.isArray(row.nums) ? row.nums : Array.isArray(row.numbers) ? row.numbers : null;
    if (target === null || nums === null || !nums.every((n) => num(n) !== null)) return null;
    return countdownReward(completion, nums as number[], target);
  },
  cosine: makeCosineReward(COSINE_PAPER),
  overlong: makeOverlongReward(),
  ...STORY_REWARDS,
};

/** The built-in reward names, in the order the CLI and the page list them. */
export const BUILTIN_REWARD_NAMES: readonly string[] = Object.keys(BUILTIN_REWARDS);

/**
 * Weighted sum of reward functions for one completion: total = Σ weight·r over the functions that
 * returned a finite number; null (or NaN/undefined) means not applicable and is skipped, as TRL's
 * nansum does. When every function is null the total is 0.
 */
export async function combineRewards(
  completion: string,
  row: RewardRow,
  fns: readonly { name: string; fn: RewardFn; weight: number }[],
): Promise<{ total: number; perFunction: Record<string, number | null> }> {
  const values = await Promise.all(fns.map(({ fn }) => fn(completion, row)));
  const perFunction: Record<string, number | null> = {};
  let total = 0;
  fns.forEach(({ name, weight }, k) => {
    const v = values[k];
    const r = typeof v === 'number' && !Number.isNaN(v) ? v : null;
    perFunction[name] = r;
    if (r !== null) total += weight * r;
  });
  return { total, perFunction };
}
