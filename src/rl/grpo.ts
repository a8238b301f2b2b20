// The GRPO loop (TRL GRPOTrainer semantics, DESIGN.md §8): sample prompts → G completions each on
// the KV cache → rewards → group advantages → per-token clipped loss (+ KL to the adapter-off base
// model, + entropy bonus) → backward into the LoRA adapter → optimizer step. Runs the same in Node
// and in the browser worker.

import { forwardBackward } from '../model/backward.ts';
import { padBatch } from '../model/batch.ts';
import type { LanguageModel } from '../model/model.ts';
import { generate, type Completion } from '../model/generate.ts';
import { keepGroup, type GroupFilter } from './filter.ts';
import { AdamW, clipGradNorm, readScalar, Sgd, type AdamWState, type SgdState } from '../train/optim.ts';
import { learningRate, type SchedulerType } from '../train/schedule.ts';
import type { ModelTokenizer } from '../io/tokenizer.ts';
import { computeRewardAdvantages, type AdvantageEstimator, type MultiObjectiveAggregation, type ScaleRewards } from './advantages.ts';
import { chatPromptIds, type PromptFormat } from './evaluate.ts';
import { grpoLoss, type CompletionTokens, type ImportanceSamplingLevel, type LossType, type TokenTerms } from './loss.ts';
import { inspectedCompletion, type StepInspection, type TrainedTokens } from './inspect.ts';
import { appliedEntropyCoef, initialAdaptiveEntropy, updateAdaptiveEntropy, type AdaptiveEntropyState } from './adaptive-entropy.ts';
import {
  samplingCorrectionWeights,
  samplingMetrics,
  type ImportanceSamplingMode,
  type SampledLogprobs,
  type SamplingCorrection,
} from './sampling-correction.ts';

/** TRL GRPOConfig names (camelCase here, kebab-case on the CLI, snake_case in config.json). */
export interface GrpoConfig {
  numGenerations: number;
  promptsPerStep: number;
  maxCompletionLength: number;
  temperature: number;
  topP: number;
  topK: number;
  minP: number;
  learningRate: number;
  lrSchedulerType: SchedulerType;
  warmupRatio: number;
  optimizer: 'adamw' | 'sgd';
  adamBeta1: number;
  adamBeta2: number;
  adamEpsilon: number;
  weightDecay: number;
  maxGradNorm: number;
  lossType: LossType;
  scaleRewards: ScaleRewards;
  beta: number;
  epsilon: number;
  epsilonHigh: number;
  entropyCoef: number;
  /** TRL use_adaptive_entropy: entropyCoef is only the start of a coefficient steered towards entropyTarget. */
  useAdaptiveEntropy: boolean;
  /** Mean token entropy (nats) the adaptive controller aims at. */
  entropyTarget: number;
  topEntropyQuantile: number;
  maskTruncatedCompletions: boolean;
  importanceSamplingLevel: ImportanceSamplingLevel;
  /** Two-sided clipping cap on the unclipped ratio; 0 = off (TRL: None). */
  delta: number;
  sapoTemperaturePos: number;
  sapoTemperatureNeg: number;
  vespoKPos: number;
  vespoLambdaPos: number;
  vespoKNeg: number;
  vespoLambdaNeg: number;
  /** TRL reward_weights, comma-separated (one per reward function, in order); null = all 1. */
  rewardWeights: string | null;
  multiObjectiveAggregation: MultiObjectiveAggregation;
  /** 'grpo' (group-centred, scaled) or 'passk' (verl grpo_passk: only each group's best gets r_max − r_second). */
  advantageEstimator: AdvantageEstimator;
  /** Groups with equal rewards add no loss, tokens or completions to the normaliser. */
  excludeZeroStdFromDenominator: boolean;
  /** TRL use_bias_correction_kl: k3 × importance ratio. */
  useBiasCorrectionKl: boolean;
  /** TRL off_policy_mask_threshold; 0 = off (TRL: None). */
  offPolicyMaskThreshold: number;
  /** TRL vllm_importance_sampling_correction: weigh the loss by exp(trainer − sampler log-prob), limited by the mode. */
  importanceSamplingCorrection: boolean;
  importanceSamplingMode: ImportanceSamplingMode;
  /** TRL vllm_importance_sampling_clip_max. */
  importanceSamplingCap: number;
  /** TRL vllm_importance_sampling_clip_min; 0 = None. */
  importanceSamplingMin: number;
  numIterations: number;
  gradientAccumulationSteps: number;
  /** TRL gradient_checkpointing: keep only each layer's input in the training pass and recompute the layer in backward. */
  gradientCheckpointing: boolean;
  maxSteps: number;
  seed: number;
}

