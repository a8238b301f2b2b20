// Every setting of a GRPO run, written once: its TRL/PEFT name (snake_case, as in config.json), its
// CLI flag (kebab-case), type, default, accepted values and a one-line explanation. The CLI's flag
// parsing, validation and `--help`, the page's Recipe panel and the reading of a run's config.json
// are all driven by this table (DESIGN.md §14.1).

import { ALL_TARGETS } from '../lora/config.ts';
import { SCHEDULER_TYPES } from '../train/schedule.ts';
import { ADVANTAGE_ESTIMATORS, MULTI_OBJECTIVE_AGGREGATIONS, SCALE_REWARDS } from './advantages.ts';
import { IMPORTANCE_SAMPLING_LEVELS, LOSS_TYPES } from './loss.ts';
import { BUILTIN_REWARD_NAMES } from './rewards/index.ts';
import { IMPORTANCE_SAMPLING_MODES } from './sampling-correction.ts';

/** Where a setting lives in a RunConfig: `grpo.<key>`, `lora.<key>` or `<key>` at the top. */
export type Section = 'grpo' | 'lora' | 'run';

/** The numbers a setting accepts. */
export interface Bounds {
  integer: boolean;
  min: number;
  max?: number;
  /** The bound itself is not allowed (e.g. temperature > 0). */
  minExclusive?: boolean;
  maxExclusive?: boolean;
}

interface SettingBase {
  section: Section;
  /** The field's name in RunConfig (camelCase). */
  key: string;
  /** TRL GRPOConfig / PEFT LoraConfig name (snake_case); the config.json key. */
  name: string;
  /** CLI flag without dashes; defaults to the name in kebab-case. */
  flag?: string;
  /** Other accepted CLI spellings. */
  aliases?: string[];
  help: string;
}

interface NumberSetting extends SettingBase, Bounds {
  type: 'number';
}
interface ChoiceSetting extends SettingBase {
  type: 'choice';
  choices: readonly string[];
}
interface BooleanSetting extends SettingBase {
  type: 'boolean';
}
/** Free text; empty = not set. */
interface TextSetting extends SettingBase {
  type: 'text';
  /** What the CLI's help shows the flag takes (default TEXT). */
  placeholder?: string;
}
/** A non-empty set of names, comma-separated on the CLI. */
interface ListSetting extends SettingBase {
  type: 'list';
  choices: readonly string[];
}
/** Off (null), or an interval [lo, hi] inside [0, 1], "lo,hi" on the CLI. */
interface IntervalSetting extends SettingBase {
  type: 'interval';
}

export type Setting = NumberSetting | ChoiceSetting | BooleanSetting | TextSetting | ListSetting | IntervalSetting;

const COUNT_FROM_1: Bounds = { integer: true, min: 1 };
const COUNT_FROM_0: Bounds = { integer: true, min: 0 };
const POSITIVE: Bounds = { integer: false, min: 0, minExclusive: true };
const NON_NEGATIVE: Bounds = { integer: false, min: 0 };
/** Bounds of each end of an interval setting. */
export const FRACTION: Bounds = { integer: false, min: 0, max: 1 };
const BELOW_ONE: Bounds = { integer: false, min: 0, max: 1, maxExclusive: true };
const UP_TO_ONE: Bounds = { integer: false, min: 0, max: 1, minExclusive: true };

function number(section: Section, key: string, name: string, bounds: Bounds, help: string, more: Partial<SettingBase> = {}): NumberSetting {
  return { type: 'number', section, key, name, help, ...bounds, ...more };
}

