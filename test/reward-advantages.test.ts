// Advantages from several reward functions (TRL multi_objective_aggregation, reward_weights, null
// rewards), checked against values worked out by hand.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { computeAdvantages, computeRewardAdvantages } from '../src/rl/advantages.ts';
import { parseRewardWeights } from '../src/rl/grpo.ts';

const E = 1e-4;
function closeArr(actual: number[], expected: number[], what: string): void {
  assert.equal(actual.length, expected.length, what);
  actual.forEach((a, i) => assert.ok(Math.abs(a - expected[i]) <= 1e-12, `${what}[${i}]: got ${a}, expected ${expected[i]}`));
}

// Two groups of G = 3, two reward functions with weights [1, 0.5]:
//   group 0: c0 [1, 2], c1 [0, null], c2 [null, null] (every function null: left out, advantage 0)
//   group 1: c3 [2, 0], c4 [1, 4],    c5 [3, 2]
const perFunction: (number | null)[][] = [
  [1, 2],
  [0, null],
  [null, null],
  [2, 0],
  [1, 4],
  [3, 2],
];
const weights = [1, 0.5];

test('sum_then_normalize: weighted sum of the non-null rewards, all-null completions out of the baseline', () => {
  const r = computeRewardAdvantages(perFunction, weights, 3, 'group', 'sum_then_normalize');
  // Weighted sums: c0 1 + 0.5·2 = 2, c1 0, c2 0 (excluded); c3 2, c4 1 + 2 = 3, c5 3 + 1 = 4.
  closeArr(r.rewards, [2, 0, 0, 2, 3, 4], 'rewards');
  assert.deepEqual(r.excluded, [false, false, true, false, false, false]);
  // Group 0 over c0, c1 only: mean 1, std √((1 + 1)/1) = √2. Group 1: mean 3, std 1.
  const s2 = Math.SQRT2 + E;
  closeArr(r.advantages, [1 / s2, -1 / s2, 0, -1 / (1 + E), 0, 1 / (1 + E)], 'advantages');
  closeArr(r.groupMean, [1, 3], 'group means');
  // Had c2 counted as reward 0, group 0's mean would be 2/3: it must not be.
  const naive = computeAdvantages([2, 0, 0, 2, 3, 4], 3, 'group');
  assert.notEqual(naive.advantages[0], r.advantages[0]);
  // scale 'none': centred only.
  closeArr(computeRewardAdvantages(perFunction, weights, 3, 'none', 'sum_then_normalize').advantages, [1, -1, 0, -1, 0, 1], 'none');
  // Without nulls and with weights 1 it is computeAdvantages of the sums.
  const full = [
    [1, 2],
    [0, 1],
    [5, 0],
    [2, 0],
  ];
  closeArr(computeRewardAdvantages(full, [1, 1], 2, 'group', 'sum_then_normalize').advantages, computeAdvantages([3, 1, 5, 2], 2, 'group').advantages, 'plain');
});

test('normalize_then_sum (GDPO): z-score each function within its group, weighted sum, batch normalisation', () => {
  const r = computeRewardAdvantages(perFunction, weights, 3, 'group', 'normalize_then_sum');
  // Function 0, group 0 over c0, c1 (c2 null): mean 0.5, std √0.5 → z = ±0.5/(√0.5 + 1e-4).
  //   group 1 [2, 1, 3]: mean 2, std 1 → z = [0, −1, 1]/(1 + 1e-4).
  // Function 1 (weight 0.5), group 0: only c0 → std 0, z = 0 (c1, c2 null contribute 0).
  //   group 1 [0, 4, 2]: mean 2, std 2 → z = [−2, 2, 0]/(2 + 1e-4).
  const a = 0.5 / (Math.sqrt(0.5) + E);
  const s = [a, -a, 0, 0 + (0.5 * -2) / (2 + E), -1 / (1 + E) + (0.5 * 2) / (2 + E), 1 / (1 + E)];
  // Batch normalisation over the five kept completions (c2 excluded).
  const kept = [s[0], s[1], s[3], s[4], s[5]];
  const m = kept.reduce((x, y) => x + y, 0) / 5;
  const sd = Math.sqrt(kept.reduce((x, y) => x + (y - m) ** 2, 0) / 4);
  closeArr(r.advantages, [(s[0] - m) / (sd + E), (s[1] - m) / (sd + E), 0, (s[3] - m) / (sd + E), (s[4] - m) / (sd + E), (s[5] - m) / (sd + E)], 'gdpo');
});

test('reward_weights parse: one number per function, empty = all 1', () => {
  assert.deepEqual(parseRewardWeights(null, 2), [1, 1]);
  assert.deepEqual(parseRewardWeights(' 1, 0.5 ', 2), [1, 0.5]);
  assert.throws(() => parseRewardWeights('1', 2), /1 weights for 2/);
  assert.throws(() => parseRewardWeights('1,x', 2), /numbers/);
  assert.throws(() => computeRewardAdvantages([[1], [2]], [1, 1], 2, 'group', 'sum_then_normalize'), /1 rewards for 2 weights/);
});

test('passk (verl grpo_passk): only the best completion of a group gets r_max − r_second, scaled like grpo', () => {
  // Group 1: rewards 1, 4, 2, 0 → the 4 gets 4 − 2 = 2 over (std + 1e-4), std = √(8.75/3) (mean 1.75).
  // Group 2: 3, 1, 3, 0 → the two 3s tie: r_max − r_second = 0 for the first 3, 0 for everyone.
  // Group 3: null, 5, 1, 2 → the null is out: the 5 gets 5 − 2 = 3 over the std of {5, 1, 2} = √(78/18).
  const rows = [[1], [4], [2], [0], [3], [1], [3], [0], [null], [5], [1], [2]];
  const r = computeRewardAdvantages(rows, [1], 4, 'group', 'sum_then_normalize', 'passk');
  closeArr(r.advantages, [0, 2 / (Math.sqrt(8.75 / 3) + 1e-4), 0, 0, 0, 0, 0, 0, 0, 3 / (Math.sqrt(78 / 18) + 1e-4), 0, 0], 'group');
  closeArr(computeRewardAdvantages(rows, [1], 4, 'none', 'sum_then_normalize', 'passk').advantages, [0, 2, 0, 0, 0, 0, 0, 0, 0, 3, 0, 0], 'none');
  // batch: the ddof=1 std of the 11 kept rewards.
  const kept = [1, 4, 2, 0, 3, 1, 3, 0, 5, 1, 2];
  const m = kept.reduce((a, b) => a + b, 0) / kept.length;
  const batchStd = Math.sqrt(kept.reduce((a, x) => a + (x - m) ** 2, 0) / (kept.length - 1));
  const b = computeRewardAdvantages(rows, [1], 4, 'batch', 'sum_then_normalize', 'passk').advantages;
  closeArr([b[1], b[9]], [2 / (batchStd + 1e-4), 3 / (batchStd + 1e-4)], 'batch');
  assert.throws(() => computeRewardAdvantages(rows, [1], 4, 'group', 'normalize_then_sum', 'passk'), /sum_then_normalize/);
  assert.deepEqual(r.zeroStd, [false, false, false, false, false, false, false, false, false, false, false, false]);
  assert.deepEqual(computeRewardAdvantages([[1], [1], [0], [2]], [1], 2, 'group', 'sum_then_normalize').zeroStd, [true, true, false, false]);
});
