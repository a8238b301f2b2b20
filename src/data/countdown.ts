// TinyZero-style Countdown problems (DESIGN.md §11): 3 or 4 numbers in 1..99 and a target in 1..100
// that some equation using each number exactly once with + - * / reaches. The target is made by
// combining the numbers at random, so every problem is solvable (the row keeps one solution).

export interface CountdownProblem {
  /** The numbers to use, each exactly once (TinyZero's column name). */
  nums: number[];
  target: number;
  /** One equation over `nums` that equals `target`. */
  solution: string;
  /** TinyZero's prompt text. */
  question: string;
}

/** TinyZero's instruction for a Countdown problem (answer in `<answer>` tags). */
function countdownQuestion(nums: readonly number[], target: number): string {
  return (
    `Using the numbers [${nums.join(', ')}], create an equation that equals ${target}. ` +
    'You can use basic arithmetic operations (+, -, *, /) and each number can only be used once. ' +
    'Show your work in <think> </think> tags. And return the final answer in <answer> </answer> tags, ' +
    'for example <answer> (1 + 2) / 3 </answer>.'
  );
}

/**
 * One Countdown problem drawn with `random`. `count` numbers (3 or 4; default: either, equally
 * likely). Intermediate values stay positive integers, so the solution needs no fractions.
 */
export function countdownProblem(random: () => number, count?: 3 | 4, maxTarget = 100): CountdownProblem {
  const int = (lo: number, hi: number) => lo + Math.floor(random() * (hi - lo + 1));
  const n = count ?? (random() < 0.5 ? 3 : 4);
  for (let attempt = 0; ; attempt++) {
    const nums = Array.from({ length: n }, () => int(1, 99));
    // Combine two random terms until one is left.
    let terms = nums.map((v) => ({ v, e: String(v), atom: true }));
    while (terms.length > 1) {
      const i = int(0, terms.length - 1);
      let j = int(0, terms.length - 2);
      if (j >= i) j++;
      const [a, b] = terms[i].v >= terms[j].v ? [terms[i], terms[j]] : [terms[j], terms[i]];
      const ops: ('+' | '-' | '*' | '/')[] = ['+', '*'];
      if (a.v > b.v) ops.push('-');
      if (b.v > 1 && a.v % b.v === 0) ops.push('/');
      const op = ops[int(0, ops.length - 1)];
      const v = op === '+' ? a.v + b.v : op === '-' ? a.v - b.v : op === '*' ? a.v * b.v : a.v / b.v;
      const wrap = (t: { e: string; atom: boolean }) => (t.atom ? t.e : `(${t.e})`);
      terms = terms.filter((t) => t !== a && t !== b);
      terms.push({ v, e: `${wrap(a)} ${op} ${wrap(b)}`, atom: false });
    }
    const { v: target, e: solution } = terms[0];
    // Bounded retries keep generation deterministic and total; after many misses take any target.
    if ((target >= 1 && target <= maxTarget) || attempt >= 200) {
      return { nums, target, solution, question: countdownQuestion(nums, target) };
    }
  }
}
