// A trainable parameter (its value and gradient accumulator) and zero-filling tensors, shared by the
// model (full-parameter gradients), the LoRA adapter and the optimizers.

import type { Gpu } from './runtime.ts';
import { Tensor } from './tensor.ts';

export interface Param {
  name: string;
  value: Tensor;
  grad: Tensor;
}

/**
 * Set every value of every tensor to 0, ordered after the work already recorded (gpu.write submits
 * it first, since a pooled buffer may still be written by it).
 */
export function zeroFill(gpu: Gpu, tensors: readonly Tensor[]): void {
  for (const t of tensors) {
    if (t.size === 0) continue;
    gpu.write(t.buffer, new Float32Array(t.size));
  }
}

/** Allocate a zero-filled tensor safely w.r.t. work already recorded on pooled buffers. */
export function zeroTensor(gpu: Gpu, shape: readonly number[], label: string): Tensor {
  const t = Tensor.empty(gpu, shape, label);
  zeroFill(gpu, [t]);
  return t;
}
