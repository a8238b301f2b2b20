// The GRPO loss on the CPU side (TRL GRPOTrainer semantics, DESIGN.md §8.3–8.5), with its exact
// per-token gradients. The GPU computes per-token log-probs and entropies; this file turns them into
// the scalar loss, d loss / d logprob and d loss / d entropy, which forwardBackward
// (src/model/backward.ts) carries back through the model.
//
// Per active token t of completion i (m = completion mask after mask_truncated_completions):
//   ρ    = exp(logπθ − logπold)            (on-policy, oldLogprobs absent: ρ = exp(logπ − stopgrad(logπ)) = 1,
//                                           dρ/dlogπ = 1)
//   pol  = −min(ρA, clip(ρ, 1−ε_low, 1+ε_high)·A) · E   (E = top-entropy-quantile mask, a constant)
//   k3   = exp(ref−θ) − (ref−θ) − 1
//   l    = pol + β·k3 − entropyCoef·H
//   loss = Σ_i Σ_t w_i · m · l
// with the per-token weight w_i of the loss type (B = completions in this call, N = active tokens in
// this call, S = opts.numCompletionsInStep ?? B, L = maxCompletionLength):
//   grpo    w_i = 1 / (S · max(1, Σ_t m_i))      (mean over completions of the per-completion mean;
//                                                  fully masked completions still count in S, as in TRL)
//   bnpo    w   = (B / S) / max(1, N)
//   dr_grpo w   = 1 / (S · L)
//   dapo    w   = 1 / max(1, opts.dapoNormalizer ?? N)
//   sapo    w_i as grpo;  cispo, vespo  w as dapo;  luspo  w = 1 / S
// TRL 1.10 policy terms (DESIGN.md §8.3): cispo pol = −sg(min(ρ, ε_high))·A·logπ; sapo pol =
// −(4/τ)·σ(τ(ρ−1))·A (τ by the sign of A); vespo pol = −sg(φ(w))·A·logπ with w the summed sequence
// ratio; luspo the clipped ratio with w = 1/S (mean over completions of l_seq × length).
// importanceSamplingLevel 'sequence' (GSPO) replaces ρ by exp(mean token log-ratio) of the completion
// (gradient ρ_seq/n to each active token); delta > 0 uses min(ρ, δ) in the unclipped branch.
// TRL divides grpo/bnpo/dr_grpo by gradient_accumulation_steps per micro-batch; dividing by the step's
// completion count S instead is the same thing for equal-sized micro-batches and stays right for
// unequal ones. For bnpo, B/S plays the role of 1/gradient_accumulation_steps.
//
// excludeZeroStdFromDenominator: completions flagged zeroStdGroup get m = 0 and leave S's default
// (neither loss nor tokens nor completions). useBiasCorrectionKl (TRL): k3·ρ with the gradient through
// ρ (TRL's coef_1 is not detached). offPolicyMaskThreshold δ (TRL): A < 0 and mean_t(logπold − logπ) > δ
// zeroes the completion's policy term (a constant mask; KL and entropy terms stay). samplingWeights c_t
// (TRL's vllm_importance_sampling_ratio, DESIGN.md §8.12) multiply the policy term of each token after
// those masks (constants, so they scale its gradient too); vespo instead adds Σ_t clamp(ln c_t, ln 1e-8,
// 20) to its log sequence weight, as TRL folds the ratio into φ.
//
// Semantics pinned where TRL leaves a choice or has no equivalent:
// - Subgradient of min/clip, as PyTorch autograd takes it: torch.clamp passes the gradient when
//   1−ε_low ≤ ρ ≤ 1+ε_high (bounds inclusive) and blocks it outside; torch.min (binary `minimum`) sends
//   the gradient to the smaller branch and splits it ½/½ on an exact tie. Hence dpol/dlogπ =
//   −A·ρ·E·f with f = 1 when ρA < clip(ρ)A, f = [ρ in range] when ρA > clip(ρ)A (always 0: the branches
//   differ only when ρ is outside the range), and f = ½ + ½·[ρ in range] on a tie (a tie means ρ is in
//   range or A = 0, so f = 1 whenever it matters). On-policy (ρ = 1 exactly) every token is a tie in
//   range, so the gradient is −A·w per token, as in TRL.
// - top_entropy_quantile q < 1: threshold = torch.quantile(entropies of this call's active tokens,
//   1 − q) (linear interpolation, torch's lerp), keep tokens with H ≥ threshold. As in TRL the mask
//   multiplies only the policy term (not the KL or entropy terms) and is a constant for gradients.
//   Computed in float64 (TRL: float32), so a token within float32 rounding of the threshold may differ.
// - Entropy bonus (TRL has no entropy_coef): −entropyCoef·H per active token, aggregated with the same
//   weights as the loss (verl's convention: agg_loss(entropy, loss_agg_mode)), i.e. a per-completion
//   mean for grpo, a token mean for bnpo/dapo, and Σ/(S·L) for dr_grpo. It covers every active token
//   (the top-entropy mask is not applied to it). gEntropy = −entropyCoef·w·m.
// - Padding/inactive positions (m = 0) are never read beyond the mask: their gradients are 0 and a NaN
//   there does not propagate.
//
// Metrics (TRL names; means over this call's active tokens, denominator max(1, N)):
//   kl                    mean k3 (TRL logs it only when β ≠ 0; here whenever every completion has
//                         refLogprobs)
//   entropy               mean entropy
//   clip_ratio/low_mean   fraction with ρ < 1−ε_low and A < 0
//   clip_ratio/high_mean  fraction with ρ > 1+ε_high and A > 0
//   clip_ratio/region_mean  low or high
//   num_tokens            N, the active completion tokens of this call. TRL's `num_tokens` is the
//                         running total of prompt + completion tokens seen; the trainer accumulates
//                         that itself.

