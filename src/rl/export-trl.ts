// `webgrpo export-trl RUN`: a Python script that reproduces a webgrpo run (RUN/config.json) with
// Hugging Face TRL's GRPOTrainer + PEFT LoRA on a GPU server. The GRPO names already match TRL's
// GRPOConfig (DESIGN.md §8); what TRL lacks (group filtering, pass@k advantages) is explained in comments.
//
// Mapping decisions (see also the comments the script carries):
// - per_device_train_batch_size = prompts_per_step × num_generations / gradient_accumulation_steps
//   and steps_per_generation left at its default (= gradient_accumulation_steps), so one TRL
//   generation batch is webgrpo's prompts_per_step × num_generations completions (one GPU).
// - max_steps = webgrpo max_steps × num_iterations: webgrpo's step is one generation batch with
//   num_iterations optimizer updates, TRL's step is one optimizer update.
// - top_k 0 and min_p 0 mean "off" in webgrpo: top_k=0 (TRL's own "off") and min_p=None.
// - Rewards: math (own extraction as webgrpo, equivalence by math_verify when installed, else a
//   numeric/text fallback), format (the R1 regex), countdown (TinyZero, ast-based evaluator) are
//   ported; cosine, overlong and --reward-module become stubs returning None with a TODO.
// - Reward-function __name__s are set to webgrpo's names, so TRL logs rewards/math/mean etc.
// - Heavy imports (datasets, peft, trl, transformers) live inside main(), so the reward functions
//   can be imported and tested without a GPU stack.
//
// The Python itself lives in ./trl/*.py, each file valid Python on its own: train_grpo.py is the
// script's skeleton; text_helpers.py, reward_*.py and data_*.py are the blocks pasted into it
// (a reward or dataset block only when the run uses it). This file only composes them: it fills in
// the run's values (model, dataset, GRPOConfig and LoraConfig arguments, reward list, notes on what
// TRL lacks) at the templates' marker lines (trl/template.ts).

import { parseDatasetSpec, type DatasetSpec } from '../data/dataset.ts';
import { STORY_OPENINGS, STORY_TARGET_WORDS, STORY_WORDS } from '../data/stories.ts';
import { describeData, modelSpec, runConfigFromJson, runConfigToJson, type DataSource, type RunConfig } from './run-config.ts';
import { parseHubSpec } from '../io/source.ts';
import { fillTemplate, templateBody } from './trl/template.ts';
import PY_SCRIPT from './trl/train_grpo.py?raw';
import PY_TEXT_HELPERS from './trl/text_helpers.py?raw';
import PY_MATH_REWARD from './trl/reward_math.py?raw';
import PY_FORMAT_REWARD from './trl/reward_format.py?raw';
import PY_COUNTDOWN_REWARD from './trl/reward_countdown.py?raw';
import PY_REWARD_STUB from './trl/reward_stub.py?raw';
import PY_DATA_HELPERS from './trl/data_rows.py?raw';
import PY_ARITHMETIC from './trl/data_arithmetic.py?raw';
import PY_COUNTDOWN from './trl/data_countdown.py?raw';

// -------------------------------------------------------------------------------------------------
// Python literals

/** A Python string literal (double-quoted, ASCII only, so any text round-trips). */
export function pyStr(s: string): string {
  let out = '"';
  for (const ch of s) {
    const cp = ch.codePointAt(0)!;
    if (ch === '"') out += '\\"';
    else if (ch === '\\') out += '\\\\';
    else if (ch === '\n') out += '\\n';
    else if (ch === '\r') out += '\\r';
    else if (ch === '\t') out += '\\t';
    else if (cp >= 0x20 && cp < 0x7f) out += ch;
    else if (cp <= 0xff) out += `\\x${cp.toString(16).padStart(2, '0')}`;
    else if (cp <= 0xffff) out += `\\u${cp.toString(16).padStart(4, '0')}`;
    else out += `\\U${cp.toString(16).padStart(8, '0')}`;
  }
  return `${out}"`;
}

/** A Python float literal: 2e-3 → 0.002, 1 → 1.0, 1e-8 → 1e-8. */
function pyFloat(x: number): string {
  if (!Number.isFinite(x)) return Number.isNaN(x) ? 'float("nan")' : x > 0 ? 'float("inf")' : '-float("inf")';
  const s = String(x);
  return /[.e]/.test(s) ? s : `${s}.0`;
}

