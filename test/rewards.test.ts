import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  BUILTIN_REWARDS,
  COSINE_OPEN_R1,
  COSINE_PAPER,
  combineRewards,
  cosineLengthReward,
  countdownReward,
  evaluateArithmetic,
  extractAnswer,
  formatReward,
  mathAccuracyReward,
  mathEquivalent,
  normalizeGold,
  overlongPenalty,
  type RewardFn,
} from '../src/rl/rewards/index.ts';

// [answer, gold] pairs that must be judged equal.
const EQUAL: [string, string][] = [
  // integers, separators, signs, decimals
  ['85', '85'],
  ['1,000', '1000'],
  ['1{,}000', '1000'],
  ['1,234,567', '1234567'],
  ['1\\,000', '1000'],
  ['-7', '-7'],
  ['+7', '7'],
  ['−7', '-7'],
  ['18.00', '18'],
  ['0.50', '.5'],
  ['5.', '5'],
  ['007', '7'],
  // currency, percent, degrees
  ['\\$18', '18'],
  ['$18', '18'],
  ['\\$1,250.50', '1250.5'],
  ['10\\%', '10'],
  ['10%', '10'],
  ['90^\\circ', '90'],
  ['90^{\\circ}', '90'],
  ['90°', '90'],
  ['45^\\circ', '\\frac{\\pi}{4}\\cdot\\frac{180}{\\pi}'],
  // fractions and mixed numbers
  ['\\frac{14}{3}', '14/3'],
  ['\\dfrac{14}{3}', '4\\frac{2}{3}'],
  ['\\tfrac{14}{3}', '14/3'],
  ['4\\frac{2}{3}', '14/3'],
  ['-4\\frac{2}{3}', '-\\frac{14}{3}'],
  ['\\frac12', '0.5'],
  ['\\frac1{2}', '0.5'],
  ['\\frac{1}2', '1/2'],
  ['\\frac{-3}{4}', '-0.75'],
  ['\\frac{6}{8}', '\\frac{3}{4}'],
  ['\\frac{\\frac{1}{2}}{2}', '0.25'],
  // roots, pi, expressions
  ['\\sqrt{8}', '2\\sqrt{2}'],
  ['\\sqrt2', '\\sqrt{2}'],
  ['\\frac{\\sqrt{3}}{2}', '\\frac{1}{2}\\sqrt{3}'],
  ['\\sqrt[3]{27}', '3'],
  ['2\\pi', '2π'],
  ['\\pi/2', '\\frac{\\pi}{2}'],
  ['2+3', '5'],
  ['2 \\times 3', '6'],
  ['6 \\div 4', '1.5'],
  ['2^{10}', '1024'],
  ['5!', '120'],
  ['\\binom{5}{2}', '10'],
  ['(2)(3)', '6'],
  ['3 \\cdot 4', '12'],
  // units and text
  ['\\text{Evelyn}', 'Evelyn'],
  ['\\textbf{Evelyn}', 'evelyn'],
  ['5\\text{ cm}', '5'],
  ['5 cm', '5'],
  ['10\\mathrm{cm}^2', '10'],
  ['18 dollars', '18'],
  ['3 square feet', '3'],
  ['\\text{(C)}', 'C'],
  ['\\text{yes}', 'Yes'],
  // tuples, intervals, sets, lists
  ['\\left( 3, \\frac{\\pi}{2} \\right)', '(3,\\pi/2)'],
  ['(1, 2)', '(1,2)'],
  ['[2, 5)', '[2,5)'],
  ['(-\\infty, 3]', '(-\\infty,3]'],
  ['x \\in [2, 5)', '[2,5)'],
  ['\\{1, 2, 3\\}', '\\{3, 2, 1\\}'],
  ['2, -3', '-3, 2'],
  ['\\langle 1, 2 \\rangle', '(1, 2)'],
  ['(-\\infty, 0) \\cup (1, \\infty)', '(-\\infty,0)\\cup(1,\\infty)'],
  // equations and variables
  ['x = 5', '5'],
  ['x=5', 'y = 5'],
  ['2x+1', '1+2x'],
  ['x^2-1', '(x-1)(x+1)'],
  ['y = 2x+3', 'y=3+2x'],
  ['\\sin^2 x + \\cos^2 x', '1'],
  ['\\log_2 8', '3'],
  ['|-4|', '4'],
  ['\\theta', '\\theta'],
  // wrappers
  ['$\\frac{1}{2}$', '0.5'],
  ['\\(\\frac{1}{2}\\)', '\\frac12'],
  ['\\boxed{7}', '7'],
  ['The answer is 7', '7'],
];