/** How the trainer gets and shapes its prompts, besides the settings. */
export interface GrpoTrainerOptions {
  /** Online difficulty filtering / DAPO dynamic sampling: groups that fail are replaced by new prompts. */
  groupFilter?: GroupFilter;
  promptFormat?: PromptFormat;
  /** Called with each trained group's prompt and mean |advantage| (e.g. to update a curriculum). */
  onGroup?: (prompt: Prompt, meanAbsAdvantage: number) => void;
}

/** Where a trainer stands: restoring it continues exactly where it was saved. */
export interface GrpoTrainerState {
  step: number;
  /** Prompt + completion tokens processed so far (TRL's num_tokens). */
  tokensSeen: number;
  optimizer: AdamWState | SgdState;
  /** The adaptive entropy controller's state (absent in checkpoints of runs without it). */
  adaptiveEntropy?: AdaptiveEntropyState;
}

/**
 * The defaults of `webgrpo train`: the quick demo on the built-in tiny model. Measured on a 2-core
 * CPU (SwiftShader): held-out pass@1 44.1% → 62.5% in 9–13 min. Many prompts with few generations
 * each, a warmed-up linearly decaying lr, and skipping groups with equal rewards (advantage 0)
 * learned fastest per minute among the recipes tried on that CPU.
 */
export const GRPO_DEFAULTS: GrpoConfig = {
  numGenerations: 4,
  promptsPerStep: 16,
  maxCompletionLength: 64,
  temperature: 1,
  topP: 1,
  topK: 0,
  minP: 0,
  learningRate: 3e-3,
  lrSchedulerType: 'linear',
  warmupRatio: 0.1,
  optimizer: 'adamw',
  adamBeta1: 0.9,
  adamBeta2: 0.99,
  adamEpsilon: 1e-8,
  weightDecay: 0,
  maxGradNorm: 1,
  lossType: 'dapo',
  scaleRewards: 'group',
  beta: 0,
  epsilon: 0.2,
  epsilonHigh: 0.2,
  entropyCoef: 0,
  useAdaptiveEntropy: false,
  entropyTarget: 0.2,
  topEntropyQuantile: 1,
  maskTruncatedCompletions: false,
  importanceSamplingLevel: 'token',
  delta: 0,
  sapoTemperaturePos: 1,
  sapoTemperatureNeg: 1.05,
  vespoKPos: 2,
  vespoLambdaPos: 3,
  vespoKNeg: 3,
  vespoLambdaNeg: 2,
  rewardWeights: null,
  multiObjectiveAggregation: 'sum_then_normalize',
  advantageEstimator: 'grpo',
  excludeZeroStdFromDenominator: false,
  useBiasCorrectionKl: false,
  offPolicyMaskThreshold: 0,
  importanceSamplingCorrection: true,
  importanceSamplingMode: 'sequence_mask',
  importanceSamplingCap: 3,
  importanceSamplingMin: 0,
  numIterations: 1,
  gradientAccumulationSteps: 1,
  // TRL's default (its BaseConfig overrides transformers' False): the same gradients, less memory.
  gradientCheckpointing: true,
  maxSteps: 90,
  seed: 0,
};

/** Sampling rounds per step when filtering groups before the batch is filled with what was dropped. */
const MAX_FILTER_ROUNDS = 4;

interface Group {
  prompt: Prompt;
  promptIds: number[];
  completions: Completion[];
  texts: string[];
  rewards: RewardResult[];
}

export interface Prompt {
  question: string;
  answer: string;
}

export interface RewardResult {
  total: number;
  perFunction: Record<string, number | null>;
}