export const LOSS_TYPES = ['grpo', 'bnpo', 'dr_grpo', 'dapo', 'cispo', 'sapo', 'luspo', 'vespo'] as const;
export const IMPORTANCE_SAMPLING_LEVELS = ['token', 'sequence'] as const;
export type ImportanceSamplingLevel = (typeof IMPORTANCE_SAMPLING_LEVELS)[number];
export type LossType = (typeof LOSS_TYPES)[number];

export interface GrpoLossConfig {
  lossType: LossType;
  /** ε_low: lower clip bound 1 − epsilon. */
  epsilon: number;
  /** ε_high: upper clip bound 1 + epsilonHigh (set it equal to epsilon for symmetric clipping). */
  epsilonHigh: number;
  /** KL coefficient (k3 estimator against the reference model). */
  beta: number;
  /** Entropy bonus coefficient (loss −= entropyCoef · mean entropy). */
  entropyCoef: number;
  /** Fraction of highest-entropy tokens kept in the policy loss; 1 = all tokens. */
  topEntropyQuantile: number;
  /** L in dr_grpo's normaliser. */
  maxCompletionLength: number;
  /** Zero the mask of completions that ended without EOS. */
  maskTruncatedCompletions: boolean;
  /** 'token' (ρ per token, default) or 'sequence' (GSPO: ρ = exp(mean token log-ratio) per completion). */
  importanceSamplingLevel?: ImportanceSamplingLevel;
  /** Two-sided clipping (INTELLECT-2): the unclipped branch uses min(ρ, δ); 0 or absent = off. */
  delta?: number;
  /** sapo gate temperatures τ for A > 0 (default 1) and A ≤ 0 (default 1.05). */
  sapoTemperaturePos?: number;
  sapoTemperatureNeg?: number;
  /** vespo gamma weight φ(w) = exp(λ + k·ln w − λ·w): k, λ for A ≥ 0 (2, 3) and A < 0 (3, 2). */
  vespoKPos?: number;
  vespoLambdaPos?: number;
  vespoKNeg?: number;
  vespoLambdaNeg?: number;
  /** Completions of zero-std groups (`zeroStdGroup`) add neither loss nor tokens nor completions to any normaliser. */
  excludeZeroStdFromDenominator?: boolean;
  /** TRL use_bias_correction_kl: the k3 term is multiplied by the importance ratio (gradient through it, as in TRL). */
  useBiasCorrectionKl?: boolean;
  /** TRL off_policy_mask_threshold: drop the policy term of completions with A < 0 and mean(logπold − logπ) > this; absent = off. */
  offPolicyMaskThreshold?: number;
}

