// safetensors reading and writing, plus f16/bf16 <-> f32 conversions.
//
// Format: u64 little-endian header length N, N bytes of JSON
// `{name: {dtype, shape, data_offsets: [begin, end]}, "__metadata__": {...}}` (offsets relative to
// byte 8 + N; the header may be space-padded), then raw little-endian tensor data.
// Works in Node and the browser (no Node imports).

/** Every dtype the format defines. Only F32, F16 and BF16 can be widened to f32 here. */
export type SafetensorsDType = 'F32' | 'F16' | 'BF16' | 'F64' | 'I64' | 'I32' | 'I16' | 'I8' | 'U64' | 'U32' | 'U16' | 'U8' | 'BOOL' | 'F8_E4M3' | 'F8_E5M2';

/** Bytes per element of each known dtype. */
export const DTYPE_BYTES: Readonly<Record<SafetensorsDType, number>> = {
  F32: 4,
  F16: 2,
  BF16: 2,
  F64: 8,
  I64: 8,
  I32: 4,
  I16: 2,
  I8: 1,
  U64: 8,
  U32: 4,
  U16: 2,
  U8: 1,
  BOOL: 1,
  F8_E4M3: 1,
  F8_E5M2: 1,
};

/** The float dtypes this project reads. */
export const READABLE_DTYPES: readonly SafetensorsDType[] = ['F32', 'F16', 'BF16'];

export interface TensorEntry {
  name: string;
  dtype: SafetensorsDType;
  shape: number[];
  /** A view of the raw little-endian bytes (into the parsed file; not copied). */
  data: Uint8Array;
  /** The file the tensor was read from (for error messages). Additive to the documented API. */
  file?: string;
}

export interface ParsedSafetensors {
  tensors: Map<string, TensorEntry>;
  metadata: Record<string, string>;
}

const littleEndian = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

function numel(shape: readonly number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

/** The error thrown for a tensor whose dtype this project cannot read. */
export function unsupportedDtypeError(file: string, tensor: string, dtype: string): Error {
  return new Error(`${file}: tensor '${tensor}' has dtype ${dtype}, which is not supported (supported: F32, F16, BF16).`);
}

/**
 * Parse a safetensors file. Tensors of any dtype the format defines are validated and listed
 * (their `data` is a view into `bytes`); dtypes the format does not define are rejected. Use
 * `toFloat32` (or the loader) to read F32/F16/BF16 values; other dtypes throw there, naming the
 * file, tensor and dtype. Pass `{ floatOnly: true }` to reject non-float dtypes here already.
 */
export function parseSafetensors(bytes: Uint8Array, fileName: string, opts: { floatOnly?: boolean } = {}): ParsedSafetensors {
  // A plain Uint8Array view (a Node Buffer's slice() would not copy).
  bytes = new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (bytes.byteLength < 8) {
    throw new Error(`${fileName}: truncated safetensors file (${bytes.byteLength} bytes; the header length alone needs 8).`);
  }
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const lo = dv.getUint32(0, true);
  const hi = dv.getUint32(4, true);
  const headerLen = hi * 4294967296 + lo;
  if (headerLen > bytes.byteLength - 8) {
    throw new Error(
      `${fileName}: truncated safetensors file: the header claims ${headerLen} bytes but the file has only ${bytes.byteLength - 8} after the length field.`,
    );
  }
  let header: unknown;
  try {
    header = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes.subarray(8, 8 + headerLen)));
  } catch (e) {
    throw new Error(`${fileName}: bad safetensors header JSON: ${(e as Error).message}`);
  }
  if (header === null || typeof header !== 'object' || Array.isArray(header)) {
    throw new Error(`${fileName}: bad safetensors header JSON: expected an object.`);
  }
  const dataStart = 8 + headerLen;
  const dataLen = bytes.byteLength - dataStart;
  const tensors = new Map<string, TensorEntry>();
  let metadata: Record<string, string> = {};
  const spans: { name: string; begin: number; end: number }[] = [];
  for (const [name, raw] of Object.entries(header as Record<string, unknown>)) {
    if (name === '__metadata__') {
      if (raw !== null && (typeof raw !== 'object' || Array.isArray(raw))) {
        throw new Error(`${fileName}: bad safetensors header JSON: __metadata__ must be an object of strings.`);
      }
      metadata = { ...((raw ?? {}) as Record<string, string>) };
      continue;
    }
    const where = `${fileName}: tensor '${name}'`;
    if (raw === null || typeof raw !== 'object') throw new Error(`${where}: header entry is not an object.`);
    const { dtype, shape, data_offsets: offsets } = raw as { dtype?: unknown; shape?: unknown; data_offsets?: unknown };
    if (typeof dtype !== 'string') throw new Error(`${where}: missing dtype.`);
    if (!(dtype in DTYPE_BYTES)) throw unsupportedDtypeError(fileName, name, dtype);
    if (opts.floatOnly && !READABLE_DTYPES.includes(dtype as SafetensorsDType)) {
      throw unsupportedDtypeError(fileName, name, dtype);
    }
    if (!Array.isArray(shape) || !shape.every((d) => Number.isSafeInteger(d) && d >= 0)) {
      throw new Error(`${where}: bad shape ${JSON.stringify(shape)}.`);
    }
    if (!Array.isArray(offsets) || offsets.length !== 2 || !offsets.every((o) => Number.isSafeInteger(o) && o >= 0) || offsets[0] > offsets[1]) {
      throw new Error(`${where}: bad data_offsets ${JSON.stringify(offsets)}.`);
    }
    const [begin, end] = offsets as [number, number];
    const want = numel(shape) * DTYPE_BYTES[dtype as SafetensorsDType];
    if (end - begin !== want) {
      throw new Error(`${where}: data_offsets [${begin}, ${end}] span ${end - begin} bytes but ${dtype} [${shape.join(', ')}] needs ${want}.`);
    }
    if (end > dataLen) {
      throw new Error(`${where}: data_offsets [${begin}, ${end}] run past the end of the data (${dataLen} bytes): truncated file?`);
    }
    spans.push({ name, begin, end });
    tensors.set(name, {
      name,
      dtype: dtype as SafetensorsDType,
      shape: shape.slice(),
      data: bytes.subarray(dataStart + begin, dataStart + end),
      file: fileName,
    });
  }
  spans.sort((a, b) => a.begin - b.begin || a.end - b.end);
  for (let i = 1; i < spans.length; i++) {
    const prev = spans[i - 1];
    const cur = spans[i];
    if (cur.begin < prev.end) {
      throw new Error(`${fileName}: tensor '${cur.name}' data_offsets [${cur.begin}, ${cur.end}] overlap tensor '${prev.name}' [${prev.begin}, ${prev.end}].`);
    }
  }
  return { tensors, metadata };
}

