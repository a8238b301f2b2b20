// The math reward's verdicts, written from its rules (DESIGN.md §10.1): extraction targets and
// priorities, relations, several answers, matrices, number formats, intervals, rounding,
// symbolic equivalence, and bounded time on hostile inputs. [completion, gold, expected reward]
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { BUILTIN_REWARDS, boxedAnswerReward, extractAnswer, mathAccuracyReward } from '../src/rl/rewards/index.ts';

const r = String.raw;
type Case = [string, string, number];

// Extraction: targets, priorities, and the gold side.
const EXTRACTION: Case[] = [
  [r`First $x = 3$, then \boxed{7}.`, '7', 1],
  [r`\boxed{3} is wrong; the answer is \boxed{7}.`, '7', 1],
  [r`\boxed{3} is wrong; the answer is \boxed{7}.`, '3', 0],
  [r`We get $5$. The final answer is $6$. I hope it is correct.`, '6', 1],
  [r`\boxed{200} first. Final Answer: The final answer is $455$. I hope it is correct.`, '455', 1],
  [r`Final Answer: The final answer is $455$. I hope it is correct. Later: \boxed{200}`, '200', 1],
  [r`So the answer is 12. Then 5 more apples appear.`, '12', 1],
  [r`We compute 3 + 4 = 7, and then 7 * 2 = 14.`, '14', 1],
  [r`We compute 3 + 4 = 7, and then 7 * 2 = 14.`, '7', 0],
  [r`Area $= \frac{1}{2}bh$ so it is $\frac{3}{2}$.`, r`\frac{3}{2}`, 1],
  ['The number of marbles is 1,250 in total.', '1250', 1],
  ['no digits at all', '5', 0],
  ['', '5', 0],
  [r`<think>maybe \boxed{3}</think><answer>5</answer>`, '5', 1],
  [r`<answer>so \boxed{6}</answer>`, '6', 1],
  [r`Janet has 16 eggs.\n#### 18`, '18', 1],
  ['The answer: 18', 'Janet sells 16 - 3 - 4 = 9 eggs.\n#### 18', 1],
  [r`\boxed{5}`, r`The solution is $x = 5$.`, 1],
  [r`\boxed{5}`, r`Hence the value is \boxed{5}, as required.`, 1],
  [r`\boxed{5}`, r`$5$`, 1],
  [r`\boxed{5}`, r`\(5\)`, 1],
  [r`\boxed{\frac{1}{2}}`, r`\frac12`, 1],
  [r`\boxed{-2} and \boxed{1}`, '1, -2', 1],
  [r`\boxed{1}, \boxed{2}`, r`\{1, 2\}`, 1],
  [r`\boxed{1} \quad \text{and} \quad \boxed{2}`, '2, 1', 1],
  [r`\boxed{1} then much later text \boxed{2}`, '1, 2', 0],
  [r`Inline $ 9 $ works`, '9', 1],
  ['Block \\[\n9\n\\] works', '9', 1],
  [r`the price is $7.78 for the fudge`, '7.78', 1],
  [r`\boxed{\text{Evelyn}}`, 'Evelyn', 1],
  [r`\boxed{\text{Emily}}`, 'Evelyn', 0],
  [r`\boxed{\textbf{(C)}}`, r`\text{(C)}`, 1],
  [r`\boxed{C}`, r`\text{C}`, 1],
  [r`\boxed{D}`, r`\text{C}`, 0],
];