export interface CompletionTokens {
  /** Current policy log-probs of the sampled tokens, one per position. */
  logprobs: ArrayLike<number>;
  /** Behaviour-policy log-probs; absent = on-policy: ρ = 1 with gradient exp(logπ − stopgrad(logπ)). */
  oldLogprobs?: ArrayLike<number>;
  /** Reference-model log-probs; needed when beta ≠ 0. */
  refLogprobs?: ArrayLike<number>;
  /** Per-position entropies of the policy distribution. */
  entropies: ArrayLike<number>;
  /** 1 on completion tokens (any nonzero value counts as 1), 0 on padding. */
  mask: ArrayLike<number>;
  advantage: number;
  /** Ended without EOS (hit max_completion_length). */
  truncated: boolean;
  /** Its group's rewards all agree (std ≈ 0); with excludeZeroStdFromDenominator it is left out entirely. */
  zeroStdGroup?: boolean;
  /** Sampler/trainer importance-sampling correction, a constant per token (src/rl/sampling-correction.ts); absent = 1. */
  samplingWeights?: ArrayLike<number>;
}

export interface GrpoLossOptions {
  /** dapo: active completion tokens of the whole optimizer step (≥ this call's). Default: this call's. */
  dapoNormalizer?: number;
  /** grpo / bnpo / dr_grpo: completions in the whole optimizer step (≥ this call's). Default: this call's
   * (those not left out by excludeZeroStdFromDenominator). */
  numCompletionsInStep?: number;
}

export interface GrpoLossResult {
  loss: number;
  /** d loss / d logprob, one array per completion, same length as its inputs. */
  gLogprob: Float64Array[];
  /** d loss / d entropy (the entropy bonus), one array per completion. */
  gEntropy: Float64Array[];
  metrics: Record<string, number>;
  /** What each token added (the step inspector, DESIGN.md §8.13): one entry per completion, 0 on inactive positions. */
  tokens: TokenTerms[];
}

/** Per-token terms of one completion, exactly as the loss used them. */
export interface TokenTerms {
  /** w·l: the token's share of `loss` (they sum to it). */
  loss: Float64Array;
  /** The importance ratio the policy term saw (the sequence's at the sequence level; 1 on-policy). */
  ratio: Float64Array;
  /** −1 clipped low (ρ < 1−ε_low, A < 0), 1 clipped high (ρ above its bound, A > 0), else 0: as the clip metrics count. */
  clip: Int8Array;
}

/** torch.quantile(values, q) with the default 'linear' interpolation; values must be non-empty. */
export function torchQuantile(values: ArrayLike<number>, q: number): number {
  const sorted = Float64Array.from(values).sort();
  const rank = q * (sorted.length - 1);
  const below = Math.floor(rank);
  const above = Math.ceil(rank);
  const w = rank - below;
  const a = sorted[below];
  const b = sorted[above];
  // torch.lerp: start + w·(end − start) for w < 0.5, end − (end − start)·(1 − w) otherwise.
  return w < 0.5 ? a + w * (b - a) : b - (b - a) * (1 - w);
}

function check(cond: boolean, msg: string): void {
  if (!cond) throw new Error(`grpoLoss: ${msg}`);
}

