import { test } from 'node:test';
import assert from 'node:assert/strict';
import { computeAdvantages } from '../src/rl/advantages.ts';

function close(actual: number, expected: number, tol = 1e-12, what = ''): void {
  assert.ok(Math.abs(actual - expected) <= tol, `${what}: got ${actual}, expected ${expected}`);
}
function closeAll(actual: number[], expected: number[], tol = 1e-12, what = ''): void {
  assert.equal(actual.length, expected.length, `${what}: length`);
  actual.forEach((a, i) => close(a, expected[i], tol, `${what}[${i}]`));
}

test("scale 'group', G=2: rewards [1,0,0,1]", () => {
  // Groups [1,0] and [0,1]: mean 0.5, ddof=1 std sqrt((0.25+0.25)/1) = sqrt(0.5) = Math.SQRT1_2.
  // A = ±0.5 / (Math.SQRT1_2 + 1e-4) = ±0.7070067953266834.
  const r = computeAdvantages([1, 0, 0, 1], 2, 'group');
  closeAll(r.advantages, [0.7070067953266834, -0.7070067953266834, -0.7070067953266834, 0.7070067953266834], 1e-12, 'A');
  closeAll(r.groupMean, [0.5, 0.5], 0, 'mean');
  closeAll(r.groupStd, [Math.SQRT1_2, Math.SQRT1_2], 1e-15, 'std');
  assert.equal(r.fracRewardZeroStd, 0);
  close(r.rewardStd, Math.SQRT1_2, 1e-15, 'reward_std'); // mean of the two group stds
  close(r.batchStd, 0.5773502691896257, 1e-15, 'batch std'); // sqrt((4·0.25)/3)
  close(r.rewardMean, 0.5, 0, 'reward');
});

test("scale 'group', G=4: rewards [1,0,0,1] are one group", () => {
  // mean 0.5, std sqrt(1/3) = 0.5773502691896257; A = ±0.5 / 0.5774502691896257 = ±0.8658754297607016.
  const r = computeAdvantages([1, 0, 0, 1], 4, 'group');
  closeAll(r.advantages, [0.8658754297607016, -0.8658754297607016, -0.8658754297607016, 0.8658754297607016], 1e-12, 'A');
  closeAll(r.groupMean, [0.5], 0, 'mean');
  closeAll(r.groupStd, [0.5773502691896257], 1e-15, 'std');
  close(r.rewardStd, 0.5773502691896257, 1e-15, 'reward_std');
});

test("scale 'batch', G=2: centred per group, divided by the batch std", () => {
  // Group means 0.5, batch std sqrt(1/3): A = ±0.5 / (0.5773502691896257 + 1e-4) = ±0.8658754297607016.
  const r = computeAdvantages([1, 0, 0, 1], 2, 'batch');
  closeAll(r.advantages, [0.8658754297607016, -0.8658754297607016, -0.8658754297607016, 0.8658754297607016], 1e-12, 'A');
  // reward_std stays the mean of per-group stds; batchStd is the divisor.
  close(r.rewardStd, Math.SQRT1_2, 1e-15, 'reward_std');
  close(r.batchStd, 0.5773502691896257, 1e-15, 'batch std');
});

test("scale 'none': only centred (Dr. GRPO)", () => {
  const r = computeAdvantages([1, 0, 0, 1], 2, 'none');
  closeAll(r.advantages, [0.5, -0.5, -0.5, 0.5], 0, 'A');
  const r4 = computeAdvantages([3, 1, 2, 2], 4, 'none');
  closeAll(r4.advantages, [1, -1, 0, 0], 0, 'A');
});

test('all-equal groups give zero advantage and count in frac_reward_zero_std', () => {
  // Groups [1,1] (std 0), [0,0] (std 0), [0.5,1] (mean 0.75, std sqrt(2·0.0625) = 0.3535533905932738).
  const rewards = [1, 1, 0, 0, 0.5, 1];
  const g = computeAdvantages(rewards, 2, 'group');
  // −0.25 / (0.3535533905932738 + 1e-4) = −0.7069068377390945
  closeAll(g.advantages, [0, 0, 0, 0, -0.7069068377390945, 0.7069068377390945], 1e-12, 'A group');
  close(g.fracRewardZeroStd, 2 / 3, 1e-15, 'frac');
  close(g.rewardStd, 0.3535533905932738 / 3, 1e-15, 'reward_std');
  closeAll(g.groupMean, [1, 0, 0.75], 0, 'mean');

  // Batch: mean 3.5/6; Σ(r − mean)² = 3·(5/12)² + 2·(7/12)² + (1/12)² = 174/144; var = 174/720;
  // std = 0.4915960401250875. Zero-std groups still get exactly 0 (centring is per group).
  const b = computeAdvantages(rewards, 2, 'batch');
  close(b.batchStd, Math.sqrt(174 / 720), 1e-15, 'batch std');
  close(b.batchStd, 0.4915960401250875, 1e-15, 'batch std literal');
  const a = 0.25 / (0.4915960401250875 + 1e-4);
  closeAll(b.advantages, [0, 0, 0, 0, -a, a], 1e-12, 'A batch');
  close(b.fracRewardZeroStd, 2 / 3, 1e-15, 'frac batch (per group)');

  const all = computeAdvantages([2, 2, 2, 2], 2, 'group');
  closeAll(all.advantages, [0, 0, 0, 0], 0, 'A all equal');
  assert.equal(all.fracRewardZeroStd, 1);
  assert.equal(all.rewardStd, 0);
});

test('rejects bad shapes', () => {
  assert.throws(() => computeAdvantages([1, 0, 1], 2, 'group'), /multiple/);
  assert.throws(() => computeAdvantages([1, 0], 1, 'group'), /≥ 2/);
  assert.throws(() => computeAdvantages([1, NaN], 2, 'group'), /non-finite/);
});
