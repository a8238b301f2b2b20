// The sampler/trainer mismatch (DESIGN.md §8.12). The sampler (KV-cache decode kernels) and the
// trainer (full forward) compute the same policy's log-probs with different kernels, so they differ
// by rounding. TRL's vllm_importance_sampling_* options correct the loss for the gap between vLLM and
// the trainer; here they correct for ours. Per completion token t, with the trainer's log-prob of the
// policy that sampled (old) and the sampler's own (sampler):
//   r_t = exp(old_t − sampler_t)                      token_* modes
//   r   = exp(Σ_t (old_t − sampler_t))                sequence_* modes (one weight for the completion)
//   *_truncate: w = clamp(r, min, cap)                *_mask: w = r if min ≤ r ≤ cap else 0
// (min 0 = TRL's None: r > 0 always.) The weight is a constant that multiplies each token's policy
// term (src/rl/loss.ts); vespo folds it into its sequence weight instead.

export const IMPORTANCE_SAMPLING_MODES = ['token_truncate', 'token_mask', 'sequence_truncate', 'sequence_mask'] as const;
export type ImportanceSamplingMode = (typeof IMPORTANCE_SAMPLING_MODES)[number];

export interface SamplingCorrection {
  mode: ImportanceSamplingMode;
  /** C: TRL vllm_importance_sampling_clip_max. */
  cap: number;
  /** TRL vllm_importance_sampling_clip_min; 0 = None. */
  min: number;
}

/** One completion's trainer and sampler log-probs of its tokens. */
export interface SampledLogprobs {
  trainer: ArrayLike<number>;
  sampler: ArrayLike<number>;
}

function checkLengths({ trainer, sampler }: SampledLogprobs, i: number): void {
  if (trainer.length !== sampler.length) {
    throw new Error(`sampling correction: completion ${i} has ${sampler.length} sampler log-probs for ${trainer.length} tokens`);
  }
}

const isSequenceMode = (mode: ImportanceSamplingMode) => mode.startsWith('sequence');

/** The weight of one ratio under the mode's truncation or mask. */
function limit(r: number, { mode, cap, min }: SamplingCorrection): number {
  if (mode.endsWith('truncate')) return Math.min(Math.max(r, min), cap);
  return r >= min && r <= cap ? r : 0;
}

/** The correction weight of each token of a completion (in sequence modes the same for all of them). */
export function samplingCorrectionWeights(c: SampledLogprobs, correction: SamplingCorrection, index = 0): Float64Array {
  checkLengths(c, index);
  const T = c.trainer.length;
  const out = new Float64Array(T);
  if (isSequenceMode(correction.mode)) {
    let sum = 0;
    for (let t = 0; t < T; t++) sum += c.trainer[t] - c.sampler[t];
    out.fill(limit(Math.exp(sum), correction));
  } else {
    for (let t = 0; t < T; t++) out[t] = limit(Math.exp(c.trainer[t] - c.sampler[t]), correction);
  }
  return out;
}

/**
 * TRL's sampling/* metrics over a step's completions: |old − sampler| over all their tokens
 * (sampling_logp_difference/mean, max) and the importance-sampling ratio (min, mean, max): with the
 * correction on, its weights as TRL logs them (one per completion in sequence modes, one per token
 * otherwise); with it off, the raw per-token ratio exp(old − sampler).
 */
export function samplingMetrics(completions: SampledLogprobs[], correction: SamplingCorrection | null): Record<string, number> {
  let diffSum = 0;
  let diffMax = 0;
  let tokens = 0;
  const ratio = { min: Infinity, max: -Infinity, sum: 0, count: 0 };
  const addRatio = (r: number) => {
    ratio.min = Math.min(ratio.min, r);
    ratio.max = Math.max(ratio.max, r);
    ratio.sum += r;
    ratio.count++;
  };
  completions.forEach((c, i) => {
    checkLengths(c, i);
    for (let t = 0; t < c.trainer.length; t++) {
      const d = Math.abs(c.trainer[t] - c.sampler[t]);
      diffSum += d;
      diffMax = Math.max(diffMax, d);
      tokens++;
    }
    if (correction === null) for (let t = 0; t < c.trainer.length; t++) addRatio(Math.exp(c.trainer[t] - c.sampler[t]));
    else if (c.trainer.length > 0) {
      const w = samplingCorrectionWeights(c, correction, i);
      if (isSequenceMode(correction.mode)) addRatio(w[0]);
      else w.forEach(addRatio);
    }
  });
  const none = ratio.count === 0;
  return {
    'sampling/sampling_logp_difference/mean': tokens === 0 ? 0 : diffSum / tokens,
    'sampling/sampling_logp_difference/max': diffMax,
    'sampling/importance_sampling_ratio/min': none ? 0 : ratio.min,
    'sampling/importance_sampling_ratio/mean': none ? 0 : ratio.sum / ratio.count,
    'sampling/importance_sampling_ratio/max': none ? 0 : ratio.max,
  };
}
