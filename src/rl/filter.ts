// Online filtering of GRPO groups: balanced difficulty filtering and DAPO dynamic sampling.

export interface GroupFilter {
  /** Keep a group only when its mean accuracy lies strictly inside (lo, hi), e.g. [0.2, 0.8]. */
  accuracy?: [number, number];
  /** DAPO dynamic sampling: drop a group whose rewards are all equal (zero reward std). */
  dropZeroStd?: boolean;
}

/**
 * Balanced online difficulty filtering: keep prompts whose group accuracy (mean of `accuracies`,
 * one per completion, 1 = correct) lies strictly inside (lo, hi); DAPO dynamic sampling = drop
 * groups whose rewards all equal (max − min ≤ 1e-8, as TRL's isclose(std, 0)). Pure functions over
 * group results; the trainer refills the batch with new prompts.
 */
export function keepGroup(rewards: number[], accuracies: number[], filter: GroupFilter): boolean {
  if (filter.dropZeroStd && rewards.length > 0) {
    let lo = Infinity,
      hi = -Infinity;
    for (const r of rewards) {
      lo = Math.min(lo, r);
      hi = Math.max(hi, r);
    }
    if (!(hi - lo > 1e-8)) return false;
  }
  if (filter.accuracy) {
    const [lo, hi] = filter.accuracy;
    if (!(lo < hi)) throw new Error(`keepGroup: accuracy bounds [${lo}, ${hi}] are not increasing`);
    if (accuracies.length === 0) throw new Error('keepGroup: an accuracy filter needs per-completion accuracies');
    const acc = accuracies.reduce((s, a) => s + a, 0) / accuracies.length;
    if (!(acc > lo && acc < hi)) return false;
  }
  return true;
}
