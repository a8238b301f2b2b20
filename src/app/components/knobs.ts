// The Recipe panel's knobs: the run settings of the schema (src/rl/settings.ts: names, types,
// accepted values, one-line help) with what only the page needs, a label, a group and whether it
// sits under "More knobs". Settings the page has no input for (CLI-only ones) have no entry here.

import { configProblems, getSetting, withSetting } from '../../rl/run-config.ts';
import { settingByKey, type Bounds, type Setting } from '../../rl/settings.ts';
import type { RunConfig } from '../protocol.ts';

export { acceptsNumber, boundsHint, FRACTION, type Bounds } from '../../rl/settings.ts';

/** Reads one field of the settings and returns settings with it replaced. */
export interface Field<T> {
  key: string;
  get(s: RunConfig): T;
  set(s: RunConfig, value: T): RunConfig;
}

export type KnobGroup = 'Rollouts' | 'Optimizer' | 'Loss' | 'LoRA' | 'Rewards and filtering' | 'Prompt' | 'Evaluation and checkpoints';

interface About {
  label: string;
  help: string;
  group: KnobGroup;
  /** Shown under "More knobs" rather than in the main form. */
  advanced: boolean;
}

interface NumberKnob extends About, Bounds {
  kind: 'number';
  field: Field<number>;
}
interface SelectKnob extends About {
  kind: 'select';
  field: Field<string>;
  options: readonly string[];
}
interface BooleanKnob extends About {
  kind: 'boolean';
  field: Field<boolean>;
}
/** Free text; empty = not set (null in the config). */
interface TextKnob extends About {
  kind: 'text';
  field: Field<string>;
}
/** A set of names picked with checkboxes. */
interface ChoicesKnob extends About {
  kind: 'choices';
  field: Field<string[]>;
  options: readonly string[];
}
/** Off, or a [lo, hi] interval inside [0, 1]. */
export interface IntervalKnob extends About {
  kind: 'interval';
  field: Field<[number, number] | null>;
}

export type Knob = NumberKnob | SelectKnob | BooleanKnob | TextKnob | ChoicesKnob | IntervalKnob;

function field<T>(setting: Setting): Field<T> {
  return { key: setting.key, get: (s) => getSetting(s, setting) as T, set: (s, value) => withSetting(s, setting, value) };
}

function knob(key: string, label: string, group: KnobGroup, advanced: boolean): Knob {
  const s = settingByKey(key);
  const about = { label, group, advanced, help: s.help };
  switch (s.type) {
    case 'number':
      return {
        kind: 'number',
        field: field(s),
        ...about,
        integer: s.integer,
        min: s.min,
        max: s.max,
        minExclusive: s.minExclusive,
        maxExclusive: s.maxExclusive,
      };
    case 'choice':
      return { kind: 'select', field: field(s), options: s.choices, ...about };
    case 'boolean':
      return { kind: 'boolean', field: field(s), ...about };
    case 'text':
      return {
        kind: 'text',
        field: { key, get: (c) => (getSetting(c, s) as string | null) ?? '', set: (c, v) => withSetting(c, s, v === '' ? null : v) },
        ...about,
      };
    case 'list':
      return { kind: 'choices', field: field(s), options: s.choices, ...about };
    case 'interval':
      return { kind: 'interval', field: field(s), ...about };
  }
}

