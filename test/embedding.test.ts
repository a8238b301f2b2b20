import { test } from 'node:test';
import { embed, embedBackward, embedBackwardRef, embedRef, segmentsById } from '../src/kernels/embedding.ts';
import { Tensor, WeightMatrix, type WeightDType } from '../src/gpu/tensor.ts';
import type { Gpu } from '../src/gpu/runtime.ts';
import { assertClose, forEachVariant, randomArray, rng, testGpu, WEIGHT_DTYPES } from './helpers/gpu.ts';
import { assertGradient, numericGradient } from './helpers/finite-diff.ts';

/** Round half to even. */
function rne(v: number): number {
  const f = Math.floor(v),
    d = v - f;
  return d > 0.5 || (d === 0.5 && f % 2 !== 0) ? f + 1 : f;
}

/** f32/f64 value → IEEE half bits, round to nearest even (subnormals, overflow to inf, NaN). */
function toF16(v: number): number {
  if (Number.isNaN(v)) return 0x7e00;
  const sign = v < 0 || Object.is(v, -0) ? 0x8000 : 0;
  const a = Math.abs(v);
  if (a >= 65520) return sign | 0x7c00; // halfway between 65504 and 65536 rounds to inf
  if (a < 2 ** -14) return sign | rne(a / 2 ** -24); // subnormal (1024 becomes the smallest normal)
  let e = Math.floor(Math.log2(a));
  if (2 ** e > a) e--;
  if (2 ** (e + 1) <= a) e++;
  let m = rne((a / 2 ** e - 1) * 1024);
  if (m === 1024) (m = 0), e++;
  if (e > 15) return sign | 0x7c00;
  return sign | ((e + 15) << 10) | m;
}

function fromF16(h: number): number {
  const sign = h & 0x8000 ? -1 : 1,
    e = (h >> 10) & 0x1f,
    m = h & 0x3ff;
  if (e === 0) return sign * m * 2 ** -24;
  if (e === 31) return m ? NaN : sign * Infinity;
  return sign * (1 + m / 1024) * 2 ** (e - 15);
}

const f32Bits = new Uint32Array(1),
  f32View = new Float32Array(f32Bits.buffer);

/** f32 value → bfloat16 bits, round to nearest even; NaN stays a quiet NaN. */
function toBf16(v: number): number {
  f32View[0] = v;
  const bits = f32Bits[0];
  if ((bits & 0x7fffffff) > 0x7f800000) return ((bits >>> 16) | 0x40) & 0xffff;
  return ((bits + 0x7fff + ((bits >>> 16) & 1)) >>> 16) & 0xffff;
}

function fromBf16(h: number): number {
  f32Bits[0] = (h << 16) >>> 0;
  return f32View[0];
}

test('f16 / bf16 test encoders round to nearest even', () => {
  const f16Cases: [number, number][] = [
    [1, 0x3c00],
    [-2, 0xc000],
    [65504, 0x7bff],
    [65519, 0x7bff],
    [65520, 0x7c00],
    [2 ** -24, 0x0001],
    [2 ** -25, 0x0000],
    [3 * 2 ** -26, 0x0001],
    [2 ** -14, 0x0400],
    [1 / 3, 0x3555],
    [0, 0],
    [-0, 0x8000],
    [1 + 2 ** -11, 0x3c00],
    [1 + 3 * 2 ** -11, 0x3c02],
    [2047.5, 0x6800],
    [2046.5, 0x67fe],
    [2048 - 2 ** -12, 0x6800],
    [Infinity, 0x7c00],
  ];
  for (const [v, want] of f16Cases) {
    const got = toF16(v);
    if (got !== want) throw new Error(`toF16(${v}) = 0x${got.toString(16)}, want 0x${want.toString(16)}`);
  }
  const bfCases: [number, number][] = [
    [1, 0x3f80],
    [-1, 0xbf80],
    [1.00390625, 0x3f80],
    [1.01171875, 0x3f82],
    [1.0078125 + 2 ** -20, 0x3f81],
    [3.4e38, 0x7f80],
  ];
  for (const [v, want] of bfCases) {
    const got = toBf16(v);
    if (got !== want) throw new Error(`toBf16(${v}) = 0x${got.toString(16)}, want 0x${want.toString(16)}`);
  }
  for (const v of randomArray(2000, 77, 100)) {
    if (Math.abs(fromF16(toF16(v)) - v) > Math.abs(v) * 2 ** -11 + 2 ** -25) throw new Error(`f16 round trip of ${v}`);
    if (Math.abs(fromBf16(toBf16(v)) - v) > Math.abs(v) * 2 ** -8) throw new Error(`bf16 round trip of ${v}`);
  }
});

