import { test } from 'node:test';
import assert from 'node:assert/strict';
import { appliedEntropyCoef, initialAdaptiveEntropy, updateAdaptiveEntropy } from '../src/rl/adaptive-entropy.ts';

const close = (actual: number, expected: number, what: string) =>
  assert.ok(Math.abs(actual - expected) < 1e-12, `${what}: got ${actual}, expected ${expected}`);

test('adaptive entropy: ±0.005 per update towards the target, applied only while the last entropy ≤ target', () => {
  const target = 0.2;
  // Entropy of each update, then by hand: the coefficient that update applied and the one held after it.
  //   1: no measurement yet → applies 0;   0.5 > 0.2 → 0 − 0.005, kept at 0
  //   2: last 0.5 > 0.2 → applies 0;        0.1 ≤ 0.2 → 0.005
  //   3: last 0.1 → applies 0.005;          0.15 → 0.010
  //   4: last 0.15 → applies 0.010;         0.3 > 0.2 → 0.005
  //   5: last 0.3 → applies 0;              0.2 = target counts as ≤ → 0.010
  //   6: last 0.2 → applies 0.010;          0.05 → 0.015
  const entropies = [0.5, 0.1, 0.15, 0.3, 0.2, 0.05];
  const applied = [0, 0, 0.005, 0.01, 0, 0.01];
  const held = [0, 0.005, 0.01, 0.005, 0.01, 0.015];
  let state = initialAdaptiveEntropy(0);
  entropies.forEach((h, i) => {
    close(appliedEntropyCoef(state, target), applied[i], `update ${i + 1} applies`);
    state = updateAdaptiveEntropy(state, h, target);
    close(state.coef, held[i], `after update ${i + 1}`);
    assert.equal(state.lastEntropy, h);
  });
});

test('adaptive entropy: the coefficient stays in [0, 1] and starts at entropy_coef', () => {
  let state = initialAdaptiveEntropy(0.998);
  state = updateAdaptiveEntropy(state, 0.01, 0.2);
  close(state.coef, 1, 'capped at 1');
  state = updateAdaptiveEntropy(state, 0.01, 0.2);
  close(state.coef, 1, 'still 1');
  close(appliedEntropyCoef(state, 0.2), 1, 'applied while low');
  state = updateAdaptiveEntropy(initialAdaptiveEntropy(0.003), 2, 0.2);
  close(state.coef, 0, 'floored at 0');
  assert.throws(() => updateAdaptiveEntropy(state, Number.NaN, 0.2), /mean entropy must be finite/);
});