// Relations: inequalities, ≠, flipped and negated forms, chains, ≈, assignments.
const RELATIONS: Case[] = [
  [r`$x \geq 5$`, '$x >= 5$', 1],
  [r`$x \ge 5$`, r`$5 \leq x$`, 1],
  [r`$5 \le x$`, r`$x \geq 5$`, 1],
  [r`$x > 5$`, r`$x \gt 5$`, 1],
  [r`$x < 3$`, r`$x \lt 3$`, 1],
  [r`$x < 3$`, '$3 > x$', 1],
  [r`$x < 3$`, '$x > 3$', 0],
  [r`$x \leq 3$`, '$x < 3$', 0],
  [r`$-x > -1$`, '$x < 1$', 1],
  [r`$-x >= -1$`, '$x <= 1$', 1],
  [r`$-x > 1$`, '$x < 1$', 0],
  [r`$2x < 6$`, '$x < 3$', 1],
  [r`$-2x < 6$`, '$x < -3$', 0],
  [r`$x \neq 3$`, '$x != 3$', 1],
  [r`$x \ne 3$`, r`$x \neq 3$`, 1],
  [r`$x \neq 3$`, '$x = 3$', 0],
  ['$x ≥ 5$', r`$x \geq 5$`, 1],
  [r`$x = 5+5+1 = 11$`, '11', 1],
  [r`$x = 5+5+1 = 11$`, '$x = 11$', 1],
  [r`$x = 5+5+1 = 12$`, '11', 0],
  [r`$x = 1/3 \approx 0.33$`, r`\frac{1}{3}`, 1],
  [r`$x \approx 11$`, '11', 1],
  [r`$x \approx 12$`, '11', 0],
  [r`$\frac{70}{9} \approx 7.78$`, r`\frac{70}{9}`, 1],
  ['$k = 1$', '1', 1],
  ['$1$', '$k = 1$', 1],
  ['$0$', '$a + 3z = 0$', 0],
  ['$1$', '$2x + z = 1$', 0],
  ['$11a+c$', '$7 = 11a+c$', 0],
  [r`$y = -\frac{1}{2}x + \frac{3}{4}$`, '$2x + 4y - 3 = 0$', 1],
  ['$x + y = 1$', '$2x + 2y = 2$', 1],
  ['$x + y = 1$', '$x + y = 2$', 0],
  ['$y = 2x + 3$', '$y = 3 + 2x$', 1],
  ['$y = 2x + 3$', '$y = 2x - 3$', 0],
  [r`$(p,q) = (3,2)$`, '(3,2)', 1],
  [r`$(p,q) = (3,2)$`, '(2,3)', 0],
  ['$AB = 4, CD = 5$', '4, 5', 1],
  ['$AB = 4, CD = 5$', '4, 6', 0],
  [r`$-2 \le x \le 7$`, r`$-2 \leq x \leq 7$`, 1],
  [r`$7 \ge x \ge -2$`, r`$-2 \le x \le 7$`, 1],
  [r`$-2 < x \le 7$`, r`$-2 \le x \le 7$`, 0],
  [r`$f(2) < f(1) < f(4)$`, r`$f(2) < f(1) < f(4)$`, 1],
  [r`$f(1) < f(2) < f(4)$`, r`$f(2) < f(1) < f(4)$`, 0],
];

// Several answers, sets, tuples.
const SETS: Case[] = [
  [r`\boxed{1, 2}`, r`\{1, 2\}`, 1],
  [r`\boxed{2, 1}`, '1, 2', 1],
  [r`\boxed{1, 2, 3}`, '1, 2', 0],
  [r`\boxed{\{3, 2, 1\}}`, r`\{1, 2, 3\}`, 1],
  [r`\boxed{\{(1,2), (3,4)\}}`, r`\{(3,4), (1,2)\}`, 1],
  [r`\boxed{(3,4), (1,2)}`, r`\{(1,2), (3,4)\}`, 1],
  [r`\boxed{\{(2,1), (3,4)\}}`, r`\{(1,2), (3,4)\}`, 0],
  [r`\boxed{(1, 2)}`, '(1,2)', 1],
  [r`\boxed{(2, 1)}`, '(1,2)', 0],
  [r`\boxed{1, 2}`, '(1, 2)', 1],
  [r`\boxed{2, 1}`, '(1, 2)', 0],
  [r`\boxed{\left( 3, \frac{\pi}{2} \right)}`, r`(3, \pi/2)`, 1],
  [r`\boxed{(1, 4.5)}`, r`(1, \frac{9}{2})`, 1],
  [r`\boxed{1 \pm \sqrt{2}}`, r`1+\sqrt{2}, 1-\sqrt{2}`, 1],
  [r`\boxed{1 \pm \sqrt{2}}`, r`1+\sqrt{2}`, 0],
  [r`\boxed{\{1 \pm \sqrt{5}, -2\}}`, r`-2, 1+\sqrt{5}, 1-\sqrt{5}`, 1],
  [r`\boxed{\langle 1, 2 \rangle}`, '(1, 2)', 1],
  [r`\boxed{12 \text{ and } 13}`, '12, 13', 1],
  [r`\boxed{-2 \text{ or } 1}`, '1, -2', 1],
  [r`\boxed{1, 2, 3, \ldots}`, '1, 2, 3', 0],
];

