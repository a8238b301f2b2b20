// A trainable parameter (its value and gradient accumulator) and zero-filling tensors, shared by the
// model (full-parameter gradients), the LoRA adapter and the optimizers.

import type { Gpu } from './runtime.ts';
import { Tensor } from './tensor.ts';

export interface Param {
  name: string;
  value: Tensor;
  grad: Tensor;
}

/** Set every value of every tensor to 0, recorded on the GPU in order with the work before and after it. */
export function zeroFill(gpu: Gpu, tensors: readonly Tensor[]): void {
  for (const t of tensors) if (t.size > 0) gpu.clear(t.buffer, 0, t.size * 4);
}

/** A new zero-filled tensor (a pooled buffer may hold old values). */
export function zeroTensor(gpu: Gpu, shape: readonly number[], label: string): Tensor {
  const t = Tensor.empty(gpu, shape, label);
  zeroFill(gpu, [t]);
  return t;
}
