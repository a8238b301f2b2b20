// Run settings: the defaults (the CLI's quick demo), the named recipes (DESIGN.md §8.10), and the
// models the page offers. Pure data and functions, shared by the page and its tests.

import { defaultRunConfig } from '../rl/run-config.ts';
import { ALL_TARGETS } from '../lora/config.ts';
import type { ModelConfig } from '../model/types.ts';
import { trainingMemory } from '../train/memory.ts';
import type { ModelRef, RunConfig } from './protocol.ts';

/**
 * The settings of `webgrpo train` without flags (the quick demo on the built-in tiny model), with
 * the page's own choices: pass@k every 10 steps for the live chart, a checkpoint every step so a
 * reload resumes, every step in the step inspector.
 */
export function defaultSettings(): RunConfig {
  return { ...defaultRunConfig(), evalEvery: 10, saveEvery: 1, inspectEvery: 1 };
}

export interface Preset {
  id: string;
  label: string;
  /** One line for learners: what the recipe is and where it comes from. */
  about: string;
  apply: (s: RunConfig) => RunConfig;
}

/** Learning rates that suit LoRA on the sub-1B Hub models (the tiny model takes the quick demo's). */
const HUB_LORA_LR = 1e-5;

function forModel(s: RunConfig, tinyLr: number, hubLr: number): number {
  return s.model.kind === 'builtin' ? tinyLr : hubLr;
}

export const PRESETS: Preset[] = [
  {
    id: 'quick',
    label: 'Quick demo',
    about: 'The built-in tiny model learns two-digit sums: the defaults of `webgrpo train`, a few minutes on a laptop.',
    apply: () => defaultSettings(),
  },
  {
    id: 'one-shot',
    label: '1-shot RLVR',
    about: 'Wang et al. 2025: one problem repeated to fill every batch, T=0.6, entropy bonus 0.001, β=0.001.',
    apply: (s) => ({
      ...s,
      data: s.data.kind === 'one-shot' ? s.data : { kind: 'one-shot', ...oneShotExample(s.model) },
      grpo: { ...s.grpo, numGenerations: 8, temperature: 0.6, entropyCoef: 0.001, beta: 0.001, lossType: 'grpo', learningRate: forModel(s, 1e-3, HUB_LORA_LR) },
      evalEvery: 10,
    }),
  },
  {
    id: 'tina',
    label: 'Tina (LoRA)',
    about: 'Tina 2025: a rank-32 LoRA (α=128) on all seven projections makes RL on a small budget work.',
    apply: (s) => ({
      ...s,
      lora: { ...s.lora, r: 32, alpha: 128, targetModules: [...ALL_TARGETS] },
      grpo: { ...s.grpo, learningRate: forModel(s, 5e-4, 5e-6) },
    }),
  },
  {
    id: 'dr-grpo',
    label: 'Dr. GRPO',
    about: 'Liu et al. 2025: no per-group std scaling and a constant normaliser, removing GRPO’s length and difficulty biases.',
    apply: (s) => ({ ...s, grpo: { ...s.grpo, lossType: 'dr_grpo', scaleRewards: 'none' } }),
  },
  {
    id: 'dapo',
    label: 'DAPO',
    about: 'Yu et al. 2025: clip-higher (ε_high 0.28), token-level loss, truncated completions masked, groups with equal rewards resampled.',
    apply: (s) => ({
      ...s,
      grpo: { ...s.grpo, lossType: 'dapo', epsilonHigh: 0.28, maskTruncatedCompletions: true, beta: 0 },
      dynamicSampling: true,
    }),
  },
  {
    id: 'gspo',
    label: 'GSPO',
    about: 'Zheng et al. 2025: one importance ratio per completion (the geometric mean of its token ratios), clipped tightly (ε 3e-4, ε_high 4e-4).',
    apply: (s) => ({ ...s, grpo: { ...s.grpo, importanceSamplingLevel: 'sequence', lossType: 'grpo', epsilon: 3e-4, epsilonHigh: 4e-4 } }),
  },
  {
    id: 'cispo',
    label: 'CISPO',
    about: 'MiniMax-M1 2025: every token keeps its gradient, weighted by its importance ratio capped at ε_high = 5 and detached.',
    apply: (s) => ({ ...s, grpo: { ...s.grpo, lossType: 'cispo', epsilonHigh: 5 } }),
  },
  {
    id: 'sapo',
    label: 'SAPO',
    about: 'Gao et al. 2025: a soft sigmoid gate (τ 1.0 for positive, 1.05 for negative advantages) instead of hard clipping.',
    apply: (s) => ({ ...s, grpo: { ...s.grpo, lossType: 'sapo', sapoTemperaturePos: 1, sapoTemperatureNeg: 1.05, scaleRewards: 'group' } }),
  },
  {
    id: 'stories-word',
    label: 'Stories: say “ball”',
    about: 'Shape the pretrained stories260K: its stories earn 1 when they mention “ball” (mention_word), a visible change in a few steps.',
    apply: (s) => storyPreset(s, 'stories:mention_word:ball', 'mention_word'),
  },
  {
    id: 'stories-happy',
    label: 'Stories: happy endings',
    about: 'stories260K learns to end on a happy word (happy_ending: the last sentence holds happy, smiled, hug, …).',
    apply: (s) => storyPreset(s, 'stories:happy_ending', 'happy_ending'),
  },
];