export interface WritableTensor {
  name: string;
  dtype: 'F32' | 'F16' | 'BF16';
  shape: number[];
  /** f32 values for F32; raw 16-bit patterns for F16/BF16. */
  data: Float32Array | Uint16Array;
}

/**
 * The bytes before a safetensors file's tensor data: the u64 little-endian header length, then the
 * header JSON ({name: {dtype, shape, data_offsets}, "__metadata__"?: {...}}) space-padded to 8.
 */
export function safetensorsHeader(header: Record<string, unknown>): Uint8Array {
  let json = new TextEncoder().encode(JSON.stringify(header));
  const padded = Math.ceil(json.byteLength / 8) * 8;
  if (padded !== json.byteLength) {
    const p = new Uint8Array(padded).fill(0x20);
    p.set(json);
    json = p;
  }
  const head = new Uint8Array(8 + json.byteLength);
  const dv = new DataView(head.buffer);
  dv.setUint32(0, json.byteLength % 4294967296, true);
  dv.setUint32(4, Math.floor(json.byteLength / 4294967296), true);
  head.set(json, 8);
  return head;
}

/** Serialise tensors (in the order given) to safetensors bytes. The header is space-padded to 8. */
export function writeSafetensors(tensors: WritableTensor[], metadata?: Record<string, string>): Uint8Array {
  const header: Record<string, unknown> = {};
  if (metadata && Object.keys(metadata).length > 0) header.__metadata__ = metadata;
  let offset = 0;
  const seen = new Set<string>();
  for (const t of tensors) {
    if (seen.has(t.name)) throw new Error(`writeSafetensors: duplicate tensor '${t.name}'.`);
    seen.add(t.name);
    const wantArray = t.dtype === 'F32' ? Float32Array : Uint16Array;
    if (!(t.data instanceof wantArray)) {
      throw new Error(`writeSafetensors: tensor '${t.name}' is ${t.dtype} but its data is a ${t.data.constructor.name}.`);
    }
    if (t.data.length !== numel(t.shape)) {
      throw new Error(`writeSafetensors: tensor '${t.name}' has ${t.data.length} values for shape [${t.shape}].`);
    }
    const n = t.data.byteLength;
    header[t.name] = { dtype: t.dtype, shape: t.shape, data_offsets: [offset, offset + n] };
    offset += n;
  }
  const head = safetensorsHeader(header);
  const out = new Uint8Array(head.byteLength + offset);
  out.set(head, 0);
  let pos = head.byteLength;
  for (const t of tensors) {
    const b = new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength);
    if (!littleEndian) {
      throw new Error('writeSafetensors: big-endian hosts are not supported.');
    }
    out.set(b, pos);
    pos += b.byteLength;
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Conversions

let f16Table: Float32Array | null = null;

/** f32 value of every f16 bit pattern (built once, 256 KiB). */
function f16ToF32Table(): Float32Array {
  if (f16Table) return f16Table;
  const t = new Float32Array(65536);
  for (let h = 0; h < 65536; h++) t[h] = f16BitsToNumber(h);
  f16Table = t;
  return t;
}

/** The value of one f16 bit pattern. */
export function f16BitsToNumber(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exp = (h >>> 10) & 0x1f;
  const mant = h & 0x3ff;
  if (exp === 0) return sign * mant * 2 ** -24;
  if (exp === 31) return mant ? NaN : sign * Infinity;
  return sign * (1 + mant / 1024) * 2 ** (exp - 15);
}

/** The value of one bf16 bit pattern. */
export function bf16BitsToNumber(h: number): number {
  const u = new Uint32Array([(h & 0xffff) << 16]);
  return new Float32Array(u.buffer)[0];
}

/** Widen raw f16 bits to f32. */
function f16BitsToF32(bits: Uint16Array): Float32Array {
  const t = f16ToF32Table();
  const out = new Float32Array(bits.length);
  for (let i = 0; i < bits.length; i++) out[i] = t[bits[i]];
  return out;
}

/** Widen raw bf16 bits to f32 (exact). */
export function bf16BitsToF32(bits: Uint16Array): Float32Array {
  const out = new Uint32Array(bits.length);
  for (let i = 0; i < bits.length; i++) out[i] = bits[i] << 16;
  return new Float32Array(out.buffer);
}

/** The raw bytes of an entry as 16-bit words (copied only when the view is misaligned). */
export function entryBits16(entry: TensorEntry): Uint16Array {
  const d = entry.data;
  if (d.byteOffset % 2 === 0) return new Uint16Array(d.buffer, d.byteOffset, d.byteLength / 2);
  return new Uint16Array(new Uint8Array(d).buffer);
}

/** The raw bytes of an F32 entry as a Float32Array (copied only when the view is misaligned). */
function entryF32(entry: TensorEntry): Float32Array {
  const d = entry.data;
  if (d.byteOffset % 4 === 0) return new Float32Array(d.buffer, d.byteOffset, d.byteLength / 4);
  return new Float32Array(new Uint8Array(d).buffer);
}

/**
 * The tensor's values as f32. F32 entries may come back as a view of the file bytes (do not write
 * to it); F16/BF16 are widened into a new array. Other dtypes throw, naming file, tensor and dtype.
 */
export function toFloat32(entry: TensorEntry): Float32Array {
  switch (entry.dtype) {
    case 'F32':
      return entryF32(entry);
    case 'F16':
      return f16BitsToF32(entryBits16(entry));
    case 'BF16':
      return bf16BitsToF32(entryBits16(entry));
    default:
      throw unsupportedDtypeError(entry.file ?? '(safetensors)', entry.name, entry.dtype);
  }
}

/** Round f32 values to bf16 bit patterns: round to nearest, ties to even; NaN stays (quiet) NaN. */
export function f32ToBf16Bits(x: Float32Array): Uint16Array {
  const u = new Uint32Array(x.buffer, x.byteOffset, x.length);
  const out = new Uint16Array(x.length);
  for (let i = 0; i < u.length; i++) {
    const b = u[i];
    if ((b & 0x7f800000) === 0x7f800000 && (b & 0x7fffff) !== 0) {
      out[i] = ((b >>> 16) & 0x8000) | 0x7fc0 | ((b >>> 16) & 0x3f);
      continue;
    }
    // Overflow past the largest finite bf16 rounds to infinity through the exponent carry.
    out[i] = ((b + 0x7fff + ((b >>> 16) & 1)) >>> 16) & 0xffff;
  }
  return out;
}

/** One f32 bit pattern rounded to f16 bits (nearest, ties to even; subnormals; inf; NaN). */
function f32BitsToF16Bits(b: number): number {
  const sign = (b >>> 16) & 0x8000;
  const exp = (b >>> 23) & 0xff;
  const mant = b & 0x7fffff;
  if (exp === 0xff) return sign | 0x7c00 | (mant ? 0x200 | (mant >>> 13) : 0);
  const e = exp - 127 + 15;
  if (e >= 31) return sign | 0x7c00;
  if (e <= 0) {
    if (e < -10) return sign; // below half the smallest subnormal: rounds to zero
    const m = mant | 0x800000;
    const shift = 14 - e; // 14..24
    let h = m >>> shift;
    const rem = m & ((1 << shift) - 1);
    const half = 1 << (shift - 1);
    if (rem > half || (rem === half && (h & 1) !== 0)) h++;
    return sign | h; // h may carry to 0x400: the smallest normal, which is the right pattern
  }
  let h = sign | (e << 10) | (mant >>> 13);
  const rem = mant & 0x1fff;
  if (rem > 0x1000 || (rem === 0x1000 && (h & 1) !== 0)) h++; // carries into the exponent (to inf)
  return h;
}

/** Round f32 values to f16 bit patterns: nearest, ties to even; overflow to inf; subnormals kept. */
export function f32ToF16Bits(x: Float32Array): Uint16Array {
  const u = new Uint32Array(x.buffer, x.byteOffset, x.length);
  const out = new Uint16Array(x.length);
  for (let i = 0; i < u.length; i++) out[i] = f32BitsToF16Bits(u[i]);
  return out;
}
