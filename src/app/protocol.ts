// The typed messages between the page and the training worker. The worker owns the GPU, the model
// and the run; the page only renders what the worker reports, so training never freezes the UI.

import type { DeviceInfo } from '../gpu/device.ts';
import type { ModelTokenizer } from '../io/tokenizer.ts';
import { extractAnswer } from '../rl/rewards/math.ts';
import type { Rollout, StepMetrics } from '../rl/grpo.ts';
import type { DataSource, ModelRef, RunConfig } from '../rl/run-config.ts';
import type { PassAtK } from '../rl/session.ts';
import type { PassAtKComparison } from '../rl/evaluate.ts';

export type { DataSource, DeviceInfo, ModelRef, PassAtK, PassAtKComparison, RunConfig };

export type RunPhase = 'loading' | 'evaluating' | 'training' | 'paused' | 'done' | 'stopped' | 'error';

/** One completion as the page shows it: tokens with their entropy (nats) under the policy. */
export interface CompletionView {
  step: number;
  group: number;
  prompt: string;
  answer: string;
  tokens: string[];
  entropies: number[];
  reward: number;
  rewards: Record<string, number | null>;
  advantage: number;
  /** The final answer the math reward reads from the completion (absent in runs stored before it was kept). */
  extracted?: string | null;
}

/** The page's view of a step's rollouts: each completion token decoded on its own. */
export function completionViews(rollouts: Rollout[], tokenizer: ModelTokenizer): CompletionView[] {
  return rollouts.map((r) => ({
    step: r.step,
    group: r.group,
    prompt: r.prompt,
    answer: r.answer,
    tokens: r.completion_ids.map((id) => tokenizer.decode([id])),
    extracted: extractAnswer(r.completion),
    entropies: r.completion_entropies,
    reward: r.reward,
    rewards: r.rewards,
    advantage: r.advantage,
  }));
}

export type ToWorker =
  /** Report the device (or that WebGPU is missing). */
  | { type: 'hello' }
  /** Load a model's tokenizer and a dataset and report a few rows and a rendered prompt. */
  | { type: 'preview'; model: ModelRef; data: DataSource; systemPrompt: string | null; plainPrompt: boolean }
  | { type: 'start'; runId: string; settings: RunConfig }
  /** Continue a stored run from its newest checkpoint (after a reload or a lost device). */
  | { type: 'resume'; runId: string }
  | { type: 'pause' }
  | { type: 'continue' }
  /** Finish after the current step: save the adapter and evaluate. */
  | { type: 'stop' }
  /** Test hook: lose the GPU device as a driver reset would. */
  | { type: 'lose-device' }
  /** The pass@k explorer: n samples on the first `problems` held-out problems of a stored run, base model and adapter (DESIGN.md §9.3). */
  | { type: 'explore'; runId: string; problems: number; samples: number; seed: number }
  | { type: 'explore-cancel' };

export type FromWorker =
  | { type: 'device'; info: DeviceInfo }
  | { type: 'no-webgpu'; message: string }
  | { type: 'progress'; runId: string; file: string; loaded: number; total: number | null }
  | { type: 'phase'; runId: string; phase: RunPhase; message?: string }
  | { type: 'step'; runId: string; metrics: StepMetrics; completions: CompletionView[] }
  /** pass@k on the held-out problems: of the base model (adapter off) or of the adapter at `step`. */
  | { type: 'passk'; runId: string; step: number; which: 'base' | 'adapter'; passAtK: PassAtK }
  | { type: 'checkpoint'; runId: string; step: number }
  /** `gold`: the gold's final answer as the math reward parses it (null: none, so the reward does not apply). */
  | { type: 'preview'; rows: { question: string; answer: string; gold?: string | null }[]; size: number | null; prompt: string }
  | { type: 'error'; runId?: string; message: string }
  /** The explorer's sequences sampled so far (both models), of how many. */
  | { type: 'explore-progress'; runId: string; done: number; total: number }
  | { type: 'explore-result'; runId: string; result: PassAtKComparison }
  /** The explorer ended without a result: cancelled, or failed (the message says which). */
  | { type: 'explore-stopped'; runId: string; message: string };
