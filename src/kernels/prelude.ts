// The shared WGSL prelude (shaders/prelude.wgsl: weight decode per dtype, flat dispatch index,
// pcg_hash) and how a kernel family's source is combined with it.

import prelude from '../../shaders/prelude.wgsl?raw';

/** Override DTYPE value for each WeightMatrix dtype (DTYPE_F32 / DTYPE_F16 / DTYPE_BF16 in the prelude). */
export const DTYPE_CODE = { f32: 0, f16: 1, bf16: 2 } as const;

/**
 * A family's WGSL source with the prelude prepended. Call it once per family at module load and
 * pass the result to `gpu.pipeline(...)`: the pipeline cache keys on the whole text, so each family
 * keeps its own distinct, stable key.
 */
export function withPrelude(source: string): string {
  return `${prelude}\n${source}`;
}
