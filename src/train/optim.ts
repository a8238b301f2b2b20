// Optimizers as GPU kernels (AdamW, SGD), the global gradient L2 norm with torch-style clipping
// computed on the GPU, and float64 CPU references of all of them.
//
// A training step with gradient accumulation and clipping, with no read-back on the hot path:
//
//   const scale = 1 / accumulationSteps;                        // grads were summed over micro-batches
//   const { norm, clipCoef } = clipGradNorm(gpu, grads, maxGradNorm, { scale });
//   optimizer.step({ lr: learningRate(step, totalSteps, sched), gradScale: scale, clipCoef });
//   zeroFill(gpu, grads);
//   metrics.grad_norm = await readScalar(norm);                  // whenever it is convenient
//
// The gradient every update uses is  grad · gradScale · clipCoef[0]  (clipCoef omitted = 1), i.e.
// exactly what torch sees after `loss / accumulation` backward passes and clip_grad_norm_. The grads
// themselves are never modified by the optimizer.

import familySource from '../../shaders/optim.wgsl?raw';
import type { Gpu } from '../gpu/runtime.ts';
import { Tensor } from '../gpu/tensor.ts';
import { linearGroups } from '../kernels/dispatch.ts';
import { withPrelude } from '../kernels/prelude.ts';
import { type Param, zeroTensor } from '../gpu/param.ts';

const source = withPrelude(familySource);

export interface AdamWConfig {
  lr: number;
  beta1: number;
  beta2: number;
  eps: number;
  weightDecay: number;
}

export interface SgdConfig {
  lr: number;
  momentum?: number;
  weightDecay?: number;
  /** Nesterov momentum (torch's `nesterov=True`); needs momentum > 0. */
  nesterov?: boolean;
}

/**
 * Options of one optimizer step.
 * - `lr`: learning rate for this step (e.g. from `learningRate`); defaults to the config's lr.
 * - `gradScale`: multiplies every gradient first (1/accumulation steps, loss scaling…); default 1.
 * - `clipCoef`: a GPU tensor whose element 0 also multiplies every gradient, normally the
 *   `clipCoef` returned by `clipGradNorm` (computed on the GPU, so nothing is read back).
 */
export interface StepOptions {
  lr?: number;
  gradScale?: number;
  clipCoef?: Tensor;
}

export interface AdamWState {
  /** Optimizer steps taken so far (torch's `state['step']`). */
  step: number;
  m: Float32Array[];
  v: Float32Array[];
}

export interface SgdState {
  step: number;
  /** torch's `momentum_buffer` per parameter; empty when momentum is 0. */
  momentumBuffer: Float32Array[];
}

const WG = 256;
/** Workgroups per tensor in the first norm pass (each grid-strides; partials stay few). */
const MAX_NORM_GROUPS = 1024;
const NORM_ELEMS_PER_GROUP = 4096;

const ones = new WeakMap<Gpu, GPUBuffer>();

/** A [1] buffer holding 1.0: the clip coefficient when clipping is off. */
function oneBuffer(gpu: Gpu): GPUBuffer {
  let b = ones.get(gpu);
  if (!b) {
    b = gpu.upload(new Float32Array([1]), 'optim.one');
    ones.set(gpu, b);
  }
  return b;
}

function normalizeStep(
  a: number | StepOptions | undefined,
  b: number | undefined,
  defaultLr: number,
): Required<Omit<StepOptions, 'clipCoef'>> & { clipCoef?: Tensor } {
  const opts: StepOptions = typeof a === 'object' ? a : { lr: a, gradScale: b };
  const lr = opts.lr ?? defaultLr;
  const gradScale = opts.gradScale ?? 1;
  if (!Number.isFinite(lr)) throw new Error(`optimizer step: lr must be a finite number, got ${lr}`);
  if (!Number.isFinite(gradScale)) throw new Error(`optimizer step: gradScale must be a finite number, got ${gradScale}`);
  if (opts.clipCoef && opts.clipCoef.size < 1) throw new Error('optimizer step: clipCoef tensor is empty');
  return { lr, gradScale, clipCoef: opts.clipCoef };
}

function checkParams(params: readonly Param[], what: string): void {
  for (const p of params) {
    if (p.value.size !== p.grad.size) {
      throw new Error(`${what}: parameter ${p.name} has ${p.value.size} values but its grad has ${p.grad.size}`);
    }
  }
}

function checkStateArrays(arrays: readonly Float32Array[], params: readonly Param[], what: string): void {
  if (arrays.length !== params.length) throw new Error(`${what}: ${arrays.length} arrays for ${params.length} parameters`);
  arrays.forEach((a, i) => {
    if (a.length !== params[i].value.size) {
      throw new Error(`${what}: ${a.length} values for parameter ${params[i].name} of size ${params[i].value.size}`);
    }
  });
}

