// Group-relative advantages for GRPO (TRL GRPOTrainer semantics, DESIGN.md §8.2).
//
// Rewards arrive grouped by prompt: `numGenerations` (G) consecutive completions per prompt.
//   A_i = r_i − mean_group(r)
//   'group': A_i /= std_group(r) + 1e-4     (Bessel-corrected, ddof = 1, like torch.Tensor.std())
//   'batch': A_i /= std_batch(r) + 1e-4     (ddof = 1 std of every reward in the batch around the
//                                            batch mean; the centring is still per group)
//   'none' : no scaling (Dr. GRPO)
//
// Logged statistics, pinned against TRL's code (it changed between releases):
// - `rewardStd` (TRL's `reward_std`): mean over groups of the per-group ddof=1 std, in every scale
//   mode. This is what TRL ≤ 0.20 logs (`std_grouped_rewards.mean()`) and what TRL 0.21+ logs for
//   'group' and 'none' (`std_rewards.mean()` with the per-group std repeated G times, i.e. the same
//   number because groups are equal-sized). In 'batch' mode TRL 0.21+ logs the batch std there
//   instead, and later releases log `rewards.std()` in every mode: that number is `batchStd`, so a
//   caller who wants those variants can log it under `reward_std`.
// - `fracRewardZeroStd` (TRL's `frac_reward_zero_std`): fraction of groups whose std is zero by
//   torch.isclose(std, 0) (|std| ≤ 1e-8 with the default atol), i.e. groups whose rewards are all
//   equal; per group in every scale mode (DESIGN.md §8.2). TRL 0.21+ in 'batch' mode tests the batch
//   std instead (0 or 1); we keep the per-group meaning, which is what the metric is read for.
// - `rewardMean` (TRL's `reward`): mean reward over the batch.

export const SCALE_REWARDS = ['group', 'batch', 'none'] as const;
export type ScaleRewards = (typeof SCALE_REWARDS)[number];

/** Added to the std before dividing (TRL). */
const ADVANTAGE_STD_EPS = 1e-4;
/** torch.isclose(std, 0) with its default atol (rtol does not matter against 0). */
const ZERO_STD_ATOL = 1e-8;

export interface Advantages {
  /** One per completion, same order as the rewards. */
  advantages: number[];
  /** One per group (prompt): mean reward of the group. */
  groupMean: number[];
  /** One per group: Bessel-corrected (ddof = 1) std of the group's rewards. */
  groupStd: number[];
  /** Fraction of groups whose rewards all agree (std ≈ 0): TRL's `frac_reward_zero_std`. */
  fracRewardZeroStd: number;
  /** Mean of the per-group stds: TRL's `reward_std` (see the file header for the version notes). */
  rewardStd: number;
  /** ddof = 1 std of all rewards of the batch (the divisor in 'batch' mode). */
  batchStd: number;
  /** Mean of all rewards: TRL's `reward`. */
  rewardMean: number;
}

function mean(xs: ArrayLike<number>, start: number, end: number): number {
  let s = 0;
  for (let i = start; i < end; i++) s += xs[i];
  return s / (end - start);
}

/** ddof = 1 standard deviation of xs[start, end). */
function sampleStd(xs: ArrayLike<number>, start: number, end: number): number {
  const m = mean(xs, start, end);
  let ss = 0;
  for (let i = start; i < end; i++) ss += (xs[i] - m) * (xs[i] - m);
  return Math.sqrt(ss / (end - start - 1));
}

/**
 * Rewards grouped by prompt (G completions each, consecutive); A_i = r_i − mean_group; unless 'none',
 * divided by (std + 1e-4) with the ddof=1 std of the group ('group') or of the whole batch ('batch').
 */