export const SETTINGS: readonly Setting[] = [
  // Rollouts
  number('grpo', 'maxSteps', 'max_steps', COUNT_FROM_1, 'Optimizer steps to train for; each step samples, grades and learns from a fresh batch.', {
    flag: 'steps',
  }),
  number('grpo', 'promptsPerStep', 'prompts_per_step', COUNT_FROM_1, 'Different problems sampled each step; each gets its own group of completions.'),
  number(
    'grpo',
    'numGenerations',
    'num_generations',
    { integer: true, min: 2 },
    'Completions per problem (G); a completion’s advantage is its reward compared with the rest of its group.',
  ),
  number('grpo', 'maxCompletionLength', 'max_completion_length', COUNT_FROM_1, 'Tokens a completion may use before it is cut off (truncated).'),
  number(
    'grpo',
    'temperature',
    'temperature',
    POSITIVE,
    'Sampling temperature: higher gives more varied completions to learn from; the loss uses the same temperature.',
  ),
  number('grpo', 'topP', 'top_p', UP_TO_ONE, 'Sample only from the most likely tokens whose probabilities add up to p (1 = off).'),
  number('grpo', 'topK', 'top_k', COUNT_FROM_0, 'Sample only from the k most likely tokens (0 = off).'),
  number('grpo', 'minP', 'min_p', BELOW_ONE, 'Drop tokens less likely than min_p × the most likely token’s probability (0 = off).'),
  number('grpo', 'seed', 'seed', COUNT_FROM_0, 'Seeds problem order and sampling: the same seed and settings repeat a run.'),
  // Optimizer
  number('grpo', 'learningRate', 'learning_rate', POSITIVE, 'Size of each update to the LoRA weights; too high diverges, too low learns nothing.', {
    aliases: ['lr'],
  }),
  {
    type: 'choice',
    section: 'grpo',
    key: 'lrSchedulerType',
    name: 'lr_scheduler_type',
    choices: SCHEDULER_TYPES,
    help: 'How the learning rate changes over the run after warmup: flat, linear decay to 0, or cosine decay.',
  },
  number('grpo', 'warmupRatio', 'warmup_ratio', BELOW_ONE, 'Fraction of the steps over which the learning rate ramps up from 0.'),
  {
    type: 'choice',
    section: 'grpo',
    key: 'optimizer',
    name: 'optimizer',
    choices: ['adamw', 'sgd'],
    help: 'AdamW adapts the step size per weight (the usual choice); SGD follows the raw gradient.',
  },
  number('grpo', 'adamBeta1', 'adam_beta1', BELOW_ONE, 'How long AdamW remembers past gradients (momentum).'),
  number('grpo', 'adamBeta2', 'adam_beta2', BELOW_ONE, 'How long AdamW remembers past squared gradients, which set each weight’s step size.'),
  number('grpo', 'adamEpsilon', 'adam_epsilon', POSITIVE, 'Added to AdamW’s denominator so tiny gradients do not cause huge steps.'),
  number('grpo', 'weightDecay', 'weight_decay', NON_NEGATIVE, 'Pulls the LoRA weights a little towards 0 at every step.'),
  number('grpo', 'maxGradNorm', 'max_grad_norm', NON_NEGATIVE, 'Rescales the gradient when its norm exceeds this, to tame bad batches (0 = no clipping).'),
  number(
    'grpo',
    'gradientAccumulationSteps',
    'gradient_accumulation_steps',
    COUNT_FROM_1,
    'Split each step’s completions into this many passes: less memory, the same update.',
  ),
  {
    type: 'boolean',
    section: 'grpo',
    key: 'gradientCheckpointing',
    name: 'gradient_checkpointing',
    help: 'Keep only each layer’s input during the training pass and recompute the layer in backward: the same update, far less activation memory, about a third more compute.',
  },
  number(
    'grpo',
    'numIterations',
    'num_iterations',
    COUNT_FROM_1,
    'Updates made from each batch of completions (μ); above 1 the policy drifts from the sampler and clipping matters.',
  ),
  // Loss
  {
    type: 'choice',
    section: 'grpo',
    key: 'lossType',
    name: 'loss_type',
    choices: LOSS_TYPES,
    help: 'The policy loss: clipped ratio averaged per completion (grpo), per token of the batch (bnpo), over B×max length (dr_grpo), per token of the step (dapo), per completion × its length (luspo); cispo weighs log π by the capped ratio; sapo gates the ratio softly; vespo weighs by a gamma function of the sequence ratio.',
  },
  {
    type: 'choice',
    section: 'grpo',
    key: 'scaleRewards',
    name: 'scale_rewards',
    choices: SCALE_REWARDS,
    help: 'Divide advantages by the reward std of the group, of the batch, or not at all (Dr. GRPO).',
  },
  {
    type: 'choice',
    section: 'grpo',
    key: 'advantageEstimator',
    name: 'advantage_estimator',
    choices: ADVANTAGE_ESTIMATORS,
    help: 'grpo: every completion gets its reward minus the group mean (scaled); passk (verl): only the best of each group learns, by how much it beat the runner-up (scaled the same way).',
  },
  {
    type: 'boolean',
    section: 'grpo',
    key: 'excludeZeroStdFromDenominator',
    name: 'exclude_zero_std_from_denominator',
    help: 'Groups whose rewards are all equal add no loss and no tokens to the normaliser (they teach nothing; not in TRL).',
  },
  {
    type: 'choice',
    section: 'grpo',
    key: 'multiObjectiveAggregation',
    name: 'multi_objective_aggregation',
    choices: MULTI_OBJECTIVE_AGGREGATIONS,
    help: 'Several rewards: add them (weighted) and then normalise, or z-score each within its group first and then add (GDPO).',
  },
  {
    type: 'text',
    section: 'grpo',
    key: 'rewardWeights',
    placeholder: 'W1,W2,…',
    name: 'reward_weights',
    help: 'One weight per reward function, in order (built-in rewards, then the reward module); empty = all 1.',
  },
  number('grpo', 'beta', 'beta', NON_NEGATIVE, 'Weight of the KL penalty that keeps the policy near the base model (adapter off); 0 skips it.'),
  {
    type: 'boolean',
    section: 'grpo',
    key: 'useBiasCorrectionKl',
    name: 'use_bias_correction_kl',
    help: 'Multiply the KL term by the importance ratio, unbiased when the batch is reused (DeepSeek-V3.2).',
  },
  number(
    'grpo',
    'offPolicyMaskThreshold',
    'off_policy_mask_threshold',
    NON_NEGATIVE,
    'Drop the policy loss of completions with a negative advantage whose mean log-ratio old − new exceeds this (DeepSeek-V3.2; 0 = off; only bites with num_iterations > 1).',
  ),
  {
    type: 'boolean',
    section: 'grpo',
    key: 'importanceSamplingCorrection',
    name: 'vllm_importance_sampling_correction',
    flag: 'importance-sampling-correction',
    help: 'Weigh the loss by exp(trainer − sampler log-prob), correcting for the sampler’s kernels rounding differently from the trainer’s.',
  },
  {
    type: 'choice',
    section: 'grpo',
    key: 'importanceSamplingMode',
    name: 'vllm_importance_sampling_mode',
    flag: 'importance-sampling-mode',
    choices: IMPORTANCE_SAMPLING_MODES,
    help: 'Correction weight per token or per completion (product over its tokens); truncate caps it, mask drops it when outside [min, cap].',
  },
  number(
    'grpo',
    'importanceSamplingCap',
    'vllm_importance_sampling_clip_max',
    POSITIVE,
    'Upper limit C of the sampler/trainer correction weight (truncated to C, or masked above it).',
    { flag: 'importance-sampling-cap' },
  ),
  number(
    'grpo',
    'importanceSamplingMin',
    'vllm_importance_sampling_clip_min',
    NON_NEGATIVE,
    'Lower limit of the sampler/trainer correction weight (0 = none).',
    { flag: 'importance-sampling-min' },
  ),
  number('grpo', 'epsilon', 'epsilon', BELOW_ONE, 'The probability ratio is clipped below at 1 − ε, limiting how far one step lowers a token.'),
  number(
    'grpo',
    'epsilonHigh',
    'epsilon_high',
    NON_NEGATIVE,
    'The ratio is clipped above at 1 + ε_high (default: ε); DAPO’s clip-higher (0.28) lets rare good tokens grow faster.',
  ),
  number('grpo', 'entropyCoef', 'entropy_coef', NON_NEGATIVE, 'Rewards uncertainty: subtracts this × mean token entropy from the loss to keep exploring.'),
  {
    type: 'boolean',
    section: 'grpo',
    key: 'useAdaptiveEntropy',
    name: 'use_adaptive_entropy',
    help: 'Steer the entropy bonus (Skywork-OR1): ±0.005 per update towards the entropy target, in [0, 1], applied only while entropy is at or below it; entropy_coef is its start.',
  },
  number(
    'grpo',
    'entropyTarget',
    'entropy_target',
    NON_NEGATIVE,
    'Mean token entropy (nats) the adaptive entropy bonus defends; set it near the entropy seen early in training.',
  ),
  number(
    'grpo',
    'topEntropyQuantile',
    'top_entropy_quantile',
    UP_TO_ONE,
    'Learn only from this fraction of tokens with the highest entropy, the “forks” (1 = all tokens).',
  ),
  {
    type: 'boolean',
    section: 'grpo',
    key: 'maskTruncatedCompletions',
    name: 'mask_truncated_completions',
    help: 'Leave out completions that hit the length limit, since their reward is unreliable.',
  },
  {
    type: 'choice',
    section: 'grpo',
    key: 'importanceSamplingLevel',
    name: 'importance_sampling_level',
    choices: IMPORTANCE_SAMPLING_LEVELS,
    help: 'One probability ratio per token, or one per completion (sequence: GSPO, the exp of the mean token log-ratio).',
  },
  number(
    'grpo',
    'delta',
    'delta',
    NON_NEGATIVE,
    'Two-sided clipping (INTELLECT-2): the unclipped ratio is also capped at δ, so a token far above 1 + ε cannot push a negative update (0 = off; use δ > 1 + ε_high).',
  ),
  number('grpo', 'sapoTemperaturePos', 'sapo_temperature_pos', POSITIVE, 'sapo: temperature of the soft gate for tokens with a positive advantage.'),
  number(
    'grpo',
    'sapoTemperatureNeg',
    'sapo_temperature_neg',
    POSITIVE,
    'sapo: temperature of the soft gate for tokens with a negative advantage (higher = tighter).',
  ),
  number('grpo', 'vespoKPos', 'vespo_k_pos', NON_NEGATIVE, 'vespo: shape k of the gamma weight φ(w) = e^λ·w^k·e^(−λw) when the advantage is ≥ 0.'),
  number('grpo', 'vespoLambdaPos', 'vespo_lambda_pos', POSITIVE, 'vespo: rate λ of the gamma weight when the advantage is ≥ 0.'),
  number('grpo', 'vespoKNeg', 'vespo_k_neg', NON_NEGATIVE, 'vespo: shape k of the gamma weight when the advantage is negative.'),
  number('grpo', 'vespoLambdaNeg', 'vespo_lambda_neg', POSITIVE, 'vespo: rate λ of the gamma weight when the advantage is negative.'),
  // LoRA (PEFT LoraConfig names)
  number('lora', 'r', 'r', COUNT_FROM_1, 'Rank of the low-rank update: more capacity and more memory as it grows.', { flag: 'lora-r' }),
  number('lora', 'alpha', 'lora_alpha', POSITIVE, 'Scales the update by α / r (α / √r with rsLoRA); a larger α acts like a larger learning rate.'),
  number('lora', 'dropout', 'lora_dropout', BELOW_ONE, 'Randomly zeroes inputs of the LoRA branch during training, against overfitting.'),
  { type: 'boolean', section: 'lora', key: 'useRslora', name: 'use_rslora', help: 'Scale by α / √r so that higher ranks still learn at a similar rate.' },
  {
    type: 'list',
    section: 'lora',
    key: 'targetModules',
    name: 'target_modules',
    choices: ALL_TARGETS,
    help: 'Projections that get an adapter: attention q/k/v/o and MLP gate/up/down (Tina: all seven).',
  },
  // Rewards and filtering
  {
    type: 'list',
    section: 'run',
    key: 'rewards',
    name: 'reward_funcs',
    flag: 'reward',
    choices: BUILTIN_REWARD_NAMES,
    help: 'Summed with weight 1: math = correct final answer (Math-Verify rules), boxed_math = the final \\boxed{} only, format = <think>/<answer> layout, countdown = valid equation, cosine = shorter when right, overlong = penalty near the limit; story tasks: mention_word, happy_ending, target_length, no_repeat.',
  },
  {
    type: 'text',
    section: 'run',
    key: 'rewardModule',
    placeholder: 'FILE.mjs',
    name: 'reward_module',
    help: 'A JavaScript module whose default export (completion, row) => number | null is one more reward (CLI only).',
  },
  {
    type: 'interval',
    section: 'run',
    key: 'filterAccuracy',
    name: 'filter_accuracy',
    help: 'Train only on problems whose group accuracy lies in [lo, hi] and draw new ones for the rest (online difficulty filtering).',
  },
  {
    type: 'boolean',
    section: 'run',
    key: 'dynamicSampling',
    name: 'dynamic_sampling',
    help: 'DAPO: replace groups whose completions all got the same reward, since they have zero advantage and teach nothing.',
  },
  // Prompt
  {
    type: 'text',
    section: 'run',
    key: 'systemPrompt',
    name: 'system_prompt',
    help: 'Optional instructions put before every problem (as the chat template’s system turn).',
  },
  {
    type: 'boolean',
    section: 'run',
    key: 'plainPrompt',
    name: 'plain_prompt',
    help: 'Give the model the problem as plain text instead of through its chat template.',
  },
  // Evaluation and checkpoints
  {
    type: 'text',
    section: 'run',
    key: 'evalDataset',
    placeholder: 'SPEC',
    name: 'eval_dataset',
    help: 'Held-out problems for pass@k (a dataset spec); default: fresh problems of a generator, else the first training rows.',
  },
  number('run', 'evalProblems', 'eval_problems', COUNT_FROM_0, 'Held-out problems for pass@k, measured on the base model and the adapter (0 = no evaluation).'),
  number('run', 'evalSamples', 'eval_samples', COUNT_FROM_1, 'Completions per held-out problem; pass@k is estimated for k up to this number.'),
  number('run', 'evalEvery', 'eval_every', COUNT_FROM_0, 'Measure held-out pass@k every N steps (0 = only before and after training).'),
  number(
    'run',
    'saveEvery',
    'save_every',
    COUNT_FROM_0,
    'Save the adapter and optimizer every N steps, so a stopped run resumes there (0 = only when stopped).',
  ),
  number(
    'run',
    'inspectEvery',
    'inspect_every',
    COUNT_FROM_0,
    "Store every N-th step's per-token values and re-score its completions after the update, for the step inspector (0 = never).",
  ),
  {
    type: 'text',
    section: 'run',
    key: 'initAdapter',
    placeholder: 'DIR|hf:repo',
    name: 'init_adapter',
    help: 'Start from this PEFT adapter (a folder or hf: repo) instead of a fresh one (CLI only).',
  },
];