// Matrices, entry-wise.
const MATRICES: Case[] = [
  [r`$\begin{pmatrix}1 & 2 \\ 3 & 4\end{pmatrix}$`, r`\begin{bmatrix}1 & 2 \\ 3 & 4\end{bmatrix}`, 1],
  [r`$\left[\begin{array}{cc}1 & 2 \\ 3 & 4\end{array}\right]$`, r`\begin{pmatrix}1 & 2 \\ 3 & 4\end{pmatrix}`, 1],
  [r`$\begin{pmatrix}1 & 2 \\ 3 & 5\end{pmatrix}$`, r`\begin{pmatrix}1 & 2 \\ 3 & 4\end{pmatrix}`, 0],
  [r`$\begin{pmatrix}1 & 3 \\ 2 & 4\end{pmatrix}$`, r`\begin{pmatrix}1 & 2 \\ 3 & 4\end{pmatrix}`, 0],
  [r`$\begin{pmatrix}0.5 & 0.75\end{pmatrix}$`, r`\begin{pmatrix}\frac12 & \frac34\end{pmatrix}`, 1],
  [r`$\begin{pmatrix}3 \\ 2 \\ -6\end{pmatrix}$`, r`\begin{pmatrix}3 \\ 2 \\ -6\end{pmatrix}`, 1],
  [r`$\begin{pmatrix}3 \\ 2\end{pmatrix}$`, r`\begin{pmatrix}3 \\ 2 \\ -6\end{pmatrix}`, 0],
  [r`$\begin{pmatrix}1 & 2 \\ 3 & 4\end{pmatrix} + \begin{pmatrix}5 & 6 \\ 7 & 8\end{pmatrix}$`, r`\begin{pmatrix}6 & 8 \\ 10 & 12\end{pmatrix}`, 1],
  [r`$2\begin{pmatrix}1 & 2\end{pmatrix}$`, r`\begin{pmatrix}2 & 4\end{pmatrix}`, 1],
  [r`$\begin{pmatrix}x & 0 \\ 0 & x^2\end{pmatrix}$`, r`\begin{pmatrix}x & 0 \\ 0 & x \cdot x\end{pmatrix}`, 1],
];

// Number formats: separators, decimal comma, percent, currency, units, ratios.
const NUMBERS: Case[] = [
  ['7,425,000', '7425000', 1],
  ['1 000', '1000', 1],
  [r`\boxed{14{,}916}`, '14916', 1],
  [r`\boxed{14 {, }916}`, '14916', 1],
  [r`\boxed{11,\! 111}`, '11111', 1],
  [r`\boxed{1\,000}`, '1000', 1],
  [r`\boxed{32, 349}`, '32349', 0],
  ['1000,99', '1000.99', 1],
  ['It costs 2,74 euros', '2.74', 1],
  ['0,111', '0.111', 1],
  ['.4', '0.4', 1],
  [r`\boxed{.4}`, '0.4', 1],
  ['1,000.99', '1000.99', 1],
  [r`\boxed{28\%}`, '28', 1],
  ['28%', '28', 1],
  ['That is 28 percent.', '28', 1],
  ['28 pct', r`28\%`, 1],
  [r`\boxed{28 percent}`, r`28\%`, 1],
  [r`\boxed{28}`, '0.28', 0],
  [r`\boxed{\frac{28}{100}}`, '28', 0],
  [r`\boxed{\$18}`, '18', 1],
  [r`\boxed{18 \text{ dollars}}`, '18', 1],
  ['It costs 1,000.99€ in all', '1000.99', 1],
  ['an area of 1,000.99m² in all', '1000.99', 1],
  [r`\boxed{5 \text{ cm}}`, '5', 1],
  [r`\boxed{15\mbox{ cm}^2}`, '15', 1],
  [r`\boxed{\frac{1}{3} \text{meters}}`, r`\frac13`, 1],
  [r`\boxed{125\textnormal{ miles}}`, '125', 1],
  [r`\boxed{90^\circ}`, '90', 1],
  [r`\boxed{7:32}`, '7:32', 1],
  [r`\boxed{7:32}`, '7:33', 0],
  ['AZYUK2A', '2', 0],
  [r`\boxed{204_5}`, '204_5', 1],
  [r`\boxed{1112122_3}`, '1112112_3', 0],
  [r`\boxed{-7}`, '-7', 1],
  [r`\boxed{7}`, '-7', 0],
  [r`\boxed{007}`, '7', 1],
];