/** AdamW with PyTorch semantics (decoupled weight decay, bias-corrected moments, step from 1). */
export class AdamW {
  private step_ = 0;
  private readonly m: Tensor[];
  private readonly v: Tensor[];

  constructor(
    readonly gpu: Gpu,
    readonly params: readonly Param[],
    readonly cfg: AdamWConfig,
  ) {
    checkParams(params, 'AdamW');
    if (!(cfg.beta1 >= 0 && cfg.beta1 < 1 && cfg.beta2 >= 0 && cfg.beta2 < 1)) {
      throw new Error(`AdamW: betas must lie in [0, 1), got ${cfg.beta1}, ${cfg.beta2}`);
    }
    if (!(cfg.eps >= 0)) throw new Error(`AdamW: eps must be ≥ 0, got ${cfg.eps}`);
    this.m = params.map((p) => zeroTensor(gpu, [p.value.size], `adamw.m.${p.name}`));
    this.v = params.map((p) => zeroTensor(gpu, [p.value.size], `adamw.v.${p.name}`));
  }

  /** Optimizer steps taken so far. */
  get stepCount(): number {
    return this.step_;
  }

  /** One update of every parameter; see `StepOptions`. `step(lr, gradScale)` is shorthand. */
  step(opts?: StepOptions): void;
  step(lr?: number, gradScale?: number): void;
  step(a?: number | StepOptions, b?: number): void {
    const { lr, gradScale, clipCoef } = normalizeStep(a, b, this.cfg.lr);
    const gpu = this.gpu;
    const t = ++this.step_;
    const { beta1, beta2, eps, weightDecay } = this.cfg;
    const bc1 = 1 - beta1 ** t;
    const bc2 = 1 - beta2 ** t;
    const pipeline = gpu.pipeline('optim', source, 'adamw_step');
    const clip = clipCoef?.buffer ?? oneBuffer(gpu);
    this.params.forEach((p, i) => {
      const n = p.value.size;
      if (n === 0) return;
      gpu.dispatch('adamw_step', pipeline, [clip, p.value.buffer, p.grad.buffer, this.m[i].buffer, this.v[i].buffer], linearGroups(gpu, n, WG), [
        n,
        { f32: 1 - lr * weightDecay },
        { f32: beta1 },
        { f32: beta2 },
        { f32: eps },
        { f32: lr / bc1 },
        { f32: Math.sqrt(bc2) },
        { f32: gradScale },
      ]);
    });
  }

  async state(): Promise<AdamWState> {
    return {
      step: this.step_,
      m: await Promise.all(this.m.map((t) => t.read())),
      v: await Promise.all(this.v.map((t) => t.read())),
    };
  }

  loadState(s: AdamWState): void {
    checkStateArrays(s.m, this.params, 'AdamW.loadState m');
    checkStateArrays(s.v, this.params, 'AdamW.loadState v');
    if (!(Number.isInteger(s.step) && s.step >= 0)) throw new Error(`AdamW.loadState: bad step ${s.step}`);
    s.m.forEach((a, i) => this.gpu.write(this.m[i].buffer, a));
    s.v.forEach((a, i) => this.gpu.write(this.v[i].buffer, a));
    this.step_ = s.step;
  }

  /** Give the moment buffers back to the pool. The optimizer must not be used afterwards. */
  release(): void {
    for (const t of [...this.m, ...this.v]) t.release();
  }
}

/** SGD with PyTorch semantics (L2 weight decay added to the gradient, momentum with dampening 0). */
export class Sgd {
  private step_ = 0;
  private readonly buf: Tensor[];

  constructor(
    readonly gpu: Gpu,
    readonly params: readonly Param[],
    readonly cfg: SgdConfig,
  ) {
    checkParams(params, 'Sgd');
    const momentum = cfg.momentum ?? 0;
    if (!(momentum >= 0)) throw new Error(`Sgd: momentum must be ≥ 0, got ${momentum}`);
    if (cfg.nesterov && momentum <= 0) throw new Error('Sgd: nesterov needs momentum > 0');
    this.buf = momentum > 0 ? params.map((p) => zeroTensor(gpu, [p.value.size], `sgd.momentum.${p.name}`)) : [];
  }

  get stepCount(): number {
    return this.step_;
  }