export interface Rollout {
  step: number;
  group: number;
  prompt: string;
  prompt_ids: number[];
  completion: string;
  completion_ids: number[];
  answer: string;
  rewards: Record<string, number | null>;
  reward: number;
  advantage: number;
  /** Entropy (nats) of the policy at each completion token, from the step's training pass; empty for a completion the step did not train on (advantage 0). */
  completion_entropies: number[];
  /** The sampler's log-prob of each completion token (at the sampling temperature, before top-k/top-p/min-p). */
  sampling_logprobs: number[];
}

export type StepMetrics = Record<string, number>;

/** The parts of a step whose seconds every metrics line reports as `timing/<part>` (evaluation is the session's: `timing/eval`). */
export type StepPhase = 'generate' | 'logprobs' | 'backward' | 'optimizer' | 'reward';

function emptyTiming(): Record<StepPhase, number> {
  return { generate: 0, logprobs: 0, backward: 0, optimizer: 0, reward: 0 };
}

/** A sequence of the step: prompt + completion ids, and where the completion starts. */
interface Sample {
  ids: number[];
  promptLength: number;
  completionLength: number;
  truncated: boolean;
  advantage: number;
  zeroStdGroup: boolean;
  /** The sampler's log-probs of the completion tokens. */
  samplerLogprobs: number[];
}

/**
 * Per-token log-probs of each sample's completion tokens (rows promptLength−1 … of the padded
 * layout), as arrays aligned with the completion.
 */
function completionSlices(samples: Sample[], tokens: number, values: Float32Array): Float64Array[] {
  return samples.map((s, b) => {
    const out = new Float64Array(s.completionLength);
    for (let j = 0; j < s.completionLength; j++) out[j] = values[b * tokens + s.promptLength - 1 + j];
    return out;
  });
}

export class GrpoTrainer {
  private readonly optimizer: AdamW | Sgd;
  private stepsDone = 0;
  private tokensSeen = 0;
  private adaptiveEntropy: AdaptiveEntropyState;
  /** Seconds spent in each part of the step in flight (DESIGN.md §8.9: timing/*). */
  private timing: Record<StepPhase, number> = emptyTiming();

  /** Run `part`, adding its wall-clock seconds to the step's `phase`. */
  private async timed<T>(phase: StepPhase, part: () => Promise<T>): Promise<T> {
    const start = performance.now();
    try {
      return await part();
    } finally {
      this.timing[phase] += (performance.now() - start) / 1000;
    }
  }

  constructor(
    readonly model: LanguageModel,
    readonly tokenizer: ModelTokenizer,
    readonly cfg: GrpoConfig,
    readonly nextPrompt: () => Prompt,
    readonly reward: (completion: string, prompt: Prompt) => Promise<RewardResult>,
    readonly options: GrpoTrainerOptions = {},
  ) {
    if (!model.adapter) throw new Error('GRPO trains a LoRA adapter: attach one to the model first.');
    if (cfg.numGenerations < 2) throw new Error(`num_generations must be at least 2 (got ${cfg.numGenerations}): GRPO compares completions within a group.`);
    const total = cfg.promptsPerStep * cfg.numGenerations;
    if (total % cfg.gradientAccumulationSteps !== 0) {
      throw new Error(`prompts_per_step × num_generations (${total}) must be divisible by gradient_accumulation_steps (${cfg.gradientAccumulationSteps}).`);
    }
    const params = model.adapter.params();
    this.optimizer =
      cfg.optimizer === 'adamw'
        ? new AdamW(model.gpu, params, { lr: cfg.learningRate, beta1: cfg.adamBeta1, beta2: cfg.adamBeta2, eps: cfg.adamEpsilon, weightDecay: cfg.weightDecay })
        : new Sgd(model.gpu, params, { lr: cfg.learningRate, weightDecay: cfg.weightDecay });
    this.adaptiveEntropy = initialAdaptiveEntropy(cfg.entropyCoef);
  }

  /** Optimizer steps taken so far. */
  get step(): number {
    return this.stepsDone;
  }

