// A LoRA adapter's settings (rank, alpha, dropout, rsLoRA, target modules) and their checks. The LoRA
// GPU ops are in src/kernels/lora.ts; the adapter itself in adapter.ts.

import { ALL_TARGETS, type TargetModule } from '../model/types.ts';

export { ALL_TARGETS, type TargetModule };

export interface LoraConfig {
  /** Rank. */
  r: number;
  /** lora_alpha. */
  alpha: number;
  /** lora_dropout probability on the LoRA branch's input (training only). */
  dropout: number;
  /** rsLoRA: scale alpha / sqrt(r) instead of alpha / r. */
  useRslora: boolean;
  targetModules: TargetModule[];
}

/** scale = alpha / r, or alpha / sqrt(r) with rsLoRA. */
export function loraScale(cfg: Pick<LoraConfig, 'r' | 'alpha' | 'useRslora'>): number {
  return cfg.useRslora ? cfg.alpha / Math.sqrt(cfg.r) : cfg.alpha / cfg.r;
}

/** Throws a clear error for a LoraConfig this engine cannot train. */
export function validateLoraConfig(cfg: LoraConfig): void {
  if (!Number.isSafeInteger(cfg.r) || cfg.r <= 0) throw new Error(`LoRA: r must be a positive integer, got ${cfg.r}.`);
  if (!Number.isFinite(cfg.alpha)) throw new Error(`LoRA: alpha must be a finite number, got ${cfg.alpha}.`);
  if (!(cfg.dropout >= 0 && cfg.dropout < 1)) throw new Error(`LoRA: dropout must be in [0, 1), got ${cfg.dropout}.`);
  if (cfg.targetModules.length === 0) throw new Error('LoRA: targetModules is empty.');
  const seen = new Set<string>();
  for (const m of cfg.targetModules) {
    if (!ALL_TARGETS.includes(m)) {
      throw new Error(`LoRA: unknown target module '${m}' (supported: ${ALL_TARGETS.join(', ')}).`);
    }
    if (seen.has(m)) throw new Error(`LoRA: target module '${m}' is listed twice.`);
    seen.add(m);
  }
}