/** A story task on the built-in stories260K: plain prompts (it has no chat template), its reward, small fast steps. */
function storyPreset(s: RunConfig, spec: string, reward: string): RunConfig {
  return {
    ...s,
    model: { kind: 'builtin', name: 'stories260k' },
    data: { kind: 'builtin', spec },
    rewards: [reward],
    plainPrompt: true,
    systemPrompt: null,
    grpo: { ...s.grpo, promptsPerStep: 4, numGenerations: 8, maxCompletionLength: 48, temperature: 1, learningRate: 1e-2, maxSteps: 20, seed: 0 },
    evalProblems: 8,
    evalSamples: 4,
    evalEvery: 10,
  };
}

/**
 * The one-shot editor's pre-filled example: for the built-in model a level-2 sum in its own format
 * (its character tokenizer knows only digits and a few symbols); for Hub models π₁ of One-shot RLVR
 * (Wang et al. 2025), graded against the gold string "12.8" as the paper does (DESIGN.md §10.1).
 */
export function oneShotExample(model: ModelRef): { question: string; answer: string } {
  if (model.kind === 'builtin') return { question: '47+38', answer: '85' };
  return {
    question:
      "The pressure P exerted by wind on a sail varies jointly as the area A of the sail and the cube of the wind's velocity V. " +
      'When the velocity is 8 miles per hour, the pressure on a sail of 2 square feet is 0.5 pounds. ' +
      'Find the wind velocity when the pressure on 4 square feet of sail is 13 pounds.',
    answer: '12.8',
  };
}

/** Hub models the page lists, with the figures needed to estimate memory before downloading. */
export interface HubModel {
  repo: string;
  label: string;
  /** Download size of the safetensors (bf16). */
  bytes: number;
  config: Pick<
    ModelConfig,
    | 'architecture'
    | 'hiddenSize'
    | 'intermediateSize'
    | 'numLayers'
    | 'numHeads'
    | 'numKvHeads'
    | 'headDim'
    | 'vocabSize'
    | 'tieWordEmbeddings'
    | 'attentionBias'
    | 'qkNorm'
  >;
}

export const HUB_MODELS: HubModel[] = [
  {
    repo: 'Qwen/Qwen2.5-0.5B-Instruct',
    label: 'Qwen2.5-0.5B-Instruct',
    bytes: 988_097_824,
    config: {
      architecture: 'qwen2',
      hiddenSize: 896,
      intermediateSize: 4864,
      numLayers: 24,
      numHeads: 14,
      numKvHeads: 2,
      headDim: 64,
      vocabSize: 151936,
      tieWordEmbeddings: true,
      attentionBias: true,
      qkNorm: false,
    },
  },
  {
    repo: 'Qwen/Qwen3-0.6B',
    label: 'Qwen3-0.6B',
    bytes: 1_503_300_328,
    config: {
      architecture: 'qwen3',
      hiddenSize: 1024,
      intermediateSize: 3072,
      numLayers: 28,
      numHeads: 16,
      numKvHeads: 8,
      headDim: 128,
      vocabSize: 151936,
      tieWordEmbeddings: true,
      attentionBias: false,
      qkNorm: true,
    },
  },
  {
    repo: 'HuggingFaceTB/SmolLM2-135M-Instruct',
    label: 'SmolLM2-135M-Instruct',
    bytes: 269_060_552,
    config: {
      architecture: 'llama',
      hiddenSize: 576,
      intermediateSize: 1536,
      numLayers: 30,
      numHeads: 9,
      numKvHeads: 3,
      headDim: 64,
      vocabSize: 49152,
      tieWordEmbeddings: true,
      attentionBias: false,
      qkNorm: false,
    },
  },
  {
    repo: 'HuggingFaceTB/SmolLM2-360M-Instruct',
    label: 'SmolLM2-360M-Instruct',
    bytes: 723_674_912,
    config: {
      architecture: 'llama',
      hiddenSize: 960,
      intermediateSize: 2560,
      numLayers: 32,
      numHeads: 15,
      numKvHeads: 5,
      headDim: 64,
      vocabSize: 49152,
      tieWordEmbeddings: true,
      attentionBias: false,
      qkNorm: false,
    },
  },
];

/** GPU memory a training step of these settings needs on a Hub model (bf16 weights, gradient_checkpointing as set). */
export function hubModelMemory(model: HubModel, s: RunConfig, promptTokens = 128): number {
  const config = {
    ...model.config,
    modelType: model.config.architecture,
    ropeTheta: 0,
    rmsNormEps: 0,
    maxPositionEmbeddings: 0,
    bosTokenId: null,
    eosTokenIds: [],
  };
  const batch = (s.grpo.promptsPerStep * s.grpo.numGenerations) / s.grpo.gradientAccumulationSteps;
  return trainingMemory(config, {
    batch,
    tokens: promptTokens + s.grpo.maxCompletionLength,
    loraRank: s.lora.r,
    full: false,
    checkpoint: s.grpo.gradientCheckpointing,
    weightBytes: 2,
  }).total;
}
