// TRL's adaptive entropy controller (use_adaptive_entropy, after Skywork-OR1; DESIGN.md §8.11). After
// every optimizer update it compares the update's mean token entropy with entropy_target and moves
// the entropy coefficient one step of ENTROPY_COEF_DELTA towards keeping it there: up when the
// entropy is at or below the target, down when above, kept in [ENTROPY_COEF_MIN, ENTROPY_COEF_MAX].
// The next update applies the coefficient only while that last entropy is at or below the target
// (and not at all before the first measurement). TRL's entropy_coef_min/max/delta keep their
// defaults here.

const ENTROPY_COEF_DELTA = 0.005;
const ENTROPY_COEF_MIN = 0;
const ENTROPY_COEF_MAX = 1;

/** The controller's state; part of a checkpoint (trainer_state.json), so plain JSON. */
export interface AdaptiveEntropyState {
  /** The coefficient the controller holds (TRL's entropy_coef, starting at the configured one). */
  coef: number;
  /** Mean token entropy of the last update; null before the first. */
  lastEntropy: number | null;
}

export function initialAdaptiveEntropy(entropyCoef: number): AdaptiveEntropyState {
  return { coef: entropyCoef, lastEntropy: null };
}

/** The coefficient the next update's loss uses: the held one while the last entropy ≤ target, else 0. */
export function appliedEntropyCoef(state: AdaptiveEntropyState, entropyTarget: number): number {
  return state.lastEntropy !== null && state.lastEntropy <= entropyTarget ? state.coef : 0;
}

/** The state after an update whose mean token entropy was `entropy`. */
export function updateAdaptiveEntropy(state: AdaptiveEntropyState, entropy: number, entropyTarget: number): AdaptiveEntropyState {
  if (!Number.isFinite(entropy)) throw new Error(`adaptive entropy: the update's mean entropy must be finite, got ${entropy}`);
  const coef =
    entropy <= entropyTarget ? Math.min(state.coef + ENTROPY_COEF_DELTA, ENTROPY_COEF_MAX) : Math.max(state.coef - ENTROPY_COEF_DELTA, ENTROPY_COEF_MIN);
  return { coef, lastEntropy: entropy };
}
