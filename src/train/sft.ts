// Supervised fine-tuning of a LoRA adapter: mean negative log-likelihood over completion tokens.

import { DatasetError, parseJsonl } from '../io/jsonl.ts';
import { forwardBackward, type ModelGradients } from '../model/backward.ts';
import { padBatch } from '../model/batch.ts';
import type { LanguageModel } from '../model/model.ts';
import type { ChatMessage, ModelTokenizer } from '../io/tokenizer.ts';
import { AdamW, clipGradNorm, readScalar, Sgd } from './optim.ts';
import { learningRate, type SchedulerType } from './schedule.ts';

/** One training example: token ids and which of them the loss is on. */
export interface SftExample {
  ids: number[];
  /** lossMask[t] = 1 when ids[t] is a completion token the model is trained to produce. */
  lossMask: number[];
}

function isMessages(x: unknown): x is ChatMessage[] {
  return (
    Array.isArray(x) &&
    x.length > 0 &&
    x.every((m) => m && typeof m === 'object' && ['system', 'user', 'assistant'].includes(m.role) && typeof m.content === 'string')
  );
}

/**
 * Rows `{"prompt", "completion"}` (the prompt as a plain prompt, with the tokenizer's special
 * tokens (DESIGN.md §5.2), the completion without; concatenated, loss on the completion), or `{"messages": [...]}` with `chat` (rendered with the model's chat template, loss on the
 * assistant turns). Malformed rows are reported together, by line number.
 */
export function tokenizeSftRows(text: string, fileName: string, tokenizer: ModelTokenizer, chat: boolean): SftExample[] {
  const examples: SftExample[] = [];
  const problems: string[] = [];
  for (const { line, value } of parseJsonl(text, fileName)) {
    const row = value as Record<string, unknown>;
    if (chat) {
      if (!row || !isMessages(row.messages)) {
        problems.push(`line ${line}: needs "messages": a list of {role: system|user|assistant, content: string}`);
        continue;
      }
      const messages = row.messages;
      if (!messages.some((m) => m.role === 'assistant')) {
        problems.push(`line ${line}: has no assistant message to train on`);
        continue;
      }
      const ids = tokenizer.encode(tokenizer.applyChatTemplate(messages), { addSpecialTokens: false });
      const lossMask = new Array<number>(ids.length).fill(0);
      messages.forEach((m, i) => {
        if (m.role !== 'assistant') return;
        const start = tokenizer.encode(tokenizer.applyChatTemplate(messages.slice(0, i), { addGenerationPrompt: true }), { addSpecialTokens: false }).length;
        const end = tokenizer.encode(tokenizer.applyChatTemplate(messages.slice(0, i + 1)), { addSpecialTokens: false }).length;
        for (let t = start; t < Math.min(end, ids.length); t++) lossMask[t] = 1;
      });
      examples.push({ ids, lossMask });
    } else {
      if (!row || typeof row.prompt !== 'string' || typeof row.completion !== 'string') {
        problems.push(`line ${line}: needs string fields "prompt" and "completion" (or use --chat with "messages")`);
        continue;
      }
      const prompt = tokenizer.promptIds(row.prompt);
      const completion = tokenizer.encode(row.completion);
      if (completion.length === 0) {
        problems.push(`line ${line}: "completion" is empty`);
        continue;
      }
      examples.push({ ids: [...prompt, ...completion], lossMask: [...prompt.map(() => 0), ...completion.map(() => 1)] });
    }
  }
  if (problems.length > 0) {
    throw new DatasetError(`${fileName}: ${problems.length} malformed row(s):\n  ${problems.slice(0, 20).join('\n  ')}`);
  }
  if (examples.length === 0) throw new DatasetError(`${fileName}: the dataset is empty.`);
  return examples;
}

export interface SftConfig {
  optimizer: 'adamw' | 'sgd';
  learningRate: number;
  weightDecay: number;
  adamBeta1: number;
  adamBeta2: number;
  adamEpsilon: number;
  /** 0 = off. */
  maxGradNorm: number;
  lrSchedulerType: SchedulerType;
  warmupRatio: number;
  perDeviceTrainBatchSize: number;
  gradientAccumulationSteps: number;
  maxSteps: number;
  seed: number;
  gradientCheckpointing: boolean;
}