// [answer, gold] pairs that must be judged different.
const UNEQUAL: [string, string][] = [
  ['84', '85'],
  ['12.70', '12.8'],
  ['12.7', '12.8'],
  ['1000', '1001'],
  ['109200001', '109200000'],
  ['-7', '7'],
  ['\\frac{14}{3}', '4.67'],
  ['\\frac{1}{3}', '0.333'],
  ['4\\frac{2}{3}', '8/3'],
  ['\\sqrt{2}', '1.414'],
  ['2+3', '6'],
  ['10\\%', '11'],
  ['90^\\circ', '45'],
  ['(3, \\pi/2)', '(\\pi/2, 3)'],
  ['[2, 5)', '(2, 5)'],
  ['[2, 5)', '[2, 5]'],
  ['(1, 2)', '(1, 2, 3)'],
  ['2, -3', '2, 3'],
  ['\\text{Evelyn}', 'Emily'],
  ['Evelyn', 'nylevE'],
  ['2x+1', '2x-1'],
  ['x^2', '2x'],
  ['5x', '5'],
  ['\\pi', '3.14'],
  ['x = 5', '6'],
  ['\\$18', '19'],
  ['1,000', '100'],
  ['', '5'],
  ['5', ''],
  ['\\infty', '-\\infty'],
  ['yes', 'no'],
  ['\\frac{2}{3}', '\\frac{3}{2}'],
  ['0', '-0.0001'],
  ['1'.repeat(1500), '1'.repeat(1499)],
];

test(`mathEquivalent: ${EQUAL.length} equal and ${UNEQUAL.length} unequal pairs`, () => {
  assert.ok(EQUAL.length + UNEQUAL.length >= 60);
  const wrong: string[] = [];
  for (const [a, g] of EQUAL) {
    if (!mathEquivalent(a, g)) wrong.push(`expected equal: ${a} vs ${g}`);
    if (!mathEquivalent(g, a)) wrong.push(`expected equal (swapped): ${g} vs ${a}`);
  }
  for (const [a, g] of UNEQUAL) {
    if (mathEquivalent(a, g)) wrong.push(`expected different: ${a} vs ${g}`);
    if (mathEquivalent(g, a)) wrong.push(`expected different (swapped): ${g} vs ${a}`);
  }
  assert.deepEqual(wrong, []);
});

test('gold normalisation and answer extraction', () => {
  assert.equal(normalizeGold('She has 2 + 3 = 5.\n#### 1,250'), '1250');
  assert.equal(normalizeGold('#### $18'), '18');
  assert.equal(normalizeGold('\\left( 3, \\frac{\\pi}{2} \\right)'), '\\left( 3, \\frac{\\pi}{2} \\right)');
  assert.equal(normalizeGold(' 12.8 '), '12.8');
  assert.equal(extractAnswer('so \\boxed{\\frac{1}{2}} and then \\boxed{\\frac{3}{4}}'), '\\frac{3}{4}');
  assert.equal(extractAnswer('work\n#### 42\n'), '42');
  assert.equal(extractAnswer('<think>\\boxed{3}</think><answer>5</answer>'), '5');
  assert.equal(extractAnswer('<answer>so \\boxed{6}</answer>'), '6');
  assert.equal(extractAnswer('<answer>1</answer> <answer> 2 </answer>'), '2');
  assert.equal(extractAnswer('<answer>unclosed'), null);
  assert.equal(extractAnswer('the answer is 5'), '5'); // an "answer is" anchor counts, as in Math-Verify
});