// Intervals and unions.
const INTERVALS: Case[] = [
  [r`\boxed{[-2, 7]}`, '[-2,7]', 1],
  [r`$x \in [-2,7]$`, '[-2,7]', 1],
  [r`$x \in [-2,7]$`, r`$-2 \le x \le 7$`, 1],
  [r`$-2 \le x \le 7$`, '[-2,7]', 0],
  [r`\boxed{(0, 1)}`, '$0 < f(x) < 1$', 1],
  [r`\boxed{[0, 1)}`, '$0 < f(x) < 1$', 0],
  [r`\boxed{(-\infty, 5)}`, '$x < 5$', 1],
  [r`\boxed{[5, \infty)}`, r`$x \geq 5$`, 1],
  [r`\boxed{(5, \infty)}`, r`$x \geq 5$`, 0],
  [r`\boxed{[0, 1)}`, '[0,1)', 1],
  [r`\boxed{(0, 1)}`, '[0,1)', 0],
  [r`\boxed{[0, 1]}`, '[0,1)', 0],
  [r`\boxed{(-\infty, 0) \cup (1, \infty)}`, r`(-\infty,0)\cup(1,\infty)`, 1],
  [r`\boxed{(1, \infty) \cup (-\infty, 0)}`, r`(-\infty,0)\cup(1,\infty)`, 1],
  [r`\boxed{(-\infty, 0] \cup (1, \infty)}`, r`(-\infty,0)\cup(1,\infty)`, 0],
  [r`\boxed{\{-1\} \cup [0,7)}`, r`\{-1\} \cup [0,7)`, 1],
  [r`\boxed{(0.6, 2.666667]}`, r`(\frac{3}{5}, \frac{8}{3}]`, 1],
  [r`\boxed{(0.6, 2.67]}`, r`(\frac{3}{5}, \frac{8}{3}]`, 0],
];

// Rounding: decimals match after rounding to 6 decimals; exact values match exactly.
const ROUNDING: Case[] = [
  [r`\boxed{0.333333}`, r`\frac{1}{3}`, 1],
  [r`\boxed{0.3333}`, r`\frac{1}{3}`, 0],
  [r`\boxed{0.333}`, r`\frac{1}{3}`, 0],
  [r`\boxed{0.666667}`, r`\frac{2}{3}`, 1],
  [r`\boxed{0.0833333333333333}`, r`\frac{1}{12}`, 1],
  [r`\boxed{1.414214}`, r`\sqrt{2}`, 1],
  [r`\boxed{1.41421}`, r`\sqrt{2}`, 0],
  [r`\boxed{4.123106}`, r`\sqrt{17}`, 1],
  [r`\boxed{12.70}`, '12.8', 0],
  [r`\boxed{12.80}`, '12.8', 1],
  [r`\boxed{3.14}`, r`\pi`, 0],
  [r`\boxed{3.141593}`, r`\pi`, 1],
  [r`\boxed{109200001}`, '109200000', 0],
  [r`\boxed{1000.0}`, '1000', 1],
  [r`\boxed{0}`, '-0.0001', 0],
  [r`\boxed{16386.17}`, '16386.17', 1],
];

