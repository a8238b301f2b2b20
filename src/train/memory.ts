// What a training step needs in GPU memory, before it starts: counted from the buffers that
// forward.ts / backward.ts allocate, so `webgrpo info` can warn before a run would not fit.

import type { ModelConfig } from '../model/types.ts';
import { parameterCount } from '../model/config.ts';

export interface TrainingShape {
  /** Sequences per micro-batch and their padded length. */
  batch: number;
  tokens: number;
  /** LoRA rank over all seven projections; ignored with `full`. */
  loraRank: number;
  full: boolean;
  checkpoint: boolean;
  /** Bytes per stored weight: 2 for bf16/f16 checkpoints, 4 for f32 (always 4 with `full`). */
  weightBytes: number;
}

export interface MemoryEstimate {
  weights: number;
  /** Trainable values, gradients and AdamW moments. */
  optimizer: number;
  /** Saved activations (all layers, or one layer plus each layer's input with checkpointing). */
  activations: number;
  kvCache: number;
  /** Vocabulary block of logits in the fused log-prob pass (≤ 64 MiB by design) and its gradient. */
  logits: number;
  total: number;
}

/** Floats saved per token for one layer's backward (LayerActivations in forward.ts). */
function savedFloatsPerToken(c: ModelConfig, loraRank: number): number {
  const q = c.numHeads * c.headDim;
  const kv = c.numKvHeads * c.headDim;
  const qkNorm = c.qkNorm ? q + kv + c.numHeads + c.numKvHeads : 0;
  return 4 * c.hiddenSize + 2 + 2 * q + c.numHeads + 3 * c.intermediateSize + qkNorm + 7 * loraRank;
}

export function trainingMemory(c: ModelConfig, s: TrainingShape): MemoryEstimate {
  const n = s.batch * s.tokens;
  const params = parameterCount(c);
  const weights = params * (s.full ? 4 : s.weightBytes);
  const loraParams = (() => {
    const q = c.numHeads * c.headDim,
      kv = c.numKvHeads * c.headDim,
      h = c.hiddenSize,
      f = c.intermediateSize;
    const dims = [
      [h, q],
      [h, kv],
      [h, kv],
      [q, h],
      [h, f],
      [h, f],
      [f, h],
    ];
    return c.numLayers * dims.reduce((a, [i, o]) => a + s.loraRank * (i + o), 0);
  })();
  const trainable = s.full ? params : loraParams;
  // value (LoRA only: full training updates the weights in place), gradient, AdamW m and v
  const optimizer = trainable * 4 * (s.full ? 3 : 4);
  const perLayer = savedFloatsPerToken(c, s.full ? 0 : s.loraRank) * n * 4;
  const activations = s.checkpoint ? perLayer + c.numLayers * c.hiddenSize * n * 4 : c.numLayers * perLayer;
  const kvCache = c.numLayers * 2 * c.numKvHeads * c.headDim * n * 4;
  const block = Math.min(c.vocabSize, Math.max(256, Math.floor((64 * 2 ** 20) / (n * 4))));
  const logits = 2 * n * block * 4;
  const total = weights + optimizer + activations + kvCache + logits;
  return { weights, optimizer, activations, kvCache, logits, total };
}

/**
 * Why a training step of this shape cannot run on a device with this storage-binding limit, or null
 * when it can: each activation buffer of a layer must fit one binding (weights are split into
 * binding-sized row chunks, so they always fit). WebGPU does not tell how much memory a device has,
 * so the total (trainingMemory) can only be reported, not checked.
 */
export function bindingLimitProblem(c: ModelConfig, s: TrainingShape, maxStorageBufferBindingSize: number): string | null {
  const widest = Math.max(c.hiddenSize, c.numHeads * c.headDim, c.intermediateSize);
  const bytes = s.batch * s.tokens * widest * 4;
  if (bytes <= maxStorageBufferBindingSize) return null;
  const mib = (b: number) => `${(b / 2 ** 20).toFixed(1)} MiB`;
  return (
    `one layer's activations for ${s.batch} sequences × ${s.tokens} tokens need ${mib(bytes)} in one buffer, but this device binds at most ` +
    `${mib(maxStorageBufferBindingSize)} (maxStorageBufferBindingSize): use fewer prompts per step or generations, a shorter max completion length, or more gradient accumulation steps.`
  );
}