export function grpoLoss(completions: CompletionTokens[], cfg: GrpoLossConfig, opts: GrpoLossOptions = {}): GrpoLossResult {
  const { lossType, epsilon, epsilonHigh, beta, entropyCoef, topEntropyQuantile, maxCompletionLength } = cfg;
  check(LOSS_TYPES.includes(lossType), `unknown lossType '${lossType}'`);
  check(Number.isFinite(epsilon) && epsilon >= 0, `epsilon must be ≥ 0, got ${epsilon}`);
  check(Number.isFinite(epsilonHigh) && epsilonHigh >= 0, `epsilonHigh must be ≥ 0, got ${epsilonHigh}`);
  check(Number.isFinite(beta) && beta >= 0, `beta must be ≥ 0, got ${beta}`);
  check(Number.isFinite(entropyCoef), `entropyCoef must be finite, got ${entropyCoef}`);
  check(topEntropyQuantile >= 0 && topEntropyQuantile <= 1, `topEntropyQuantile must be in [0, 1], got ${topEntropyQuantile}`);
  check(cfg.delta === undefined || (Number.isFinite(cfg.delta) && cfg.delta >= 0), `delta must be ≥ 0 (0 = off), got ${cfg.delta}`);
  for (const tau of [cfg.sapoTemperaturePos, cfg.sapoTemperatureNeg])
    check(tau === undefined || (Number.isFinite(tau) && tau > 0), `sapo temperatures must be > 0, got ${tau}`);
  check(
    cfg.offPolicyMaskThreshold === undefined || (Number.isFinite(cfg.offPolicyMaskThreshold) && cfg.offPolicyMaskThreshold > 0),
    `offPolicyMaskThreshold must be > 0 (absent = off), got ${cfg.offPolicyMaskThreshold}`,
  );
  check(
    cfg.importanceSamplingLevel === undefined || IMPORTANCE_SAMPLING_LEVELS.includes(cfg.importanceSamplingLevel),
    `unknown importanceSamplingLevel '${cfg.importanceSamplingLevel}'`,
  );
  if (lossType === 'dr_grpo') {
    check(Number.isInteger(maxCompletionLength) && maxCompletionLength > 0, `maxCompletionLength must be a positive integer, got ${maxCompletionLength}`);
  }
  const B = completions.length;
  check(B > 0, 'no completions');

  // Effective masks (mask_truncated_completions) and token counts.
  const masks: Uint8Array[] = [];
  const counts: number[] = [];
  let N = 0;
  let included = 0;
  completions.forEach((c, i) => {
    const T = c.mask.length;
    check(c.logprobs.length === T && c.entropies.length === T, `completion ${i}: logprobs/entropies/mask lengths differ`);
    check(!c.oldLogprobs || c.oldLogprobs.length === T, `completion ${i}: oldLogprobs length differs from mask`);
    check(!c.refLogprobs || c.refLogprobs.length === T, `completion ${i}: refLogprobs length differs from mask`);
    check(!c.samplingWeights || c.samplingWeights.length === T, `completion ${i}: samplingWeights length differs from mask`);
    check(beta === 0 || c.refLogprobs !== undefined, `completion ${i}: refLogprobs are required when beta ≠ 0`);
    check(Number.isFinite(c.advantage), `completion ${i}: advantage must be finite, got ${c.advantage}`);
    const drop = (cfg.maskTruncatedCompletions && c.truncated) || (cfg.excludeZeroStdFromDenominator === true && c.zeroStdGroup === true);
    if (!(cfg.excludeZeroStdFromDenominator && c.zeroStdGroup)) included++;
    const m = new Uint8Array(T);
    let n = 0;
    for (let t = 0; t < T; t++) {
      if (!drop && c.mask[t] !== 0) {
        m[t] = 1;
        n++;
      }
    }
    masks.push(m);
    counts.push(n);
    N += n;
  });

  // Completions of this call that count: all but those left out by excludeZeroStdFromDenominator.
  const Bc = included;
  const S = opts.numCompletionsInStep ?? Bc;
  check(Number.isInteger(S) && S >= Bc, `numCompletionsInStep must be an integer ≥ ${Bc} (this call's completions), got ${S}`);
  const dapoNorm = opts.dapoNormalizer ?? N;
  check(Number.isFinite(dapoNorm) && dapoNorm >= N, `dapoNormalizer must be ≥ ${N} (this call's active tokens), got ${dapoNorm}`);

  // Top-entropy mask threshold over this call's active tokens.
  let threshold = -Infinity;
  if (topEntropyQuantile < 1 && N > 0) {
    const active = new Float64Array(N);
    let k = 0;
    completions.forEach((c, i) => {
      for (let t = 0; t < masks[i].length; t++) if (masks[i][t]) active[k++] = c.entropies[t];
    });
    threshold = torchQuantile(active, 1 - topEntropyQuantile);
  }

  const lo = 1 - epsilon;
  const hi = 1 + epsilonHigh;
  const delta = cfg.delta ?? 0;
  const tauPos = cfg.sapoTemperaturePos ?? 1;
  const tauNeg = cfg.sapoTemperatureNeg ?? 1.05;
  const vespo = {
    kPos: cfg.vespoKPos ?? 2,
    lambdaPos: cfg.vespoLambdaPos ?? 3,
    kNeg: cfg.vespoKNeg ?? 3,
    lambdaNeg: cfg.vespoLambdaNeg ?? 2,
  };
  // cispo and vespo weigh log π by a detached coefficient; the rest are functions of the ratio ρ.
  const detached = lossType === 'cispo' || lossType === 'vespo';
  // vespo's weight is always of the summed sequence log-ratio; the level applies to the others.
  const sequenceLevel = (cfg.importanceSamplingLevel ?? 'token') === 'sequence' && lossType !== 'vespo';
  const haveRef = completions.every((c) => c.refLogprobs !== undefined);
  let loss = 0;
  let klSum = 0;
  let entSum = 0;
  let lowClip = 0;
  let highClip = 0;
  let cispoClip = 0;
  let maskedOffPolicy = 0;
  const gLogprob: Float64Array[] = [];
  const gEntropy: Float64Array[] = [];
  const tokens: TokenTerms[] = [];

  /** The ratio-family policy term −f(ρ)·A and its derivative d/dρ (autograd's subgradient). */
  const policy = (rho: number, A: number): { value: number; dRho: number } => {
    if (lossType === 'sapo') {
      const tau = A > 0 ? tauPos : tauNeg;
      const s = 1 / (1 + Math.exp(-tau * (rho - 1)));
      return { value: -(4 / tau) * s * A, dRho: -4 * A * s * (1 - s) };
    }
    const capped = delta > 0 ? Math.min(rho, delta) : rho;
    const dCapped = delta > 0 && rho > delta ? 0 : 1;
    const clipped = Math.min(Math.max(rho, lo), hi);
    const u = capped * A;
    const v = clipped * A;
    const inRange = rho >= lo && rho <= hi ? 1 : 0;
    const f = u < v ? dCapped : u > v ? inRange : 0.5 * dCapped + 0.5 * inRange;
    return { value: -Math.min(u, v), dRho: -A * f };
  };

  completions.forEach((c, i) => {
    const T = c.mask.length;
    const m = masks[i];
    const n = counts[i];
    const A = c.advantage;
    const gl = new Float64Array(T);
    const ge = new Float64Array(T);
    gLogprob.push(gl);
    gEntropy.push(ge);
    const terms: TokenTerms = { loss: new Float64Array(T), ratio: new Float64Array(T), clip: new Int8Array(T) };
    tokens.push(terms);
    let w: number;
    switch (lossType) {
      case 'grpo':
      case 'sapo':
        w = 1 / (Math.max(1, S) * Math.max(1, n));
        break;
      case 'bnpo':
        w = Bc / Math.max(1, S) / Math.max(1, N);
        break;
      case 'dr_grpo':
        w = 1 / (Math.max(1, S) * maxCompletionLength);
        break;
      case 'luspo':
        w = 1 / Math.max(1, S);
        break;
      default:
        w = 1 / Math.max(1, dapoNorm);
    }
    const logRatio = (t: number) => (c.oldLogprobs ? c.logprobs[t] - c.oldLogprobs[t] : 0);
    // Sequence-level ratio (GSPO): exp of the mean token log-ratio; vespo's w: exp of the clamped sum.
    let seqRho = 1;
    let vespoCoef = 1;
    if (sequenceLevel || lossType === 'vespo') {
      let sum = 0;
      let sumClamped = 0;
      for (let t = 0; t < T; t++) {
        if (!m[t]) continue;
        sum += logRatio(t);
        sumClamped += Math.min(Math.max(logRatio(t), -20), 20);
        if (lossType === 'vespo' && c.samplingWeights) sumClamped += Math.min(Math.max(Math.log(c.samplingWeights[t]), Math.log(1e-8)), 20);
      }
      seqRho = Math.exp(sum / Math.max(1, n));
      if (lossType === 'vespo') {
        const logW = Math.min(Math.max(sumClamped, Math.log(1e-8)), 20);
        const k = A >= 0 ? vespo.kPos : vespo.kNeg;
        const lambda = Math.max(A >= 0 ? vespo.lambdaPos : vespo.lambdaNeg, 1e-4);
        const phi = Math.exp(lambda + k * logW - lambda * Math.exp(logW));
        vespoCoef = Number.isFinite(phi) ? phi : 0;
      }
    }
    const seqPolicy = sequenceLevel && !detached ? policy(seqRho, A) : null;
    // Off-policy sequence mask (TRL, DeepSeek-V3.2 eq. 9): a completion with A < 0 whose mean
    // logπold − logπ over its active tokens exceeds the threshold loses its policy term.
    let offPolicyKeep = 1;
    if (cfg.offPolicyMaskThreshold !== undefined && A < 0) {
      let sum = 0;
      for (let t = 0; t < T; t++) if (m[t] && c.oldLogprobs) sum += c.oldLogprobs[t] - c.logprobs[t];
      if (sum / Math.max(1, n) > cfg.offPolicyMaskThreshold) offPolicyKeep = 0;
    }
    if (offPolicyKeep === 0) maskedOffPolicy++;
    // use_bias_correction_kl: k3 × ratio (the token ratio, or the sequence ratio at the sequence level).
    const klSequence = (cfg.importanceSamplingLevel ?? 'token') === 'sequence';
    let klSeqGrad = 0;
    // Σ_t w·(policy multipliers) over the completion: the sequence ratio's gradient spreads it over the tokens.
    let seqWeight = 0;
    let seqClipLow = false;
    let seqClipHigh = false;
    if (sequenceLevel && lossType !== 'sapo') {
      seqClipLow = !detached && seqRho < lo && A < 0;
      seqClipHigh = detached ? seqRho > epsilonHigh && A > 0 : seqRho > hi && A > 0;
    }
    for (let t = 0; t < T; t++) {
      if (!m[t]) continue;
      const lp = c.logprobs[t];
      const H = c.entropies[t];
      const rho = c.oldLogprobs ? Math.exp(lp - c.oldLogprobs[t]) : 1;
      const correction = c.samplingWeights && lossType !== 'vespo' ? c.samplingWeights[t] : 1;
      const keep = (topEntropyQuantile >= 1 || H >= threshold ? 1 : 0) * offPolicyKeep * correction;
      let lt = 0;
      let g = 0;
      if (detached) {
        const coef = lossType === 'vespo' ? vespoCoef : Math.min(sequenceLevel ? seqRho : rho, epsilonHigh);
        lt = -coef * A * lp * keep;
        g = -coef * A * keep;
      } else if (seqPolicy) {
        lt = seqPolicy.value * keep;
        seqWeight += w * keep;
      } else {
        const p = policy(rho, A);
        lt = p.value * keep;
        g = p.dRho * rho * keep;
      }
      if (c.refLogprobs) {
        const d = c.refLogprobs[t] - lp;
        const ed = Math.exp(d);
        const k3 = ed - d - 1;
        if (cfg.useBiasCorrectionKl) {
          const r = klSequence ? seqRho : rho;
          klSum += k3 * r;
          if (beta !== 0) {
            lt += beta * k3 * r;
            g += beta * (1 - ed) * r;
            // d ratio / d logπ: ρ for the token's own ratio, ρ_seq / n to every token for the sequence's.
            if (klSequence) klSeqGrad += w * beta * k3 * seqRho;
            else g += beta * k3 * rho;
          }
        } else {
          klSum += k3;
          if (beta !== 0) {
            lt += beta * k3;
            g += beta * (1 - ed);
          }
        }
      }
      lt -= entropyCoef * H;
      loss += w * lt;
      terms.loss[t] = w * lt;
      terms.ratio[t] = sequenceLevel ? seqRho : rho;
      gl[t] = w * g;
      ge[t] = -entropyCoef * w;
      entSum += H;
      let clip = 0;
      if (sequenceLevel) clip = seqClipLow ? -1 : seqClipHigh ? 1 : 0;
      else if (lossType === 'cispo') clip = rho > epsilonHigh && A > 0 ? 1 : 0;
      else if (lossType !== 'sapo' && lossType !== 'vespo') clip = rho < lo && A < 0 ? -1 : rho > hi && A > 0 ? 1 : 0;
      terms.clip[t] = clip;
      if (clip === -1) lowClip++;
      else if (clip === 1 && lossType === 'cispo') cispoClip++;
      else if (clip === 1) highClip++;
    }
    if (seqPolicy) {
      const gSeq = (seqWeight * seqPolicy.dRho * seqRho) / Math.max(1, n);
      for (let t = 0; t < T; t++) if (m[t]) gl[t] += gSeq;
    }
    if (klSeqGrad !== 0) for (let t = 0; t < T; t++) if (m[t]) gl[t] += klSeqGrad / Math.max(1, n);
  });

  const denom = Math.max(1, N);
  const metrics: Record<string, number> = {
    entropy: entSum / denom,
    'clip_ratio/low_mean': lowClip / denom,
    'clip_ratio/high_mean': highClip / denom,
    'clip_ratio/region_mean': (lowClip + highClip) / denom,
    num_tokens: N,
  };
  if (lossType === 'cispo') metrics.cispo_clip_ratio = cispoClip / denom;
  if (haveRef) metrics.kl = klSum / denom;
  if (cfg.offPolicyMaskThreshold !== undefined) metrics.off_policy_masked_ratio = maskedOffPolicy / B;
  return { loss, gLogprob, gEntropy, metrics, tokens };
}