test('mathAccuracyReward grades the final answer against the gold string as given', () => {
  assert.equal(mathAccuracyReward('... so the answer is \\boxed{12.8}', '12.8'), 1);
  assert.equal(mathAccuracyReward('... ∛2048 ≈ \\boxed{12.70}', '12.8'), 0); // One-shot RLVR π₁
  assert.equal(mathAccuracyReward('<think>14/3</think><answer>4\\frac{2}{3}</answer>', '\\frac{14}{3}'), 1);
  assert.equal(mathAccuracyReward('Total: 2,125 apples.\n#### 2,125', 'x\n#### 2,125'), 1);
  // Math-Verify falls back to the last number of the text (also after an unclosed \boxed{)
  assert.equal(mathAccuracyReward('no final answer, 85', '85'), 1);
  assert.equal(mathAccuracyReward('no final answer, 84', '85'), 0);
  assert.equal(mathAccuracyReward('\\boxed{85', '85'), 1);
  // a runaway answer is graded quickly
  const t0 = performance.now();
  assert.equal(mathAccuracyReward(`\\boxed{${'ab'.repeat(50_000)}!}`, '85'), 0);
  assert.equal(mathAccuracyReward(`\\boxed{${'a'.repeat(900)}!}`, '85'), 0);
  assert.ok(performance.now() - t0 < 1000);
});

test('formatReward: <think> then <answer>', () => {
  assert.equal(formatReward('<think>\nadd them\n</think>\n<answer>\n5\n</answer>'), 1);
  assert.equal(formatReward('<think>a</think><answer>5</answer>'), 1);
  assert.equal(formatReward('  <think>a</think>\n\n<answer>5</answer>\n'), 1);
  assert.equal(formatReward('<answer>5</answer>'), 0);
  assert.equal(formatReward('<think>a</think>'), 0);
  assert.equal(formatReward('<answer>5</answer><think>a</think>'), 0);
  assert.equal(formatReward('prefix <think>a</think><answer>5</answer>'), 0);
  assert.equal(formatReward('<think>a</think><answer>5</answer> trailing'), 0);
  assert.equal(formatReward('<think>a</think><answer>5</answer><answer>6</answer>'), 0);
  assert.equal(formatReward('<think>a<think>b</think><answer>5</answer>'), 0);
});

test('countdown: TinyZero scoring and a parser that never evals', () => {
  const nums = [44, 19, 35];
  const target = 98;
  const r = (s: string) => countdownReward(s, nums, target);
  assert.equal(r('<think>..</think><answer>44 + 19 + 35</answer>'), 1);
  assert.equal(r('<answer>(44 + 19) + 35</answer>'), 1);
  assert.equal(r('<answer>35 + 44 + 19</answer>'), 1);
  assert.equal(r('<answer>44 + 19 - 35</answer>'), 0.1); // wrong value
  assert.equal(r('<answer>44 + 19</answer>'), 0.1); // a number unused
  assert.equal(r('<answer>44 + 44 + 10</answer>'), 0.1); // wrong numbers
  assert.equal(r('<answer>44 + 19 + 35 = 98</answer>'), 0.1); // "=" is not allowed
  assert.equal(r('<answer>Math.max(44,19,35)</answer>'), 0.1); // not arithmetic
  assert.equal(r('<answer>44 + 19 +</answer>'), 0.1); // malformed
  assert.equal(r('<answer>1 + 2</answer> then <answer>44+19+35</answer>'), 1); // last answer counts
  assert.equal(r('44 + 19 + 35'), 0); // no answer
  assert.equal(r('<answer>44 + 19 + 35'), 0); // unclosed
  assert.equal(countdownReward('<answer>(6 - 2) * 3 / 4</answer>', [2, 3, 4, 6], 3), 1);
  assert.equal(countdownReward('<answer>10 / (5 - 5) + 1</answer>', [10, 5, 5, 1], 3), 0.1); // division by zero
  assert.equal(countdownReward('<answer>1 / 3 * 3</answer>', [1, 3, 3], 1), 1); // |Δ| < 1e-5
  assert.equal(evaluateArithmetic('2 * (3 + 4) - -1'), 15);
  assert.equal(evaluateArithmetic('7 / 2'), 3.5);
  assert.equal(evaluateArithmetic('2 ** 3'), null);
  assert.equal(evaluateArithmetic('8 // 3'), null);
  assert.equal(evaluateArithmetic('(1 + 2'), null);
  assert.equal(evaluateArithmetic('1 + 2)'), null);
  assert.equal(evaluateArithmetic(''), null);
});

