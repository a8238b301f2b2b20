// Synthetic arithmetic problems with short worked solutions, the task of the built-in tiny model
// (public/models/tiny-arith) and a built-in RL dataset. Solutions end in \boxed{answer}.

export interface ArithmeticProblem {
  /** What the user asks, e.g. "47+38". */
  question: string;
  /** The final answer, e.g. "85". */
  answer: string;
  /** A worked solution ending in \boxed{answer}. */
  solution: string;
}

export type ArithmeticLevel = 1 | 2 | 3;

/** The level the built-in tiny model is trained on, and the quick demo's dataset. */
export const TINY_ARITH_LEVEL: ArithmeticLevel = 2;

/**
 * The tiny model's chat template: a user turn renders as "Q: …\n", the generation prompt as "A: ",
 * an assistant turn as "A: …<|im_end|>".
 */
export const TINY_ARITH_CHAT_TEMPLATE =
  '{%- for message in messages %}' +
  "{%- if message['role'] == 'user' %}{{- 'Q: ' + message['content'] + '\\n' }}" +
  "{%- elif message['role'] == 'assistant' %}{{- 'A: ' + message['content'] + '<|im_end|>' }}{%- endif %}" +
  '{%- endfor %}' +
  "{%- if add_generation_prompt %}{{- 'A: ' }}{%- endif %}";

/** Every character the problems, solutions and the tiny model's prompt format use. */
export const ARITHMETIC_ALPHABET = '0123456789+-*=,. \\boxed{}QA:\n';

/**
 * Level 1: one-digit sums. Level 2: two-digit sums, by tens then units. Level 3: two-digit
 * differences and two-digit × one-digit products, also decomposed.
 */
export function arithmeticProblem(level: ArithmeticLevel, random: () => number): ArithmeticProblem {
  const int = (lo: number, hi: number) => lo + Math.floor(random() * (hi - lo + 1));
  const boxed = (steps: string, answer: number) => ({ answer: String(answer), solution: `${steps}\\boxed{${answer}}` });
  if (level === 1) {
    const a = int(0, 9),
      b = int(0, 9);
    return { question: `${a}+${b}`, ...boxed('', a + b) };
  }
  if (level === 2 || random() < 0.4) {
    const a = int(10, 99),
      b = int(10, 99);
    const [at, au, bt, bu] = [a - (a % 10), a % 10, b - (b % 10), b % 10];
    return { question: `${a}+${b}`, ...boxed(`${at}+${bt}=${at + bt}, ${au}+${bu}=${au + bu}, ${at + bt}+${au + bu}=${a + b}. `, a + b) };
  }
  if (random() < 0.5) {
    const a = int(20, 99),
      b = int(11, a);
    const [bt, bu] = [b - (b % 10), b % 10];
    return { question: `${a}-${b}`, ...boxed(`${a}-${bt}=${a - bt}, ${a - bt}-${bu}=${a - b}. `, a - b) };
  }
  const a = int(11, 99),
    b = int(2, 9);
  const [at, au] = [a - (a % 10), a % 10];
  return { question: `${a}*${b}`, ...boxed(`${at}*${b}=${at * b}, ${au}*${b}=${au * b}, ${at * b}+${au * b}=${a * b}. `, a * b) };
}
