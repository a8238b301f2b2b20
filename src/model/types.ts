// The model description shared by the loader, the GPU forward and the CPU reference.

import type { Param } from '../gpu/param.ts';
import type { Tensor, WeightMatrix } from '../gpu/tensor.ts';
import type { LoraLayer } from '../kernels/lora.ts';

/** A projection of a decoder layer that LoRA can target (PEFT's module names). */
export type TargetModule = 'q_proj' | 'k_proj' | 'v_proj' | 'o_proj' | 'gate_proj' | 'up_proj' | 'down_proj';

/** Every projection LoRA can target, in checkpoint order. */
export const ALL_TARGETS: TargetModule[] = ['q_proj', 'k_proj', 'v_proj', 'o_proj', 'gate_proj', 'up_proj', 'down_proj'];

export type Architecture = 'llama' | 'qwen2' | 'qwen3';

/** What the engine needs from a Hugging Face config.json, normalised. */
export interface ModelConfig {
  architecture: Architecture;
  /** The config's `model_type`, as written. */
  modelType: string;
  hiddenSize: number;
  numLayers: number;
  numHeads: number;
  numKvHeads: number;
  /** From config `head_dim` when present, else hidden_size / num_attention_heads. */
  headDim: number;
  intermediateSize: number;
  /** Rows of the embedding and lm_head matrices (may exceed the tokenizer's vocabulary). */
  vocabSize: number;
  ropeTheta: number;
  rmsNormEps: number;
  tieWordEmbeddings: boolean;
  /** q/k/v projections carry biases (Qwen2). */
  attentionBias: boolean;
  /** Per-head RMSNorm on q and k before RoPE (Qwen3). */
  qkNorm: boolean;
  maxPositionEmbeddings: number;
  bosTokenId: number | null;
  eosTokenIds: number[];
}

/** One decoder layer's weights on the GPU. Linear weights are [out, in]. */
export interface LayerWeights {
  inputNorm: Tensor;
  q: WeightMatrix;
  k: WeightMatrix;
  v: WeightMatrix;
  o: WeightMatrix;
  qBias?: Tensor;
  kBias?: Tensor;
  vBias?: Tensor;
  /** [headDim] RMSNorm weights applied per head (Qwen3). */
  qNorm?: Tensor;
  kNorm?: Tensor;
  postNorm: Tensor;
  gate: WeightMatrix;
  up: WeightMatrix;
  down: WeightMatrix;
}

export interface ModelWeights {
  embed: WeightMatrix;
  layers: LayerWeights[];
  finalNorm: Tensor;
  /** The same object as `embed` when embeddings are tied and no lm_head.weight is stored. */
  lmHead: WeightMatrix;
}

/**
 * A LoRA adapter as the model sees it: the LoRA site of each adapted projection, the dropout its
 * training forward applies, and its trainable parameters (LoraAdapter in src/lora/adapter.ts).
 */
export interface ModelAdapter {
  readonly config: { readonly dropout: number };
  /** The LoRA site on one layer's projection, or undefined when that projection is not adapted. */
  get(layer: number, module: TargetModule): LoraLayer | undefined;
  /** The trainable parameters with their gradient accumulators. */
  params(): Param[];
  /** Set every gradient accumulator to 0 (ordered after the work already recorded). */
  zeroGrads(): void;
}
