// Dispatch-shape helpers shared by the kernel wrappers.

import type { Gpu } from '../gpu/runtime.ts';

/**
 * Workgroup counts for a 1-D problem of `n` items at `perGroup` items per workgroup, folded into
 * y when x would pass maxComputeWorkgroupsPerDimension. Shaders recover the flat index as
 * `id.x + id.y * num_workgroups.x * perGroup` and bound-check it.
 */
export function linearGroups(gpu: Gpu, n: number, perGroup: number): [number, number] {
  const groups = Math.ceil(n / perGroup);
  const maxX = gpu.limits.maxComputeWorkgroupsPerDimension;
  if (groups <= maxX) return [groups, 1];
  const y = Math.ceil(groups / maxX);
  return [Math.ceil(groups / y), y];
}
