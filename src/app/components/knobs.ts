// Every GRPO and LoRA knob of RunSettings as data: its label, a one-line explanation for learners,
// the input it needs and the values it accepts. The Recipe panel renders this table; names follow
// TRL's GRPOConfig and PEFT's LoraConfig (REFERENCE §5, §7) so a run moves to TRL unchanged.

import { ALL_TARGETS, type LoraConfig } from '../../lora/config.ts';
import { SCHEDULER_TYPES } from '../../train/schedule.ts';
import type { GrpoSettings, RunSettings } from '../protocol.ts';

/** Reads one field of the settings and returns settings with it replaced. */
export interface Field<T> {
  key: string;
  get(s: RunSettings): T;
  set(s: RunSettings, value: T): RunSettings;
}

type RunFields = Omit<RunSettings, 'model' | 'data' | 'grpo' | 'lora'>;

function grpo<K extends keyof GrpoSettings & string>(key: K): Field<GrpoSettings[K]> {
  return { key, get: (s) => s.grpo[key], set: (s, value) => ({ ...s, grpo: { ...s.grpo, [key]: value } }) };
}

function lora<K extends keyof LoraConfig & string>(key: K): Field<LoraConfig[K]> {
  return { key, get: (s) => s.lora[key], set: (s, value) => ({ ...s, lora: { ...s.lora, [key]: value } }) };
}

function run<K extends keyof RunFields & string>(key: K): Field<RunFields[K]> {
  return { key, get: (s) => s[key], set: (s, value) => ({ ...s, [key]: value }) };
}

export type KnobGroup = 'Rollouts' | 'Optimizer' | 'Loss' | 'LoRA' | 'Rewards and filtering' | 'Prompt' | 'Evaluation and checkpoints';

interface About {
  label: string;
  help: string;
  group: KnobGroup;
  /** Shown under "More knobs" rather than in the main form. */
  advanced: boolean;
}

/** The numbers an input accepts. */
export interface Bounds {
  integer: boolean;
  min: number;
  max?: number;
  /** The bound itself is not allowed (e.g. temperature > 0). */
  minExclusive?: boolean;
  maxExclusive?: boolean;
}

export interface NumberKnob extends About, Bounds {
  kind: 'number';
  field: Field<number>;
}
export interface SelectKnob extends About { kind: 'select'; field: Field<string>; options: readonly string[] }
export interface BooleanKnob extends About { kind: 'boolean'; field: Field<boolean> }
export interface TextKnob extends About { kind: 'text'; field: Field<string> }
/** A set of names picked with checkboxes. */
export interface ChoicesKnob extends About { kind: 'choices'; field: Field<string[]>; options: readonly string[] }
/** Off, or a [lo, hi] interval inside [0, 1]. */
export interface IntervalKnob extends About { kind: 'interval'; field: Field<[number, number] | null> }

export type Knob = NumberKnob | SelectKnob | BooleanKnob | TextKnob | ChoicesKnob | IntervalKnob;

const COUNT_FROM_1: Bounds = { integer: true, min: 1 };
const COUNT_FROM_0: Bounds = { integer: true, min: 0 };
const POSITIVE: Bounds = { integer: false, min: 0, minExclusive: true };
const NON_NEGATIVE: Bounds = { integer: false, min: 0 };
export const FRACTION: Bounds = { integer: false, min: 0, max: 1 };
const BELOW_ONE: Bounds = { integer: false, min: 0, max: 1, maxExclusive: true };
const UP_TO_ONE: Bounds = { integer: false, min: 0, max: 1, minExclusive: true };

function number(field: Field<number>, label: string, group: KnobGroup, bounds: Bounds, help: string, advanced = true): NumberKnob {
  return { kind: 'number', field, label, group, help, advanced, ...bounds };
}

/** The built-in reward functions a run can sum (BUILTIN_REWARDS in src/rl/rewards). */
export const REWARD_NAMES = ['math', 'format', 'countdown', 'cosine', 'overlong'] as const;

