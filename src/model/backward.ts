// Training forward + backward through the whole frozen model into the LoRA adapter, one explicit
// layer backward at a time (llm.c style). Losses live on the CPU side: the caller turns the
// per-token log-probs and entropies into d loss / d logprob and d loss / d entropy, and this file
// carries those gradients back through the log-softmax, every layer and the LoRA sites.

import { Tensor } from '../gpu/tensor.ts';
import { attentionBackward, type KvCache } from '../kernels/attention.ts';
import { add } from '../kernels/elementwise.ts';
import { tokenLogprobs, tokenLogprobsBackward } from '../kernels/logprob.ts';
import { matmulInputGrad } from '../kernels/matmul.ts';
import { rmsNorm, rmsNormBackwardDx } from '../kernels/norm.ts';
import { ropeBackward } from '../kernels/rope.ts';
import { swigluBackward } from '../kernels/swiglu.ts';
import { loraBackward, type TargetModule } from '../lora/lora.ts';
import { releaseActivations, type LanguageModel, type LayerActivations, type TrainingContext } from './forward.ts';

/** Per-token gradients of the loss, one value per row of the padded [batch, tokens] layout. */
export interface LossGradient {
  gLogprob: Float32Array;
  /** Omitted when the loss has no entropy term. */
  gEntropy?: Float32Array;
}

/** Sequences padded to one length; row b*tokens + t predicts ids[b][t + 1]. */
export interface PaddedBatch {
  batch: number;
  tokens: number;
  ids: Uint32Array;
  targets: Uint32Array;
  /** 1 where row b*tokens + t has a real next token (t + 1 < length of sequence b). */
  valid: Uint8Array;
}

export function padBatch(sequences: number[][]): PaddedBatch {
  const batch = sequences.length;
  const tokens = Math.max(...sequences.map((s) => s.length));
  const ids = new Uint32Array(batch * tokens);
  const targets = new Uint32Array(batch * tokens);
  const valid = new Uint8Array(batch * tokens);
  sequences.forEach((seq, b) => {
    seq.forEach((id, t) => {
      ids[b * tokens + t] = id;
      if (t + 1 < seq.length) {
        targets[b * tokens + t] = seq[t + 1];
        valid[b * tokens + t] = 1;
      }
    });
  });
  return { batch, tokens, ids, targets, valid };
}

export interface ForwardBackwardOptions {
  /** Log-probs and entropies come from logits / temperature (GRPO samples at that temperature). */
  temperature?: number;
  /** Keep only each layer's input and recompute the layer in backward (less memory, ~1/3 more compute). */
  checkpoint?: boolean;
  /** Distinguishes LoRA dropout masks between steps and micro-batches. */
  dropoutStep?: number;
}

/**
 * Forward a padded batch, hand the per-token log-probs and entropies (Float32Array [batch*tokens],
 * rows without a target hold garbage) to `lossGradient`, and backpropagate its answer into the
 * adapter's gradA/gradB, which accumulate across calls. Returns what the loss saw.
 */
export async function forwardBackward(
  model: LanguageModel,
  data: PaddedBatch,
  lossGradient: (logprobs: Float32Array, entropies: Float32Array) => LossGradient,
  opts: ForwardBackwardOptions = {},
): Promise<{ logprobs: Float32Array; entropies: Float32Array }> {
  const { gpu, config } = model;
  if (!model.adapter) throw new Error('forwardBackward trains a LoRA adapter: attach one to the model first.');
  model.checkIds(Array.from(data.ids));
  const { batch, tokens } = data;
  const n = batch * tokens;
  const temperature = opts.temperature ?? 1;
  const train: TrainingContext = { dropoutStep: opts.dropoutStep ?? 0 };
  const caches = model.createCaches(batch, tokens);
  const owned: GPUBuffer[] = [];
  const upload = (data: ArrayBufferView, label: string) => {
    const b = gpu.upload(data, label);
    owned.push(b);
    return b;
  };
  const positions = upload(new Uint32Array(batch), 'positions');
  const targets = upload(data.targets, 'targets');
  const saved: LayerActivations[] = [];
  try {
    let x = model.embed(upload(data.ids, 'ids'), n);
    for (let l = 0; l < config.numLayers; l++) {
      const acts = { loraD: new Map() } as LayerActivations;
      x = model.layer(l, x, batch, tokens, positions, caches[l], acts, train);
      if (opts.checkpoint) {
        const input = acts.x;
        acts.x = undefined as unknown as Tensor;
        releaseActivations(acts);
        saved.push({ x: input, loraD: new Map() } as LayerActivations);
      } else {
        saved.push(acts);
      }
    }
    const rstdF = Tensor.empty(gpu, [n], 'rstdF');
    const hidden = rmsNorm(x, model.weights.finalNorm, config.rmsNormEps, { saveRstd: rstdF });
    const { logprobs, entropies, logZ } = tokenLogprobs(hidden, model.weights.lmHead, targets, { temperature });
    const lp = await logprobs.read();
    const ent = await entropies.read();
    const grad = lossGradient(lp, ent);
    if (grad.gLogprob.length !== n || (grad.gEntropy && grad.gEntropy.length !== n)) {
      throw new Error(`lossGradient must return ${n} values per gradient`);
    }
    const gLogprob = Tensor.from(gpu, grad.gLogprob, [n], 'gLogprob');
    const gEntropy = grad.gEntropy ? Tensor.from(gpu, grad.gEntropy, [n], 'gEntropy') : undefined;
    const dHidden = tokenLogprobsBackward(hidden, model.weights.lmHead, targets, { logZ, entropies }, { gLogprob, gEntropy }, { temperature });
    for (const t of [hidden, logprobs, logZ, entropies, gLogprob, gEntropy]) t?.release();
    let dx = rmsNormBackwardDx(dHidden, x, model.weights.finalNorm, rstdF);
    for (const t of [dHidden, x, rstdF]) t.release();

    for (let l = config.numLayers - 1; l >= 0; l--) {
      let acts = saved[l];
      if (opts.checkpoint) {
        // Recompute the layer from its saved input (rewriting the same keys/values in the cache).
        const input = acts.x;
        acts = { loraD: new Map() } as LayerActivations;
        model.layer(l, input, batch, tokens, positions, caches[l], acts, train).release();
      }
      const dIn = layerBackward(model, l, acts, dx, caches[l], positions, batch, tokens, train);
      dx.release();
      releaseActivations(acts);
      saved[l] = undefined as unknown as LayerActivations;
      dx = dIn;
    }
    dx.release();
    await gpu.sync();
    return { logprobs: lp, entropies: ent };
  } finally {
    for (const acts of saved) if (acts) releaseActivations(acts);
    for (const c of caches) c.destroy();
    for (const b of owned) gpu.release(b);
  }
}

