// The model description shared by the loader, the GPU forward and the CPU reference.

import type { Tensor, WeightMatrix } from '../gpu/tensor.ts';

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
