// The pieces a GRPO session is made of: the data of a run config (training sources and held-out
// problems), its rewards, and held-out pass@k. Shared by `webgrpo train` and the page through
// GrpoSession (session.ts).

import { datasetFromBytes, holdOutProblems, loadDataset, oneShotDataset, type Dataset, type LoadDatasetOptions, type Problem } from '../data/dataset.ts';
import type { LanguageModel } from '../model/model.ts';
import type { ModelSource } from '../io/source.ts';
import { readModelConfig } from '../model/weights.ts';
import { bindingLimitProblem, trainingMemory } from '../train/memory.ts';
import type { ModelTokenizer } from '../io/tokenizer.ts';
import { chatPromptIds, evaluatePassAtK, type PromptFormat } from './evaluate.ts';
import type { Prompt, RewardResult } from './grpo.ts';
import { parseStorySpec } from '../data/stories.ts';
import { BUILTIN_REWARDS, combineRewards, storySuccess, type RewardFn } from './rewards/index.ts';
import { describeData, type DataSource, type RunConfig } from './run-config.ts';

export interface NamedReward {
  name: string;
  fn: RewardFn;
  weight: number;
}

/** Built-in reward functions by name, each with weight 1; throws naming an unknown one. */
export function builtinRewards(names: string[]): NamedReward[] {
  for (const name of names) if (!BUILTIN_REWARDS[name]) throw new Error(`unknown reward "${name}"; built-ins: ${Object.keys(BUILTIN_REWARDS).join(', ')}.`);
  return names.map((name) => ({ name, fn: BUILTIN_REWARDS[name], weight: 1 }));
}

/** The GRPO reward of a completion: the weighted rewards over the problem's row plus the length fields length rewards read. */
export function problemReward(
  fns: readonly NamedReward[],
  tokenizer: ModelTokenizer,
  maxCompletionLength: number,
): (completion: string, prompt: Prompt) => Promise<RewardResult> {
  return (completion, prompt) =>
    combineRewards(
      completion,
      {
        ...(prompt as Problem).row,
        answer: prompt.answer,
        max_completion_length: maxCompletionLength,
        completion_length: tokenizer.encode(completion).length,
      },
      fns,
    );
}

/** Held-out accuracy of a task: Countdown's equation check for countdown data, a story task's success for story prompts, else math equivalence. */
export function accuracyReward(data: DataSource): RewardFn {
  const spec = describeData(data);
  const story = spec.startsWith('stories:') ? parseStorySpec(spec.slice('stories:'.length)) : null;
  if (story) return storySuccess(story.task);
  return BUILTIN_REWARDS[spec.startsWith('countdown') ? 'countdown' : 'math'];
}

/**
 * The prompt format of a run: its system prompt, and plain text instead of the chat template when
 * plain_prompt is set or the model has no chat template (DESIGN.md §5.2; `promptNotice` says so).
 */
export function promptFormat(cfg: Pick<RunConfig, 'systemPrompt' | 'plainPrompt'>, tokenizer: Pick<ModelTokenizer, 'hasChatTemplate'>): PromptFormat {
  return { systemPrompt: cfg.systemPrompt || undefined, plain: cfg.plainPrompt || !tokenizer.hasChatTemplate };
}

/** The notice for a run whose model has no chat template: its prompts are plain text. */
export function promptNotice(cfg: Pick<RunConfig, 'plainPrompt'>, tokenizer: Pick<ModelTokenizer, 'hasChatTemplate'>): string | null {
  return cfg.plainPrompt || tokenizer.hasChatTemplate
    ? null
    : 'the model has no chat template (tokenizer_config.json has no "chat_template"): prompts are plain text, as with plain_prompt (an Instruct/chat model usually learns faster)';
}

/** The first n problems of a dataset in file order, or n fresh ones from a generator. */
function takeProblems(dataset: Dataset, n: number): Problem[] {
  return dataset.problems?.slice(0, n) ?? Array.from({ length: n }, () => dataset.next());
}

/** n held-out problems of a dataset spec: loaded under a seed apart from training's, so a generator gives problems training does not see. */
async function heldOutProblems(spec: string, n: number, seed: number, opts: LoadDatasetOptions): Promise<Problem[]> {
  return takeProblems(await loadDataset(spec, { ...opts, seed: 1_000_000 + seed }), n);
}

/** How a run reaches its data: Hub options, and how an uploaded file is read (the page: from OPFS). */
export interface DataAccess extends Pick<LoadDatasetOptions, 'endpoint' | 'cacheDir' | 'onProgress'> {
  readUpload?: (fileName: string) => Promise<Uint8Array>;
}

export interface RunData {
  /** The training sources (several for a curriculum mix). */
  sources: Dataset[];
  heldOut: Problem[];
  /** Said once when the held-out problems are not a separate split. */
  heldOutNote: string | null;
}

function leaves(data: DataSource): DataSource[] {
  return data.kind === 'mix' ? data.sources.flatMap(leaves) : [data];
}

async function openSource(data: DataSource, seed: number, access: DataAccess): Promise<Dataset> {
  const opts: LoadDatasetOptions = { endpoint: access.endpoint, cacheDir: access.cacheDir, onProgress: access.onProgress, seed };
  switch (data.kind) {
    case 'builtin':
    case 'hub':
      return loadDataset(data.spec, opts);
    case 'one-shot':
      return oneShotDataset(data.question, data.answer);
    case 'upload': {
      const fileOpts = {
        ...opts,
        questionField: data.questionField || undefined,
        answerField: data.answerField || undefined,
        onBadRows: data.skipBadRows ? ('skip' as const) : ('error' as const),
      };
      return access.readUpload ? datasetFromBytes(data.fileName, await access.readUpload(data.fileName), fileOpts) : loadDataset(data.fileName, fileOpts);
    }
    case 'mix':
      throw new Error('a mix is opened source by source');
  }
}