export function computeAdvantages(rewards: number[], numGenerations: number, scale: ScaleRewards): Advantages {
  const G = numGenerations;
  if (!Number.isInteger(G) || G < 2) throw new Error(`computeAdvantages: numGenerations must be an integer ≥ 2, got ${G}`);
  if (rewards.length === 0 || rewards.length % G !== 0) {
    throw new Error(`computeAdvantages: ${rewards.length} rewards is not a positive multiple of numGenerations=${G}`);
  }
  if (scale !== 'group' && scale !== 'batch' && scale !== 'none') throw new Error(`computeAdvantages: unknown scale '${scale}'`);
  for (const r of rewards) if (!Number.isFinite(r)) throw new Error(`computeAdvantages: non-finite reward ${r}`);

  const groups = rewards.length / G;
  const groupMean: number[] = [];
  const groupStd: number[] = [];
  for (let g = 0; g < groups; g++) {
    groupMean.push(mean(rewards, g * G, (g + 1) * G));
    groupStd.push(sampleStd(rewards, g * G, (g + 1) * G));
  }
  const batchStd = sampleStd(rewards, 0, rewards.length);

  const advantages = rewards.map((r, i) => {
    const g = Math.floor(i / G);
    const centred = r - groupMean[g];
    if (scale === 'none') return centred;
    const std = scale === 'group' ? groupStd[g] : batchStd;
    return centred / (std + ADVANTAGE_STD_EPS);
  });

  return { advantages, groupMean, ...groupSummary(groupStd), batchStd, rewardMean: mean(rewards, 0, rewards.length) };
}

/** What the step logs of the groups' spreads: each std, the fraction with equal rewards, and their mean (reward_std). */
function groupSummary(groupStd: number[]): { groupStd: number[]; fracRewardZeroStd: number; rewardStd: number } {
  const zero = groupStd.filter((s) => Math.abs(s) <= ZERO_STD_ATOL).length;
  return { groupStd, fracRewardZeroStd: zero / groupStd.length, rewardStd: groupStd.reduce((a, b) => a + b, 0) / groupStd.length };
}

/** How a group's rewards become advantages: 'grpo' (centred, scaled) or 'passk' (verl's grpo_passk). */
export const ADVANTAGE_ESTIMATORS = ['grpo', 'passk'] as const;
export type AdvantageEstimator = (typeof ADVANTAGE_ESTIMATORS)[number];

/** How several reward functions become one advantage (TRL `multi_objective_aggregation`). */
export const MULTI_OBJECTIVE_AGGREGATIONS = ['sum_then_normalize', 'normalize_then_sum'] as const;
export type MultiObjectiveAggregation = (typeof MULTI_OBJECTIVE_AGGREGATIONS)[number];

export interface MultiRewardAdvantages extends Advantages {
  /** The weighted sum of each completion's non-null rewards (0 when all are null). */
  rewards: number[];
  /** Completions for which every reward function returned null: out of every baseline, advantage 0. */
  excluded: boolean[];
  /** One per completion: its group's rewards all agree (std ≈ 0, the groups `fracRewardZeroStd` counts). */
  zeroStd: boolean[];
}

/** Mean and ddof = 1 std of xs at the indices kept; std 0 with fewer than two values. */
function keptStats(xs: number[], keep: (i: number) => boolean, start: number, end: number): { mean: number; std: number; n: number } {
  let s = 0,
    n = 0;
  for (let i = start; i < end; i++) if (keep(i)) (s += xs[i]), n++;
  const m = n > 0 ? s / n : 0;
  let ss = 0;
  for (let i = start; i < end; i++) if (keep(i)) ss += (xs[i] - m) ** 2;
  return { mean: m, std: n > 1 ? Math.sqrt(ss / (n - 1)) : 0, n };
}

/**
 * Advantages from per-function rewards (`perFunction[i][k]`: completion i, reward function k; null =
 * the function does not apply), with one weight per function (DESIGN.md §8.2):
 * - 'sum_then_normalize' (TRL's default): r_i = Σ_k w_k·r_ik over the non-null r_ik, then the group
 *   advantages of `computeAdvantages` with `scale`.
 * - 'normalize_then_sum' (GDPO): each function's rewards are z-scored within the group over its non-null
 *   values, z = (r − mean)/(std + 1e-4) (ddof = 1; a null contributes 0), s_i = Σ_k w_k·z_ik, and
 *   A_i = (s_i − mean(s))/(std(s) + 1e-4) over the batch (`scale` does not apply).
 * Either way a completion whose every function returned null is left out of its group's (and the
 * batch's) mean and std and gets advantage 0 (TRL's rule).
 * estimator 'passk' (verl's grpo_passk; TRL has none): per group only the completion with the highest
 * r_i (the first one on a tie) gets A = r_max − r_second (the two highest kept rewards), divided by
 * (std + 1e-4) with the std `scale` picks (group or batch, none = no division), as 'grpo' would; the
 * others get 0. It needs 'sum_then_normalize' and at least two kept completions in a group (else 0).
 */