/** Gradient of one layer's input given the gradient of its output; accumulates LoRA gradients. */
function layerBackward(
  model: LanguageModel,
  l: number,
  a: LayerActivations,
  dOut: Tensor,
  cache: KvCache,
  positions: GPUBuffer,
  batch: number,
  tokens: number,
  train: TrainingContext,
): Tensor {
  const cfg = model.config;
  const w = model.weights.layers[l];
  const n = batch * tokens;
  const lora = (module: TargetModule, x: Tensor, dy: Tensor, dx: Tensor) => {
    const site = model.adapter?.get(l, module);
    const d = a.loraD.get(module);
    if (site && d) loraBackward(x, d, dy, site, dx, { dropout: model.dropout(l, module, train) });
  };

  // MLP: out = x2 + down(silu(gate(xn2)) * up(xn2)), xn2 = rmsnorm(x2)
  const dAct = matmulInputGrad(dOut, w.down);
  lora('down_proj', a.act, dOut, dAct);
  const { dgate, dup } = swigluBackward(a.gate, a.up, dAct);
  dAct.release();
  const dXn2 = matmulInputGrad(dgate, w.gate);
  matmulInputGrad(dup, w.up, { out: dXn2, accumulate: true });
  lora('gate_proj', a.xn2, dgate, dXn2);
  lora('up_proj', a.xn2, dup, dXn2);
  dgate.release(), dup.release();
  const dNorm2 = rmsNormBackwardDx(dXn2, a.x2, w.postNorm, a.rstd2);
  const dX2 = add(dOut, dNorm2);
  dXn2.release(), dNorm2.release();

  // Attention: x2 = x + o(attention(rope(qnorm(q(xn))), rope(knorm(k(xn))), v(xn))), xn = rmsnorm(x)
  const dAttended = matmulInputGrad(dX2, w.o);
  lora('o_proj', a.attended, dX2, dAttended);
  const grads = attentionBackward(a.qr, cache, positions, a.attended, dAttended, a.lse, { tokens, heads: cfg.numHeads });
  dAttended.release();
  const ropeOpts = { batch, tokens, headDim: cfg.headDim, theta: cfg.ropeTheta };
  let dq = ropeBackward(grads.dq, positions, { ...ropeOpts, heads: cfg.numHeads });
  let dk = ropeBackward(grads.dk, positions, { ...ropeOpts, heads: cfg.numKvHeads });
  const dv = grads.dv;
  grads.dq.release(), grads.dk.release();
  if (w.qNorm && w.kNorm && a.qPre && a.kPre && a.rstdQ && a.rstdK) {
    const dqPre = rmsNormBackwardDx(dq, a.qPre, w.qNorm, a.rstdQ, { rows: n * cfg.numHeads, dim: cfg.headDim });
    const dkPre = rmsNormBackwardDx(dk, a.kPre, w.kNorm, a.rstdK, { rows: n * cfg.numKvHeads, dim: cfg.headDim });
    dq.release(), dk.release();
    (dq = dqPre), (dk = dkPre);
  }
  const dXn = matmulInputGrad(dq, w.q);
  matmulInputGrad(dk, w.k, { out: dXn, accumulate: true });
  matmulInputGrad(dv, w.v, { out: dXn, accumulate: true });
  lora('q_proj', a.xn, dq, dXn);
  lora('k_proj', a.xn, dk, dXn);
  lora('v_proj', a.xn, dv, dXn);
  dq.release(), dk.release(), dv.release();
  const dNorm1 = rmsNormBackwardDx(dXn, a.x, w.inputNorm, a.rstd1);
  const dX = add(dX2, dNorm1);
  dXn.release(), dNorm1.release(), dX2.release();
  return dX;
}