/** A file (or Hub) dataset of at least this many rows gives up a held-out split when no eval_dataset is given (DESIGN.md §9.2). */
export const HOLD_OUT_MIN_ROWS = 200;
/** The held-out split's share of the rows, and its largest size. */
const HOLD_OUT_FRACTION = 0.05;
const HOLD_OUT_MAX = 64;

/**
 * The training sources and held-out problems of a run. Held out: `evalDataset` when given, else
 * fresh problems of a built-in generator (another seed), else for a single file or Hub dataset of at
 * least 200 rows 5% of them (at most 64 and eval_problems, a seeded choice, left out of training),
 * else the first training rows; the last two with a note saying there is no held-out split.
 */
export async function openRunData(cfg: RunConfig, access: DataAccess = {}): Promise<RunData> {
  const parts = leaves(cfg.data);
  const sources = await Promise.all(parts.map((part, i) => openSource(part, cfg.grpo.seed + i, access)));
  const n = cfg.evalProblems;
  const opts = { endpoint: access.endpoint, cacheDir: access.cacheDir };
  if (n === 0) return { sources, heldOut: [], heldOutNote: null };
  if (cfg.evalDataset) return { sources, heldOut: await heldOutProblems(cfg.evalDataset, n, cfg.grpo.seed, opts), heldOutNote: null };
  const first = parts[0];
  if (parts.length === 1 && first.kind === 'builtin') return { sources, heldOut: await heldOutProblems(first.spec, n, cfg.grpo.seed, opts), heldOutNote: null };
  const size = sources[0].size ?? 0;
  if (parts.length === 1 && (first.kind === 'upload' || first.kind === 'hub') && size >= HOLD_OUT_MIN_ROWS) {
    const count = Math.min(n, HOLD_OUT_MAX, Math.floor(size * HOLD_OUT_FRACTION));
    const split = holdOutProblems(sources[0], count, 2_000_000 + cfg.grpo.seed);
    if (split) {
      return {
        sources: [split.train],
        heldOut: split.heldOut,
        heldOutNote: `no held-out split given (eval_dataset): ${count} of the ${size} rows of ${describeData(first)} (5%, seeded) are held out for pass@k and left out of training`,
      };
    }
  }
  const heldOutNote =
    first.kind === 'one-shot'
      ? 'no held-out split: pass@k is measured on the one training problem (a one-shot set has none; give eval_dataset for one)'
      : first.kind === 'upload' || first.kind === 'hub'
        ? `no held-out split: pass@k is measured on the first ${Math.min(n, size)} training rows (${describeData(first)} has ${size} rows, under ${HOLD_OUT_MIN_ROWS}; give eval_dataset for one)`
        : `no held-out split: pass@k is measured on the first ${n} rows of ${describeData(first)} (give eval_dataset for one)`;
  return { sources, heldOut: takeProblems(sources[0], n), heldOutNote };
}

/** Before downloading weights: refuse a run whose activations exceed the device's storage-binding limit, and report a step's memory. */
export async function checkRunFits(
  source: ModelSource,
  maxBindingBytes: number,
  cfg: RunConfig,
  tokenizer: ModelTokenizer,
  prompts: string[],
): Promise<string> {
  const config = await readModelConfig(source);
  const { torch_dtype: dtype } = await source.readJson<{ torch_dtype?: string }>('config.json');
  const promptTokens = Math.max(...prompts.map((p) => chatPromptIds(tokenizer, p, promptFormat(cfg, tokenizer)).length));
  const shape = {
    batch: (cfg.grpo.promptsPerStep * cfg.grpo.numGenerations) / cfg.grpo.gradientAccumulationSteps,
    tokens: promptTokens + cfg.grpo.maxCompletionLength,
    loraRank: cfg.lora.r,
    full: false,
    checkpoint: cfg.grpo.gradientCheckpointing,
    weightBytes: dtype === 'float32' ? 4 : 2,
  };
  const problem = bindingLimitProblem(config, shape, maxBindingBytes);
  if (problem) throw new Error(`This run does not fit this device: ${problem}`);
  return `A training step needs about ${(trainingMemory(config, shape).total / 2 ** 30).toFixed(2)} GiB of GPU memory.`;
}

/** The pass@k values reported for `samples` samples per problem: k = 1, 2, 4, … ≤ samples. */
function passKs(samples: number): number[] {
  return [1, 2, 4, 8, 16, 32, 64, 128].filter((k) => k <= samples);
}

export interface HeldOutOptions {
  samples: number;
  temperature: number;
  maxNewTokens: number;
  promptFormat?: PromptFormat;
  accuracy: RewardFn;
}

/** A held-out sample's grade: 1 when the accuracy reward over the problem's row is exactly 1 (DESIGN.md §9.1), else 0. */
export function accuracyGrade(accuracy: RewardFn): (completion: string, problem: Problem) => Promise<number> {
  return async (completion, p) => ((await accuracy(completion, { ...p.row, answer: p.answer })) === 1 ? 1 : 0);
}

/** pass@k on held-out problems (fixed sampling seed, so evaluations at different steps compare). */
export async function heldOutPassAtK(
  model: LanguageModel,
  tokenizer: ModelTokenizer,
  problems: readonly Problem[],
  opts: HeldOutOptions,
): Promise<Record<number, number>> {
  const result = await evaluatePassAtK(model, tokenizer, problems, {
    samples: opts.samples,
    ks: passKs(opts.samples),
    temperature: opts.temperature,
    maxNewTokens: opts.maxNewTokens,
    seed: 77,
    promptFormat: opts.promptFormat,
    grade: accuracyGrade(opts.accuracy),
  });
  return result.passAtK;
}