// Symbolic expressions: equal by simplifying the difference, else at sample points.
const SYMBOLIC: Case[] = [
  [r`\boxed{x^2-1}`, '(x-1)(x+1)', 1],
  [r`\boxed{(x+1)^2}`, 'x^2+2x+1', 1],
  [r`\boxed{(x+1)^2}`, 'x^2+x+1', 0],
  [r`\boxed{\frac{x}{7}+\frac{2}{7}}`, r`\frac{x+2}{7}`, 1],
  [r`\boxed{\frac{1}{x} + \frac{1}{y}}`, r`\frac{x+y}{xy}`, 1],
  [r`\boxed{\frac{x^2-1}{x-1}}`, 'x+1', 1],
  [r`\boxed{2 \sin b \cos a}`, r`2\cos a \sin b`, 1],
  [r`\boxed{\sec^2 y}`, r`\tan^2 y + 1`, 1],
  [r`\boxed{\sin^2 x + \cos^2 x}`, '1', 1],
  [r`\boxed{\frac{\pi r}{h+r}}`, r`\frac{\pi r}{r+h}`, 1],
  [r`\boxed{\frac{\pi r}{h+r}}`, r`\frac{\pi h}{h+r}`, 0],
  [r`\boxed{2-2p}`, '-2p+2', 1],
  [r`\boxed{x+1}`, 'x+2n+1', 0],
  [r`\boxed{(+5)(b+2)}`, '(a+5)(b+2)', 0],
  [r`\boxed{\sqrt{8}}`, r`2\sqrt{2}`, 1],
  [r`\boxed{3\sqrt{13}}`, r`\sqrt{117}`, 1],
  [r`\boxed{\frac{\sqrt{\sqrt{11}+\sqrt{194}}}{2\sqrt{33}+15}}`, r`\frac{\sqrt{\sqrt{11}+\sqrt{194}}}{15+2\sqrt{33}}`, 1],
  [r`\boxed{\frac{1+\sqrt{5}}{2}}`, '2', 0],
  [r`\boxed{4\sqrt{2}}`, '4', 0],
  [r`\boxed{\frac94\pi}`, r`\frac{9}{4}\pi`, 1],
  [r`\boxed{\sqrt 2+\sqrt 5}`, r`\sqrt{2}+\sqrt{5}`, 1],
  [r`\boxed{x^{2/3}}`, r`\sqrt[3]{x}^2`, 1],
  [r`\boxed{e^{2x}}`, r`(e^x)^2`, 1],
  [r`\boxed{2^{10}}`, '1024', 1],
  [r`\boxed{2^{10}}`, '2', 0],
  [r`\boxed{\binom{5}{2}}`, '10', 1],
  [r`\boxed{5!}`, '120', 1],
  [r`\boxed{a^2 b}`, 'b a^2', 1],
  [r`\boxed{a^2 b}`, 'a b^2', 0],
];

// Generated: every integer form against its own value (1) and a neighbour (0).
const GENERATED: Case[] = [];
for (const n of [0, 3, 7, 12, 42, 85, 100, 250, 999, 1001, 2125, 18000, -4, -15, 1234567]) {
  const t = n.toLocaleString('en-US');
  const forms = [
    `\\boxed{${n}}`,
    `The final answer is $${n}$. I hope it is correct.`,
    `So the answer is ${t}.`,
    `work\n#### ${t}`,
    `<answer>${t}</answer>`,
    `Thus $x = ${n}$.`,
  ];
  for (const f of forms) {
    GENERATED.push([f, String(n), 1]);
    GENERATED.push([f, String(n + 1), 0]);
  }
}

const TABLE: [string, Case[]][] = [
  ['extraction', EXTRACTION],
  ['relations', RELATIONS],
  ['sets', SETS],
  ['matrices', MATRICES],
  ['numbers', NUMBERS],
  ['intervals', INTERVALS],
  ['rounding', ROUNDING],
  ['symbolic', SYMBOLIC],
  ['generated', GENERATED],
];

test('the math reward follows its rules on every kind of answer', () => {
  const total = TABLE.reduce((a, [, c]) => a + c.length, 0);
  assert.ok(total >= 300, `${total} cases`);
  const wrong: string[] = [];
  for (const [kind, cases] of TABLE)
    for (const [completion, gold, want] of cases) {
      const got = mathAccuracyReward(completion, gold);
      if (got !== want) wrong.push(`${kind}: ${JSON.stringify(completion.slice(-70))} vs gold ${JSON.stringify(gold)}: want ${want}, got ${got}`);
    }
  console.log(`${total} cases, ${wrong.length} wrong`);
  assert.deepEqual(wrong, []);
});

