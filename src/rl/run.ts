// The parts of a GRPO run that `webgrpo train` and the web app's worker share: the reward of a
// completion, held-out pass@k, and the run's config.json (which export-trl reads).

import { loadDataset, type Dataset, type LoadDatasetOptions, type Problem } from '../data/dataset.ts';
import type { LanguageModel } from '../model/model.ts';
import type { ModelTokenizer } from '../io/tokenizer.ts';
import type { LoraConfig } from '../lora/config.ts';
import { evaluatePassAtK, type PromptFormat } from './evaluate.ts';
import type { GrpoConfig, Prompt, RewardResult } from './grpo.ts';
import { BUILTIN_REWARDS, combineRewards, type RewardFn } from './rewards/index.ts';

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
export function problemReward(fns: readonly NamedReward[], tokenizer: ModelTokenizer, maxCompletionLength: number): (completion: string, prompt: Prompt) => Promise<RewardResult> {
  return (completion, prompt) =>
    combineRewards(completion, {
      ...(prompt as Problem).row, answer: prompt.answer, max_completion_length: maxCompletionLength, completion_length: tokenizer.encode(completion).length,
    }, fns);
}

/** Held-out accuracy of a task: Countdown's equation check for countdown data, else math equivalence. */
export function accuracyReward(datasetSpec: string): RewardFn {
  return BUILTIN_REWARDS[datasetSpec.startsWith('countdown') ? 'countdown' : 'math'];
}

/** The first n problems of a dataset in file order, or n fresh ones from a generator. */
export function takeProblems(dataset: Dataset, n: number): Problem[] {
  return dataset.problems?.slice(0, n) ?? Array.from({ length: n }, () => dataset.next());
}

/** n held-out problems of a dataset spec: loaded under a seed apart from training's, so a generator gives problems training does not see. */
export async function heldOutProblems(spec: string, n: number, seed: number, opts: LoadDatasetOptions = {}): Promise<Problem[]> {
  return takeProblems(await loadDataset(spec, { ...opts, seed: 1_000_000 + seed }), n);
}

export interface HeldOutOptions {
  samples: number;
  temperature: number;
  maxNewTokens: number;
  promptFormat?: PromptFormat;
  accuracy: RewardFn;
}

/** The pass@k values reported for `samples` samples per problem: k = 1, 2, 4, … ≤ samples. */
export function passKs(samples: number): number[] {
  return [1, 2, 4, 8, 16, 32, 64, 128].filter((k) => k <= samples);
}

/** pass@k on held-out problems (fixed sampling seed, so evaluations at different steps compare). */
export async function heldOutPassAtK(model: LanguageModel, tokenizer: ModelTokenizer, problems: readonly Problem[], opts: HeldOutOptions): Promise<Record<number, number>> {
  const result = await evaluatePassAtK(model, tokenizer, problems, {
    samples: opts.samples, ks: passKs(opts.samples), temperature: opts.temperature, maxNewTokens: opts.maxNewTokens, seed: 77, promptFormat: opts.promptFormat,
    grade: async (completion, p) => ((await opts.accuracy(completion, { ...p.row, answer: p.answer })) === 1 ? 1 : 0),
  });
  return result.passAtK;
}

export function snakeCase(cfg: object): Record<string, unknown> {
  return Object.fromEntries(Object.entries(cfg).map(([k, v]) => [k.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`), v]));
}

/** A run's config.json: the model, data, rewards and every GRPO and LoRA setting (snake_case, TRL names). */
export function runConfigJson(run: {
  model: string;
  dataset: string | { one_shot_problem: string; one_shot_answer: string };
  rewardNames: string[];
  rewardModule?: string | null;
  filterAccuracy: [number, number] | null;
  dynamicSampling: boolean;
  grpo: Omit<GrpoConfig, 'groupFilter' | 'promptFormat'>;
  lora: LoraConfig;
  extra?: Record<string, unknown>;
}): Record<string, unknown> {
  return {
    ...run.extra,
    model: run.model, dataset: run.dataset,
    reward_funcs: run.rewardNames, reward_module: run.rewardModule ?? null, filter_accuracy: run.filterAccuracy,
    dynamic_sampling: run.dynamicSampling, ...snakeCase(run.grpo), lora: run.lora,
  };
}