/** A random [vocab, hidden] table in `dtype`, uploaded, plus its decoded values for the reference. */
function makeTable(gpu: Gpu, dtype: WeightDType, vocab: number, hidden: number, seed: number, maxChunkBytes?: number) {
  const values = randomArray(vocab * hidden, seed, 3);
  // Some values at the edges of the formats: f16 subnormals and near-max, bf16 ties.
  (values[0] = 3e-6), (values[1] = -65000), (values[2] = 1.00390625), (values[3] = 7.5e-8);
  let decoded: Float64Array;
  let data: Float32Array | Uint16Array;
  if (dtype === 'f32') {
    data = values;
    decoded = Float64Array.from(values);
  } else {
    const enc = dtype === 'f16' ? toF16 : toBf16,
      dec = dtype === 'f16' ? fromF16 : fromBf16;
    data = Uint16Array.from(values, enc);
    decoded = Float64Array.from(data, dec);
  }
  return { table: WeightMatrix.upload(gpu, `embed-${dtype}`, data, vocab, hidden, dtype, maxChunkBytes), decoded };
}

function randomIds(count: number, vocab: number, seed: number): Uint32Array {
  const next = rng(seed);
  const ids = Uint32Array.from({ length: count }, () => Math.floor(next() * vocab));
  (ids[0] = 0), (ids[count - 1] = vocab - 1);
  return ids;
}

test('embed gathers rows from f32, f16 and bf16 tables', async () => {
  const gpu = await testGpu();
  await forEachVariant(WEIGHT_DTYPES, async (dtype) => {
    for (const [vocab, hidden, count] of [[50, 12, 9], [300, 64, 17], [5, 2, 1], ...(dtype === 'f32' ? [[20, 7, 6]] : [])]) {
      const { table, decoded } = makeTable(gpu, dtype, vocab, hidden, vocab + hidden);
      if (table.chunks.length !== 1) throw new Error('expected one chunk');
      const ids = randomIds(count, vocab, count);
      const got = await embed(gpu.upload(ids), count, table).read();
      assertClose(got, embedRef(ids, decoded, hidden), 0, `embed ${dtype} [${vocab}, ${hidden}] x${count}`);
    }
  });
});

test('embed over a table split into many row chunks', async () => {
  const gpu = await testGpu();
  await forEachVariant(WEIGHT_DTYPES, async (dtype) => {
    const vocab = 37,
      hidden = 10;
    const { table, decoded } = makeTable(gpu, dtype, vocab, hidden, 5, WeightMatrix.rowBytes(hidden, dtype) * 3);
    if (table.chunks.length !== 13) throw new Error(`expected 13 chunks, got ${table.chunks.length}`);
    const ids = randomIds(40, vocab, 9);
    const out = Tensor.empty(gpu, [ids.length, hidden]);
    if (embed(gpu.upload(ids), ids.length, table, out) !== out) throw new Error('embed did not return out');
    assertClose(await out.read(), embedRef(ids, decoded, hidden), 0, `chunked embed ${dtype}`);
  });
});

test('embed writes zeros for ids past the vocabulary and reads only `count` ids', async () => {
  const gpu = await testGpu();
  await forEachVariant(['f32', 'bf16'] as const, async (dtype) => {
    const vocab = 11,
      hidden = 6;
    const { table, decoded } = makeTable(gpu, dtype, vocab, hidden, 3, WeightMatrix.rowBytes(hidden, dtype) * 4);
    const ids = Uint32Array.from([3, 11, 10, 0xffffffff, 1000, 0, 7]);
    // Poison the output so rows that are never written show up.
    const out = Tensor.from(gpu, new Float32Array(ids.length * hidden).fill(NaN), [ids.length, hidden]);
    const idBuf = gpu.upload(Uint32Array.from([...ids, 2, 2, 2]));
    embed(idBuf, ids.length, table, out);
    const got = await out.read();
    assertClose(got, embedRef(ids, decoded, hidden), 0, `embed with invalid ids (${dtype})`);
  });
});

test('segmentsById sorts positions by id stably and drops ids past the vocabulary', () => {
  const { perm, starts, segIds } = segmentsById([4, 1, 4, 9, 1, 4, 2], 5);
  const same = (a: ArrayLike<number>, b: number[], what: string) => {
    if (Array.from(a).join() !== b.join()) throw new Error(`${what}: ${Array.from(a)} != ${b}`);
  };
  same(segIds, [1, 2, 4], 'segIds');
  same(starts, [0, 2, 3, 6], 'starts');
  same(perm, [1, 4, 6, 0, 2, 5], 'perm');
});