function pyInt(x: number): string {
  if (!Number.isInteger(x)) throw new Error(`export-trl: expected an integer, got ${x}`);
  return String(x);
}

const pyBool = (b: boolean) => (b ? 'True' : 'False');
const pyList = (xs: string[]) => `[${xs.map(pyStr).join(', ')}]`;
/** A value in a one-line comment (no newlines). */
const inline = (v: unknown) => JSON.stringify(v).replace(/[\r\n\u2028\u2029]/g, ' ');

// -------------------------------------------------------------------------------------------------
// Reading the run config

/** Settings by config.json name, from the config as runConfigToJson writes it (every key present, checked). */
class Cfg {
  constructor(private readonly raw: Record<string, unknown>) {}
  num(key: string): number {
    const v = this.raw[key];
    if (typeof v !== 'number' || !Number.isFinite(v)) throw new Error(`export-trl: config.json "${key}" must be a finite number, got ${inline(v)}`);
    return v;
  }
  str(key: string): string {
    const v = this.raw[key];
    if (typeof v !== 'string') throw new Error(`export-trl: config.json "${key}" must be a string, got ${inline(v)}`);
    return v;
  }
  bool(key: string): boolean {
    return this.raw[key] === true;
  }
}

// -------------------------------------------------------------------------------------------------
// Python building blocks: the .py files in ./trl/ (each valid Python on its own; markers in trl/template.ts)

/** webgrpo semantics of the rewards the script does not port, for the TODO stubs. */
const STUB_REWARDS: Record<string, string[]> = {
  cosine: [
    "webgrpo 'cosine': cosine length reward (Yeo et al. 2025) with the paper's values:",
    'R = v_min + (v_max - v_min) / 2 * (1 + cos(pi * len / L)), L = max_completion_length,',
    'len = completion tokens (len(completion_ids)); correct (math reward = 1): v_max 2, v_min 1;',
    'wrong: v_max -10, v_min 0; len >= L: -10. None when the answer column is missing.',
  ],
  overlong: [
    "webgrpo 'overlong': DAPO soft overlong penalty with L_max = max_completion_length and",
    'L_cache = round(0.2 * L_max): 0 when len <= L_max - L_cache, (L_max - L_cache - len) / L_cache',
    'in the buffer, -1 beyond L_max. TRL ships it: trl.rewards.get_soft_overlong_punishment(',
    'max_completion_len=L_max, soft_punish_cache=L_cache).',
  ],
};

/** reward_stub.py as the reward `fnName` (logged as `metricName`), its TODO comment saying `doc`. */
function stubReward(fnName: string, metricName: string, doc: string[]): string {
  return fillTemplate(
    PY_REWARD_STUB,
    {
      slots: { todo: doc.map((l) => `# TODO: ${l}`), metric_name: `stub_reward.__name__ = ${pyStr(metricName)}` },
    },
    'reward_stub.py',
  ).replace(/\bstub_reward\b/g, fnName);
}

/** A building block without slots: the part of the file the script gets. */
const block = (source: string) => templateBody(source);

// -------------------------------------------------------------------------------------------------
// The script

interface DatasetCode {
  /** Module-level code (a data_*.py block, headed "# ---- dataset helpers ----"); at most one. */
  helpers: string[];
  /** Lines inside main() building `train_dataset`. */
  build: string[];
  /** Comment lines above the dataset. */
  notes: string[];
}

