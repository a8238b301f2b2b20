import { test } from 'node:test';
import assert from 'node:assert/strict';
import { boxedAnswerReward, lastBoxed } from '../src/rl/rewards/math.ts';

test('lastBoxed takes the last brace-matched \\boxed{}', () => {
  assert.equal(lastBoxed('so \\boxed{12}'), '12');
  assert.equal(lastBoxed('\\boxed{1} then \\boxed{2}'), '2');
  assert.equal(lastBoxed('\\boxed{\\frac{1}{2}}'), '\\frac{1}{2}');
  assert.equal(lastBoxed('\\boxed{3} and \\boxed{4'), '3');
  assert.equal(lastBoxed('no box here'), null);
});

test('boxedAnswerReward compares numbers, not strings', () => {
  assert.equal(boxedAnswerReward('40+30=70. \\boxed{85}', '85'), 1);
  assert.equal(boxedAnswerReward('\\boxed{1,000}', '1000'), 1);
  assert.equal(boxedAnswerReward('\\boxed{$18}', '18'), 1);
  assert.equal(boxedAnswerReward('\\boxed{0.50}', '.5'), 1);
  assert.equal(boxedAnswerReward('\\boxed{84}', '85'), 0);
  assert.equal(boxedAnswerReward('85', '85'), 0); // no box, no credit
  assert.equal(boxedAnswerReward('\\boxed{-7}', '-7'), 1);
});
