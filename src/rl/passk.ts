// Unbiased pass@k (Chen et al. 2021) from n samples of which c are correct.

/** 1 − C(n−c, k) / C(n, k), computed as 1 − Π_{i=n−c+1..n} (1 − k/i); 1 when n − c < k. */
export function passAtK(n: number, c: number, k: number): number {
  if (!(Number.isInteger(n) && Number.isInteger(c) && Number.isInteger(k)) || c < 0 || c > n || k < 1 || k > n) {
    throw new Error(`passAtK: need integers 0 ≤ c ≤ n and 1 ≤ k ≤ n, got n=${n} c=${c} k=${k}`);
  }
  if (n - c < k) return 1;
  let miss = 1;
  for (let i = n - c + 1; i <= n; i++) miss *= 1 - k / i;
  return 1 - miss;
}

/** Mean unbiased pass@k over the problems for k = 1..n (entry k − 1), from each problem's correct count out of n. */
export function passAtKCurve(n: number, correct: readonly number[]): number[] {
  return Array.from({ length: n }, (_, i) => correct.reduce((a, c) => a + passAtK(n, c, i + 1), 0) / Math.max(1, correct.length));
}

/** Which of the two models solved a problem at least once in its n samples (DESIGN.md §9.3). */
export type SolvedBy = 'both' | 'base-only' | 'adapter-only' | 'neither';

export const SOLVED_BY: readonly SolvedBy[] = ['base-only', 'adapter-only', 'both', 'neither'];

export function solvedBy(baseCorrect: number, adapterCorrect: number): SolvedBy {
  if (baseCorrect > 0) return adapterCorrect > 0 ? 'both' : 'base-only';
  return adapterCorrect > 0 ? 'adapter-only' : 'neither';
}

/** Curves closer than this count as equal (a tie is no lead). */
const TIE = 1e-12;

/**
 * Where two pass@k curves (entry k − 1 = pass@k) cross: the first k at which the curve that led at
 * the last k with a difference leads no more, with `at` the k where the straight line between the two
 * points (in log k, as drawn) has difference 0 (DESIGN.md §9.3). Null when one never falls behind.
 */
export function curveCrossing(base: readonly number[], adapter: readonly number[]): { k: number; at: number; leaderBefore: 'base' | 'adapter' } | null {
  let lead: { k: number; diff: number } | null = null;
  for (let i = 0; i < Math.min(base.length, adapter.length); i++) {
    const diff = adapter[i] - base[i];
    if (Math.abs(diff) <= TIE) continue;
    if (lead && Math.sign(diff) !== Math.sign(lead.diff)) {
      const k = i + 1;
      const t = lead.diff / (lead.diff - diff);
      return { k, at: Math.exp(Math.log(lead.k) + t * (Math.log(k) - Math.log(lead.k))), leaderBefore: lead.diff > 0 ? 'adapter' : 'base' };
    }
    lead = { k: i + 1, diff };
  }
  return null;
}