function datasetCode(data: DataSource, cfg: Cfg): DatasetCode {
  const steps = cfg.num('max_steps');
  const perStep = cfg.num('prompts_per_step');
  const seed = cfg.num('seed');
  const generated = Math.max(1000, steps * perStep);
  if (data.kind === 'mix') {
    // No curriculum in TRL: the sources are concatenated and shuffled.
    const parts = data.sources.map((part) => datasetCode(part, cfg));
    return {
      helpers: [...new Set(parts.flatMap((p) => p.helpers))],
      notes: [
        `# webgrpo mixed ${data.sources.length} sources with the DUMP UCB curriculum (by mean |advantage|); TRL has no`,
        '# curriculum, so here they are concatenated and shuffled.',
        ...parts.flatMap((p) => p.notes),
      ],
      build: [
        'parts = []',
        ...parts.flatMap((p) => [...p.build, 'parts.append(train_dataset)']),
        `train_dataset = concatenate_datasets(parts).shuffle(seed=${pyInt(seed)})`,
      ],
    };
  }
  if (data.kind === 'one-shot') {
    const d = { one_shot_problem: data.question, one_shot_answer: data.answer };
    // RepeatSampler drops incomplete batches: repeat the problem at least prompts_per_step times.
    const copies = Math.max(perStep, steps * perStep);
    return {
      helpers: [],
      notes: [
        '# One-shot RLVR: the single problem repeated to fill every batch (webgrpo --one-shot-problem).',
        '# The gold answer is graded as given (e.g. One-shot RLVR\'s pi_1 gold "12.8").',
      ],
      build: [
        `ONE_SHOT_PROBLEM = ${pyStr(d.one_shot_problem)}`,
        `ONE_SHOT_ANSWER = extract_gold_answer(${pyStr(d.one_shot_answer)})`,
        'row = {"prompt": [{"role": "user", "content": ONE_SHOT_PROBLEM}], "answer": ONE_SHOT_ANSWER}',
        `train_dataset = Dataset.from_list([row] * ${copies})`,
      ],
    };
  }
  const specString = data.kind === 'upload' ? data.fileName : data.spec;
  const spec: DatasetSpec = parseDatasetSpec(specString);
  // An uploaded file's own column names, mapped onto the question/answer columns the helpers read.
  const mapping =
    data.kind === 'upload' && (data.questionField || data.answerField)
      ? [
          `raw = raw.map(lambda row: {${[data.questionField && `"question": row[${pyStr(data.questionField)}]`, data.answerField && `"answer": row[${pyStr(data.answerField)}]`].filter(Boolean).join(', ')}})`,
        ]
      : [];
  switch (spec.kind) {
    case 'arithmetic':
      return {
        helpers: [block(PY_ARITHMETIC)],
        notes: [
          `# Dataset ${inline(specString)}: webgrpo's arithmetic generator ported to Python. Same task format and`,
          '# distribution, but the exact random stream differs (webgrpo draws problem i from mulberry32 seeded',
          `# by (seed, i)), so the problems are not the same ones. ${generated} problems are generated up front;`,
          '# TRL cycles through them in shuffled epochs.',
        ],
        build: [
          `rng = random.Random(${pyInt(seed)})`,
          `problems = [arithmetic_problem(${spec.level}, rng) for _ in range(${generated})]`,
          'train_dataset = Dataset.from_list(',
          '    [{"prompt": [{"role": "user", "content": p["question"]}], "answer": p["answer"], "solution": p["solution"]} for p in problems]',
          ')',
        ],
      };
    case 'countdown':
      return {
        helpers: [block(PY_COUNTDOWN)],
        notes: [
          `# Dataset ${inline(specString)}: webgrpo's TinyZero Countdown generator ported to Python. Same format and`,
          "# distribution, but the exact random stream differs from webgrpo's (mulberry32 per (seed, i)), so the",
          `# problems are not the same ones. ${generated} problems are generated up front; TRL cycles through them.`,
        ],
        build: [
          `rng = random.Random(${pyInt(seed)})`,
          `problems = [countdown_problem(rng, ${spec.count ?? 'None'}) for _ in range(${generated})]`,
          'train_dataset = Dataset.from_list(',
          '    [',
          '        {"prompt": [{"role": "user", "content": p["question"]}], "answer": str(p["target"]), "nums": p["nums"], "target": p["target"]}',
          '        for p in problems',
          '    ]',
          ')',
        ],
      };
    case 'stories': {
      const list = (xs: readonly (string | number)[]) => `[${xs.map((x) => (typeof x === 'number' ? pyInt(x) : pyStr(x))).join(', ')}]`;
      const words = spec.word ? [spec.word] : STORY_WORDS;
      return {
        helpers: [],
        notes: [
          `# Dataset ${inline(specString)}: webgrpo's story openings (plain prompts; stories260K has no chat template),`,
          `# each row with the field its story reward reads. ${generated} rows are drawn up front.`,
        ],
        build: [
          `rng = random.Random(${pyInt(seed)})`,
          `openings = ${list(STORY_OPENINGS)}`,
          `words = ${list(words)}`,
          `lengths = ${list(STORY_TARGET_WORDS)}`,
          'train_dataset = Dataset.from_list(',
          `    [{"prompt": rng.choice(openings), "word": rng.choice(words), "target_words": rng.choice(lengths)} for _ in range(${generated})]`,
          ')',
        ],
      };
    }
    case 'hub':
      return {
        helpers: [block(PY_DATA_HELPERS)],
        notes: [
          `# Dataset ${inline(specString)} from the Hub (webgrpo reads the same split from its Parquet conversion).`,
          '# Rows without a question or answer are dropped (webgrpo stops on them unless --skip-bad-rows).',
        ],
        build: [
          spec.config === 'default'
            ? `raw = load_dataset(${pyStr(spec.repo)}, split=${pyStr(spec.split)})`
            : `raw = load_dataset(${pyStr(spec.repo)}, ${pyStr(spec.config)}, split=${pyStr(spec.split)})`,
          'train_dataset = raw.filter(usable_row).map(to_grpo_row)',
        ],
      };
    case 'file': {
      const builder = spec.format === 'jsonl' || spec.format === 'json' ? 'json' : spec.format;
      return {
        helpers: [block(PY_DATA_HELPERS)],
        notes: [
          `# Dataset file ${inline(spec.path)} (${spec.format}): the path is as webgrpo was given it; copy the file`,
          '# next to this script (or fix the path) on the GPU server.',
          ...(spec.format === 'json' ? ['# A .json file holding {"key": [rows]} needs field="key" in load_dataset (webgrpo finds the array itself).'] : []),
          '# Rows without a question or answer are dropped (webgrpo stops on them unless --skip-bad-rows).',
        ],
        build: [
          `raw = load_dataset(${pyStr(builder)}, data_files=${pyStr(spec.path)}, split="train")`,
          ...mapping,
          'train_dataset = raw.filter(usable_row).map(to_grpo_row)',
        ],
      };
    }
  }
}

