// A GRPO run's configuration, one type for the CLI and the page: which model, which data, every
// setting of the schema (settings.ts). It is written to the run's config.json (TRL/PEFT names,
// DESIGN.md §14.2) when a run starts and read back to resume it or to export it as a TRL script.

import { TINY_ARITH_LEVEL } from '../data/arithmetic.ts';
import { parseDatasetSpec } from '../data/dataset.ts';
import { ALL_TARGETS, type LoraConfig } from '../lora/config.ts';
import { parseHubSpec } from '../io/source.ts';
import { GRPO_DEFAULTS, type GrpoConfig } from './grpo.ts';
import { SETTINGS, valueProblem, type Setting } from './settings.ts';

/** The built-in models: folders of the repository (public/models/<name>), served with the site. */
const BUILTIN_MODELS = ['tiny-arith', 'stories260k'] as const;
export type BuiltinModel = (typeof BUILTIN_MODELS)[number];

/** The folder of a built-in model: `public/models/<name>`. */
function builtinModelFolder(name: BuiltinModel): string {
  return `public/models/${name}`;
}

/** Which built-in model a `{kind: 'builtin'}` ref means: tiny-arith unless it names another. */
export function builtinModelName(model: { name?: BuiltinModel }): BuiltinModel {
  return model.name ?? 'tiny-arith';
}

/** Where the model comes from. */
export type ModelRef =
  /**
   * A built-in model: without a name the tiny arithmetic model (public/models/tiny-arith), or the
   * pretrained stories260K (public/models/stories260k).
   */
  | { kind: 'builtin'; name?: BuiltinModel }
  /** A Hub repository (downloaded once and cached). */
  | { kind: 'hub'; repo: string; revision?: string }
  /** A local folder: a path for the CLI; for the page, a picked folder copied into OPFS models/<name>/. */
  | { kind: 'local'; name: string };

/** Where the problems come from. */
export type DataSource =
  /** A built-in generator: "arithmetic:1" … "arithmetic:3", "countdown[:3|4]". */
  | { kind: 'builtin'; spec: string }
  | { kind: 'one-shot'; question: string; answer: string }
  /** A JSONL/JSON/CSV/Parquet file: a path for the CLI; for the page, an upload kept in OPFS datasets/<fileName>. */
  | { kind: 'upload'; fileName: string; questionField?: string; answerField?: string; skipBadRows?: boolean }
  /** "hf:owner/repo:config:split" (the Hub's Parquet conversion). */
  | { kind: 'hub'; spec: string }
  /** Several sources mixed by the DUMP UCB curriculum over their mean |advantage|. */
  | { kind: 'mix'; sources: DataSource[] };

export interface RunConfig {
  model: ModelRef;
  data: DataSource;
  grpo: GrpoConfig;
  lora: LoraConfig;
  /** Built-in reward functions (registry names), each with weight 1. */
  rewards: string[];
  rewardModule: string | null;
  /** Online difficulty filtering: keep groups whose accuracy lies in [lo, hi]. */
  filterAccuracy: [number, number] | null;
  /** DAPO dynamic sampling: replace groups whose rewards are all equal. */
  dynamicSampling: boolean;
  systemPrompt: string | null;
  plainPrompt: boolean;
  /** Held-out problems: a dataset spec, or null for the default (see heldOutSet). */
  evalDataset: string | null;
  /** Held-out problems for pass@k (0 = no evaluation), samples per problem, every N steps (0 = before/after only). */
  evalProblems: number;
  evalSamples: number;
  evalEvery: number;
  /** Checkpoint every N steps (0 = only when stopped). */
  saveEvery: number;
  /** Store the step inspector's record every N steps (0 = never; DESIGN.md §8.13). */
  inspectEvery: number;
  /** A PEFT adapter to start from (folder or hf: repo), else a fresh one. */
  initAdapter: string | null;
}

/** A run without options: the quick demo on the built-in tiny model (a fresh object each call). */
export function defaultRunConfig(): RunConfig {
  return {
    model: { kind: 'builtin' },
    data: { kind: 'builtin', spec: `arithmetic:${TINY_ARITH_LEVEL}` },
    grpo: { ...GRPO_DEFAULTS },
    lora: { r: 16, alpha: 32, dropout: 0, useRslora: false, targetModules: [...ALL_TARGETS] },
    rewards: ['math'],
    rewardModule: null,
    filterAccuracy: null,
    dynamicSampling: false,
    systemPrompt: null,
    plainPrompt: false,
    evalDataset: null,
    evalProblems: 64,
    evalSamples: 8,
    evalEvery: 0,
    saveEvery: 0,
    inspectEvery: 10,
    initAdapter: null,
  };
}