export const KNOBS: Knob[] = [
  knob('maxSteps', 'Steps', 'Rollouts', false),
  knob('promptsPerStep', 'Prompts per step', 'Rollouts', false),
  knob('numGenerations', 'Generations (G)', 'Rollouts', false),
  knob('maxCompletionLength', 'Max completion length', 'Rollouts', false),
  knob('temperature', 'Temperature', 'Rollouts', false),
  knob('topP', 'Top-p', 'Rollouts', true),
  knob('topK', 'Top-k', 'Rollouts', true),
  knob('minP', 'Min-p', 'Rollouts', true),
  knob('seed', 'Seed', 'Rollouts', true),

  knob('learningRate', 'Learning rate', 'Optimizer', false),
  knob('lrSchedulerType', 'LR schedule', 'Optimizer', true),
  knob('warmupRatio', 'Warmup ratio', 'Optimizer', true),
  knob('optimizer', 'Optimizer', 'Optimizer', true),
  knob('adamBeta1', 'Adam β1', 'Optimizer', true),
  knob('adamBeta2', 'Adam β2', 'Optimizer', true),
  knob('adamEpsilon', 'Adam ε', 'Optimizer', true),
  knob('weightDecay', 'Weight decay', 'Optimizer', true),
  knob('maxGradNorm', 'Max grad norm', 'Optimizer', true),
  knob('gradientAccumulationSteps', 'Gradient accumulation', 'Optimizer', true),
  knob('gradientCheckpointing', 'Gradient checkpointing', 'Optimizer', true),
  knob('numIterations', 'Iterations per batch (μ)', 'Optimizer', true),

  knob('lossType', 'Loss type', 'Loss', false),
  knob('scaleRewards', 'Scale rewards', 'Loss', true),
  knob('advantageEstimator', 'Advantage estimator', 'Loss', true),
  knob('excludeZeroStdFromDenominator', 'Leave equal-reward groups out', 'Loss', true),
  knob('multiObjectiveAggregation', 'Combine rewards', 'Loss', true),
  knob('rewardWeights', 'Reward weights', 'Loss', true),
  knob('beta', 'KL coefficient (β)', 'Loss', false),
  knob('useBiasCorrectionKl', 'Bias-corrected KL', 'Loss', true),
  knob('offPolicyMaskThreshold', 'Off-policy mask threshold', 'Loss', true),
  knob('epsilon', 'Clip ε (low)', 'Loss', true),
  knob('epsilonHigh', 'Clip ε (high)', 'Loss', true),
  knob('entropyCoef', 'Entropy bonus', 'Loss', true),
  knob('useAdaptiveEntropy', 'Adaptive entropy bonus', 'Loss', true),
  knob('entropyTarget', 'Entropy target (nats)', 'Loss', true),
  knob('topEntropyQuantile', 'Top-entropy fraction', 'Loss', true),
  knob('maskTruncatedCompletions', 'Mask truncated completions', 'Loss', true),
  knob('importanceSamplingLevel', 'Importance sampling level', 'Loss', true),
  knob('delta', 'Two-sided clip δ', 'Loss', true),
  knob('importanceSamplingCorrection', 'Sampler correction', 'Loss', true),
  knob('importanceSamplingMode', 'Sampler correction mode', 'Loss', true),
  knob('importanceSamplingCap', 'Sampler correction cap', 'Loss', true),
  knob('importanceSamplingMin', 'Sampler correction min', 'Loss', true),
  knob('sapoTemperaturePos', 'SAPO τ (A > 0)', 'Loss', true),
  knob('sapoTemperatureNeg', 'SAPO τ (A < 0)', 'Loss', true),
  knob('vespoKPos', 'VESPO k (A ≥ 0)', 'Loss', true),
  knob('vespoLambdaPos', 'VESPO λ (A ≥ 0)', 'Loss', true),
  knob('vespoKNeg', 'VESPO k (A < 0)', 'Loss', true),
  knob('vespoLambdaNeg', 'VESPO λ (A < 0)', 'Loss', true),

  knob('r', 'LoRA rank (r)', 'LoRA', false),
  knob('alpha', 'LoRA α', 'LoRA', false),
  knob('dropout', 'LoRA dropout', 'LoRA', true),
  knob('useRslora', 'rsLoRA', 'LoRA', true),
  knob('targetModules', 'Target modules', 'LoRA', true),

  knob('rewards', 'Rewards', 'Rewards and filtering', false),
  knob('filterAccuracy', 'Filter by accuracy', 'Rewards and filtering', true),
  knob('dynamicSampling', 'Dynamic sampling', 'Rewards and filtering', true),

  knob('systemPrompt', 'System prompt', 'Prompt', true),
  knob('plainPrompt', 'Plain prompt', 'Prompt', true),

  knob('evalProblems', 'Eval problems', 'Evaluation and checkpoints', false),
  knob('evalSamples', 'Eval samples', 'Evaluation and checkpoints', false),
  knob('evalEvery', 'Eval every', 'Evaluation and checkpoints', false),
  knob('saveEvery', 'Checkpoint every', 'Evaluation and checkpoints', false),
  knob('inspectEvery', 'Inspect every', 'Evaluation and checkpoints', true),
];

/** The knobs the Train step shows, next to Start (how often to evaluate and checkpoint); the Recipe step shows the others. */
export const TRAIN_STEP_GROUP: KnobGroup = 'Evaluation and checkpoints';

/** owner/repo, as the Hub spells repository ids. */
export const HUB_REPO = /^[\w.-]+\/[\w.-]+$/;
/** hf:owner/repo[:config[:split]] (see parseDatasetSpec). */
export const HUB_DATASET = /^hf:[\w.-]+\/[\w.-]+(:[\w.-]+){0,2}$/;

/** Problems that stop a run from starting, as sentences for the user: the run config's, and the page's own inputs. */
export function settingsProblems(s: RunConfig): string[] {
  const problems = configProblems(s);
  if (s.filterAccuracy && s.filterAccuracy[0] > s.filterAccuracy[1]) problems.push('The accuracy filter’s lower bound is above its upper bound.');
  if (s.model.kind === 'hub' && !HUB_REPO.test(s.model.repo)) problems.push(`“${s.model.repo}” is not a Hub repo id (owner/repo).`);
  if (s.data.kind === 'hub' && !HUB_DATASET.test(s.data.spec)) problems.push(`“${s.data.spec}” is not a Hub dataset id (hf:owner/repo:config:split).`);
  return problems;
}
