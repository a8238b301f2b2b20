// The decoder forward pass on WebGPU, layer by layer (llm.c style: explicit ops, no graph).
// The same layer function serves inference (intermediates released at once) and training
// (intermediates kept in a LayerActivations record for the backward in backward.ts).

import type { Gpu } from '../gpu/runtime.ts';
import { Tensor } from '../gpu/tensor.ts';
import { attention, KvCache, writeKv } from '../kernels/attention.ts';
import { add } from '../kernels/elementwise.ts';
import { embed } from '../kernels/embedding.ts';
import { tokenLogprobs } from '../kernels/logprob.ts';
import { matmul } from '../kernels/matmul.ts';
import { rmsNorm } from '../kernels/norm.ts';
import { rope } from '../kernels/rope.ts';
import { swiglu } from '../kernels/swiglu.ts';
import { dropoutSeed, loraForward, type TargetModule } from '../lora/lora.ts';
import type { LoraAdapter } from '../lora/adapter.ts';
import type { LayerWeights, ModelConfig, ModelWeights } from './types.ts';
import { padBatch, type PaddedBatch } from './backward.ts';

/** Everything one layer's backward needs, kept by a training forward. */
export interface LayerActivations {
  /** Layer input (residual stream) and its RMSNorm. */
  x: Tensor;
  xn: Tensor;
  rstd1: Tensor;
  /** q/k before the per-head norm (Qwen3) and their 1/rms, when the model has q/k-norm. */
  qPre?: Tensor;
  kPre?: Tensor;
  rstdQ?: Tensor;
  rstdK?: Tensor;
  /** RoPE'd queries; keys and values live in the cache. */
  qr: Tensor;
  attended: Tensor;
  lse: Tensor;
  /** Residual after attention, its RMSNorm, the MLP's gate/up projections and activation. */
  x2: Tensor;
  xn2: Tensor;
  rstd2: Tensor;
  gate: Tensor;
  up: Tensor;
  act: Tensor;
  /** LoRA intermediates D = x·Aᵀ per target module. */
  loraD: Map<TargetModule, Tensor>;
}

/** LoRA dropout is active in a training forward: each call site gets its own mask seed. */
export interface TrainingContext {
  dropoutStep: number;
}

export function releaseActivations(a: LayerActivations): void {
  for (const t of [a.x, a.xn, a.rstd1, a.qPre, a.kPre, a.rstdQ, a.rstdK, a.qr, a.attended, a.lse, a.x2, a.xn2, a.rstd2, a.gate, a.up, a.act]) {
    t?.release();
  }
  for (const d of a.loraD.values()) d.release();
}