  async state(): Promise<GrpoTrainerState> {
    return {
      step: this.stepsDone,
      tokensSeen: this.tokensSeen,
      optimizer: await this.optimizer.state(),
      ...(this.cfg.useAdaptiveEntropy ? { adaptiveEntropy: this.adaptiveEntropy } : {}),
    };
  }

  restore(state: GrpoTrainerState): void {
    if (this.optimizer instanceof AdamW) {
      if (!('m' in state.optimizer)) throw new Error('The checkpoint holds SGD state but this run uses AdamW.');
      this.optimizer.loadState(state.optimizer);
    } else {
      if ('m' in state.optimizer) throw new Error('The checkpoint holds AdamW state but this run uses SGD.');
      this.optimizer.loadState(state.optimizer);
    }
    this.stepsDone = state.step;
    this.tokensSeen = state.tokensSeen;
    if (this.cfg.useAdaptiveEntropy) {
      if (!state.adaptiveEntropy) throw new Error('The checkpoint has no adaptive entropy state (adaptiveEntropy) but this run uses use_adaptive_entropy.');
      this.adaptiveEntropy = state.adaptiveEntropy;
    }
  }

  /** Generate and grade num_generations completions for each prompt. */
  private async rollout(prompts: Prompt[], round: number): Promise<Group[]> {
    const { model, tokenizer, cfg } = this;
    const promptIds = prompts.map((p) => chatPromptIds(tokenizer, p.question, this.options.promptFormat));
    const completions = await this.timed('generate', () =>
      generate(model, promptIds, {
        maxNewTokens: cfg.maxCompletionLength,
        temperature: cfg.temperature,
        topP: cfg.topP,
        topK: cfg.topK,
        minP: cfg.minP,
        seed: (cfg.seed * 1_000_003 + this.step) * MAX_FILTER_ROUNDS + round,
        n: cfg.numGenerations,
        eosTokenIds: [...new Set([...model.config.eosTokenIds, ...tokenizer.eosTokenIds])],
        validVocab: Math.min(model.config.vocabSize, tokenizer.vocabSize),
      }),
    );
    const texts = completions.map((c) => tokenizer.decode(c.ids, { skipSpecialTokens: true }));
    const rewards = await this.timed('reward', () => Promise.all(completions.map((c, i) => this.reward(texts[i], prompts[c.prompt]))));
    const G = cfg.numGenerations;
    return prompts.map((prompt, p) => ({
      prompt,
      promptIds: promptIds[p],
      completions: completions.slice(p * G, (p + 1) * G),
      texts: texts.slice(p * G, (p + 1) * G),
      rewards: rewards.slice(p * G, (p + 1) * G),
    }));
  }

  /**
   * prompts_per_step groups; with a group filter, groups that fail it are replaced by groups of new
   * prompts, for up to MAX_FILTER_ROUNDS rounds, after which dropped groups fill the batch.
   */
  private async sampleGroups(): Promise<{ groups: Group[]; sampledGroups: number }> {
    const { cfg } = this;
    const filter = this.options.groupFilter;
    const kept: Group[] = [],
      dropped: Group[] = [];
    let sampled = 0;
    for (let round = 0; kept.length < cfg.promptsPerStep && round < (filter ? MAX_FILTER_ROUNDS : 1); round++) {
      const prompts = Array.from({ length: cfg.promptsPerStep - kept.length }, () => this.nextPrompt());
      for (const group of await this.rollout(prompts, round)) {
        sampled++;
        // Accuracy: the math reward when present (1 = correct), else a positive total reward.
        const accuracies = group.rewards.map((r) => ((r.perFunction.math ?? r.total) >= 1 ? 1 : 0));
        if (
          !filter ||
          keepGroup(
            group.rewards.map((r) => r.total),
            accuracies,
            filter,
          )
        )
          kept.push(group);
        else dropped.push(group);
      }
    }
    while (kept.length < cfg.promptsPerStep) kept.push(dropped.shift()!);
    return { groups: kept, sampledGroups: sampled };
  }