function modelCode(model: string): { lines: string[]; revision: string | null } {
  if (model.startsWith('hf:')) {
    const hub = parseHubSpec(model)!;
    const revision = model.includes('@') ? hub.revision : null;
    return {
      revision,
      lines: [`MODEL = ${pyStr(hub.repo)}  # webgrpo: ${inline(model)}`, ...(revision !== null ? [`REVISION = ${pyStr(revision)}`] : [])],
    };
  }
  return {
    revision: null,
    lines: [
      `# webgrpo trained a local model folder: copy it (config.json, *.safetensors, tokenizer files with the`,
      '# chat template) to the GPU server and fix this path, or replace it with a Hub repo id.',
      `MODEL = ${pyStr(model)}`,
    ],
  };
}

function filterNotes(runConfig: Record<string, unknown>): string[] {
  const lines: string[] = [];
  const acc = runConfig.filter_accuracy;
  if (Array.isArray(acc) && acc.length === 2) {
    lines.push(
      `# filter_accuracy = (${acc.map(String).join(', ')}): balanced online difficulty filtering is not in TRL. webgrpo`,
      '# resampled groups whose accuracy was not strictly inside those bounds (up to 4 rounds per step).',
      "# Nearest equivalent: filter the dataset offline by the base model's pass rate (sample",
      '# num_generations answers per prompt, keep prompts whose accuracy lies inside the bounds), or',
      '# subclass GRPOTrainer to resample in _generate_and_score_completions.',
    );
  } else {
    lines.push('# filter_accuracy: off in the webgrpo run (TRL has no such option either).');
  }
  if (runConfig.dynamic_sampling === true) {
    lines.push(
      '# dynamic_sampling = True: DAPO dynamic sampling (drop groups whose rewards are all equal and',
      "# resample) is not in TRL's GRPOTrainer. Such groups get zero advantage there, so they add no",
      '# policy gradient but still count in the loss normaliser and the batch. Nearest equivalent:',
      '# trl.experimental.grpo_with_replay_buffer (GRPOWithReplayBufferTrainer replaces zero-std groups with',
      '# earlier high-reward groups), or the offline filtering above.',
    );
  } else {
    lines.push('# dynamic_sampling: off in the webgrpo run.');
  }
  return lines;
}

/**
 * A runnable Python script (string) reproducing a webgrpo run (the object in RUN/config.json) with
 * TRL's GRPOTrainer and a PEFT LoRA adapter. Throws on a config it cannot map (bad dataset or
 * model spec, non-numeric settings, a batch not divisible by gradient_accumulation_steps).
 */