export interface SftStepMetrics {
  step: number;
  loss: number;
  grad_norm: number;
  learning_rate: number;
  num_tokens: number;
  step_time: number;
}

/** Seeded Fisher–Yates shuffles, epoch after epoch, so a run is reproducible. */
function* exampleOrder(count: number, seed: number): Generator<number> {
  let s = seed >>> 0;
  const next = () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
  for (;;) {
    const order = Array.from({ length: count }, (_, i) => i);
    for (let i = count - 1; i > 0; i--) {
      const j = Math.floor(next() * (i + 1));
      [order[i], order[j]] = [order[j], order[i]];
    }
    yield* order;
  }
}

/**
 * Train `model.adapter` (or, with `gradients`, every weight) on the examples for cfg.maxSteps
 * optimizer steps, each over batch × accumulation examples; the loss of a step is the mean NLL
 * over all its completion tokens.
 */
export async function trainSft(
  model: LanguageModel,
  examples: SftExample[],
  cfg: SftConfig,
  /** Called after every step; returning false stops training early. */
  onStep: (m: SftStepMetrics) => void | boolean | Promise<void> | Promise<boolean>,
  opts: { gradients?: ModelGradients } = {},
): Promise<void> {
  const { adapter } = model;
  const { gradients } = opts;
  if (!adapter && !gradients) throw new Error('trainSft needs a LoRA adapter on the model, or full-parameter gradients.');
  const params = gradients ? gradients.params : adapter!.params();
  const zeroGrads = () => (gradients ? gradients.zero(model.gpu) : adapter!.zeroGrads());
  const optimizer =
    cfg.optimizer === 'adamw'
      ? new AdamW(model.gpu, params, { lr: cfg.learningRate, beta1: cfg.adamBeta1, beta2: cfg.adamBeta2, eps: cfg.adamEpsilon, weightDecay: cfg.weightDecay })
      : new Sgd(model.gpu, params, { lr: cfg.learningRate, weightDecay: cfg.weightDecay });
  const order = exampleOrder(examples.length, cfg.seed);
  const grads = params.map((p) => p.grad);
  for (let step = 0; step < cfg.maxSteps; step++) {
    const start = performance.now();
    const microBatches = Array.from({ length: cfg.gradientAccumulationSteps }, () =>
      Array.from({ length: cfg.perDeviceTrainBatchSize }, () => examples[order.next().value as number]),
    );
    const totalTokens = microBatches.flat().reduce((a, ex) => a + ex.lossMask.slice(1).reduce((x, y) => x + y, 0), 0);
    if (totalTokens === 0) throw new DatasetError('A training batch has no completion tokens to learn from.');
    zeroGrads();
    let loss = 0;
    for (const [micro, batch] of microBatches.entries()) {
      const data = padBatch(batch.map((ex) => ex.ids));
      // Row b*T + t predicts token t + 1, which is trained on when it is a completion token.
      const weight = new Float32Array(data.batch * data.tokens);
      batch.forEach((ex, b) => {
        for (let t = 0; t + 1 < ex.ids.length; t++) weight[b * data.tokens + t] = ex.lossMask[t + 1];
      });
      await forwardBackward(
        model,
        data,
        (logprobs) => {
          weight.forEach((w, i) => (loss -= (w * logprobs[i]) / totalTokens));
          return { gLogprob: weight.map((w) => -w / totalTokens) };
        },
        { checkpoint: cfg.gradientCheckpointing, dropoutStep: step * cfg.gradientAccumulationSteps + micro, gradients },
      );
    }
    const { norm, clipCoef } = clipGradNorm(model.gpu, grads, cfg.maxGradNorm);
    const lr = learningRate(step, cfg.maxSteps, { lr: cfg.learningRate, scheduler: cfg.lrSchedulerType, warmupRatio: cfg.warmupRatio });
    optimizer.step({ lr, clipCoef });
    const gradNorm = await readScalar(norm);
    norm.release(), clipCoef?.release();
    const go = await onStep({
      step: step + 1,
      loss,
      grad_norm: gradNorm,
      learning_rate: lr,
      num_tokens: totalTokens,
      step_time: (performance.now() - start) / 1000,
    });
    if (go === false) break;
  }
}
