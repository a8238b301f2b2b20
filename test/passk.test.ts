import { test } from 'node:test';
import assert from 'node:assert/strict';
import { passAtK } from '../src/rl/passk.ts';

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