  step(opts?: StepOptions): void;
  step(lr?: number, gradScale?: number): void;
  step(a?: number | StepOptions, b?: number): void {
    const { lr, gradScale, clipCoef } = normalizeStep(a, b, this.cfg.lr);
    const gpu = this.gpu;
    this.step_++;
    const momentum = this.cfg.momentum ?? 0;
    const entry = momentum > 0 ? 'sgd_momentum_step' : 'sgd_step';
    const pipeline = gpu.pipeline('optim', source, entry);
    const clip = clipCoef?.buffer ?? oneBuffer(gpu);
    this.params.forEach((p, i) => {
      const n = p.value.size;
      if (n === 0) return;
      const buffers = [clip, p.value.buffer, p.grad.buffer];
      if (momentum > 0) buffers.push(this.buf[i].buffer);
      gpu.dispatch(entry, pipeline, buffers, linearGroups(gpu, n, WG), [
        n,
        { f32: lr },
        { f32: this.cfg.weightDecay ?? 0 },
        { f32: momentum },
        this.cfg.nesterov ? 1 : 0,
        { f32: gradScale },
      ]);
    });
  }

  async state(): Promise<SgdState> {
    return { step: this.step_, momentumBuffer: await Promise.all(this.buf.map((t) => t.read())) };
  }

  loadState(s: SgdState): void {
    if (this.buf.length === 0) {
      if (s.momentumBuffer.length !== 0) throw new Error('Sgd.loadState: momentum buffers given but momentum is 0');
    } else checkStateArrays(s.momentumBuffer, this.params, 'Sgd.loadState momentumBuffer');
    if (!(Number.isInteger(s.step) && s.step >= 0)) throw new Error(`Sgd.loadState: bad step ${s.step}`);
    s.momentumBuffer.forEach((a, i) => this.gpu.write(this.buf[i].buffer, a));
    this.step_ = s.step;
  }

  release(): void {
    for (const t of this.buf) t.release();
  }
}

/** Records both norm passes; writes ‖scale·grads‖₂ to norm[0] and the clip coefficient to coef[0]. */
function recordNorm(gpu: Gpu, grads: readonly Tensor[], scale: number, maxNorm: number, norm: Tensor, coef: Tensor): void {
  const groups = grads.map((g) => Math.min(MAX_NORM_GROUPS, Math.ceil(g.size / NORM_ELEMS_PER_GROUP)));
  const slots = groups.reduce((a, b) => a + b, 0);
  const partial = gpu.buffer(Math.max(1, slots) * 4, 'gradNorm.partial');
  const sumsq = gpu.pipeline('optim', source, 'sumsq_partial');
  let slot = 0;
  grads.forEach((g, i) => {
    if (groups[i] === 0) return;
    gpu.dispatch('sumsq_partial', sumsq, [g.buffer, partial], [groups[i]], [g.size, slot, { f32: 0 }, { f32: 0 }]);
    slot += groups[i];
  });
  gpu.dispatch(
    'grad_norm_final',
    gpu.pipeline('optim', source, 'grad_norm_final'),
    [partial, norm.buffer, coef.buffer],
    [1],
    [slots, 0, { f32: scale }, { f32: maxNorm }],
  );
  gpu.release(partial);
}

/**
 * Global L2 norm over all grads (times |scale|, default 1), computed on the GPU: per-tensor
 * partial sums of squares, then one final reduction, no float atomics. Returns a [1] tensor (pass
 * `out` to reuse one); read it with `readScalar`.
 */
export function gradNorm(gpu: Gpu, grads: readonly Tensor[], opts: { scale?: number; out?: Tensor } = {}): Tensor {
  const norm = opts.out ?? Tensor.empty(gpu, [1], 'gradNorm');
  const coef = Tensor.empty(gpu, [1], 'gradNorm.coef');
  recordNorm(gpu, grads, opts.scale ?? 1, 0, norm, coef);
  coef.release();
  return norm;
}

/**
 * torch.nn.utils.clip_grad_norm_ without the read-back: computes the global norm of scale·grads
 * (`scale` = the `gradScale` the step will use, so the norm is of the gradients the optimizer sees)
 * and the coefficient min(1, maxNorm / (norm + 1e-6)) on the GPU. Pass `clipCoef` to `step({
 * clipCoef })`; it is undefined when `maxNorm` ≤ 0 (clipping off; the norm is still computed for
 * logging). Grads are not modified. Pass `norm` / `coef` ([1] tensors) to reuse buffers across
 * steps; otherwise release the returned tensors when done with them.
 */
