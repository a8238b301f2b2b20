// SwiGLU gating (silu(gate) * up) forward and backward, with float64 CPU references.

import familySource from '../../shaders/swiglu.wgsl?raw';
import { Tensor } from '../gpu/tensor.ts';
import { linearGroups } from './dispatch.ts';
import { withPrelude } from './prelude.ts';

const source = withPrelude(familySource);

/** y = silu(gate) * up, elementwise. */
export function swiglu(gate: Tensor, up: Tensor, out?: Tensor): Tensor {
  const gpu = gate.gpu;
  const y = out ?? Tensor.empty(gpu, gate.shape, 'swiglu');
  if (gate.size !== up.size || y.size !== gate.size) throw new Error(`swiglu: sizes ${gate.size}, ${up.size}, ${y.size} differ`);
  const n = gate.size;
  gpu.dispatch('swiglu', gpu.pipeline('swiglu', source, 'swiglu'), [gate.buffer, up.buffer, y.buffer], linearGroups(gpu, n, 256), [n]);
  return y;
}

/** Gradients of y = silu(gate) * up for upstream dy. */
export function swigluBackward(gate: Tensor, up: Tensor, dy: Tensor, opts: { dgate?: Tensor; dup?: Tensor } = {}): { dgate: Tensor; dup: Tensor } {
  const gpu = gate.gpu;
  const dgate = opts.dgate ?? Tensor.empty(gpu, gate.shape, 'swiglu.dgate');
  const dup = opts.dup ?? Tensor.empty(gpu, gate.shape, 'swiglu.dup');
  const n = gate.size;
  if ([up, dy, dgate, dup].some((t) => t.size !== n)) throw new Error(`swigluBackward: sizes differ from gate's ${n}`);
  gpu.dispatch(
    'swiglu_backward',
    gpu.pipeline('swiglu', source, 'swiglu_backward'),
    [gate.buffer, up.buffer, dy.buffer, dgate.buffer, dup.buffer],
    linearGroups(gpu, n, 256),
    [n],
  );
  return { dgate, dup };
}

function sigmoidRef(g: number): number {
  const e = Math.exp(-Math.abs(g));
  return g >= 0 ? 1 / (1 + e) : e / (1 + e);
}

export function swigluRef(gate: ArrayLike<number>, up: ArrayLike<number>): Float64Array {
  const out = new Float64Array(gate.length);
  for (let i = 0; i < gate.length; i++) out[i] = gate[i] * sigmoidRef(gate[i]) * up[i];
  return out;
}

export function swigluBackwardRef(gate: ArrayLike<number>, up: ArrayLike<number>, dy: ArrayLike<number>): { dgate: Float64Array; dup: Float64Array } {
  const n = gate.length;
  const dgate = new Float64Array(n),
    dup = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    const g = gate[i],
      s = sigmoidRef(g);
    dgate[i] = dy[i] * up[i] * s * (1 + g * (1 - s));
    dup[i] = dy[i] * g * s;
  }
  return { dgate, dup };
}