export function trlScript(configJson: unknown): string {
  let run: RunConfig;
  try {
    run = runConfigFromJson(configJson);
  } catch (e) {
    throw new Error(`export-trl: ${(e as Error).message}`);
  }
  const runConfig = runConfigToJson(run);
  const cfg = new Cfg(runConfig);
  const model = modelSpec(run.model);
  const lora = run.lora;
  const G = cfg.num('num_generations');
  const perStep = cfg.num('prompts_per_step');
  const accum = cfg.num('gradient_accumulation_steps');
  const iterations = cfg.num('num_iterations');
  const steps = cfg.num('max_steps');
  if ((perStep * G) % accum !== 0) {
    throw new Error(`export-trl: prompts_per_step × num_generations (${perStep * G}) is not divisible by gradient_accumulation_steps (${accum})`);
  }
  const optimizer = cfg.str('optimizer');
  if (optimizer !== 'adamw' && optimizer !== 'sgd') throw new Error(`export-trl: unknown optimizer ${inline(optimizer)}`);
  const scaleRewards = cfg.str('scale_rewards');
  const epsilon = cfg.num('epsilon');
  const epsilonHigh = run.grpo.epsilonHigh;
  const minP = cfg.num('min_p');

  const rewardNames = run.rewards;
  const rewardModule = run.rewardModule;

  const { lines: modelLines, revision } = modelCode(model);
  const data = datasetCode(run.data, cfg);

  // Reward functions: Python function names in order, and their module-level code.
  const rewardFns: string[] = [];
  const rewardBlocks: string[] = [];
  for (const name of rewardNames) {
    if (name === 'math' || name === 'boxed_math') {
      rewardFns.push(`${name}_reward`);
      if (!rewardNames.slice(0, rewardNames.indexOf(name)).some((n) => n === 'math' || n === 'boxed_math')) rewardBlocks.push(block(PY_MATH_REWARD));
    } else if (name === 'format') rewardFns.push('format_reward'), rewardBlocks.push(block(PY_FORMAT_REWARD));
    else if (name === 'countdown') rewardFns.push('countdown_reward'), rewardBlocks.push(block(PY_COUNTDOWN_REWARD));
    else {
      const fn = `${name.replace(/\W/g, '_')}_reward`;
      rewardFns.push(fn);
      rewardBlocks.push(stubReward(fn, name, STUB_REWARDS[name] ?? [`webgrpo reward ${inline(name)}: not a reward this exporter knows; port it by hand.`]));
    }
  }
  if (rewardModule !== null) {
    rewardFns.push('reward_module');
    rewardBlocks.push(
      stubReward('reward_module', 'reward_module', [
        `port webgrpo's --reward-module ${inline(rewardModule)} to Python. Its default export is`,
        '(completion, row) => number | null, called once per completion with row = the dataset columns plus',
        'answer (the gold answer), max_completion_length and completion_length (tokens). Here completions',
        'is a list (use completion_text(c)), the dataset columns arrive as lists in kwargs (answer=...,',
        'one entry per completion) and kwargs["completion_ids"] gives the token lengths. Return one float',
        'or None per completion.',
      ]),
    );
  }
  if (rewardFns.length === 0) throw new Error('export-trl: the run has no reward functions');

  const scheduler = cfg.str('lr_scheduler_type');
  const batch = (perStep * G) / accum;
  const topK = cfg.num('top_k');

  const grpoArgs: [string, string, string?][] = [
    ['output_dir', 'OUTPUT_DIR'],
    ['num_generations', pyInt(G)],
    [
      'per_device_train_batch_size',
      pyInt(batch),
      `prompts_per_step ${perStep} × num_generations ${G}${accum > 1 ? ` / gradient_accumulation_steps ${accum}` : ''}`,
    ],
    ['gradient_accumulation_steps', pyInt(accum)],
    ['gradient_checkpointing', pyBool(run.grpo.gradientCheckpointing), 'TRL default True; transformers TrainingArguments: False'],
    ['max_completion_length', pyInt(cfg.num('max_completion_length'))],
    ['temperature', pyFloat(cfg.num('temperature'))],
    ['top_p', pyFloat(cfg.num('top_p'))],
    ['top_k', pyInt(topK), topK === 0 ? '0 = off (older TRL: None)' : undefined],
    ['min_p', minP === 0 ? 'None' : pyFloat(minP), minP === 0 ? 'webgrpo min_p 0 = off' : undefined],
    ['learning_rate', pyFloat(cfg.num('learning_rate'))],
    ['lr_scheduler_type', pyStr(scheduler)],
    ['warmup_ratio', pyFloat(cfg.num('warmup_ratio'))],
    ['optim', pyStr(optimizer === 'adamw' ? 'adamw_torch' : 'sgd')],
    ['adam_beta1', pyFloat(cfg.num('adam_beta1'))],
    ['adam_beta2', pyFloat(cfg.num('adam_beta2')), 'webgrpo default 0.99 (transformers: 0.999)'],
    ['adam_epsilon', pyFloat(cfg.num('adam_epsilon'))],
    ['weight_decay', pyFloat(cfg.num('weight_decay'))],
    ['max_grad_norm', pyFloat(cfg.num('max_grad_norm'))],
    ['loss_type', pyStr(cfg.str('loss_type'))],
    [
      'scale_rewards',
      pyStr(scaleRewards),
      `older TRL took a bool: ${scaleRewards === 'none' ? 'False' : scaleRewards === 'group' ? 'True' : '"batch" has no bool form'}`,
    ],
    ['beta', pyFloat(cfg.num('beta'))],
    ['epsilon', pyFloat(epsilon)],
    ['epsilon_high', pyFloat(epsilonHigh)],
    ['mask_truncated_completions', pyBool(cfg.bool('mask_truncated_completions'))],
    ['top_entropy_quantile', pyFloat(cfg.num('top_entropy_quantile'))],
    // TRL 1.10 options whose TRL default is webgrpo's: written only when the run changed them.
    ...trl110Args(run.grpo),
    ['num_iterations', pyInt(iterations)],
    [
      'max_steps',
      pyInt(steps * iterations),
      iterations > 1 ? `webgrpo max_steps ${steps} × num_iterations ${iterations}: TRL counts optimizer updates` : undefined,
    ],
    ['seed', pyInt(cfg.num('seed'))],
    ['logging_steps', '1'],
    ...(revision !== null ? [['model_init_kwargs', '{"revision": REVISION}'] as [string, string]] : []),
  ];

  const slots: Record<string, string | string[]> = {
    run_summary: [
      `#   webgrpo model: ${inline(model)}`,
      `#   webgrpo dataset: ${inline(describeData(run.data))}`,
      `#   webgrpo rewards: ${inline([...rewardNames, ...(rewardModule !== null ? [`reward_module ${rewardModule}`] : [])])}`,
    ],
    model: modelLines,
    unsupported: [...filterNotes(runConfig), ...trlLacks(run.grpo)],
    text_helpers: block(PY_TEXT_HELPERS),
    reward_functions: rewardBlocks.map((b) => b.trim()).join('\n\n\n'),
    reward_funcs: `REWARD_FUNCS = [${rewardFns.join(', ')}]`,
    dataset_helpers: data.helpers.map((h) => h.trim()),
    dataset: [...data.notes, ...data.build],
    grpo_config: grpoArgs.map(([k, v, note]) => `${k}=${v},${note ? `  # ${note}` : ''}`),
    lora_config: [
      `r=${pyInt(lora.r)},`,
      `lora_alpha=${Number.isInteger(lora.alpha) ? pyInt(lora.alpha) : pyFloat(lora.alpha)},`,
      `lora_dropout=${pyFloat(lora.dropout)},`,
      `target_modules=${pyList(lora.targetModules)},`,
      `use_rslora=${pyBool(lora.useRslora)},`,
    ],
  };
  const flags = { revision: revision !== null, math: rewardNames.includes('math') || rewardNames.includes('boxed_math'), rslora: lora.useRslora };
  return `${fillTemplate(PY_SCRIPT, { slots, flags }, 'train_grpo.py').replace(/\n{3,}/g, '\n\n\n')}\n`;
}

/** Comments for the webgrpo options TRL 1.10 has no equivalent of, when the run changed them. */
function trlLacks(g: RunConfig['grpo']): string[] {
  const out: string[] = [];
  if (g.advantageEstimator === 'passk') {
    out.push(
      "# advantage_estimator: this run used 'passk' (verl's grpo_passk: in each group only the best completion",
      '# gets r_max - r_second, divided by the std as scale_rewards says; the others get 0). TRL has no such',
      '# option and computes the usual group advantages.',
    );
  }
  if (g.excludeZeroStdFromDenominator) {
    out.push(
      '# exclude_zero_std_from_denominator: this run left groups with equal rewards out of the loss and of its',
      "# normaliser (tokens / completions). TRL has no such option: those groups' tokens still count there.",
    );
  }
  return out;
}

/**
 * GRPOConfig arguments of TRL 1.10 whose defaults equal webgrpo's (importance_sampling_level "token",
 * delta None, sapo_temperature_pos 1.0 / _neg 1.05, vespo_k_pos 2 / vespo_lambda_pos 3 / vespo_k_neg 3 /
 * vespo_lambda_neg 2, multi_objective_aggregation "sum_then_normalize", reward_weights None = all 1,
 * entropy_coef 0, use_adaptive_entropy False, entropy_target 0.2, vllm_importance_sampling_correction True
 * with mode "sequence_mask", clip_max 3.0, clip_min None), as [name, value] lines for the ones this run changed.
 */
function trl110Args(g: RunConfig['grpo']): [string, string, string?][] {
  const out: [string, string, string?][] = [];
  if (g.importanceSamplingLevel !== 'token') out.push(['importance_sampling_level', pyStr(g.importanceSamplingLevel), 'GSPO']);
  if (g.delta !== 0) out.push(['delta', pyFloat(g.delta), 'two-sided clipping (webgrpo delta 0 = TRL None)']);
  if (g.useBiasCorrectionKl) out.push(['use_bias_correction_kl', 'True']);
  // TRL's entropy bonus is the mean token entropy; webgrpo's is averaged like the loss (DESIGN.md §8.5),
  // the same for the token-mean losses.
  const tokenMean = ['bnpo', 'dapo', 'cispo', 'vespo'].includes(g.lossType);
  if (g.entropyCoef !== 0 || g.useAdaptiveEntropy) {
    out.push([
      'entropy_coef',
      pyFloat(g.entropyCoef),
      tokenMean ? undefined : `webgrpo averages the bonus like the ${g.lossType} loss; TRL takes the token mean`,
    ]);
  }
  if (g.useAdaptiveEntropy) out.push(['use_adaptive_entropy', 'True']);
  if (g.entropyTarget !== 0.2) out.push(['entropy_target', pyFloat(g.entropyTarget)]);
  // The sampler/trainer correction: TRL applies it only with use_vllm=True, where vLLM samples.
  const vllmOnly = 'TRL applies it only with use_vllm=True';
  if (!g.importanceSamplingCorrection) out.push(['vllm_importance_sampling_correction', 'False', vllmOnly]);
  if (g.importanceSamplingMode !== 'sequence_mask') out.push(['vllm_importance_sampling_mode', pyStr(g.importanceSamplingMode), vllmOnly]);
  if (g.importanceSamplingCap !== 3) out.push(['vllm_importance_sampling_clip_max', pyFloat(g.importanceSamplingCap), vllmOnly]);
  if (g.importanceSamplingMin !== 0) out.push(['vllm_importance_sampling_clip_min', pyFloat(g.importanceSamplingMin), `webgrpo 0 = TRL None; ${vllmOnly}`]);
  if (g.offPolicyMaskThreshold !== 0)
    out.push(['off_policy_mask_threshold', pyFloat(g.offPolicyMaskThreshold), 'webgrpo 0 = TRL None; webgrpo compares with the old log-probs (no vLLM)']);
  const floats: [string, number, number][] = [
    ['sapo_temperature_pos', g.sapoTemperaturePos, 1],
    ['sapo_temperature_neg', g.sapoTemperatureNeg, 1.05],
    ['vespo_k_pos', g.vespoKPos, 2],
    ['vespo_lambda_pos', g.vespoLambdaPos, 3],
    ['vespo_k_neg', g.vespoKNeg, 3],
    ['vespo_lambda_neg', g.vespoLambdaNeg, 2],
  ];
  for (const [name, value, trlDefault] of floats) if (value !== trlDefault) out.push([name, pyFloat(value)]);
  if (g.multiObjectiveAggregation !== 'sum_then_normalize') out.push(['multi_objective_aggregation', pyStr(g.multiObjectiveAggregation), 'GDPO']);
  const weights = g.rewardWeights?.trim();
  if (weights)
    out.push([
      'reward_weights',
      `[${weights
        .split(',')
        .map((w) => pyFloat(Number(w.trim())))
        .join(', ')}]`,
      'one per entry of REWARD_FUNCS',
    ]);
  return out;
}
