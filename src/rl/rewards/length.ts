// Length-shaped rewards (DESIGN.md §10.4–10.5): cosine length scaling and DAPO's soft overlong penalty.

/**
 * Cosine length-scaling parameters (Yeo et al. 2025, "Demystifying Long Chain-of-Thought Reasoning
 * in LLMs"). R(len) = v_min + ½(v_max − v_min)(1 + cos(π·len/L)): equals v_max at len 0 and v_min
 * at len L. For a correct answer v_max = `correctShort`, v_min = `correctLong` (short correct
 * answers earn more); for a wrong one v_max = `wrongShort`, v_min = `wrongLong` (a short wrong
 * answer is punished hardest, so the model is pushed to think longer when it is wrong).
 */
export interface CosineParams {
  /** Reward of a correct answer of length 0 (paper r₀ᶜ). */
  correctShort: number;
  /** Reward of a correct answer of length L (paper r_Lᶜ). */
  correctLong: number;
  /** Reward of a wrong answer of length 0 (paper r₀ʷ). */
  wrongShort: number;
  /** Reward of a wrong answer of length L (paper r_Lʷ). */
  wrongLong: number;
  /** Reward once len ≥ L (paper r_e, the truncated completion); null = no special case (len clamps to L). */
  exceed: number | null;
}

/** The paper's values: r₀ᶜ = 2, r_Lᶜ = 1, r₀ʷ = −10, r_Lʷ = 0, r_e = −10. The registry default. */
export const COSINE_PAPER: CosineParams = { correctShort: 2, correctLong: 1, wrongShort: -10, wrongLong: 0, exceed: -10 };

/**
 * open-r1's `get_cosine_scaled_reward` defaults (max_value_correct 1.0, min_value_correct 0.5,
 * min_value_wrong −1.0, max_value_wrong −0.5, no exceed case; open-r1 uses max_len 1000).
 */
export const COSINE_OPEN_R1: CosineParams = { correctShort: 1, correctLong: 0.5, wrongShort: -1, wrongLong: -0.5, exceed: null };

/** Cosine length reward for a completion of `length` tokens with budget `maxLength` (L). */
export function cosineLengthReward(correct: boolean, length: number, maxLength: number, params: CosineParams = COSINE_PAPER): number {
  if (!(maxLength > 0)) throw new Error(`cosineLengthReward: maxLength must be > 0, got ${maxLength}`);
  if (params.exceed !== null && length >= maxLength) return params.exceed;
  const progress = Math.min(Math.max(length, 0), maxLength) / maxLength;
  const vMax = correct ? params.correctShort : params.wrongShort;
  const vMin = correct ? params.correctLong : params.wrongLong;
  return vMin + 0.5 * (vMax - vMin) * (1 + Math.cos(Math.PI * progress));
}

/**
 * DAPO soft overlong punishment (TRL `get_soft_overlong_punishment`): with L_max the completion
 * budget and L_cache the buffer, 0 when len ≤ L_max − L_cache, (L_max − L_cache − len)/L_cache in the
 * buffer (falls linearly from 0 to −1), −1 beyond L_max. DAPO used L_max = 20480, L_cache = 4096.
 */
export function overlongPenalty(length: number, maxLength: number, cacheLength: number): number {
  if (!(cacheLength > 0) || !(maxLength >= cacheLength)) {
    throw new Error(`overlongPenalty: need 0 < cacheLength ≤ maxLength, got ${cacheLength}, ${maxLength}`);
  }
  const free = maxLength - cacheLength;
  if (length <= free) return 0;
  if (length <= maxLength) return (free - length) / cacheLength;
  return -1;
}