export function computeRewardAdvantages(
  perFunction: (number | null)[][],
  weights: number[],
  numGenerations: number,
  scale: ScaleRewards,
  aggregation: MultiObjectiveAggregation,
  estimator: AdvantageEstimator = 'grpo',
): MultiRewardAdvantages {
  const G = numGenerations;
  const B = perFunction.length;
  if (!Number.isInteger(G) || G < 2) throw new Error(`computeRewardAdvantages: numGenerations must be an integer ≥ 2, got ${G}`);
  if (B === 0 || B % G !== 0) throw new Error(`computeRewardAdvantages: ${B} completions is not a positive multiple of numGenerations=${G}`);
  const K = weights.length;
  for (const row of perFunction) {
    if (row.length !== K) throw new Error(`computeRewardAdvantages: ${row.length} rewards for ${K} weights`);
    for (const r of row) if (r !== null && !Number.isFinite(r)) throw new Error(`computeRewardAdvantages: non-finite reward ${r}`);
  }
  if (!MULTI_OBJECTIVE_AGGREGATIONS.includes(aggregation)) throw new Error(`computeRewardAdvantages: unknown aggregation '${aggregation}'`);
  if (!ADVANTAGE_ESTIMATORS.includes(estimator)) throw new Error(`computeRewardAdvantages: unknown advantage estimator '${estimator}'`);
  if (estimator === 'passk' && aggregation !== 'sum_then_normalize') {
    throw new Error("computeRewardAdvantages: the passk estimator needs multi_objective_aggregation 'sum_then_normalize'");
  }
  const excluded = perFunction.map((row) => row.every((r) => r === null));
  const keep = (i: number) => !excluded[i];
  const rewards = perFunction.map((row) => row.reduce<number>((a, r, k) => (r === null ? a : a + weights[k] * r), 0));
  const groups = B / G;
  const groupMean: number[] = [];
  const groupStd: number[] = [];
  for (let g = 0; g < groups; g++) {
    const st = keptStats(rewards, keep, g * G, (g + 1) * G);
    groupMean.push(st.mean);
    groupStd.push(st.std);
  }
  const batch = keptStats(rewards, keep, 0, B);
  let advantages: number[];
  if (estimator === 'passk') {
    advantages = new Array<number>(B).fill(0);
    for (let g = 0; g < groups; g++) {
      let best = -1;
      let second = -1;
      for (let i = g * G; i < (g + 1) * G; i++) {
        if (excluded[i]) continue;
        if (best < 0 || rewards[i] > rewards[best]) (second = best), (best = i);
        else if (second < 0 || rewards[i] > rewards[second]) second = i;
      }
      if (second < 0) continue;
      const gap = rewards[best] - rewards[second];
      advantages[best] = scale === 'none' ? gap : gap / ((scale === 'group' ? groupStd[g] : batch.std) + ADVANTAGE_STD_EPS);
    }
  } else if (aggregation === 'sum_then_normalize') {
    advantages = rewards.map((r, i) => {
      if (excluded[i]) return 0;
      const g = Math.floor(i / G);
      const centred = r - groupMean[g];
      if (scale === 'none') return centred;
      return centred / ((scale === 'group' ? groupStd[g] : batch.std) + ADVANTAGE_STD_EPS);
    });
  } else {
    const summed = new Array<number>(B).fill(0);
    for (let k = 0; k < K; k++) {
      const col = perFunction.map((row) => row[k] ?? 0);
      const present = (i: number) => perFunction[i][k] !== null;
      for (let g = 0; g < groups; g++) {
        const st = keptStats(col, present, g * G, (g + 1) * G);
        for (let i = g * G; i < (g + 1) * G; i++) if (present(i)) summed[i] += (weights[k] * (col[i] - st.mean)) / (st.std + ADVANTAGE_STD_EPS);
      }
    }
    const st = keptStats(summed, keep, 0, B);
    advantages = summed.map((s, i) => (excluded[i] ? 0 : (s - st.mean) / (st.std + ADVANTAGE_STD_EPS)));
  }
  return {
    advantages,
    groupMean,
    ...groupSummary(groupStd),
    batchStd: batch.std,
    rewardMean: batch.mean,
    rewards,
    excluded,
    zeroStd: rewards.map((_, i) => Math.abs(groupStd[Math.floor(i / G)]) <= ZERO_STD_ATOL),
  };
}
