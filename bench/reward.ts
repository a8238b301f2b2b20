// Grading speed of the math reward: 10,000 (completion, gold) pairs of mixed kinds.

import { mathAccuracyReward } from '../src/rl/rewards/math.ts';

const GOLDS = [
  '72',
  '\\frac{14}{3}',
  '$x \\geq 5$',
  '(3, \\frac{\\pi}{2})',
  '[-2, 7]',
  '\\begin{pmatrix}1 & 2 \\\\ 3 & 4\\end{pmatrix}',
  '1 \\pm \\sqrt{19}',
  '2x^2 - 3x + 1',
  'Natalia sold 48/2 = <<48/2=24>>24 clips in May.\n#### 72',
  '28\\%',
];

const filler = (k: number) =>
  Array.from(
    { length: 3 + (k % 20) },
    (_, j) => `Step ${j + 1}: we have $a_${j} = ${j * 3 + k} + \\frac{${j + 1}}{${k + 2}}$, so the total is ${(j + 1) * 7}.`,
  ).join(' ');

const ANSWERS = [
  (k: number) => `\\boxed{${k % 2 ? 72 : 71}}`,
  (k: number) => `The final answer is $${k % 2 ? '4\\frac{2}{3}' : '\\frac{13}{3}'}$. I hope it is correct.`,
  (k: number) => `Therefore $${k % 2 ? '5 \\leq x' : 'x < 5'}$.`,
  (k: number) => `\\boxed{\\left( 3, \\frac{\\pi}{${k % 2 ? 2 : 3}} \\right)}`,
  (k: number) => `so $x \\in [-2,${k % 2 ? 7 : 8}]$`,
  (k: number) => `$\\begin{pmatrix}1 & 2 \\\\ 3 & ${k % 2 ? 4 : 5}\\end{pmatrix}$`,
  (k: number) => `$x = \\boxed{1 \\pm \\sqrt{${k % 2 ? 19 : 17}}}$`,
  (k: number) => `\\boxed{(2x-1)(x-${k % 2 ? 1 : 2})}`,
  (k: number) => `She sold 24 + 48 = ${k % 2 ? 72 : 70} clips.\n#### ${k % 2 ? 72 : 70}`,
  (k: number) => `That is ${k % 2 ? 28 : 27} percent.`,
];

export async function benchReward(args: string[]): Promise<Record<string, number>> {
  const n = args.includes('--quick') ? 2000 : 10_000;
  const pairs = Array.from({ length: n }, (_, k) => {
    const kind = k % GOLDS.length;
    return { completion: `${filler(k)} ${ANSWERS[kind]!(Math.floor(k / GOLDS.length))}`, gold: GOLDS[kind]! };
  });
  const start = performance.now();
  let correct = 0;
  for (const { completion, gold } of pairs) correct += mathAccuracyReward(completion, gold);
  const seconds = (performance.now() - start) / 1000;
  const chars = pairs.reduce((a, p) => a + p.completion.length, 0) / n;
  console.log(
    `math reward: ${n} pairs (mean completion ${chars.toFixed(0)} chars, ${correct} graded 1) in ${seconds.toFixed(2)} s = ${(n / seconds).toFixed(0)} pairs/s`,
  );
  return { reward_pairs_per_s: n / seconds };
}
