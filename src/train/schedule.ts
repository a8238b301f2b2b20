// Learning-rate schedules with exactly the semantics of transformers' `get_scheduler` (the
// LambdaLR multipliers of optimization.py) and of TrainingArguments' warmup resolution.
//
//   warmup (every type but 'constant', while step < W):  lr · step / max(1, W)
//   'constant':              lr                                    (ignores warmup, as transformers)
//   'constant_with_warmup':  lr                                    after warmup
//   'linear':                lr · max(0, (T − step) / max(1, T − W))
//   'cosine':                lr · max(0, ½(1 + cos(π · 2·0.5 · progress))),  progress = (step − W) / max(1, T − W)
//                            (num_cycles = 0.5: one half-cosine from lr down to 0 at step T)
//
// `step` is the 0-based optimizer step: learningRate(k) is the lr the (k+1)-th optimizer update
// uses (LambdaLR's lambda(k)); transformers' Trainer logs `learning_rate` after scheduler.step(),
// i.e. learningRate(k + 1) for step k. Steps past T are not clamped (as in transformers: linear
// stays 0, cosine rises again).

export type SchedulerType = 'constant' | 'linear' | 'cosine' | 'constant_with_warmup';

export const SCHEDULER_TYPES: readonly SchedulerType[] = ['constant', 'linear', 'cosine', 'constant_with_warmup'];

export interface ScheduleConfig {
  lr: number;
  scheduler: SchedulerType;
  /** Warmup steps W (TrainingArguments.warmup_steps). A value in (0, 1) is a ratio, as in transformers ≥ 5. */
  warmupSteps?: number;
  /** Used when warmupSteps is 0/absent: W = ceil(totalSteps · warmupRatio) (TrainingArguments.warmup_ratio). */
  warmupRatio?: number;
}

/** The number of warmup steps transformers' Trainer derives from the config (get_warmup_steps). */
export function warmupSteps(totalSteps: number, cfg: Pick<ScheduleConfig, 'warmupSteps' | 'warmupRatio'>): number {
  const ws = cfg.warmupSteps ?? 0;
  if (ws >= 1) return Math.floor(ws);
  if (ws > 0) return Math.ceil(totalSteps * ws);
  return Math.ceil(totalSteps * (cfg.warmupRatio ?? 0));
}

/** The lr multiplier (LambdaLR lambda) at 0-based optimizer `step`. */
function lrLambda(step: number, totalSteps: number, cfg: Omit<ScheduleConfig, 'lr'>): number {
  const W = warmupSteps(totalSteps, cfg);
  const T = totalSteps;
  switch (cfg.scheduler) {
    case 'constant':
      return 1;
    case 'constant_with_warmup':
      return step < W ? step / Math.max(1, W) : 1;
    case 'linear':
      if (step < W) return step / Math.max(1, W);
      return Math.max(0, (T - step) / Math.max(1, T - W));
    case 'cosine': {
      if (step < W) return step / Math.max(1, W);
      const progress = (step - W) / Math.max(1, T - W);
      return Math.max(0, 0.5 * (1 + Math.cos(Math.PI * 0.5 * 2 * progress)));
    }
    default:
      throw new Error(`Unknown lr scheduler "${String(cfg.scheduler)}"; expected one of ${SCHEDULER_TYPES.join(', ')}`);
  }
}

/** Learning rate at 0-based optimizer `step` of `totalSteps`. */
export function learningRate(step: number, totalSteps: number, cfg: ScheduleConfig): number {
  if (!Number.isInteger(step) || step < 0) throw new Error(`learningRate: step must be an integer ≥ 0, got ${step}`);
  return cfg.lr * lrLambda(step, totalSteps, cfg);
}
