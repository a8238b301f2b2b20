// The decoder forward pass on WebGPU, layer by layer (llm.c style: explicit ops, no graph).
// The same layer function serves inference (intermediates released at once) and training
// (intermediates kept in a LayerActivations record for the backward in backward.ts).
// LanguageModel (model.ts) runs these functions on its weights and adapter.

import type { Gpu } from '../gpu/runtime.ts';
import { Tensor } from '../gpu/tensor.ts';
import { attention, type KvCache } from '../kernels/attention.ts';
import { embed } from '../kernels/embedding.ts';
import { fusesSwiglu, matmul, matmulConcat, matmulSwiglu } from '../kernels/matmul.ts';
import { rmsNorm } from '../kernels/norm.ts';
import { type QkNormSaved, ropeQkv } from '../kernels/rope.ts';
import { swiglu } from '../kernels/swiglu.ts';
import { dropoutSeed, type LoraGroupSite, loraForward, loraForwardGroup } from '../kernels/lora.ts';
import type { LayerWeights, ModelAdapter, ModelConfig, ModelWeights, TargetModule } from './types.ts';

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

/** What the forward pass reads: the device, the config, the frozen weights and the optional adapter. */
export interface ForwardModel {
  readonly gpu: Gpu;
  readonly config: ModelConfig;
  readonly weights: ModelWeights;
  readonly adapter: ModelAdapter | null;
}

/** Token embeddings [n, hidden] of u32 ids. */
export function embedTokens(m: ForwardModel, ids: GPUBuffer, n: number): Tensor {
  return embed(ids, n, m.weights.embed, Tensor.empty(m.gpu, [n, m.config.hiddenSize], 'residual'));
}

/**
 * y = x·Wᵀ (+ b) (+ LoRA), keeping the LoRA intermediate when training. With `residual`, the
 * projection is added into that tensor (the residual add fused into the matmul epilogue,
 * DESIGN.md §5.3), which is returned.
 */
function project(
  m: ForwardModel,
  x: Tensor,
  layer: number,
  module: TargetModule,
  w: LayerWeights,
  save?: LayerActivations,
  train?: TrainingContext,
  residual?: Tensor,
): Tensor {
  const weight = { q_proj: w.q, k_proj: w.k, v_proj: w.v, o_proj: w.o, gate_proj: w.gate, up_proj: w.up, down_proj: w.down }[module];
  const bias = { q_proj: w.qBias, k_proj: w.kBias, v_proj: w.vBias }[module as 'q_proj'];
  const y = matmul(x, weight, { bias, out: residual, accumulate: !!residual });
  addLora(m, x, layer, [{ module, y }], save, train);
  return y;
}

/** A LoRA target on one input: its module and the output it adds into (as a group site, without the layer). */
interface LoraTarget extends Omit<LoraGroupSite, 'lora'> {
  module: TargetModule;
}

/**
 * y += the LoRA delta of each target the adapter has at this layer, all on input x. A training
 * forward runs the sites one by one, each with its dropout, keeping D for the backward; otherwise
 * the sites run as one group, 2 dispatches in all (loraForwardGroup, DESIGN.md §7.1).
 */
function addLora(m: ForwardModel, x: Tensor, layer: number, targets: LoraTarget[], save?: LayerActivations, train?: TrainingContext): void {
  const sites = targets.flatMap((t) => {
    const lora = m.adapter?.get(layer, t.module);
    return lora ? [{ ...t, lora }] : [];
  });
  if (sites.length === 0) return;
  if (!save && !train) {
    loraForwardGroup(x, sites);
    return;
  }
  for (const { module, lora, y, columns } of sites) {
    const d = loraForward(x, lora, y, { dropout: loraDropout(m, layer, module, train), columns });
    if (save) save.loraD.set(module, d);
    else d.release();
  }
}

/** The LoRA dropout of one call site in a training step (same seed in forward and backward). */
export function loraDropout(m: ForwardModel, layer: number, module: TargetModule, train?: TrainingContext): { p: number; seed: number } | undefined {
  const p = m.adapter?.config.dropout ?? 0;
  if (!train || p === 0) return undefined;
  return { p, seed: dropoutSeed(train.dropoutStep, layer, ['q_proj', 'k_proj', 'v_proj', 'o_proj', 'gate_proj', 'up_proj', 'down_proj'].indexOf(module)) };
}

/** What one decoder layer call keeps for backward, and what it knows of the positions. */
export interface LayerOptions {
  /** Receives the layer's activations for backward (nothing is released then). */
  save?: LayerActivations;
  train?: TrainingContext;
  /** Upper bound on positions[b] + tokens over the batch, known on the CPU: decode attention walks only that far (DESIGN.md §5.5). */
  maxLength?: number;
}

/**
 * One decoder layer on the residual stream x ([batch*tokens, hidden]); returns the new residual.
 * Without `save`, x and every intermediate are released; with it, they are kept for backward.
 */