export const KNOBS: Knob[] = [
  // Rollouts
  number(grpo('maxSteps'), 'Steps', 'Rollouts', COUNT_FROM_1, 'Optimizer steps to train for (max_steps); each step samples, grades and learns from a fresh batch.', false),
  number(grpo('promptsPerStep'), 'Prompts per step', 'Rollouts', COUNT_FROM_1, 'Different problems sampled each step; each gets its own group of completions.', false),
  number(grpo('numGenerations'), 'Generations (G)', 'Rollouts', { integer: true, min: 2 }, 'Completions per problem; a completion’s advantage is its reward compared with the rest of its group.', false),
  number(grpo('maxCompletionLength'), 'Max completion length', 'Rollouts', COUNT_FROM_1, 'Tokens a completion may use before it is cut off (truncated).', false),
  number(grpo('temperature'), 'Temperature', 'Rollouts', POSITIVE, 'Sampling temperature: higher gives more varied completions to learn from; the loss uses the same temperature.', false),
  number(grpo('topP'), 'Top-p', 'Rollouts', UP_TO_ONE, 'Sample only from the most likely tokens whose probabilities add up to p (1 = off).'),
  number(grpo('topK'), 'Top-k', 'Rollouts', COUNT_FROM_0, 'Sample only from the k most likely tokens (0 = off).'),
  number(grpo('minP'), 'Min-p', 'Rollouts', BELOW_ONE, 'Drop tokens less likely than min_p × the most likely token’s probability (0 = off).'),
  number(grpo('seed'), 'Seed', 'Rollouts', COUNT_FROM_0, 'Seeds problem order and sampling: the same seed and settings repeat a run.'),

  // Optimizer
  number(grpo('learningRate'), 'Learning rate', 'Optimizer', POSITIVE, 'Size of each update to the LoRA weights; too high diverges, too low learns nothing.', false),
  { kind: 'select', field: grpo('lrSchedulerType'), options: SCHEDULER_TYPES, label: 'LR schedule', group: 'Optimizer', advanced: true, help: 'How the learning rate changes over the run after warmup: flat, linear decay to 0, or cosine decay.' },
  number(grpo('warmupRatio'), 'Warmup ratio', 'Optimizer', FRACTION, 'Fraction of the steps over which the learning rate ramps up from 0.'),
  { kind: 'select', field: grpo('optimizer'), options: ['adamw', 'sgd'], label: 'Optimizer', group: 'Optimizer', advanced: true, help: 'AdamW adapts the step size per weight (the usual choice); SGD follows the raw gradient.' },
  number(grpo('adamBeta1'), 'Adam β1', 'Optimizer', BELOW_ONE, 'How long AdamW remembers past gradients (momentum).'),
  number(grpo('adamBeta2'), 'Adam β2', 'Optimizer', BELOW_ONE, 'How long AdamW remembers past squared gradients, which set each weight’s step size.'),
  number(grpo('adamEpsilon'), 'Adam ε', 'Optimizer', POSITIVE, 'Added to AdamW’s denominator so tiny gradients do not cause huge steps.'),
  number(grpo('weightDecay'), 'Weight decay', 'Optimizer', NON_NEGATIVE, 'Pulls the LoRA weights a little towards 0 at every step.'),
  number(grpo('maxGradNorm'), 'Max grad norm', 'Optimizer', NON_NEGATIVE, 'Rescales the gradient when its norm exceeds this, to tame bad batches (0 = no clipping).'),
  number(grpo('gradientAccumulationSteps'), 'Gradient accumulation', 'Optimizer', COUNT_FROM_1, 'Split each step’s completions into this many passes: less memory, the same update.'),
  number(grpo('numIterations'), 'Iterations per batch (μ)', 'Optimizer', COUNT_FROM_1, 'Updates made from each batch of completions; above 1 the policy drifts from the sampler and clipping matters.'),

  // Loss
  { kind: 'select', field: grpo('lossType'), options: ['grpo', 'bnpo', 'dr_grpo', 'dapo'], label: 'Loss type', group: 'Loss', advanced: false, help: 'How token losses are averaged: per completion (grpo), per token of the batch (bnpo), over B×max length (dr_grpo), per token of the step (dapo).' },
  { kind: 'select', field: grpo('scaleRewards'), options: ['group', 'batch', 'none'], label: 'Scale rewards', group: 'Loss', advanced: true, help: 'Divide advantages by the reward std of the group, of the batch, or not at all (Dr. GRPO).' },
  number(grpo('beta'), 'KL coefficient (β)', 'Loss', NON_NEGATIVE, 'Weight of the KL penalty that keeps the policy near the base model (adapter off); 0 skips it.', false),
  number(grpo('epsilon'), 'Clip ε (low)', 'Loss', BELOW_ONE, 'The probability ratio is clipped below at 1 − ε, limiting how far one step lowers a token.'),
  number(grpo('epsilonHigh'), 'Clip ε (high)', 'Loss', NON_NEGATIVE, 'The ratio is clipped above at 1 + ε_high; DAPO’s clip-higher (0.28) lets rare good tokens grow faster.'),
  number(grpo('entropyCoef'), 'Entropy bonus', 'Loss', NON_NEGATIVE, 'Rewards uncertainty: subtracts this × mean token entropy from the loss to keep exploring.'),
  number(grpo('topEntropyQuantile'), 'Top-entropy fraction', 'Loss', UP_TO_ONE, 'Learn only from this fraction of tokens with the highest entropy, the “forks” (1 = all tokens).'),
  { kind: 'boolean', field: grpo('maskTruncatedCompletions'), label: 'Mask truncated completions', group: 'Loss', advanced: true, help: 'Leave out completions that hit the length limit, since their reward is unreliable.' },

  // LoRA
  number(lora('r'), 'LoRA rank (r)', 'LoRA', COUNT_FROM_1, 'Rank of the low-rank update: more capacity and more memory as it grows.', false),
  number(lora('alpha'), 'LoRA α', 'LoRA', POSITIVE, 'Scales the update by α / r (α / √r with rsLoRA); a larger α acts like a larger learning rate.', false),
  number(lora('dropout'), 'LoRA dropout', 'LoRA', BELOW_ONE, 'Randomly zeroes inputs of the LoRA branch during training, against overfitting.'),
  { kind: 'boolean', field: lora('useRslora'), label: 'rsLoRA', group: 'LoRA', advanced: true, help: 'Scale by α / √r so that higher ranks still learn at a similar rate.' },
  { kind: 'choices', field: lora('targetModules'), options: ALL_TARGETS, label: 'Target modules', group: 'LoRA', advanced: true, help: 'Projections that get an adapter: attention q/k/v/o and MLP gate/up/down (Tina: all seven).' },

  // Rewards and filtering
  { kind: 'choices', field: run('rewards'), options: REWARD_NAMES, label: 'Rewards', group: 'Rewards and filtering', advanced: false, help: 'Summed with weight 1: math = correct final answer, format = <think>/<answer> layout, countdown = valid equation, cosine = shorter when right, overlong = penalty near the limit.' },
  { kind: 'interval', field: run('filterAccuracy'), label: 'Filter by accuracy', group: 'Rewards and filtering', advanced: true, help: 'Train only on problems whose group accuracy lies in [lo, hi] and draw new ones for the rest (online difficulty filtering).' },
  { kind: 'boolean', field: run('dynamicSampling'), label: 'Dynamic sampling', group: 'Rewards and filtering', advanced: true, help: 'DAPO: replace groups whose completions all got the same reward, since they have zero advantage and teach nothing.' },

  // Prompt
  { kind: 'text', field: run('systemPrompt'), label: 'System prompt', group: 'Prompt', advanced: true, help: 'Optional instructions put before every problem (as the chat template’s system turn).' },
  { kind: 'boolean', field: run('plainPrompt'), label: 'Plain prompt', group: 'Prompt', advanced: true, help: 'Give the model the problem as plain text instead of through its chat template.' },

  // Evaluation and checkpoints
  number(run('evalProblems'), 'Eval problems', 'Evaluation and checkpoints', COUNT_FROM_0, 'Held-out problems for pass@k, measured on the base model and the adapter (0 = no evaluation).', false),
  number(run('evalSamples'), 'Eval samples', 'Evaluation and checkpoints', COUNT_FROM_1, 'Completions per held-out problem; pass@k is estimated for k up to this number.', false),
  number(run('evalEvery'), 'Eval every', 'Evaluation and checkpoints', COUNT_FROM_0, 'Measure held-out pass@k every N steps (0 = only before and after training).', false),
  number(run('saveEvery'), 'Checkpoint every', 'Evaluation and checkpoints', COUNT_FROM_1, 'Save the adapter and optimizer to browser storage every N steps, so a reload resumes there.', false),
];