export class LanguageModel {
  /** The LoRA adapter applied on top of the frozen weights; null = the base model. */
  adapter: LoraAdapter | null = null;

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
    return Array.from({ length: numLayers }, () =>
      KvCache.create(this.gpu, { batch, kvHeads: numKvHeads, maxSeq, headDim }),
    );
  }

  /** Token embeddings [n, hidden] of u32 ids. */
  embed(ids: GPUBuffer, n: number): Tensor {
    return embed(ids, n, this.weights.embed, Tensor.empty(this.gpu, [n, this.config.hiddenSize], 'residual'));
  }

  /** y = x·Wᵀ (+ b) (+ LoRA), keeping the LoRA intermediate when training. */
  private project(x: Tensor, layer: number, module: TargetModule, w: LayerWeights, save?: LayerActivations, train?: TrainingContext): Tensor {
    const weight = { q_proj: w.q, k_proj: w.k, v_proj: w.v, o_proj: w.o, gate_proj: w.gate, up_proj: w.up, down_proj: w.down }[module];
    const bias = { q_proj: w.qBias, k_proj: w.kBias, v_proj: w.vBias }[module as 'q_proj'];
    const y = matmul(x, weight, { bias });
    const lora = this.adapter?.get(layer, module);
    if (lora) {
      const d = loraForward(x, lora, y, { dropout: this.dropout(layer, module, train) });
      if (save) save.loraD.set(module, d);
      else d.release();
    }
    return y;
  }

  /** The LoRA dropout of one call site in a training step (same seed in forward and backward). */
  dropout(layer: number, module: TargetModule, train?: TrainingContext): { p: number; seed: number } | undefined {
    const p = this.adapter?.config.dropout ?? 0;
    if (!train || p === 0) return undefined;
    return { p, seed: dropoutSeed(train.dropoutStep, layer, ['q_proj', 'k_proj', 'v_proj', 'o_proj', 'gate_proj', 'up_proj', 'down_proj'].indexOf(module)) };
  }

  /**
   * One decoder layer on the residual stream x ([batch*tokens, hidden]); returns the new residual.
   * Without `save`, x and every intermediate are released; with it, they are kept for backward.
   */
  layer(l: number, x: Tensor, batch: number, tokens: number, positions: GPUBuffer, cache: KvCache, save?: LayerActivations, train?: TrainingContext): Tensor {
    const cfg = this.config;
    const w = this.weights.layers[l];
    const n = batch * tokens;
    const eps = cfg.rmsNormEps;
    const keep = (t: Tensor | undefined) => (save ? undefined : t?.release());
    const rstd1 = save ? Tensor.empty(this.gpu, [n], 'rstd1') : undefined;
    const xn = rmsNorm(x, w.inputNorm, eps, { saveRstd: rstd1 });
    let q = this.project(xn, l, 'q_proj', w, save, train);
    let k = this.project(xn, l, 'k_proj', w, save, train);
    const v = this.project(xn, l, 'v_proj', w, save, train);
    let qPre: Tensor | undefined, kPre: Tensor | undefined, rstdQ: Tensor | undefined, rstdK: Tensor | undefined;
    if (w.qNorm && w.kNorm) {
      rstdQ = save ? Tensor.empty(this.gpu, [n * cfg.numHeads], 'rstdQ') : undefined;
      rstdK = save ? Tensor.empty(this.gpu, [n * cfg.numKvHeads], 'rstdK') : undefined;
      const qn = rmsNorm(q, w.qNorm, eps, { rows: n * cfg.numHeads, dim: cfg.headDim, saveRstd: rstdQ });
      const kn = rmsNorm(k, w.kNorm, eps, { rows: n * cfg.numKvHeads, dim: cfg.headDim, saveRstd: rstdK });
      (qPre = q), (kPre = k);
      keep(q), keep(k);
      (q = qn), (k = kn);
    }
    const ropeOpts = { batch, tokens, headDim: cfg.headDim, theta: cfg.ropeTheta };
    const qr = rope(q, positions, { ...ropeOpts, heads: cfg.numHeads });
    const kr = rope(k, positions, { ...ropeOpts, heads: cfg.numKvHeads });
    q.release(), k.release();
    writeKv(cache, kr, v, positions, tokens);
    kr.release(), v.release();
    const lse = save ? Tensor.empty(this.gpu, [batch, cfg.numHeads, tokens], 'lse') : undefined;
    const attended = attention(qr, cache, positions, { tokens, heads: cfg.numHeads, lse });
    keep(qr);
    const o = this.project(attended, l, 'o_proj', w, save, train);
    keep(attended);
    const x2 = add(x, o);
    keep(x), o.release();
    const rstd2 = save ? Tensor.empty(this.gpu, [n], 'rstd2') : undefined;
    const xn2 = rmsNorm(x2, w.postNorm, eps, { saveRstd: rstd2 });
    const gate = this.project(xn2, l, 'gate_proj', w, save, train);
    const up = this.project(xn2, l, 'up_proj', w, save, train);
    keep(xn2);
    const act = swiglu(gate, up);
    keep(gate), keep(up);
    const down = this.project(act, l, 'down_proj', w, save, train);
    keep(act);
    const out = add(x2, down);
    keep(x2), down.release();
    if (save) {
      Object.assign(save, { x, xn, rstd1: rstd1!, qPre, kPre, rstdQ, rstdK, qr, attended, lse: lse!, x2, xn2, rstd2: rstd2!, gate, up, act });
    } else {
      xn.release();
    }
    return out;
  }

  /**
   * Run the decoder on `tokens` new tokens of each of `batch` sequences. `ids` holds u32
   * [batch * tokens] (sequence-major); token t of sequence b sits at position positions[b] + t, and
   * the caches already hold every earlier position. Returns the final-normed hidden states
   * [batch * tokens, hidden]; the caller releases it.
   */
  hidden(ids: GPUBuffer, batch: number, tokens: number, positions: GPUBuffer, caches: KvCache[]): Tensor {
    let x = this.embed(ids, batch * tokens);
    for (let l = 0; l < this.config.numLayers; l++) x = this.layer(l, x, batch, tokens, positions, caches[l]);
    const out = rmsNorm(x, this.weights.finalNorm, this.config.rmsNormEps);
    x.release();
    return out;
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