export function decoderLayer(
  m: ForwardModel,
  l: number,
  x: Tensor,
  batch: number,
  tokens: number,
  positions: GPUBuffer,
  cache: KvCache,
  opts: LayerOptions = {},
): Tensor {
  const { save, train } = opts;
  const cfg = m.config;
  const w = m.weights.layers[l];
  const n = batch * tokens;
  const eps = cfg.rmsNormEps;
  const releaseUnlessSaved = (t: Tensor | undefined) => (save ? undefined : t?.release());
  const rstd1 = save ? Tensor.empty(m.gpu, [n], 'rstd1') : undefined;
  const xn = rmsNorm(x, w.inputNorm, eps, { saveRstd: rstd1 });
  const adapted = (module: TargetModule) => !!m.adapter?.get(l, module);
  // q|k|v as one projection (biases in its epilogue, LoRA deltas into its column slices), then
  // Qwen3's per-head q/k norms, RoPE and the cache write in one kernel (DESIGN.md §5.3).
  const qkv = matmulConcat(xn, [
    { w: w.q, bias: w.qBias },
    { w: w.k, bias: w.kBias },
    { w: w.v, bias: w.vBias },
  ]);
  const stride = w.q.rows + w.k.rows + w.v.rows;
  addLora(
    m,
    xn,
    l,
    [
      { module: 'q_proj', y: qkv, columns: { stride, col0: 0 } },
      { module: 'k_proj', y: qkv, columns: { stride, col0: w.q.rows } },
      { module: 'v_proj', y: qkv, columns: { stride, col0: w.q.rows + w.k.rows } },
    ],
    save,
    train,
  );
  const normSaved: QkNormSaved | undefined =
    save && w.qNorm
      ? {
          qPre: Tensor.empty(m.gpu, [n, w.q.rows], 'qPre'),
          kPre: Tensor.empty(m.gpu, [n, w.k.rows], 'kPre'),
          rstdQ: Tensor.empty(m.gpu, [n * cfg.numHeads], 'rstdQ'),
          rstdK: Tensor.empty(m.gpu, [n * cfg.numKvHeads], 'rstdK'),
        }
      : undefined;
  const qkNorm = w.qNorm && w.kNorm ? { q: w.qNorm, k: w.kNorm, eps, save: normSaved } : undefined;
  const qr = ropeQkv(qkv, positions, cache, { batch, tokens, heads: cfg.numHeads, theta: cfg.ropeTheta, qkNorm });
  qkv.release();
  const lse = save ? Tensor.empty(m.gpu, [batch, cfg.numHeads, tokens], 'lse') : undefined;
  const attended = attention(qr, cache, positions, { tokens, heads: cfg.numHeads, lse, maxLength: opts.maxLength });
  releaseUnlessSaved(qr);
  // x2 = x + o_proj(attended): in place on the residual stream unless the layer input is saved.
  const x2 = project(m, attended, l, 'o_proj', w, save, train, save ? copyOf(x, 'x2') : x);
  releaseUnlessSaved(attended);
  const rstd2 = save ? Tensor.empty(m.gpu, [n], 'rstd2') : undefined;
  const xn2 = rmsNorm(x2, w.postNorm, eps, { saveRstd: rstd2 });
  let gate: Tensor | undefined, up: Tensor | undefined, act: Tensor;
  if (!save && !adapted('gate_proj') && !adapted('up_proj') && fusesSwiglu(n, w.gate, m.gpu)) {
    // Nothing saved for a backward (generation, log-prob passes): gate and up in one dispatch
    // with SwiGLU in its epilogue (DESIGN.md §5.3).
    act = matmulSwiglu(xn2, w.gate, w.up);
  } else {
    gate = matmul(xn2, w.gate);
    up = matmul(xn2, w.up);
    addLora(
      m,
      xn2,
      l,
      [
        { module: 'gate_proj', y: gate },
        { module: 'up_proj', y: up },
      ],
      save,
      train,
    );
    act = swiglu(gate, up);
    releaseUnlessSaved(gate), releaseUnlessSaved(up);
  }
  releaseUnlessSaved(xn2);
  const out = project(m, act, l, 'down_proj', w, save, train, save ? copyOf(x2, 'residual') : x2);
  releaseUnlessSaved(act);
  if (save) {
    Object.assign(save, { x, xn, rstd1: rstd1!, ...normSaved, qr, attended, lse: lse!, x2, xn2, rstd2: rstd2!, gate: gate!, up: up!, act });
  } else {
    xn.release();
  }
  return out;
}

/** A new tensor holding t's values (a buffer copy, no dispatch). */
function copyOf(t: Tensor, label: string): Tensor {
  const c = Tensor.empty(t.gpu, t.shape, label);
  t.gpu.copy(t.buffer, 0, c.buffer, 0, t.size * 4);
  return c;
}

/**
 * Run the decoder on `tokens` new tokens of each of `batch` sequences. `ids` holds u32
 * [batch * tokens] (sequence-major); token t of sequence b sits at position positions[b] + t, and
 * the caches already hold every earlier position. `maxLength` bounds positions[b] + tokens
 * (LayerOptions). Returns the final-normed hidden states [batch * tokens, hidden]; the caller
 * releases it.
 */
export function hiddenStates(
  m: ForwardModel,
  ids: GPUBuffer,
  batch: number,
  tokens: number,
  positions: GPUBuffer,
  caches: KvCache[],
  maxLength?: number,
): Tensor {
  let x = embedTokens(m, ids, batch * tokens);
  for (let l = 0; l < m.config.numLayers; l++) x = decoderLayer(m, l, x, batch, tokens, positions, caches[l], { maxLength });
  const out = rmsNorm(x, m.weights.finalNorm, m.config.rmsNormEps);
  x.release();
  return out;
}
