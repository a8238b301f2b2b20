// Training forward + backward through the whole frozen model into the LoRA adapter, one explicit
// layer backward at a time (llm.c style). Losses live on the CPU side: the caller turns the
// per-token log-probs and entropies into d loss / d logprob and d loss / d entropy, and this file
// carries those gradients back through the log-softmax, every layer and the LoRA sites.

import { Tensor } from '../gpu/tensor.ts';
import { attentionBackward, type KvCache } from '../kernels/attention.ts';
import { add } from '../kernels/elementwise.ts';
import { tokenLogprobs, tokenLogprobsBackward } from '../kernels/logprob.ts';
import { embedBackward } from '../kernels/embedding.ts';
import { gemm, matmulInputGrad, matmulWeightGrad } from '../kernels/matmul.ts';
import { rmsNorm, rmsNormBackwardDx, rmsNormWeightGrad } from '../kernels/norm.ts';
import type { Gpu } from '../gpu/runtime.ts';
import type { WeightMatrix } from '../gpu/tensor.ts';
import { zeroFill, type Param } from '../gpu/param.ts';
import { ropeBackward } from '../kernels/rope.ts';
import { swigluBackward } from '../kernels/swiglu.ts';
import { loraBackward } from '../kernels/lora.ts';
import type { PaddedBatch } from './batch.ts';
import { releaseActivations, type LayerActivations, type TrainingContext } from './forward.ts';
import type { LanguageModel } from './model.ts';
import type { TargetModule } from './types.ts';

/** Per-token gradients of the loss, one value per row of the padded [batch, tokens] layout. */
export interface LossGradient {
  gLogprob: Float32Array;
  /** Omitted when the loss has no entropy term. */
  gEntropy?: Float32Array;
}

type LinearName = 'q' | 'k' | 'v' | 'o' | 'gate' | 'up' | 'down';
const LINEARS: LinearName[] = ['q', 'k', 'v', 'o', 'gate', 'up', 'down'];
type VectorName = 'inputNorm' | 'postNorm' | 'qBias' | 'kBias' | 'vBias' | 'qNorm' | 'kNorm';
const VECTORS: VectorName[] = ['inputNorm', 'postNorm', 'qBias', 'kBias', 'vBias', 'qNorm', 'kNorm'];

/**
 * Gradient buffers for every weight of a model, for full-parameter training of small f32 models.
 * Gradients accumulate across forwardBackward calls until `zero()`.
 */
export class ModelGradients {
  private constructor(
    readonly params: Param[],
    private readonly byName: Map<string, Tensor>,
  ) {}

  /** Needs f32 weights in one chunk each (load the model with weightDtype 'f32'). */
  static create(model: LanguageModel): ModelGradients {
    const { gpu, weights } = model;
    const params: Param[] = [];
    const byName = new Map<string, Tensor>();
    const addParam = (name: string, value: Tensor) => {
      const grad = Tensor.empty(gpu, value.shape, `grad.${name}`);
      params.push({ name, value, grad });
      byName.set(name, grad);
    };
    const matrix = (name: string, w: WeightMatrix) => {
      if (w.dtype !== 'f32' || w.chunks.length !== 1) {
        throw new Error(`Full-parameter training needs f32 weights in one buffer; ${w.name} is ${w.dtype} in ${w.chunks.length} chunk(s).`);
      }
      addParam(name, new Tensor(gpu, w.chunks[0].buffer, [w.rows, w.cols]));
    };
    matrix('embed', weights.embed);
    if (weights.lmHead !== weights.embed) matrix('lmHead', weights.lmHead);
    addParam('finalNorm', weights.finalNorm);
    weights.layers.forEach((layer, l) => {
      for (const name of LINEARS) matrix(`${l}.${name}`, layer[name]);
      for (const name of VECTORS) if (layer[name]) addParam(`${l}.${name}`, layer[name]);
    });
    const grads = new ModelGradients(params, byName);
    grads.zero(gpu);
    return grads;
  }

  get(name: string): Tensor | undefined {
    return this.byName.get(name);
  }