test('boxed_math counts only the last \\boxed{}; an unparseable gold is not applicable', async () => {
  const boxed = BUILTIN_REWARDS.boxed_math!;
  assert.equal(await boxed(r`so \boxed{3}, no: \boxed{4}`, { answer: '4' }), 1);
  assert.equal(await boxed(r`so \boxed{4}, no: \boxed{3}`, { answer: '4' }), 0);
  assert.equal(await boxed('The final answer is $4$. I hope it is correct.', { answer: '4' }), 0);
  assert.equal(await boxed(r`\boxed{x \geq 5}`, { answer: r`$5 \le x$` }), 1);
  assert.equal(boxedAnswerReward(r`\boxed{\begin{pmatrix}1 & 2\end{pmatrix}}`, r`\begin{bmatrix}1 & 2\end{bmatrix}`), 1);
  const warn = console.warn;
  const warnings: string[] = [];
  console.warn = (m: string) => warnings.push(m);
  try {
    assert.equal(await boxed(r`\boxed{4}`, { answer: 'see the figure above', id: 'row-17' }), null);
    assert.equal(await boxed(r`\boxed{5}`, { answer: 'see the figure above', id: 'row-17' }), null);
    assert.equal(await BUILTIN_REWARDS.math!(r`\boxed{4}`, { answer: 'see the figure above' }), null);
  } finally {
    console.warn = warn;
  }
  assert.equal(warnings.length, 1);
  assert.match(warnings[0]!, /see the figure above.*row-17/);
});

test('every input is graded in bounded time', () => {
  const nest = (d: number) => `${'{'.repeat(d)}1${'}'.repeat(d)}`;
  const hostile = [
    `\\boxed{${nest(5000)}}`,
    `\\boxed{${'('.repeat(3000)}1${')'.repeat(3000)}}`,
    `\\boxed{${'\\frac{1}{'.repeat(400)}2${'}'.repeat(400)}}`,
    '\\boxed{10^{10^{10}}}',
    '\\boxed{10^{10^{10^{10}}}} - \\boxed{9^{9^{9}}}',
    `\\boxed{(${Array.from({ length: 30 }, (_, k) => `x_${k}+1`).join(')(')})}`,
    `\\boxed{(x+y+z+w+1)^{12}}`,
    `${'So 1, 2 and 3. '.repeat(70_000)}`, // ≈ 1 MB of prose with numbers
    `${'$x$ '.repeat(250_000)}`, // 1 MB of math environments
    `\\boxed{${'{'.repeat(1000)}`,
    `}}}}\\boxed{1}}}}{{{{ \\boxed{`,
    `$$${'\\left('.repeat(2000)}`,
    `\\boxed{${'1+'.repeat(400)}1}`,
    `\\boxed{${'x'.repeat(900)}}`,
    `${'\\boxed{1}'.repeat(20_000)}`,
    '1'.repeat(1_000_000),
    `${'1 '.repeat(300_000)}`,
    `${'$'.repeat(100_000)}1`,
    `final answer is ${'answer is '.repeat(50_000)}`,
    `\\boxed{1}${' '.repeat(100_000)}x\\boxed{2}`,
    `\\boxed{1 \\pm 2 \\pm 3 \\pm 4 \\pm 5 \\pm 6 \\pm 7 \\pm 8 \\pm 9 \\pm 10 \\pm 11 \\pm 12}`,
  ];
  const golds = ['1', '(x+y+z+w+1)^{12}', r`\{1, 2\}`, '$x \\geq 5$'];
  let slowest = 0;
  for (const c of hostile)
    for (const g of [...golds, c.slice(0, 5000)]) {
      const t0 = performance.now();
      const v = mathAccuracyReward(c, g);
      const dt = performance.now() - t0;
      slowest = Math.max(slowest, dt);
      assert.ok(v === 0 || v === 1);
      assert.ok(dt < 250, `${dt.toFixed(0)} ms on ${JSON.stringify(c.slice(0, 40))} vs ${JSON.stringify(g.slice(0, 40))}`);
    }
  console.log(`slowest hostile grading: ${slowest.toFixed(1)} ms`);
  assert.equal(extractAnswer(`\\boxed{${'{'.repeat(1000)}`), null);
});

test('10,000 (completion, gold) pairs grade in well under 10 s', () => {
  const cases = TABLE.flatMap(([, c]) => c);
  const t0 = performance.now();
  for (let k = 0; k < 10_000; k++) {
    const [completion, gold] = cases[k % cases.length]!;
    mathAccuracyReward(`Step ${k}: we add ${k} and ${k + 1}. ${completion}`, gold);
  }
  const seconds = (performance.now() - t0) / 1000;
  console.log(`10,000 pairs in ${seconds.toFixed(2)} s`);
  assert.ok(seconds < 10);
});