/** The model as config.json and the CLI spell it: the built-in folder, hf:owner/repo[@rev], or a folder. */
export function modelSpec(model: ModelRef): string {
  if (model.kind === 'builtin') return builtinModelFolder(builtinModelName(model));
  if (model.kind === 'hub') return `hf:${model.repo}${model.revision ? `@${model.revision}` : ''}`;
  return model.name;
}

export function parseModelSpec(spec: string): ModelRef {
  const folder = spec.replace(/\/+$/, '');
  if (folder === builtinModelFolder('tiny-arith')) return { kind: 'builtin' };
  for (const name of BUILTIN_MODELS) if (folder === builtinModelFolder(name)) return { kind: 'builtin', name };
  const hub = parseHubSpec(spec);
  if (hub) return spec.includes('@') ? { kind: 'hub', repo: hub.repo, revision: hub.revision } : { kind: 'hub', repo: hub.repo };
  return { kind: 'local', name: spec };
}

/** A CLI --dataset spec as a data source: a generator, hf: dataset, file, or several comma-separated. */
export function dataSourceFromSpec(spec: string, opts: { skipBadRows?: boolean } = {}): DataSource {
  const parts = spec.split(',').map((s) => s.trim());
  if (parts.length > 1) return { kind: 'mix', sources: parts.map((p) => dataSourceFromSpec(p, opts)) };
  const parsed = parseDatasetSpec(spec);
  if (parsed.kind === 'hub') return { kind: 'hub', spec: spec.trim() };
  if (parsed.kind === 'file') return { kind: 'upload', fileName: parsed.path, ...(opts.skipBadRows ? { skipBadRows: true } : {}) };
  return { kind: 'builtin', spec: spec.trim() };
}

/** The data source in one line, as config.json's comment and the CLI's log show it. */
export function describeData(data: DataSource): string {
  switch (data.kind) {
    case 'builtin':
    case 'hub':
      return data.spec;
    case 'upload':
      return data.fileName;
    case 'one-shot':
      return `one-shot: ${data.question}`;
    case 'mix':
      return data.sources.map(describeData).join(',');
  }
}

/** Problems across fields that stop a run from starting, as sentences for the user. */
export function configProblems(cfg: RunConfig): string[] {
  const problems: string[] = [];
  const completions = cfg.grpo.promptsPerStep * cfg.grpo.numGenerations;
  if (completions % cfg.grpo.gradientAccumulationSteps !== 0) {
    problems.push(
      `prompts_per_step × num_generations (${completions}) must be divisible by gradient_accumulation_steps (${cfg.grpo.gradientAccumulationSteps}).`,
    );
  }
  if (cfg.lora.targetModules.length === 0) problems.push('Pick at least one LoRA target module.');
  if (cfg.rewards.length === 0 && !cfg.rewardModule) problems.push('Pick at least one reward.');
  const weights = cfg.grpo.rewardWeights?.trim();
  if (weights) {
    const ws = weights.split(',').map((t) => Number(t.trim()));
    const count = cfg.rewards.length + (cfg.rewardModule ? 1 : 0);
    if (ws.some((w) => !Number.isFinite(w))) problems.push(`reward_weights must be comma-separated numbers, got "${weights}".`);
    else if (ws.length !== count) problems.push(`reward_weights has ${ws.length} weights for ${count} reward functions.`);
  }
  const data = cfg.data;
  if (data.kind === 'one-shot' && (!data.question.trim() || !data.answer.trim())) problems.push('The one-shot problem needs a question and an answer.');
  return problems;
}

/** A setting's value in a config. */
export function getSetting(cfg: RunConfig, s: Setting): unknown {
  const holder = (s.section === 'run' ? cfg : cfg[s.section]) as unknown as Record<string, unknown>;
  return holder[s.key];
}

/** The config with one setting replaced (a new object; the other sections are shared). */
export function withSetting(cfg: RunConfig, s: Setting, value: unknown): RunConfig {
  if (s.section === 'run') return { ...cfg, [s.key]: value };
  return { ...cfg, [s.section]: { ...cfg[s.section], [s.key]: value } };
}

// -------------------------------------------------------------------------------------------------
// config.json