test('embedBackward sums repeated ids into the table gradient, deterministically', async () => {
  const gpu = await testGpu();
  let seed = 500;
  for (const [vocab, hidden, count] of [
    [50, 12, 40],
    [300, 64, 17],
    [7, 3, 30],
    [20, 1, 9],
    [1000, 33, 65],
  ]) {
    const next = rng(seed++);
    // Few distinct ids (many repeats), one id past the vocabulary, and ids never used.
    const ids = Uint32Array.from({ length: count }, () => Math.floor(next() * Math.min(vocab, 9)) * Math.max(1, Math.floor(vocab / 9)));
    ids[0] = vocab - 1;
    if (count > 2) ids[1] = vocab + 3;
    const dOutValues = randomArray(count * hidden, seed++);
    const dOut = Tensor.from(gpu, dOutValues, [count, hidden]);
    const ref = embedBackwardRef(dOutValues, ids, vocab, hidden);
    const what = `embedBackward [${vocab}, ${hidden}] x${count}`;
    // Into a zero table.
    const dTable = Tensor.from(gpu, new Float32Array(vocab * hidden), [vocab, hidden]);
    embedBackward(dOut, ids, dTable);
    const got = await dTable.read();
    assertClose(got, ref, 1e-5 * count, what);
    // Rows of unused ids stay exactly zero.
    const used = new Set(Array.from(ids));
    for (let v = 0; v < vocab; v++) {
      if (used.has(v)) continue;
      for (let j = 0; j < hidden; j++) if (got[v * hidden + j] !== 0) throw new Error(`${what}: row ${v} (unused) changed`);
    }
    // Accumulating into a non-zero table: twice more, the same result bit for bit each time.
    const base = randomArray(vocab * hidden, seed++, 2);
    const acc = Tensor.from(gpu, base, [vocab, hidden]);
    embedBackward(dOut, ids, acc);
    const once = await acc.read();
    assertClose(
      once,
      ref.map((v, i) => v + base[i]),
      1e-5 * (count + 2),
      `${what} accumulate`,
    );
    const acc2 = Tensor.from(gpu, base, [vocab, hidden]);
    embedBackward(dOut, ids, acc2);
    const again = await acc2.read();
    for (let i = 0; i < again.length; i++) if (!Object.is(again[i], once[i])) throw new Error(`${what}: not deterministic at ${i}`);
    dOut.release(), dTable.release(), acc.release(), acc2.release();
  }
});

test('embedBackward with only out-of-vocabulary ids leaves the table alone, and rejects bad shapes', async () => {
  const gpu = await testGpu();
  const base = randomArray(4 * 5, 9);
  const dTable = Tensor.from(gpu, base, [4, 5]);
  embedBackward(Tensor.from(gpu, randomArray(10, 3), [2, 5]), [4, 100], dTable);
  assertClose(await dTable.read(), base, 0, 'out-of-vocabulary ids');
  embedBackward(Tensor.empty(gpu, [0, 5]), [], dTable);
  assertClose(await dTable.read(), base, 0, 'no ids');
  let threw = false;
  try {
    embedBackward(Tensor.from(gpu, randomArray(10, 3), [2, 5]), [1, 2, 3], dTable);
  } catch (e) {
    threw = /dOut has/.test(String(e));
  }
  if (!threw) throw new Error('embedBackward accepted dOut of the wrong size');
});

test('embedBackwardRef is the gradient of sum(embed(ids)∘G) with respect to the table (finite differences)', () => {
  const vocab = 6,
    hidden = 3;
  const ids = [2, 5, 2, 0, 7, 2];
  const table = Float64Array.from(randomArray(vocab * hidden, 61));
  const g = Float64Array.from(randomArray(ids.length * hidden, 62));
  const loss = (t: Float64Array) => embedRef(ids, t, hidden).reduce((s, v, i) => s + v * g[i], 0);
  const grad = embedBackwardRef(g, ids, vocab, hidden);
  const h = 1e-5;
  assertGradient(
    grad,
    numericGradient(() => loss(table), table, h),
    1e-8,
    'embedBackwardRef',
  );
  if (!grad.some((v) => Math.abs(v) > 0.1)) throw new Error('vacuous gradient');
});