export function clipGradNorm(
  gpu: Gpu,
  grads: readonly Tensor[],
  maxNorm: number,
  opts: { scale?: number; norm?: Tensor; coef?: Tensor } = {},
): { norm: Tensor; clipCoef: Tensor | undefined } {
  if (!Number.isFinite(maxNorm)) throw new Error(`clipGradNorm: maxNorm must be finite, got ${maxNorm}`);
  const norm = opts.norm ?? Tensor.empty(gpu, [1], 'gradNorm');
  const coef = opts.coef ?? Tensor.empty(gpu, [1], 'gradNorm.clipCoef');
  recordNorm(gpu, grads, opts.scale ?? 1, Math.max(0, maxNorm), norm, coef);
  if (maxNorm > 0) return { norm, clipCoef: coef };
  if (!opts.coef) coef.release();
  return { norm, clipCoef: undefined };
}

/** Read element 0 of a GPU tensor (e.g. the grad norm for logging). Submits pending work. */
export async function readScalar(t: Tensor): Promise<number> {
  return (await t.gpu.readF32(t.buffer, 1))[0];
}

// ---- float64 CPU references ---------------------------------------------------------------------

/** ‖scale · grads‖₂ over all tensors, float64. */
export function gradNormRef(grads: readonly ArrayLike<number>[], scale = 1): number {
  let ss = 0;
  for (const g of grads) for (let i = 0; i < g.length; i++) ss += g[i] * g[i];
  return Math.sqrt(ss) * Math.abs(scale);
}

/** torch's clip coefficient min(1, maxNorm / (norm + 1e-6)); 1 when maxNorm ≤ 0 (off). */
export function clipCoefRef(norm: number, maxNorm: number): number {
  return maxNorm > 0 ? Math.min(1, maxNorm / (norm + 1e-6)) : 1;
}

export interface StepOptionsRef {
  lr?: number;
  gradScale?: number;
  clipCoef?: number;
}

/** torch.optim.AdamW (single-tensor path) in float64 on plain arrays; updates `params` in place. */
export class AdamWRef {
  step = 0;
  readonly m: Float64Array[];
  readonly v: Float64Array[];

  constructor(
    readonly params: Float64Array[],
    readonly cfg: AdamWConfig,
  ) {
    this.m = params.map((p) => new Float64Array(p.length));
    this.v = params.map((p) => new Float64Array(p.length));
  }

  update(grads: readonly ArrayLike<number>[], opts: StepOptionsRef = {}): void {
    const lr = opts.lr ?? this.cfg.lr;
    const s = (opts.gradScale ?? 1) * (opts.clipCoef ?? 1);
    const { beta1, beta2, eps, weightDecay } = this.cfg;
    const t = ++this.step;
    const stepSize = lr / (1 - beta1 ** t);
    const bc2Sqrt = Math.sqrt(1 - beta2 ** t);
    this.params.forEach((p, k) => {
      const g = grads[k],
        m = this.m[k],
        v = this.v[k];
      for (let i = 0; i < p.length; i++) {
        const gi = g[i] * s;
        p[i] *= 1 - lr * weightDecay;
        m[i] = beta1 * m[i] + (1 - beta1) * gi;
        v[i] = beta2 * v[i] + (1 - beta2) * gi * gi;
        p[i] -= (stepSize * m[i]) / (Math.sqrt(v[i]) / bc2Sqrt + eps);
      }
    });
  }
}

/** torch.optim.SGD (dampening 0) in float64 on plain arrays; updates `params` in place. */
export class SgdRef {
  step = 0;
  /** Momentum buffers (null until the first step, as in torch). */
  readonly buf: (Float64Array | null)[];

  constructor(
    readonly params: Float64Array[],
    readonly cfg: SgdConfig,
  ) {
    this.buf = params.map(() => null);
  }

  update(grads: readonly ArrayLike<number>[], opts: StepOptionsRef = {}): void {
    const lr = opts.lr ?? this.cfg.lr;
    const s = (opts.gradScale ?? 1) * (opts.clipCoef ?? 1);
    const wd = this.cfg.weightDecay ?? 0,
      mu = this.cfg.momentum ?? 0;
    this.step++;
    this.params.forEach((p, k) => {
      const g = grads[k];
      const d = new Float64Array(p.length);
      for (let i = 0; i < p.length; i++) d[i] = g[i] * s + wd * p[i];
      let u: Float64Array = d;
      if (mu !== 0) {
        let buf = this.buf[k];
        if (!buf) buf = this.buf[k] = Float64Array.from(d);
        else for (let i = 0; i < p.length; i++) buf[i] = mu * buf[i] + d[i];
        if (this.cfg.nesterov) {
          u = new Float64Array(p.length);
          for (let i = 0; i < p.length; i++) u[i] = d[i] + mu * buf[i];
        } else u = buf;
      }
      for (let i = 0; i < p.length; i++) p[i] -= lr * u[i];
    });
  }
}
