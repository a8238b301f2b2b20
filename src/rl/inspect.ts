// The step inspector's record of one GRPO step (DESIGN.md §8.13): every group's prompt, rewards and
// advantages, every trained token's log-prob, ratio, clip flag, loss share and entropy exactly as the
// loss used them, and each completion's log-prob before and after the step's update. The session
// stores one file per inspected step (`inspect/step-000012.json`); the page's StepInspector reads it.

import type { TokenTerms } from './loss.ts';

export interface InspectedCompletion {
  text: string;
  /** Each completion token decoded on its own. */
  tokens: string[];
  rewards: Record<string, number | null>;
  reward: number;
  advantage: number;
  /** False when the step did not train on it (advantage 0 skipped, §8.7; a zero-std group excluded, §8.5): no per-token values then. */
  trained: boolean;
  /** Per token, from the update's training pass (the last one with num_iterations > 1): log π, ratio ρ, clip (−1 low, 1 high, 0), share of the loss, entropy. */
  logprobs: number[];
  ratios: number[];
  clip: number[];
  losses: number[];
  entropies: number[];
  /** Σ log π over the completion under the adapter before the step (its first training pass) and after its update (a re-score); null when not trained. */
  logprobBefore: number | null;
  logprobAfter: number | null;
}

export interface InspectedGroup {
  prompt: string;
  answer: string;
  /** Mean and ddof = 1 std of the group's total rewards (§8.2). */
  rewardMean: number;
  rewardStd: number;
  completions: InspectedCompletion[];
}

export interface StepInspection {
  step: number;
  /** The step's loss (metrics `loss`): the sum of every stored token's `losses`. */
  loss: number;
  /** The lr of the step's updates: 0 (e.g. the first warm-up step) leaves every log-prob where it was. */
  learningRate: number;
  lossType: string;
  epsilon: number;
  epsilonHigh: number;
  groups: InspectedGroup[];
}

/** What the trainer measured of one trained completion. */
export interface TrainedTokens {
  logprobs: ArrayLike<number>;
  entropies: ArrayLike<number>;
  terms: TokenTerms;
  logprobBefore: number;
  logprobAfter: number;
}

/** Where a run keeps the inspection of `step`. */
export function inspectionFile(step: number): string {
  return `inspect/step-${String(step).padStart(6, '0')}.json`;
}

/** The step whose inspection `name` (a file of `inspect/`) holds, or null for another file. */
export function inspectedStep(name: string): number | null {
  const m = /^step-(\d+)\.json$/.exec(name);
  return m ? Number(m[1]) : null;
}

/** Six significant digits: the displayed values, a third of the bytes of full doubles (losses stay exact, so they still sum to the step's loss). */
const shown = (x: number) => Number(x.toPrecision(6));

export function inspectedCompletion(
  c: { text: string; tokens: string[]; rewards: Record<string, number | null>; reward: number; advantage: number },
  trained: TrainedTokens | undefined,
): InspectedCompletion {
  return {
    ...c,
    trained: trained !== undefined,
    logprobs: trained ? Array.from(trained.logprobs, shown) : [],
    ratios: trained ? Array.from(trained.terms.ratio, shown) : [],
    clip: trained ? Array.from(trained.terms.clip) : [],
    losses: trained ? Array.from(trained.terms.loss) : [],
    entropies: trained ? Array.from(trained.entropies, shown) : [],
    logprobBefore: trained ? trained.logprobBefore : null,
    logprobAfter: trained ? trained.logprobAfter : null,
  };
}
