// pass@k evaluation: n sampled completions per problem, graded by a reward, unbiased estimator.

import type { LanguageModel } from '../model/model.ts';
import { generate } from '../model/generate.ts';
import type { ChatMessage, ModelTokenizer } from '../io/tokenizer.ts';
import { curveCrossing, passAtK, passAtKCurve, SOLVED_BY, solvedBy, type SolvedBy } from './passk.ts';

export interface EvalProblem {
  question: string;
  answer: string;
}

export interface EvalOptions<P extends EvalProblem = EvalProblem> {
  samples: number;
  ks: number[];
  temperature: number;
  maxNewTokens: number;
  seed: number;
  /** grade(completion text, problem) → 1 for correct. */
  grade: (completion: string, problem: P) => number | Promise<number>;
  /** Problems generated together (each with `samples` sequences). */
  problemsPerBatch?: number;
  promptFormat?: PromptFormat;
  /** After each batch: sequences sampled so far, of how many. */
  onProgress?: (done: number, total: number) => void;
  /** Checked before each batch; true ends the evaluation with an EvaluationCancelled error. */
  isCancelled?: () => boolean;
}

/** One sampled completion and its grade. */
interface GradedSample {
  text: string;
  grade: number;
}

export interface EvalResult {
  /** k → mean unbiased pass@k over the problems. */
  passAtK: Record<number, number>;
  /** Correct samples per problem. */
  correct: number[];
  /** Each problem's samples, in sampling order. */
  graded: GradedSample[][];
}

export class EvaluationCancelled extends Error {
  constructor() {
    super('The evaluation was cancelled.');
    this.name = 'EvaluationCancelled';
  }
}

/** How a question becomes a prompt: the model's chat template (optionally with a system turn), or plain text. */
export interface PromptFormat {
  systemPrompt?: string;
  /** Use the question text as it is, without the chat template. */
  plain?: boolean;
}

/** The prompt ids of a question (ModelTokenizer.promptIds): by default the model's chat template (user turn + generation prompt); plain text gets the tokenizer's special tokens. */
export function chatPromptIds(tokenizer: ModelTokenizer, question: string, format: PromptFormat = {}): number[] {
  if (format.plain) return tokenizer.promptIds(format.systemPrompt ? `${format.systemPrompt}\n${question}` : question);
  const messages: ChatMessage[] = format.systemPrompt ? [{ role: 'system', content: format.systemPrompt }] : [];
  messages.push({ role: 'user', content: question });
  return tokenizer.promptIds(messages);
}

export async function evaluatePassAtK<P extends EvalProblem>(
  model: LanguageModel,
  tokenizer: ModelTokenizer,
  problems: readonly P[],
  opts: EvalOptions<P>,
): Promise<EvalResult> {
  const perBatch = opts.problemsPerBatch ?? 16;
  const eosTokenIds = [...new Set([...model.config.eosTokenIds, ...tokenizer.eosTokenIds])];
  const correct: number[] = [];
  const graded: GradedSample[][] = [];
  for (let start = 0; start < problems.length; start += perBatch) {
    if (opts.isCancelled?.()) throw new EvaluationCancelled();
    const chunk = problems.slice(start, start + perBatch);
    const completions = await generate(
      model,
      chunk.map((p) => chatPromptIds(tokenizer, p.question, opts.promptFormat)),
      {
        maxNewTokens: opts.maxNewTokens,
        temperature: opts.temperature,
        seed: opts.seed + start,
        n: opts.samples,
        eosTokenIds,
        validVocab: Math.min(model.config.vocabSize, tokenizer.vocabSize),
      },
    );
    for (const [i, p] of chunk.entries()) {
      const texts = completions.slice(i * opts.samples, (i + 1) * opts.samples).map((c) => tokenizer.decode(c.ids, { skipSpecialTokens: true }));
      const grades = await Promise.all(texts.map((t) => opts.grade(t, p)));
      correct.push(grades.filter((g) => g === 1).length);
      graded.push(texts.map((text, j) => ({ text, grade: grades[j] })));
    }
    opts.onProgress?.((start + chunk.length) * opts.samples, problems.length * opts.samples);
  }
  const result: Record<number, number> = {};
  for (const k of opts.ks) result[k] = correct.reduce((a, c) => a + passAtK(opts.samples, c, k), 0) / Math.max(1, correct.length);
  return { passAtK: result, correct, graded };
}

/** A problem of a base-vs-adapter comparison: its correct counts out of n, category and samples. */
interface ComparedProblem {
  question: string;
  answer: string;
  base: number;
  adapter: number;
  solvedBy: SolvedBy;
  samples: { base: GradedSample[]; adapter: GradedSample[] };
}

/** The pass@k explorer's result (DESIGN.md §9.3): the same for `webgrpo eval --compare-base` and the page. */
export interface PassAtKComparison {
  /** n, samples per problem and model. */
  samples: number;
  seed: number;
  problems: ComparedProblem[];
  /** Mean pass@k for k = 1..n (entry k − 1). */
  curves: { base: number[]; adapter: number[] };
  sizes: Record<SolvedBy, number>;
  crossing: ReturnType<typeof curveCrossing>;
}

/** Sequences sampled together in a comparison: problems per batch = max(1, ⌊this / n⌋), fixed so the CLI and the page draw the same samples. */
const COMPARE_BATCH_SEQUENCES = 64;

/**
 * pass@k of the base model (adapter off) and of the model's adapter on the same problems, samples
 * and seed; restores the adapter. Progress counts both models' sequences.
 */
export async function comparePassAtK<P extends EvalProblem>(
  model: LanguageModel,
  tokenizer: ModelTokenizer,
  problems: readonly P[],
  opts: Omit<EvalOptions<P>, 'ks' | 'problemsPerBatch'>,
): Promise<PassAtKComparison> {
  const adapter = model.adapter;
  if (!adapter) throw new Error('comparePassAtK needs a model with an adapter to compare with its base.');
  const total = 2 * problems.length * opts.samples;
  const run = async (offset: number) =>
    evaluatePassAtK(model, tokenizer, problems, {
      ...opts,
      ks: [1],
      problemsPerBatch: Math.max(1, Math.floor(COMPARE_BATCH_SEQUENCES / opts.samples)),
      onProgress: (done) => opts.onProgress?.(offset + done, total),
    });
  let base: EvalResult;
  let tuned: EvalResult;
  try {
    model.adapter = null;
    base = await run(0);
    model.adapter = adapter;
    tuned = await run(total / 2);
  } finally {
    model.adapter = adapter;
  }
  const compared = problems.map((p, i) => ({
    question: p.question,
    answer: p.answer,
    base: base.correct[i],
    adapter: tuned.correct[i],
    solvedBy: solvedBy(base.correct[i], tuned.correct[i]),
    samples: { base: base.graded[i], adapter: tuned.graded[i] },
  }));
  const curves = { base: passAtKCurve(opts.samples, base.correct), adapter: passAtKCurve(opts.samples, tuned.correct) };
  const sizes = Object.fromEntries(SOLVED_BY.map((c) => [c, compared.filter((p) => p.solvedBy === c).length])) as Record<SolvedBy, number>;
  return { samples: opts.samples, seed: opts.seed, problems: compared, curves, sizes, crossing: curveCrossing(curves.base, curves.adapter) };
}
