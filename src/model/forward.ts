// The decoder forward pass on WebGPU, layer by layer (llm.c style: explicit ops, no graph).

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
import type { ModelConfig, ModelWeights } from './types.ts';

export class LanguageModel {
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

  /**
   * Run the decoder on `tokens` new tokens of each of `batch` sequences. `ids` holds u32
   * [batch * tokens] (sequence-major); token t of sequence b sits at position positions[b] + t, and
   * the caches already hold every earlier position. Returns the final-normed hidden states
   * [batch * tokens, hidden]; the caller releases it.
   */
  hidden(ids: GPUBuffer, batch: number, tokens: number, positions: GPUBuffer, caches: KvCache[]): Tensor {
    const cfg = this.config;
    const { gpu } = this;
    const n = batch * tokens;
    const eps = cfg.rmsNormEps;
    let x = embed(ids, n, this.weights.embed, Tensor.empty(gpu, [n, cfg.hiddenSize], 'residual'));
    this.weights.layers.forEach((layer, l) => {
      const xn = rmsNorm(x, layer.inputNorm, eps);
      let q = matmul(xn, layer.q, { bias: layer.qBias });
      let k = matmul(xn, layer.k, { bias: layer.kBias });
      const v = matmul(xn, layer.v, { bias: layer.vBias });
      xn.release();
      if (layer.qNorm && layer.kNorm) {
        const qn = rmsNorm(q, layer.qNorm, eps, { rows: n * cfg.numHeads, dim: cfg.headDim });
        const kn = rmsNorm(k, layer.kNorm, eps, { rows: n * cfg.numKvHeads, dim: cfg.headDim });
        q.release(), k.release();
        (q = qn), (k = kn);
      }
      const ropeOpts = { batch, tokens, headDim: cfg.headDim, theta: cfg.ropeTheta };
      const qr = rope(q, positions, { ...ropeOpts, heads: cfg.numHeads });
      const kr = rope(k, positions, { ...ropeOpts, heads: cfg.numKvHeads });
      q.release(), k.release();
      writeKv(caches[l], kr, v, positions, tokens);
      kr.release(), v.release();
      const attended = attention(qr, caches[l], positions, { tokens, heads: cfg.numHeads });
      qr.release();
      const o = matmul(attended, layer.o);
      attended.release();
      const afterAttention = add(x, o);
      x.release(), o.release();
      const xn2 = rmsNorm(afterAttention, layer.postNorm, eps);
      const gate = matmul(xn2, layer.gate);
      const up = matmul(xn2, layer.up);
      xn2.release();
      const act = swiglu(gate, up);
      gate.release(), up.release();
      const down = matmul(act, layer.down);
      act.release();
      x = add(afterAttention, down);
      afterAttention.release(), down.release();
    });
    const out = rmsNorm(x, this.weights.finalNorm, eps);
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
    this.checkIds(ids);
    if (ids.length < 2) throw new Error('score needs at least two token ids.');
    const { gpu } = this;
    const caches = this.createCaches(1, ids.length);
    const idsBuffer = gpu.upload(Uint32Array.from(ids), 'ids');
    const positions = gpu.upload(new Uint32Array([0]), 'positions');
    const targets = gpu.upload(Uint32Array.from(ids.slice(1)), 'targets');
    try {
      const hidden = this.hidden(idsBuffer, 1, ids.length, positions, caches);
      const rows = new Tensor(gpu, hidden.buffer, [ids.length - 1, this.config.hiddenSize]);
      const { logprobs, entropies, logZ } = tokenLogprobs(rows, this.weights.lmHead, targets, { temperature });
      const [lp, ent] = [await logprobs.read(), await entropies.read()];
      for (const t of [hidden, logprobs, entropies, logZ]) t.release();
      return { logprobs: Array.from(lp), entropies: Array.from(ent) };
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