/** The CLI flag of a setting (without dashes). */
export function flagOf(s: Setting): string {
  return s.flag ?? s.name.replace(/_/g, '-');
}

export function settingByKey(key: string): Setting {
  const s = SETTINGS.find((x) => x.key === key);
  if (!s) throw new Error(`no setting "${key}"`);
  return s;
}

/** What a number setting accepts, in words: "whole number ≥ 2", "number > 0 and ≤ 1". */
export function boundsHint(k: Bounds): string {
  const lower = `${k.minExclusive ? '>' : '≥'} ${k.min}`;
  const upper = k.max === undefined ? '' : ` and ${k.maxExclusive ? '<' : '≤'} ${k.max}`;
  return `${k.integer ? 'whole number' : 'number'} ${lower}${upper}`;
}

export function acceptsNumber(k: Bounds, v: number): boolean {
  if (!Number.isFinite(v) || (k.integer && !Number.isInteger(v))) return false;
  if (k.minExclusive ? v <= k.min : v < k.min) return false;
  if (k.max !== undefined && (k.maxExclusive ? v >= k.max : v > k.max)) return false;
  return true;
}

/** Why a value does not fit a setting (a phrase), or null when it does. */
export function valueProblem(s: Setting, v: unknown): string | null {
  switch (s.type) {
    case 'number':
      return typeof v === 'number' && acceptsNumber(s, v) ? null : `must be a ${boundsHint(s)}`;
    case 'choice':
      return typeof v === 'string' && s.choices.includes(v) ? null : `must be one of ${s.choices.join(', ')}`;
    case 'boolean':
      return typeof v === 'boolean' ? null : 'must be true or false';
    case 'text':
      return v === null || typeof v === 'string' ? null : 'must be a string or null';
    case 'list': {
      if (!Array.isArray(v)) return `must be a list of ${s.choices.join(', ')}`;
      const unknown = v.find((x) => typeof x !== 'string' || !s.choices.includes(x));
      return unknown === undefined ? null : `has unknown entry "${String(unknown)}"; choose from ${s.choices.join(', ')}`;
    }
    case 'interval':
      return v === null || (Array.isArray(v) && v.length === 2 && v.every((b) => typeof b === 'number' && b >= 0 && b <= 1) && v[0] < v[1])
        ? null
        : 'must be null or [lo, hi] with 0 ≤ lo < hi ≤ 1';
  }
}

/** Parse a CLI flag's text into a setting's value; a phrase saying what it must be on failure. */
export function parseSettingText(s: Setting, raw: string | boolean): { value: unknown } | { problem: string } {
  const fail = (problem: string) => ({ problem });
  switch (s.type) {
    case 'boolean':
      return { value: raw === true || raw === 'true' };
    case 'number': {
      const x = Number(raw);
      if (typeof raw !== 'string' || raw.trim() === '' || !acceptsNumber(s, x)) return fail(`must be a ${boundsHint(s)}`);
      return { value: x };
    }
    case 'choice':
      return typeof raw === 'string' && s.choices.includes(raw) ? { value: raw } : fail(`must be one of ${s.choices.join(', ')}`);
    case 'text':
      return { value: typeof raw === 'string' ? raw : null };
    case 'list': {
      const items = String(raw)
        .split(',')
        .map((t) => t.trim())
        .filter(Boolean);
      const problem = valueProblem(s, items);
      return problem ? fail(problem) : { value: items };
    }
    case 'interval': {
      const bounds = String(raw).split(',').map(Number);
      return valueProblem(s, bounds) ? fail('must be "lo,hi" with 0 ≤ lo < hi ≤ 1') : { value: bounds };
    }
  }
}