  zero(gpu: Gpu): void {
    zeroFill(
      gpu,
      this.params.map((p) => p.grad),
    );
  }
}

/** target += delta (element-wise), through a scratch buffer since a binding cannot alias. */
function accumulateInto(target: Tensor, delta: Tensor): void {
  const sum = add(target, delta);
  target.gpu.copy(sum.buffer, 0, target.buffer, 0, target.size * 4);
  sum.release();
}

/** Column sums of dy [rows, cols] added into a bias gradient [cols] (as ones[1, rows] · dy). */
function accumulateBiasGrad(dy: Tensor, grad: Tensor, ones: Tensor): void {
  gemm(ones, dy, { out: new Tensor(grad.gpu, grad.buffer, [1, grad.size]), accumulate: true });
}

export interface ForwardBackwardOptions {
  /** Log-probs and entropies come from logits / temperature (GRPO samples at that temperature). */
  temperature?: number;
  /** Keep only each layer's input and recompute the layer in backward (less memory, ~1/3 more compute); the last layer keeps its activations. */
  checkpoint?: boolean;
  /** Distinguishes LoRA dropout masks between steps and micro-batches. */
  dropoutStep?: number;
  /** Full-parameter training: accumulate the gradient of every weight here (LoRA grads too, if any). */
  gradients?: ModelGradients;
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
  const full = opts.gradients;
  if (!model.adapter && !full) throw new Error('forwardBackward needs a LoRA adapter on the model or full-parameter gradients.');
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
  // The last layer is never recomputed: its backward comes first, so keeping its activations costs
  // no more memory than recomputing them would (DESIGN.md §5.7).
  const recomputed = (l: number) => opts.checkpoint === true && l < config.numLayers - 1;
  try {
    let x = model.embed(upload(data.ids, 'ids'), n);
    for (let l = 0; l < config.numLayers; l++) {
      const acts = { loraD: new Map() } as LayerActivations;
      x = model.layer(l, x, batch, tokens, positions, caches[l], { save: acts, train });
      if (recomputed(l)) {
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
    const dLmHead = full ? (full.get('lmHead') ?? full.get('embed')) : undefined;
    const dHidden = tokenLogprobsBackward(hidden, model.weights.lmHead, targets, { logZ, entropies }, { gLogprob, gEntropy }, { temperature, dLmHead });
    for (const t of [hidden, logprobs, logZ, entropies, gLogprob, gEntropy]) t?.release();
    let dx = rmsNormBackwardDx(dHidden, x, model.weights.finalNorm, rstdF);
    if (full) accumulateNormGrad(dHidden, x, rstdF, config.hiddenSize, full.get('finalNorm')!);
    for (const t of [dHidden, x, rstdF]) t.release();
    const ones = full ? Tensor.from(gpu, new Float32Array(n).fill(1), [1, n], 'ones') : undefined;

    for (let l = config.numLayers - 1; l >= 0; l--) {
      let acts = saved[l];
      if (recomputed(l)) {
        // Recompute the layer from its saved input (rewriting the same keys/values in the cache).
        const input = acts.x;
        acts = { loraD: new Map() } as LayerActivations;
        model.layer(l, input, batch, tokens, positions, caches[l], { save: acts, train }).release();
      }
      const dIn = layerBackward(model, l, acts, dx, caches[l], positions, batch, tokens, train, full && ones ? { grads: full, ones } : undefined);
      dx.release();
      releaseActivations(acts);
      saved[l] = undefined as unknown as LayerActivations;
      dx = dIn;
    }
    if (full) embedBackward(dx, data.ids, full.get('embed')!);
    dx.release();
    ones?.release();
    await gpu.sync();
    return { logprobs: lp, entropies: ent };
  } finally {
    for (const acts of saved) if (acts) releaseActivations(acts);
    for (const c of caches) c.destroy();
    for (const b of owned) gpu.release(b);
  }
}

/** dweight += RMSNorm weight gradient. */
function accumulateNormGrad(dy: Tensor, x: Tensor, rstd: Tensor, dim: number, grad: Tensor): void {
  const delta = rmsNormWeightGrad(dy, x, rstd, dim);
  accumulateInto(grad, delta);
  delta.release();
}

const MODULE_OF: Record<LinearName, TargetModule> = {
  q: 'q_proj',
  k: 'k_proj',
  v: 'v_proj',
  o: 'o_proj',
  gate: 'gate_proj',
  up: 'up_proj',
  down: 'down_proj',
};

/**
 * Gradient of one layer's input given the gradient of its output; accumulates LoRA gradients,
 * and with `full` the gradients of every weight of the layer.
 */
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
  full?: { grads: ModelGradients; ones: Tensor },
): Tensor {
  const cfg = model.config;
  const w = model.weights.layers[l];
  const n = batch * tokens;
  /** Everything a linear site contributes besides dX = dY·W: LoRA, weight and bias gradients. */
  const linear = (name: LinearName, x: Tensor, dy: Tensor, dx: Tensor) => {
    const module = MODULE_OF[name];
    const site = model.adapter?.get(l, module);
    const d = a.loraD.get(module);
    if (site && d) loraBackward(x, d, dy, site, dx, { dropout: model.dropout(l, module, train) });
    if (full) {
      matmulWeightGrad(dy, x, full.grads.get(`${l}.${name}`)!, { accumulate: true });
      const bias = full.grads.get(`${l}.${name}Bias`);
      if (bias) accumulateBiasGrad(dy, bias, full.ones);
    }
  };
  const normGrad = (name: VectorName, dy: Tensor, x: Tensor, rstd: Tensor, dim: number) => {
    const grad = full?.grads.get(`${l}.${name}`);
    if (grad) accumulateNormGrad(dy, x, rstd, dim, grad);
  };

  // MLP: out = x2 + down(silu(gate(xn2)) * up(xn2)), xn2 = rmsnorm(x2)
  const dAct = matmulInputGrad(dOut, w.down);
  linear('down', a.act, dOut, dAct);
  const { dgate, dup } = swigluBackward(a.gate, a.up, dAct);
  dAct.release();
  const dXn2 = matmulInputGrad(dgate, w.gate);
  matmulInputGrad(dup, w.up, { out: dXn2, accumulate: true });
  linear('gate', a.xn2, dgate, dXn2);
  linear('up', a.xn2, dup, dXn2);
  dgate.release(), dup.release();
  const dNorm2 = rmsNormBackwardDx(dXn2, a.x2, w.postNorm, a.rstd2);
  normGrad('postNorm', dXn2, a.x2, a.rstd2, cfg.hiddenSize);
  const dX2 = add(dOut, dNorm2);
  dXn2.release(), dNorm2.release();

  // Attention: x2 = x + o(attention(rope(qnorm(q(xn))), rope(knorm(k(xn))), v(xn))), xn = rmsnorm(x)
  const dAttended = matmulInputGrad(dX2, w.o);
  linear('o', a.attended, dX2, dAttended);
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
    normGrad('qNorm', dq, a.qPre, a.rstdQ, cfg.headDim);
    normGrad('kNorm', dk, a.kPre, a.rstdK, cfg.headDim);
    dq.release(), dk.release();
    (dq = dqPre), (dk = dkPre);
  }
  const dXn = matmulInputGrad(dq, w.q);
  matmulInputGrad(dk, w.k, { out: dXn, accumulate: true });
  matmulInputGrad(dv, w.v, { out: dXn, accumulate: true });
  linear('q', a.xn, dq, dXn);
  linear('k', a.xn, dk, dXn);
  linear('v', a.xn, dv, dXn);
  dq.release(), dk.release(), dv.release();
  const dNorm1 = rmsNormBackwardDx(dXn, a.x, w.inputNorm, a.rstd1);
  normGrad('inputNorm', dXn, a.x, a.rstd1, cfg.hiddenSize);
  const dX = add(dX2, dNorm1);
  dXn.release(), dNorm1.release(), dX2.release();
  return dX;
}