test('cosine length reward: the formula and its end points', () => {
  const L = 1000;
  // correct: 2 at length 0, 1 at L (paper); wrong: −10 at 0, 0 just below L; −10 at/after L
  assert.equal(cosineLengthReward(true, 0, L), 2);
  assert.ok(Math.abs(cosineLengthReward(true, 500, L) - 1.5) < 1e-12);
  assert.ok(Math.abs(cosineLengthReward(true, 999.999, L) - 1) < 1e-9);
  assert.equal(cosineLengthReward(true, L, L), -10);
  assert.equal(cosineLengthReward(false, 0, L), -10);
  assert.ok(Math.abs(cosineLengthReward(false, 500, L) + 5) < 1e-12);
  assert.equal(cosineLengthReward(false, 2000, L), -10);
  for (const len of [0, 100, 250, 600, 900]) {
    const want = (vMin: number, vMax: number) => vMin + 0.5 * (vMax - vMin) * (1 + Math.cos((Math.PI * len) / L));
    assert.ok(Math.abs(cosineLengthReward(true, len, L, COSINE_OPEN_R1) - want(0.5, 1)) < 1e-12);
    assert.ok(Math.abs(cosineLengthReward(false, len, L, COSINE_OPEN_R1) - want(-0.5, -1)) < 1e-12);
    assert.ok(Math.abs(cosineLengthReward(true, len, L, COSINE_PAPER) - want(1, 2)) < 1e-12);
  }
  // open-r1 values: no exceed case, the length clamps to L
  assert.equal(cosineLengthReward(true, 5000, L, COSINE_OPEN_R1), 0.5);
  assert.equal(cosineLengthReward(false, 5000, L, COSINE_OPEN_R1), -0.5);
  // shorter is better when correct, longer is better when wrong
  assert.ok(cosineLengthReward(true, 100, L) > cosineLengthReward(true, 800, L));
  assert.ok(cosineLengthReward(false, 100, L) < cosineLengthReward(false, 800, L));
});

test('DAPO soft overlong penalty', () => {
  const Lmax = 20480,
    Lcache = 4096;
  assert.equal(overlongPenalty(0, Lmax, Lcache), 0);
  assert.equal(overlongPenalty(16384, Lmax, Lcache), 0);
  assert.equal(overlongPenalty(16384 + 1024, Lmax, Lcache), -0.25);
  assert.equal(overlongPenalty(16384 + 2048, Lmax, Lcache), -0.5);
  assert.equal(overlongPenalty(Lmax, Lmax, Lcache), -1);
  assert.equal(overlongPenalty(Lmax + 1, Lmax, Lcache), -1);
  assert.throws(() => overlongPenalty(1, 10, 0));
});