  /**
   * One GRPO step (num_iterations optimizer updates on one generation batch). With `inspect`, also
   * the step inspector's record (DESIGN.md §8.13), at the cost of one more log-prob pass.
   */
  async trainStep(opts: { inspect?: boolean } = {}): Promise<{ metrics: StepMetrics; rollouts: Rollout[]; inspection: StepInspection | null }> {
    const { model, tokenizer, cfg } = this;
    const adapter = model.adapter!;
    const start = performance.now();
    this.timing = emptyTiming();
    const { groups, sampledGroups } = await this.sampleGroups();
    const prompts = groups.map((g) => g.prompt);
    const promptIds = groups.map((g) => g.promptIds);
    const completions = groups.flatMap((g, p) => g.completions.map((c) => ({ ...c, prompt: p })));
    const texts = groups.flatMap((g) => g.texts);
    const rewards = groups.flatMap((g) => g.rewards);
    const functionNames = Object.keys(rewards[0].perFunction);
    const weights = parseRewardWeights(cfg.rewardWeights, functionNames.length);
    const adv = computeRewardAdvantages(
      rewards.map((r) => functionNames.map((name) => r.perFunction[name] ?? null)),
      weights,
      cfg.numGenerations,
      cfg.scaleRewards,
      cfg.multiObjectiveAggregation,
      cfg.advantageEstimator,
    );
    prompts.forEach((p, g) => {
      const group = adv.advantages.slice(g * cfg.numGenerations, (g + 1) * cfg.numGenerations);
      this.options.onGroup?.(p, group.reduce((a, x) => a + Math.abs(x), 0) / group.length);
    });
    const samples: Sample[] = completions.map((c, i) => ({
      ids: [...promptIds[c.prompt], ...c.ids],
      promptLength: promptIds[c.prompt].length,
      completionLength: c.ids.length,
      truncated: c.finishReason === 'length',
      advantage: adv.advantages[i],
      zeroStdGroup: adv.zeroStd[i],
      samplerLogprobs: c.logprobs,
    }));

    const lossCfg = {
      lossType: cfg.lossType,
      epsilon: cfg.epsilon,
      epsilonHigh: cfg.epsilonHigh,
      beta: cfg.beta,
      topEntropyQuantile: cfg.topEntropyQuantile,
      maxCompletionLength: cfg.maxCompletionLength,
      maskTruncatedCompletions: cfg.maskTruncatedCompletions,
      importanceSamplingLevel: cfg.importanceSamplingLevel,
      delta: cfg.delta,
      sapoTemperaturePos: cfg.sapoTemperaturePos,
      sapoTemperatureNeg: cfg.sapoTemperatureNeg,
      vespoKPos: cfg.vespoKPos,
      vespoLambdaPos: cfg.vespoLambdaPos,
      vespoKNeg: cfg.vespoKNeg,
      vespoLambdaNeg: cfg.vespoLambdaNeg,
      excludeZeroStdFromDenominator: cfg.excludeZeroStdFromDenominator,
      useBiasCorrectionKl: cfg.useBiasCorrectionKl,
      offPolicyMaskThreshold: cfg.offPolicyMaskThreshold > 0 ? cfg.offPolicyMaskThreshold : undefined,
    };
    // A completion with advantage exactly 0 (every completion of a group with equal rewards) adds
    // nothing to the loss or its gradient when the policy term is the only per-token term (β = 0, no
    // entropy bonus, no top-entropy mask, whose quantile would see its tokens) and the normaliser is
    // step-wide (dapo: the step's active tokens; grpo, dr_grpo: the step's completion count, bnpo's
    // is per call). Such completions skip the forward/backward: the same update, a cheaper step. The
    // loss metrics (entropy, clip ratios) then cover the completions that were trained on.
    const skipZero = cfg.beta === 0 && cfg.entropyCoef === 0 && !cfg.useAdaptiveEntropy && cfg.topEntropyQuantile === 1 && cfg.lossType !== 'bnpo';
    // exclude_zero_std_from_denominator: completions of zero-std groups contribute nothing at all, so
    // they skip the forward/backward too; the step's counts below leave them out.
    const counted = cfg.excludeZeroStdFromDenominator ? samples.filter((s) => !s.zeroStdGroup) : samples;
    const trained = skipZero ? counted.filter((s) => s.advantage !== 0) : counted;
    const microSize = Math.ceil(trained.length / cfg.gradientAccumulationSteps);
    const micro = Array.from({ length: cfg.gradientAccumulationSteps }, (_, k) => trained.slice(k * microSize, (k + 1) * microSize)).filter(
      (b) => b.length > 0,
    );
    const activeTokens = counted.reduce((a, s) => a + (cfg.maskTruncatedCompletions && s.truncated ? 0 : s.completionLength), 0);

    // Log-probs that stay fixed during the step: the base model (adapter off) for the KL term, and
    // the generating policy when the batch is reused for several updates.
    const fixed = async (withAdapter: boolean) =>
      Promise.all(
        micro.map(async (batch) => {
          const data = padBatch(batch.map((s) => s.ids));
          model.adapter = withAdapter ? adapter : null;
          const { logprobs: lp } = await model.scoreBatch(data, cfg.temperature);
          model.adapter = adapter;
          return completionSlices(batch, data.tokens, lp);
        }),
      );
    const ref = cfg.beta > 0 ? await this.timed('logprobs', () => fixed(false)) : null;
    const old = cfg.numIterations > 1 ? await this.timed('logprobs', () => fixed(true)) : null;
    // The trainer's log-probs of the sampling policy, to compare with the sampler's: the old ones, else
    // (one update) the first update's own forward, unless that has dropout and needs a pass without.
    const trainerOld = old ?? (adapter.config.dropout > 0 ? await this.timed('logprobs', () => fixed(true)) : null);
    // Sampler/trainer mismatch (DESIGN.md §8.12): metrics always, the correction weights when enabled,
    // both fixed for the step once the trainer's old log-probs are known.
    const correction: SamplingCorrection | null = cfg.importanceSamplingCorrection
      ? { mode: cfg.importanceSamplingMode, cap: cfg.importanceSamplingCap, min: cfg.importanceSamplingMin }
      : null;
    const sampled = new Map<Sample, SampledLogprobs>();
    const correctionWeights = (s: Sample, trainer: Float64Array): Float64Array | undefined => {
      if (!sampled.has(s)) sampled.set(s, { trainer, sampler: s.samplerLogprobs });
      return correction ? samplingCorrectionWeights(sampled.get(s)!, correction) : undefined;
    };

    const sums: Record<string, number> = {};
    const add = (k: string, v: number) => (sums[k] = (sums[k] ?? 0) + v);
    let gradNorm = 0,
      lr = 0,
      loss = 0;
    // Per-token entropies of the trained completions, from the first iteration's forward pass.
    const tokenEntropies = new Map<Sample, number[]>();
    // For the inspector: Σ log π before the update (first pass) and the last update's per-token terms.
    const logprobBefore = new Map<Sample, number>();
    const lastPass = new Map<Sample, { logprobs: Float64Array; entropies: Float64Array; terms: TokenTerms }>();
    let entropyCoefSum = 0;
    for (let iteration = 0; iteration < cfg.numIterations; iteration++) {
      adapter.zeroGrads();
      loss = 0;
      // Adaptive entropy (DESIGN.md §8.11): the coefficient and gate from the previous update.
      const entropyCoef = cfg.useAdaptiveEntropy ? appliedEntropyCoef(this.adaptiveEntropy, cfg.entropyTarget) : cfg.entropyCoef;
      let entropyTotal = 0;
      let entropyTokens = 0;
      // The backward's GPU work is waited for here, so that it is not counted as the optimizer's.
      await this.timed('backward', async () => {
        for (const [k, batch] of micro.entries()) {
          const data = padBatch(batch.map((s) => s.ids));
          await forwardBackward(
            model,
            data,
            (logprobs, entropies) => {
              const lp = completionSlices(batch, data.tokens, logprobs);
              const ent = completionSlices(batch, data.tokens, entropies);
              const tokensIn: CompletionTokens[] = batch.map((s, i) => ({
                logprobs: lp[i],
                oldLogprobs: old?.[k][i],
                samplingWeights: correctionWeights(s, trainerOld?.[k][i] ?? lp[i]),
                refLogprobs: ref?.[k][i],
                entropies: ent[i],
                mask: new Float64Array(s.completionLength).fill(1),
                advantage: s.advantage,
                truncated: s.truncated,
                zeroStdGroup: s.zeroStdGroup,
              }));
              const result = grpoLoss(tokensIn, { ...lossCfg, entropyCoef }, { dapoNormalizer: activeTokens, numCompletionsInStep: counted.length });
              loss += result.loss;
              entropyTotal += result.metrics.entropy * result.metrics.num_tokens;
              entropyTokens += result.metrics.num_tokens;
              // Loss metrics (clip ratios, entropy, kl) are averaged over every update of the step, as TRL
              // logs them: with num_iterations > 1 the clip ratios of the later updates are the informative ones.
              for (const [name, v] of Object.entries(result.metrics)) add(name, v * batch.length);
              if (iteration === 0) {
                batch.forEach((s, i) =>
                  tokenEntropies.set(
                    s,
                    Array.from(ent[i], (x) => Math.round(x * 1e4) / 1e4),
                  ),
                );
              }
              if (opts.inspect) {
                if (iteration === 0) batch.forEach((s, i) => logprobBefore.set(s, sum(lp[i])));
                if (iteration === cfg.numIterations - 1)
                  batch.forEach((s, i) => lastPass.set(s, { logprobs: lp[i], entropies: ent[i], terms: result.tokens[i] }));
              }
              const gLogprob = new Float32Array(data.batch * data.tokens);
              const gEntropy = new Float32Array(data.batch * data.tokens);
              batch.forEach((s, b) => {
                for (let j = 0; j < s.completionLength; j++) {
                  gLogprob[b * data.tokens + s.promptLength - 1 + j] = result.gLogprob[b][j];
                  gEntropy[b * data.tokens + s.promptLength - 1 + j] = result.gEntropy[b][j];
                }
              });
              return { gLogprob, gEntropy };
            },
            {
              temperature: cfg.temperature,
              checkpoint: cfg.gradientCheckpointing,
              dropoutStep: (this.step * cfg.numIterations + iteration) * cfg.gradientAccumulationSteps + k,
            },
          );
        }
        await model.gpu.sync();
      });
      await this.timed('optimizer', async () => {
        const { norm, clipCoef } = clipGradNorm(
          model.gpu,
          adapter.params().map((p) => p.grad),
          cfg.maxGradNorm,
        );
        lr = learningRate(this.step, cfg.maxSteps, { lr: cfg.learningRate, scheduler: cfg.lrSchedulerType, warmupRatio: cfg.warmupRatio });
        this.optimizer.step({ lr, clipCoef });
        gradNorm = await readScalar(norm);
        norm.release(), clipCoef?.release();
      });
      if (cfg.useAdaptiveEntropy && entropyTokens > 0) {
        this.adaptiveEntropy = updateAdaptiveEntropy(this.adaptiveEntropy, entropyTotal / entropyTokens, cfg.entropyTarget);
      }
      entropyCoefSum += cfg.useAdaptiveEntropy ? this.adaptiveEntropy.coef : cfg.entropyCoef;
    }

    // The inspector's re-score: the trained completions under the updated adapter.
    const logprobAfter = new Map<Sample, number>();
    if (opts.inspect) {
      await this.timed('logprobs', async () => {
        for (const batch of micro) {
          const data = padBatch(batch.map((s) => s.ids));
          const { logprobs: lp } = await model.scoreBatch(data, cfg.temperature);
          completionSlices(batch, data.tokens, lp).forEach((x, i) => logprobAfter.set(batch[i], sum(x)));
        }
      });
    }

    const lengths = samples.map((s) => s.completionLength);
    this.tokensSeen += samples.reduce((a, s) => a + s.ids.length, 0);
    const metrics: StepMetrics = {
      step: this.step + 1,
      reward: mean(adv.rewards),
      reward_std: adv.rewardStd,
      frac_reward_zero_std: adv.fracRewardZeroStd,
      'completions/mean_length': mean(lengths),
      'completions/min_length': Math.min(...lengths),
      'completions/max_length': Math.max(...lengths),
      'completions/clipped_ratio': mean(samples.map((s) => (s.truncated ? 1 : 0))),
      'filter/sampled_groups': sampledGroups,
      loss,
      grad_norm: gradNorm,
      learning_rate: lr,
      num_tokens: this.tokensSeen,
    };
    for (const [k, v] of Object.entries(sums)) if (k !== 'num_tokens') metrics[k] = v / (trained.length * cfg.numIterations);
    // TRL logs entropy_coef whenever an entropy bonus is on: the controller's coefficient after each update.
    if (cfg.useAdaptiveEntropy || cfg.entropyCoef !== 0) metrics.entropy_coef = entropyCoefSum / cfg.numIterations;
    Object.assign(metrics, samplingMetrics([...sampled.values()], correction));
    for (const name of Object.keys(rewards[0].perFunction)) {
      const values = rewards.map((r) => r.perFunction[name]).filter((v): v is number => v !== null);
      metrics[`rewards/${name}/mean`] = mean(values);
      metrics[`rewards/${name}/std`] = std(values);
    }
    for (const [phase, seconds] of Object.entries(this.timing)) metrics[`timing/${phase}`] = seconds;
    metrics.step_time = (performance.now() - start) / 1000;
    const rollouts: Rollout[] = completions.map((c, i) => ({
      step: this.step + 1,
      group: c.prompt,
      prompt: tokenizer.decode(promptIds[c.prompt]),
      prompt_ids: promptIds[c.prompt],
      completion: texts[i],
      completion_ids: c.ids,
      answer: prompts[c.prompt].answer,
      rewards: rewards[i].perFunction,
      reward: adv.rewards[i],
      advantage: adv.advantages[i],
      completion_entropies: tokenEntropies.get(samples[i]) ?? [],
      sampling_logprobs: c.logprobs,
    }));
    const trainedTokens = (s: Sample): TrainedTokens | undefined => {
      const last = lastPass.get(s);
      return last && { ...last, logprobBefore: logprobBefore.get(s)!, logprobAfter: logprobAfter.get(s)! };
    };
    const G = cfg.numGenerations;
    const inspection: StepInspection | null = opts.inspect
      ? {
          step: this.step + 1,
          loss,
          learningRate: lr,
          lossType: cfg.lossType,
          epsilon: cfg.epsilon,
          epsilonHigh: cfg.epsilonHigh,
          groups: groups.map((g, p) => ({
            prompt: rollouts[p * G].prompt,
            answer: g.prompt.answer,
            rewardMean: adv.groupMean[p],
            rewardStd: adv.groupStd[p],
            completions: rollouts.slice(p * G, (p + 1) * G).map((r, j) =>
              inspectedCompletion(
                {
                  text: r.completion,
                  tokens: r.completion_ids.map((id) => tokenizer.decode([id])),
                  rewards: r.rewards,
                  reward: r.reward,
                  advantage: r.advantage,
                },
                trainedTokens(samples[p * G + j]),
              ),
            ),
          })),
        }
      : null;
    this.stepsDone++;
    return { metrics, rollouts, inspection };
  }
}

/** reward_weights as numbers, one per reward function; null = all 1. */
export function parseRewardWeights(text: string | null, count: number): number[] {
  if (text === null || text.trim() === '') return new Array<number>(count).fill(1);
  const weights = text.split(',').map((t) => Number(t.trim()));
  if (weights.some((w) => !Number.isFinite(w))) throw new Error(`reward_weights must be comma-separated numbers, got "${text}"`);
  if (weights.length !== count) throw new Error(`reward_weights has ${weights.length} weights for ${count} reward functions`);
  return weights;
}

function sum(xs: ArrayLike<number>): number {
  let total = 0;
  for (let i = 0; i < xs.length; i++) total += xs[i];
  return total;
}

function mean(xs: number[]): number {
  return xs.length === 0 ? 0 : xs.reduce((a, b) => a + b, 0) / xs.length;
}

function std(xs: number[]): number {
  if (xs.length < 2) return 0;
  const m = mean(xs);
  return Math.sqrt(xs.reduce((a, x) => a + (x - m) ** 2, 0) / (xs.length - 1));
}
