// Token embedding lookup from an f32 / f16 / bf16 WeightMatrix, its backward into an f32 table
// gradient (deterministic segment sums, no atomics), and their float64 CPU references.

import familySource from '../../shaders/embedding.wgsl?raw';
import { Tensor, type WeightMatrix } from '../gpu/tensor.ts';
import { linearGroups } from './dispatch.ts';
import { DTYPE_CODE, withPrelude } from './prelude.ts';

const source = withPrelude(familySource);

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

/**
 * dTable[v, :] += Σ_{n : ids[n] = v} dOut[n, :] for an f32 table gradient `dTable` [vocab, hidden]
 * and `dOut` [ids.length, hidden]. The ids are known on the CPU: token positions are sorted by id
 * there (stably), the permutation and segment bounds are uploaded, and one thread per (distinct id,
 * column) sums its rows in position order — deterministic, no atomics. Ids ≥ vocab (whose forward
 * rows are zeros) contribute nothing.
 */
export function embedBackward(dOut: Tensor, ids: ArrayLike<number>, dTable: Tensor): void {
  const gpu = dOut.gpu;
  const hidden = dTable.shape[dTable.shape.length - 1] ?? 1;
  const vocab = dTable.size / hidden;
  const count = ids.length;
  if (dOut.size !== count * hidden) {
    throw new Error(`embedBackward: dOut has ${dOut.size} values for ${count} ids × hidden ${hidden}`);
  }
  if (count === 0 || hidden === 0) return;
  const { perm, starts, segIds } = segmentsById(ids, vocab);
  const segments = segIds.length;
  if (segments === 0) return;
  const index = new Uint32Array(count + 2 * segments + 1);
  index.set(perm.subarray(0, starts[segments]), 0);
  index.set(starts, count);
  index.set(segIds, count + segments + 1);
  const indexBuffer = gpu.upload(index, 'embed-backward-index');
  const total = segments * hidden;
  const pipeline = gpu.pipeline('embedding', source, 'embed_backward');
  gpu.dispatch('embed_backward', pipeline, [indexBuffer, dOut.buffer, dTable.buffer], linearGroups(gpu, total, 256), [total, hidden, segments, count]);
  // Submit before the index buffer goes back to the pool, so a later upload into it cannot land
  // ahead of this dispatch on the queue.
  gpu.flush();
  gpu.release(indexBuffer);
}

/**
 * Token positions with a valid id (< vocab) sorted by id, stably (a counting sort), with the start
 * of each distinct id's run (`starts`, one past the end last) and that id (`segIds`).
 */
export function segmentsById(ids: ArrayLike<number>, vocab: number): { perm: Uint32Array; starts: Uint32Array; segIds: Uint32Array } {
  const counts = new Map<number, number>();
  for (let n = 0; n < ids.length; n++) {
    const id = ids[n];
    if (!(Number.isInteger(id) && id >= 0)) throw new Error(`embedBackward: id ${id} at position ${n} is not a non-negative integer`);
    if (id < vocab) counts.set(id, (counts.get(id) ?? 0) + 1);
  }
  const segIds = Uint32Array.from(counts.keys()).sort();
  const starts = new Uint32Array(segIds.length + 1);
  const next = new Map<number, number>();
  for (let s = 0; s < segIds.length; s++) {
    next.set(segIds[s], starts[s]);
    starts[s + 1] = starts[s] + counts.get(segIds[s])!;
  }
  const perm = new Uint32Array(starts[segIds.length]);
  for (let n = 0; n < ids.length; n++) {
    const at = next.get(ids[n]);
    if (at === undefined) continue;
    perm[at] = n;
    next.set(ids[n], at + 1);
  }
  return { perm, starts, segIds };
}

/** Float64 reference of `embedBackward` into a zero table: dTable[vocab, hidden]; ids ≥ vocab are skipped. */
export function embedBackwardRef(dOut: ArrayLike<number>, ids: ArrayLike<number>, vocab: number, hidden: number): Float64Array {
  const dTable = new Float64Array(vocab * hidden);
  for (let n = 0; n < ids.length; n++) {
    const id = ids[n];
    if (id >= vocab) continue;
    for (let j = 0; j < hidden; j++) dTable[id * hidden + j] += dOut[n * hidden + j];
  }
  return dTable;
}
