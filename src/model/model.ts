// A loaded decoder on the GPU: its config and frozen weights, the optional LoRA adapter on top, KV
// caches, and the forward pass of forward.ts for decoding and scoring.

import type { Gpu } from '../gpu/runtime.ts';
import type { Tensor } from '../gpu/tensor.ts';
import { KvCache } from '../kernels/attention.ts';
import { tokenLogprobs } from '../kernels/logprob.ts';
import { matmul } from '../kernels/matmul.ts';
import { padBatch, type PaddedBatch } from './batch.ts';
import { decoderLayer, embedTokens, hiddenStates, loraDropout, type LayerOptions, type TrainingContext } from './forward.ts';
import type { ModelAdapter, ModelConfig, ModelWeights, TargetModule } from './types.ts';

export class LanguageModel {
  /** The LoRA adapter applied on top of the frozen weights; null = the base model. */
  adapter: ModelAdapter | null = null;

  constructor(
    readonly gpu: Gpu,
    readonly config: ModelConfig,
    readonly weights: ModelWeights,
  ) {}

  /** One KV cache per layer for `batch` sequences of up to `maxSeq` positions. */
  createCaches(batch: number, maxSeq: number): KvCache[] {
    const { numLayers, numKvHeads, headDim, maxPositionEmbeddings } = this.config;
    if (maxSeq > maxPositionEmbeddings) {
      throw new Error(`Sequence length ${maxSeq} exceeds the model's max_position_embeddings (${maxPositionEmbeddings}).`);
    }
    return Array.from({ length: numLayers }, () => KvCache.create(this.gpu, { batch, kvHeads: numKvHeads, maxSeq, headDim }));
  }

  /** Token embeddings [n, hidden] of u32 ids. */
  embed(ids: GPUBuffer, n: number): Tensor {
    return embedTokens(this, ids, n);
  }

  /** The LoRA dropout of one call site in a training step (same seed in forward and backward). */
  dropout(layer: number, module: TargetModule, train?: TrainingContext): { p: number; seed: number } | undefined {
    return loraDropout(this, layer, module, train);
  }

  /**
   * One decoder layer on the residual stream x ([batch*tokens, hidden]); returns the new residual.
   * Without `save`, x and every intermediate are released; with it, they are kept for backward.
   */
  layer(l: number, x: Tensor, batch: number, tokens: number, positions: GPUBuffer, cache: KvCache, opts?: LayerOptions): Tensor {
    return decoderLayer(this, l, x, batch, tokens, positions, cache, opts);
  }

  /**
   * Run the decoder on `tokens` new tokens of each of `batch` sequences. `ids` holds u32
   * [batch * tokens] (sequence-major); token t of sequence b sits at position positions[b] + t, and
   * the caches already hold every earlier position; `maxLength`, if given, bounds positions[b] +
   * tokens over the batch. Returns the final-normed hidden states [batch * tokens, hidden]; the
   * caller releases it.
   */
  hidden(ids: GPUBuffer, batch: number, tokens: number, positions: GPUBuffer, caches: KvCache[], maxLength?: number): Tensor {
    return hiddenStates(this, ids, batch, tokens, positions, caches, maxLength);
  }

  /** Logits [rows, vocab] of the given final hidden rows (used for the last position in decoding). */
  logits(hidden: Tensor): Tensor {
    return matmul(hidden, this.weights.lmHead);
  }

  /**
   * Per-position log-probabilities of the next token and entropies of the next-token
   * distribution (n − 1 values each), from logits divided by `temperature`.
   */
  async score(ids: number[], temperature = 1): Promise<{ logprobs: number[]; entropies: number[] }> {
    if (ids.length < 2) throw new Error('score needs at least two token ids.');
    const { logprobs, entropies } = await this.scoreBatch(padBatch([ids]), temperature);
    return { logprobs: Array.from(logprobs.subarray(0, ids.length - 1)), entropies: Array.from(entropies.subarray(0, ids.length - 1)) };
  }

  /**
   * Forward only: log-probs of each row's target and entropies ([batch * tokens], rows without a
   * target hold garbage) for a padded batch, with the current adapter.
   */
  async scoreBatch(data: PaddedBatch, temperature = 1): Promise<{ logprobs: Float32Array; entropies: Float32Array }> {
    this.checkIds(Array.from(data.ids));
    const { gpu } = this;
    const caches = this.createCaches(data.batch, data.tokens);
    const idsBuffer = gpu.upload(data.ids, 'ids');
    const positions = gpu.upload(new Uint32Array(data.batch), 'positions');
    const targets = gpu.upload(data.targets, 'targets');
    try {
      const hidden = this.hidden(idsBuffer, data.batch, data.tokens, positions, caches);
      const { logprobs, entropies, logZ } = tokenLogprobs(hidden, this.weights.lmHead, targets, { temperature });
      const result = { logprobs: await logprobs.read(), entropies: await entropies.read() };
      for (const t of [hidden, logprobs, entropies, logZ]) t.release();
      return result;
    } finally {
      for (const c of caches) c.destroy();
      for (const b of [idsBuffer, positions, targets]) gpu.release(b);
    }
  }

  checkIds(ids: number[]): void {
    for (const id of ids) {
      if (!Number.isInteger(id) || id < 0 || id >= this.config.vocabSize) {
        throw new Error(`Token id ${id} is outside the model's vocabulary (0..${this.config.vocabSize - 1}).`);
      }
    }
  }
}
