import { test } from 'node:test';
import assert from 'node:assert/strict';
import { curveCrossing, passAtK, passAtKCurve, solvedBy } from '../src/rl/passk.ts';

/** Direct combinatorial definition, for comparison. */
function binomial(n: number, k: number): number {
  let r = 1;
  for (let i = 1; i <= k; i++) r = (r * (n - k + i)) / i;
  return r;
}

test('pass@k matches hand-computed values and the combinatorial definition', () => {
  assert.equal(passAtK(8, 0, 1), 0);
  assert.equal(passAtK(8, 8, 1), 1);
  assert.ok(Math.abs(passAtK(8, 1, 1) - 0.125) < 1e-15);
  assert.ok(Math.abs(passAtK(8, 2, 2) - 13 / 28) < 1e-15);
  assert.equal(passAtK(5, 3, 3), 1); // n − c < k
  for (const n of [1, 4, 8, 16, 32]) {
    for (let c = 0; c <= n; c++) {
      for (let k = 1; k <= n; k++) {
        const want = n - c < k ? 1 : 1 - binomial(n - c, k) / binomial(n, k);
        assert.ok(Math.abs(passAtK(n, c, k) - want) < 1e-12, `n=${n} c=${c} k=${k}`);
      }
    }
  }
  assert.throws(() => passAtK(4, 5, 1), /0 ≤ c ≤ n/);
  assert.throws(() => passAtK(4, 1, 5), /1 ≤ k ≤ n/);
});

test('the pass@k curve is the mean over problems for every k from 1 to n', () => {
  const curve = passAtKCurve(4, [0, 1, 4]);
  assert.equal(curve.length, 4);
  assert.ok(Math.abs(curve[0] - (0 + 0.25 + 1) / 3) < 1e-15);
  assert.ok(Math.abs(curve[1] - (0 + 0.5 + 1) / 3) < 1e-15); // pass@2 with c = 1 of 4: 1 − C(3,2)/C(4,2) = 1/2
  assert.ok(Math.abs(curve[3] - 2 / 3) < 1e-15);
  for (let i = 1; i < curve.length; i++) assert.ok(curve[i] >= curve[i - 1], 'pass@k never falls with k');
});

test('solved by: at least one correct sample of the base model, the adapter, both or neither', () => {
  assert.equal(solvedBy(3, 0), 'base-only');
  assert.equal(solvedBy(0, 1), 'adapter-only');
  assert.equal(solvedBy(1, 8), 'both');
  assert.equal(solvedBy(0, 0), 'neither');
});

test('the curves cross where the leader changes, interpolated in log k', () => {
  // The adapter leads at k = 1, 2 (sharpened pass@1); the base leads from k = 4 (wider coverage).
  const adapter = [0.5, 0.6, 0.65, 0.7];
  const base = [0.3, 0.5, 0.7, 0.9];
  const crossing = curveCrossing(base, adapter);
  assert.ok(crossing);
  assert.equal(crossing.k, 3);
  assert.equal(crossing.leaderBefore, 'adapter');
  // diff 0.1 at k = 2 and −0.05 at k = 3: zero at t = 2/3 of the way from log 2 to log 3.
  assert.ok(Math.abs(crossing.at - Math.exp(Math.log(2) + (2 / 3) * Math.log(1.5))) < 1e-12, `at ${crossing.at}`);
  // A tie on the way is no crossing by itself; falling behind after it is, measured from the last lead.
  const tied = curveCrossing([0.2, 0.4, 0.6], [0.3, 0.4, 0.5]);
  assert.deepEqual({ k: tied?.k, leader: tied?.leaderBefore }, { k: 3, leader: 'adapter' });
  assert.ok(Math.abs(tied!.at - Math.exp(Math.log(1) + 0.5 * Math.log(3))) < 1e-12);
  assert.equal(curveCrossing([0.1, 0.2], [0.3, 0.4]), null, 'one always ahead');
  assert.equal(curveCrossing([0.1, 0.2], [0.1, 0.2]), null, 'equal curves');
});
