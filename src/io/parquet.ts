// Parquet rows with hyparquet (pure JS, browser and Node). hyparquet decodes uncompressed and
// Snappy pages itself (what the Hub's converted datasets and pandas/pyarrow write by default);
// hyparquet-compressors (gzip, brotli, zstd as written by polars, lz4) is loaded only for files that
// use one of those codecs.

import { DatasetError } from './jsonl.ts';

/** Every row of a Parquet file as a plain object. 64-bit integers become numbers when exact, else strings. */
export async function readParquetRows(bytes: Uint8Array, fileName = 'parquet'): Promise<Record<string, unknown>[]> {
  const { parquetMetadata, parquetReadObjects } = await import('hyparquet');
  const file =
    bytes.byteOffset === 0 && bytes.byteLength === bytes.buffer.byteLength && bytes.buffer instanceof ArrayBuffer
      ? bytes.buffer
      : (bytes.slice().buffer as ArrayBuffer);
  let metadata: ReturnType<typeof parquetMetadata>;
  try {
    metadata = parquetMetadata(file);
  } catch (e) {
    throw new DatasetError(`${fileName}: not a readable Parquet file: ${(e as Error).message}`);
  }
  const codecs = new Set(metadata.row_groups.flatMap((g) => g.columns.map((c) => c.meta_data?.codec ?? 'UNCOMPRESSED')));
  const native = new Set(['UNCOMPRESSED', 'SNAPPY']);
  const compressors = [...codecs].some((c) => !native.has(c)) ? (await import('hyparquet-compressors')).compressors : undefined;
  let rows: Record<string, unknown>[];
  try {
    rows = await parquetReadObjects({ file, metadata, compressors });
  } catch (e) {
    throw new DatasetError(`${fileName}: could not read Parquet data: ${(e as Error).message}`);
  }
  return rows.map((r) => plain(r) as Record<string, unknown>);
}

/** BigInt → number (when a safe integer) or decimal string, recursively; everything else as is. */
function plain(v: unknown): unknown {
  if (typeof v === 'bigint') return v >= BigInt(Number.MIN_SAFE_INTEGER) && v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : v.toString();
  if (Array.isArray(v)) return v.map(plain);
  if (v !== null && typeof v === 'object' && Object.getPrototypeOf(v) === Object.prototype) {
    const out: Record<string, unknown> = {};
    for (const [k, x] of Object.entries(v)) out[k] = plain(x);
    return out;
  }
  return v;
}