/** What a number knob accepts, as a hint: "whole number ≥ 2", "number > 0 and ≤ 1". */
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

/** Problems across fields that stop a run from starting, as sentences for the user. */
export function settingsProblems(s: RunSettings): string[] {
  const problems: string[] = [];
  const completions = s.grpo.promptsPerStep * s.grpo.numGenerations;
  if (completions % s.grpo.gradientAccumulationSteps !== 0) {
    problems.push(`Prompts per step × generations (${completions}) must be divisible by gradient accumulation (${s.grpo.gradientAccumulationSteps}).`);
  }
  if (s.lora.targetModules.length === 0) problems.push('Pick at least one LoRA target module.');
  if (s.rewards.length === 0) problems.push('Pick at least one reward.');
  if (s.filterAccuracy && s.filterAccuracy[0] > s.filterAccuracy[1]) problems.push('The accuracy filter’s lower bound is above its upper bound.');
  if (s.model.kind === 'hub' && !HUB_REPO.test(s.model.repo)) problems.push(`“${s.model.repo}” is not a Hub repo id (owner/repo).`);
  if (s.data.kind === 'one-shot' && (!s.data.question.trim() || !s.data.answer.trim())) problems.push('The one-shot problem needs a question and an answer.');
  if (s.data.kind === 'hub' && !HUB_DATASET.test(s.data.spec)) problems.push(`“${s.data.spec}” is not a Hub dataset id (hf:owner/repo:config:split).`);
  return problems;
}

/** owner/repo, as the Hub spells repository ids. */
export const HUB_REPO = /^[\w.-]+\/[\w.-]+$/;
/** hf:owner/repo[:config[:split]] (see parseDatasetSpec). */
export const HUB_DATASET = /^hf:[\w.-]+\/[\w.-]+(:[\w.-]+){0,2}$/;