test('BUILTIN_REWARDS read their inputs from the row', async () => {
  const { math, format, countdown, cosine, overlong } = BUILTIN_REWARDS;
  assert.deepEqual(Object.keys(BUILTIN_REWARDS).sort(), [
    'boxed_math',
    'cosine',
    'countdown',
    'format',
    'happy_ending',
    'math',
    'mention_word',
    'no_repeat',
    'overlong',
    'target_length',
  ]);
  assert.equal(await math!('\\boxed{18}', { answer: 'Janet ... \n#### 18' }), 1);
  assert.equal(await math!('\\boxed{17}', { answer: '#### 18' }), 0);
  assert.equal(await math!('\\boxed{18}', {}), null);
  assert.equal(await format!('<think>x</think><answer>1</answer>', {}), 1);
  assert.equal(await countdown!('<answer>3 * 4</answer>', { nums: [3, 4], target: 12 }), 1);
  assert.equal(await countdown!('<answer>3 * 4</answer>', { numbers: [3, 4], target: 13 }), 0.1);
  assert.equal(await countdown!('<answer>3 * 4</answer>', { answer: '12' }), null);
  // cosine: correctness from row.correct, else graded against row.answer; null without lengths
  assert.equal(await cosine!('x', { correct: true, completion_length: 0, max_completion_length: 100 }), 2);
  assert.equal(await cosine!('\\boxed{5}', { answer: '5', completion_length: 0, max_completion_length: 100 }), 2);
  assert.equal(await cosine!('\\boxed{6}', { answer: '5', completion_length: 0, max_completion_length: 100 }), -10);
  assert.equal(await cosine!('\\boxed{6}', { answer: '5', completion_length: 50, cosine_max_len: 100, max_completion_length: 1000 }), -5);
  assert.equal(await cosine!('\\boxed{5}', { answer: '5' }), null);
  assert.equal(await cosine!('\\boxed{5}', { completion_length: 1, max_completion_length: 100 }), null);
  // overlong: 20% buffer by default
  assert.equal(await overlong!('x', { completion_length: 80, max_completion_length: 100 }), 0);
  assert.equal(await overlong!('x', { completion_length: 90, max_completion_length: 100 }), -0.5);
  assert.equal(await overlong!('x', { completion_length: 70, max_completion_length: 100, overlong_cache_length: 40 }), -0.25);
  assert.equal(await overlong!('x', {}), null);
});

test('combineRewards: weighted sum, nulls skipped (nansum), async functions', async () => {
  const asyncHalf: RewardFn = async () => 0.5;
  const na: RewardFn = () => null;
  const nan: RewardFn = () => NaN;
  const completion = '<think>6*7</think><answer>42</answer>';
  const row = { answer: '#### 42', completion_length: 10, max_completion_length: 100 };
  const out = await combineRewards(completion, row, [
    { name: 'math', fn: BUILTIN_REWARDS.math!, weight: 1 },
    { name: 'format', fn: BUILTIN_REWARDS.format!, weight: 0.5 },
    { name: 'countdown', fn: BUILTIN_REWARDS.countdown!, weight: 3 },
    { name: 'half', fn: asyncHalf, weight: 2 },
    { name: 'na', fn: na, weight: 10 },
    { name: 'nan', fn: nan, weight: 10 },
  ]);
  assert.deepEqual(out.perFunction, { math: 1, format: 1, countdown: null, half: 0.5, na: null, nan: null });
  assert.equal(out.total, 1 + 0.5 + 2 * 0.5);
  const wrong = await combineRewards('<answer>41</answer>', row, [
    { name: 'math', fn: BUILTIN_REWARDS.math!, weight: 1 },
    { name: 'format', fn: BUILTIN_REWARDS.format!, weight: 0.5 },
    { name: 'overlong', fn: BUILTIN_REWARDS.overlong!, weight: 1 },
  ]);
  assert.deepEqual(wrong, { total: 0, perFunction: { math: 0, format: 0, overlong: 0 } });
  assert.deepEqual(await combineRewards('x', {}, [{ name: 'na', fn: na, weight: 1 }]), { total: 0, perFunction: { na: null } });
  assert.deepEqual(await combineRewards('x', {}, []), { total: 0, perFunction: {} });
});
