// Elementwise kernels (residual add) and their float64 CPU references.

import familySource from '../../shaders/elementwise.wgsl?raw';
import { Tensor } from '../gpu/tensor.ts';
import { linearGroups } from './dispatch.ts';
import { withPrelude } from './prelude.ts';

const source = withPrelude(familySource);

/** out = a + b. */
export function add(a: Tensor, b: Tensor, out = Tensor.empty(a.gpu, a.shape, 'add')): Tensor {
  if (a.size !== b.size || out.size !== a.size) throw new Error(`add: sizes ${a.size}, ${b.size}, ${out.size} differ`);
  const gpu = a.gpu;
  gpu.dispatch('add', gpu.pipeline('elementwise', source, 'add'), [a.buffer, b.buffer, out.buffer], linearGroups(gpu, a.size, 256), [a.size]);
  return out;
}

export function addRef(a: ArrayLike<number>, b: ArrayLike<number>): Float64Array {
  const out = new Float64Array(a.length);
  for (let i = 0; i < a.length; i++) out[i] = a[i] + b[i];
  return out;
}
