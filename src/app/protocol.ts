// The typed messages between the page and the training worker. The worker owns the GPU, the model
// and the run; the page only renders what the worker reports, so training never freezes the UI.

import type { GrpoConfig, StepMetrics } from '../rl/grpo.ts';
import type { LoraConfig } from '../lora/config.ts';

/** Where the model comes from. */
export type ModelChoice =
  /** The built-in tiny model, served with the site (public/models/tiny-arith). */
  | { kind: 'builtin' }
  /** A Hub repository, downloaded once and kept in the browser's Cache API. */
  | { kind: 'hub'; repo: string; revision?: string }
  /** A folder the user picked, copied into OPFS (models/<name>/) so a reloaded run can resume. */
  | { kind: 'local'; name: string };

/** Where the problems come from. */
export type DataChoice =
  /** A built-in generator: "arithmetic:1" … "arithmetic:3", "countdown". */
  | { kind: 'builtin'; spec: string }
  | { kind: 'one-shot'; question: string; answer: string }
  /** An uploaded JSONL/JSON/CSV/Parquet file, stored in OPFS (datasets/<fileName>). */
  | { kind: 'upload'; fileName: string; questionField?: string; answerField?: string; skipBadRows?: boolean }
  /** "hf:owner/repo:config:split" (the Hub's Parquet conversion). */
  | { kind: 'hub'; spec: string };

/** GRPO settings without the parts the worker builds from the other fields. */
export type GrpoSettings = Omit<GrpoConfig, 'groupFilter' | 'promptFormat'>;

/** Everything a run needs; stored with the run (OPFS runs/<id>/run.json) so it can resume. */
export interface RunSettings {
  model: ModelChoice;
  data: DataChoice;
  grpo: GrpoSettings;
  lora: LoraConfig;
  /** Built-in reward functions (BUILTIN_REWARDS names), each with weight 1. */
  rewards: string[];
  /** Online difficulty filtering: keep groups whose accuracy lies in [lo, hi]. */
  filterAccuracy: [number, number] | null;
  /** DAPO dynamic sampling: drop groups whose rewards are all equal. */
  dynamicSampling: boolean;
  systemPrompt: string;
  plainPrompt: boolean;
  /** Held-out problems for pass@k (0 = no evaluation), samples per problem, every N steps (0 = before/after only). */
  evalProblems: number;
  evalSamples: number;
  evalEvery: number;
  /** Checkpoint to OPFS every N steps. */
  saveEvery: number;
}

export interface DeviceInfo {
  adapter: string;
  features: string[];
  limits: Record<string, number>;
  /** True on a CPU driver (SwiftShader): works, but ~1000× slower than a GPU. */
  cpu: boolean;
}

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
}

export type PassAtK = Record<number, number>;

export type ToWorker =
  /** Report the device (or that WebGPU is missing). */
  | { type: 'hello' }
  /** Load a model's tokenizer and a dataset and report a few rows and a rendered prompt. */
  | { type: 'preview'; model: ModelChoice; data: DataChoice; systemPrompt: string; plainPrompt: boolean }
  | { type: 'start'; runId: string; settings: RunSettings }
  /** Continue a stored run from its newest checkpoint (after a reload or a lost device). */
  | { type: 'resume'; runId: string }
  | { type: 'pause' }
  | { type: 'continue' }
  /** Finish after the current step: save the adapter and evaluate. */
  | { type: 'stop' }
  /** Test hook: lose the GPU device as a driver reset would. */
  | { type: 'lose-device' };

export type FromWorker =
  | { type: 'device'; info: DeviceInfo }
  | { type: 'no-webgpu'; message: string }
  | { type: 'progress'; runId: string; file: string; loaded: number; total: number | null }
  | { type: 'phase'; runId: string; phase: RunPhase; message?: string }
  | { type: 'step'; runId: string; metrics: StepMetrics; completions: CompletionView[] }
  /** pass@k on the held-out problems: of the base model (adapter off) or of the adapter at `step`. */
  | { type: 'passk'; runId: string; step: number; which: 'base' | 'adapter'; passAtK: PassAtK }
  | { type: 'checkpoint'; runId: string; step: number }
  | { type: 'preview'; rows: { question: string; answer: string }[]; size: number | null; prompt: string }
  | { type: 'error'; runId?: string; message: string };
