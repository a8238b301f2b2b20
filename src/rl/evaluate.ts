// pass@k evaluation: n sampled completions per problem, graded by a reward, unbiased estimator.

import type { LanguageModel } from '../model/model.ts';
import { generate } from '../model/generate.ts';
import type { ChatMessage, ModelTokenizer } from '../io/tokenizer.ts';
import { passAtK } from './passk.ts';

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
}

export interface EvalResult {
  /** k → mean unbiased pass@k over the problems. */
  passAtK: Record<number, number>;
  /** Correct samples per problem. */
  correct: number[];
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
  for (let start = 0; start < problems.length; start += perBatch) {
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
    }
  }
  const result: Record<number, number> = {};
  for (const k of opts.ks) result[k] = correct.reduce((a, c) => a + passAtK(opts.samples, c, k), 0) / Math.max(1, correct.length);
  return { passAtK: result, correct };
}
