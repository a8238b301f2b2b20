// Token embedding lookup from an f32 / f16 / bf16 WeightMatrix, with its float64 CPU reference.

import source from '../../shaders/embedding.wgsl?raw';
import { Tensor, type WeightMatrix } from '../gpu/tensor.ts';
import { linearGroups } from './dispatch.ts';

const DTYPE_CODE = { f32: 0, f16: 1, bf16: 2 } as const;

/**
 * out[n, :] = table[ids[n], :] as f32 for n < count (`ids`: u32 [count] on the GPU). Rows of ids
 * ≥ table.rows are zeros (the table is never read out of bounds). One dispatch per table chunk.
 */
export function embed(ids: GPUBuffer, count: number, table: WeightMatrix, out?: Tensor): Tensor {
  const gpu = out?.gpu ?? table.gpu;
  if (!gpu) throw new Error(`embed: pass \`out\`, or a table made by WeightMatrix.upload (${table.name} has no GPU)`);
  const hidden = table.cols;
  const y = out ?? Tensor.empty(gpu, [count, hidden], `embed(${table.name})`);
  if (y.size !== count * hidden) throw new Error(`embed: out has ${y.size} values for [${count}, ${hidden}]`);
  if (ids.size < count * 4) throw new Error(`embed: ids buffer holds fewer than ${count} u32`);
  if (count === 0) return y;
  const wordsPerRow = table.dtype === 'f32' ? hidden : hidden / 2;
  const words = count * wordsPerRow;
  const pipeline = gpu.pipeline('embedding', source, 'embed', { DTYPE: DTYPE_CODE[table.dtype] });
  table.chunks.forEach((chunk, i) => {
    gpu.dispatch(`embed(${table.name} chunk ${i})`, pipeline, [ids, chunk.buffer, y.buffer], linearGroups(gpu, words, 256), [
      words,
      wordsPerRow,
      chunk.rowStart,
      chunk.rows,
      table.rows,
      i === 0 ? 1 : 0,
    ]);
  });
  return y;
}

/** Rows of `table` ([vocab, hidden], row-major, already decoded) for each id; zeros for ids ≥ vocab. */
export function embedRef(ids: ArrayLike<number>, table: ArrayLike<number>, hidden: number): Float64Array {
  const vocab = table.length / hidden;
  const out = new Float64Array(ids.length * hidden);
  for (let n = 0; n < ids.length; n++) {
    const id = ids[n];
    if (id >= vocab) continue;
    for (let j = 0; j < hidden; j++) out[n * hidden + j] = table[id * hidden + j];
  }
  return out;
}