/**
 * config.json: every setting under its TRL/PEFT name (LoRA's in a `lora` object), the model as a
 * spec string and the data source as an object.
 */
export function runConfigToJson(cfg: RunConfig): Record<string, unknown> {
  const json: Record<string, unknown> = { model: modelSpec(cfg.model), data: cfg.data };
  const lora: Record<string, unknown> = {};
  for (const s of SETTINGS) {
    if (s.section === 'lora') lora[s.name] = getSetting(cfg, s);
    else json[s.name] = getSetting(cfg, s);
  }
  json.lora = lora;
  return json;
}

/**
 * A RunConfig from a run's config.json (`file` names it in errors). Missing settings take the
 * defaults; a present one that does not fit the schema is an error naming the key. Run folders of
 * earlier versions wrote `dataset` (a spec string or {one_shot_problem, one_shot_answer}), camelCase
 * LoRA keys and `epsilon_high` only when set; those are read too.
 */
export function runConfigFromJson(json: unknown, file = 'config.json'): RunConfig {
  if (typeof json !== 'object' || json === null || Array.isArray(json)) throw new Error(`${file}: expected a JSON object`);
  const raw = json as Record<string, unknown>;
  let cfg = defaultRunConfig();
  if (raw.model !== undefined) {
    if (typeof raw.model !== 'string') throw new Error(`${file}: "model" must be a string (a folder or hf:owner/repo[@revision])`);
    cfg.model = parseModelSpec(raw.model);
  }
  cfg.data = dataFromJson(raw, file);
  const lora = (raw.lora ?? {}) as Record<string, unknown>;
  if (typeof lora !== 'object' || Array.isArray(lora)) throw new Error(`${file}: "lora" must be an object`);
  for (const s of SETTINGS) {
    const value = s.section === 'lora' ? (lora[s.name] ?? lora[s.key]) : raw[s.name];
    if (value === undefined) continue;
    const problem = valueProblem(s, value);
    if (problem) throw new Error(`${file}: "${s.section === 'lora' ? `lora.${s.name}` : s.name}" ${problem}, got ${JSON.stringify(value)}`);
    cfg = withSetting(cfg, s, Array.isArray(value) ? [...value] : value);
  }
  if (raw.epsilon_high === undefined || raw.epsilon_high === null) cfg.grpo.epsilonHigh = cfg.grpo.epsilon;
  return cfg;
}

function dataFromJson(raw: Record<string, unknown>, file: string): DataSource {
  if (raw.data !== undefined) return checkDataSource(raw.data, `${file}: "data"`);
  const legacy = raw.dataset;
  if (legacy === undefined) return defaultRunConfig().data;
  if (typeof legacy === 'string') return dataSourceFromSpec(legacy);
  const oneShot = legacy as { one_shot_problem?: unknown; one_shot_answer?: unknown };
  if (typeof oneShot?.one_shot_problem === 'string' && typeof oneShot.one_shot_answer === 'string') {
    return { kind: 'one-shot', question: oneShot.one_shot_problem, answer: oneShot.one_shot_answer };
  }
  throw new Error(
    `${file}: "dataset" must be a dataset spec, or a one-shot problem {one_shot_problem, one_shot_answer} of strings, got ${JSON.stringify(legacy)}`,
  );
}

function checkDataSource(value: unknown, where: string): DataSource {
  const d = value as Record<string, unknown>;
  const str = (k: string, optional = false) => {
    if (optional && d[k] === undefined) return;
    if (typeof d[k] !== 'string') throw new Error(`${where}.${k} must be a string, got ${JSON.stringify(d[k])}`);
  };
  switch (typeof d === 'object' && d !== null ? d.kind : undefined) {
    case 'builtin':
    case 'hub':
      str('spec');
      parseDatasetSpec(d.spec as string);
      break;
    case 'one-shot':
      str('question');
      str('answer');
      break;
    case 'upload':
      str('fileName');
      str('questionField', true);
      str('answerField', true);
      break;
    case 'mix':
      if (!Array.isArray(d.sources) || d.sources.length < 2) throw new Error(`${where}.sources must list at least two data sources`);
      return { kind: 'mix', sources: d.sources.map((s, i) => checkDataSource(s, `${where}.sources[${i}]`)) };
    default:
      throw new Error(`${where} must be an object with kind builtin, one-shot, upload, hub or mix, got ${JSON.stringify(value)}`);
  }
  return value as DataSource;
}
