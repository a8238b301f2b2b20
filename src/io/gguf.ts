// GGUF v3 files (llama.cpp's model format): a writer (typed metadata, tensor infos, aligned data in
// F32 / F16 / Q8_0) and a small reader, both on plain byte arrays so they run in the browser too.
// Layout and the Q8_0 block format: DESIGN.md §15.

import { f16BitsToNumber, f32ToF16Bits } from './safetensors.ts';

/** ggml tensor types this module writes and reads. */
export const GGML_TYPE = { F32: 0, F16: 1, Q8_0: 8 } as const;
export type GgmlType = (typeof GGML_TYPE)[keyof typeof GGML_TYPE];

/** Metadata value types of the GGUF format. */
const GGUF_VALUE = { u8: 0, i8: 1, u16: 2, i16: 3, u32: 4, i32: 5, f32: 6, bool: 7, string: 8, array: 9, u64: 10, i64: 11, f64: 12 } as const;
type GgufScalarType = Exclude<keyof typeof GGUF_VALUE, 'array'>;

export type GgufValue =
  | { type: Exclude<GgufScalarType, 'string' | 'bool'>; value: number }
  | { type: 'bool'; value: boolean }
  | { type: 'string'; value: string }
  | { type: 'array'; itemType: 'string'; value: string[] }
  | { type: 'array'; itemType: Exclude<GgufScalarType, 'string' | 'bool'>; value: ArrayLike<number> }
  | { type: 'array'; itemType: 'bool'; value: boolean[] };

/** Ordered metadata (key → typed value). */
export type GgufMetadata = [string, GgufValue][];

export interface GgufTensor {
  name: string;
  /** PyTorch order (outermost first); the file stores the dims reversed (innermost first). */
  shape: number[];
  type: GgmlType;
  /** The encoded data (see encodeTensor). */
  data: Uint8Array;
}

const GGUF_ALIGNMENT = 32;
const MAGIC = 0x46554747; // "GGUF" little-endian
export const Q8_0_BLOCK = 32;
const Q8_0_BYTES = 34;

// -------------------------------------------------------------------------------------------------
// Encoding

/** Q8_0: blocks of 32 values → f16 scale d = max|x|/127, then 32 int8 round-half-away(x/d), in f32 arithmetic. */
export function quantizeQ8_0(x: Float32Array): Uint8Array {
  if (x.length % Q8_0_BLOCK !== 0) throw new Error(`Q8_0: ${x.length} values is not a multiple of ${Q8_0_BLOCK}.`);
  const blocks = x.length / Q8_0_BLOCK;
  const out = new Uint8Array(blocks * Q8_0_BYTES);
  const view = new DataView(out.buffer);
  const d32 = new Float32Array(1);
  for (let b = 0; b < blocks; b++) {
    let amax = 0;
    for (let i = 0; i < Q8_0_BLOCK; i++) amax = Math.max(amax, Math.abs(x[b * Q8_0_BLOCK + i]));
    const d = Math.fround(amax / 127);
    const id = d === 0 ? 0 : Math.fround(1 / d);
    d32[0] = d;
    view.setUint16(b * Q8_0_BYTES, f32ToF16Bits(d32)[0], true);
    for (let i = 0; i < Q8_0_BLOCK; i++) {
      const v = Math.fround(x[b * Q8_0_BLOCK + i] * id);
      const q = Math.sign(v) * Math.floor(Math.abs(v) + 0.5); // round half away from zero
      out[b * Q8_0_BYTES + 2 + i] = q & 0xff;
    }
  }
  return out;
}

/** f32 values encoded as one ggml type (F16: nearest-even; Q8_0: quantizeQ8_0). */
export function encodeTensor(x: Float32Array, type: GgmlType): Uint8Array {
  if (type === GGML_TYPE.F32) return new Uint8Array(x.buffer.slice(x.byteOffset, x.byteOffset + x.byteLength));
  if (type === GGML_TYPE.F16) return new Uint8Array(f32ToF16Bits(x).buffer);
  return quantizeQ8_0(x);
}

/** Decode tensor data back to f32 (tests, inspection). */
export function decodeTensor(data: Uint8Array, type: GgmlType, count: number): Float32Array {
  const out = new Float32Array(count);
  const view = new DataView(data.buffer, data.byteOffset, data.byteLength);
  if (type === GGML_TYPE.F32) for (let i = 0; i < count; i++) out[i] = view.getFloat32(i * 4, true);
  else if (type === GGML_TYPE.F16) for (let i = 0; i < count; i++) out[i] = f16BitsToNumber(view.getUint16(i * 2, true));
  else if (type === GGML_TYPE.Q8_0) {
    for (let b = 0; b < count / Q8_0_BLOCK; b++) {
      const d = f16BitsToNumber(view.getUint16(b * Q8_0_BYTES, true));
      for (let i = 0; i < Q8_0_BLOCK; i++) out[b * Q8_0_BLOCK + i] = d * view.getInt8(b * Q8_0_BYTES + 2 + i);
    }
  } else throw new Error(`GGUF: cannot decode ggml type ${type}.`);
  return out;
}

/** Bytes of `count` values of a type. */
function tensorBytes(type: GgmlType, count: number): number {
  if (type === GGML_TYPE.F32) return count * 4;
  if (type === GGML_TYPE.F16) return count * 2;
  if (type === GGML_TYPE.Q8_0) return (count / Q8_0_BLOCK) * Q8_0_BYTES;
  throw new Error(`GGUF: unknown ggml type ${type}.`);
}

// -------------------------------------------------------------------------------------------------
// Writer

class ByteWriter {
  private buf = new Uint8Array(1 << 16);
  private view = new DataView(this.buf.buffer);
  length = 0;
  private readonly enc = new TextEncoder();

  private reserve(n: number): void {
    if (this.length + n <= this.buf.byteLength) return;
    let size = this.buf.byteLength * 2;
    while (size < this.length + n) size *= 2;
    const next = new Uint8Array(size);
    next.set(this.buf.subarray(0, this.length));
    this.buf = next;
    this.view = new DataView(next.buffer);
  }
  scalar(type: GgufScalarType, v: number | boolean | string): void {
    switch (type) {
      case 'string': {
        const bytes = this.enc.encode(v as string);
        this.scalar('u64', bytes.length);
        this.reserve(bytes.length);
        this.buf.set(bytes, this.length);
        this.length += bytes.length;
        return;
      }
      case 'bool':
        this.reserve(1);
        this.view.setUint8(this.length++, v ? 1 : 0);
        return;
      case 'u8':
      case 'i8':
        this.reserve(1);
        if (type === 'u8') this.view.setUint8(this.length, v as number);
        else this.view.setInt8(this.length, v as number);
        this.length += 1;
        return;
      case 'u16':
      case 'i16':
        this.reserve(2);
        if (type === 'u16') this.view.setUint16(this.length, v as number, true);
        else this.view.setInt16(this.length, v as number, true);
        this.length += 2;
        return;
      case 'u32':
      case 'i32':
      case 'f32':
        this.reserve(4);
        if (type === 'u32') this.view.setUint32(this.length, v as number, true);
        else if (type === 'i32') this.view.setInt32(this.length, v as number, true);
        else this.view.setFloat32(this.length, v as number, true);
        this.length += 4;
        return;
      case 'u64':
      case 'i64':
      case 'f64':
        this.reserve(8);
        if (type === 'u64') this.view.setBigUint64(this.length, BigInt(v as number), true);
        else if (type === 'i64') this.view.setBigInt64(this.length, BigInt(v as number), true);
        else this.view.setFloat64(this.length, v as number, true);
        this.length += 8;
        return;
    }
  }
  pad(alignment: number): void {
    const n = (alignment - (this.length % alignment)) % alignment;
    this.reserve(n);
    this.buf.fill(0, this.length, this.length + n);
    this.length += n;
  }
  bytes(): Uint8Array {
    return this.buf.slice(0, this.length);
  }
}

function checkValue(key: string, v: GgufValue): void {
  const check = (t: GgufScalarType, x: unknown) => {
    if (t === 'string' || t === 'bool') return;
    const n = x as number;
    if (!Number.isFinite(n) && t !== 'f32' && t !== 'f64') throw new Error(`GGUF: metadata '${key}' holds a non-finite ${t} (${n}).`);
    if ((t.startsWith('u') || t.startsWith('i')) && !Number.isInteger(n)) throw new Error(`GGUF: metadata '${key}' holds a non-integer ${t} (${n}).`);
    if (t.startsWith('u') && n < 0) throw new Error(`GGUF: metadata '${key}' holds a negative ${t} (${n}).`);
  };
  if (v.type === 'array') for (let i = 0; i < v.value.length; i++) check(v.itemType, v.value[i]);
  else check(v.type, v.value);
}

/**
 * A GGUF v3 file as a list of byte parts (header + metadata + tensor infos + padding, then each
 * tensor's data padded to the alignment): write them in order. Tensors keep the given order.
 */
export function writeGguf(metadata: GgufMetadata, tensors: GgufTensor[], alignment = GGUF_ALIGNMENT): Uint8Array[] {
  const w = new ByteWriter();
  w.scalar('u32', MAGIC);
  w.scalar('u32', 3);
  w.scalar('u64', tensors.length);
  w.scalar('u64', metadata.length);
  const keys = new Set<string>();
  for (const [key, v] of metadata) {
    if (keys.has(key)) throw new Error(`GGUF: duplicate metadata key '${key}'.`);
    keys.add(key);
    checkValue(key, v);
    w.scalar('string', key);
    w.scalar('u32', GGUF_VALUE[v.type]);
    if (v.type === 'array') {
      w.scalar('u32', GGUF_VALUE[v.itemType]);
      w.scalar('u64', v.value.length);
      for (let i = 0; i < v.value.length; i++) w.scalar(v.itemType, v.value[i]);
    } else {
      w.scalar(v.type, v.value);
    }
  }
  let offset = 0;
  const names = new Set<string>();
  for (const t of tensors) {
    if (names.has(t.name)) throw new Error(`GGUF: duplicate tensor '${t.name}'.`);
    names.add(t.name);
    const count = t.shape.reduce((a, b) => a * b, 1);
    if (t.data.byteLength !== tensorBytes(t.type, count)) {
      throw new Error(`GGUF: tensor '${t.name}' has ${t.data.byteLength} bytes, expected ${tensorBytes(t.type, count)} for [${t.shape.join(', ')}].`);
    }
    w.scalar('string', t.name);
    w.scalar('u32', t.shape.length);
    for (let i = t.shape.length - 1; i >= 0; i--) w.scalar('u64', t.shape[i]);
    w.scalar('u32', t.type);
    w.scalar('u64', offset);
    offset += Math.ceil(t.data.byteLength / alignment) * alignment;
  }
  w.pad(alignment);
  const parts = [w.bytes()];
  for (const t of tensors) {
    parts.push(t.data);
    const pad = (alignment - (t.data.byteLength % alignment)) % alignment;
    if (pad) parts.push(new Uint8Array(pad));
  }
  return parts;
}

// -------------------------------------------------------------------------------------------------
// Reader

type GgufReadValue = number | bigint | boolean | string | (number | bigint | boolean | string)[];

export interface ParsedGguf {
  version: number;
  metadata: Map<string, GgufReadValue>;
  tensors: Map<string, { shape: number[]; type: number; data: Uint8Array }>;
}

/** Parse a GGUF file (v2/v3). Tensor shapes come back in PyTorch order (outermost first). */
export function parseGguf(bytes: Uint8Array, fileName = 'model.gguf'): ParsedGguf {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const dec = new TextDecoder();
  let pos = 0;
  const need = (n: number) => {
    if (pos + n > bytes.byteLength) throw new Error(`${fileName}: truncated GGUF (at byte ${pos}).`);
  };
  /** Advance past n bytes and return where they start. */
  const take = (n: number): number => {
    need(n);
    pos += n;
    return pos - n;
  };
  const u32 = () => view.getUint32(take(4), true);
  const u64 = () => {
    const v = view.getBigUint64(take(8), true);
    if (v > BigInt(Number.MAX_SAFE_INTEGER)) throw new Error(`${fileName}: u64 ${v} too large.`);
    return Number(v);
  };
  const str = () => {
    const n = u64();
    const at = take(n);
    return dec.decode(bytes.subarray(at, at + n));
  };
  const scalar = (type: number): number | bigint | boolean | string => {
    switch (type) {
      case 0:
        return view.getUint8(take(1));
      case 1:
        return view.getInt8(take(1));
      case 2:
        return view.getUint16(take(2), true);
      case 3:
        return view.getInt16(take(2), true);
      case 4:
        return u32();
      case 5:
        return view.getInt32(take(4), true);
      case 6:
        return view.getFloat32(take(4), true);
      case 7:
        return view.getUint8(take(1)) !== 0;
      case 8:
        return str();
      case 10:
        return view.getBigUint64(take(8), true);
      case 11:
        return view.getBigInt64(take(8), true);
      case 12:
        return view.getFloat64(take(8), true);
      default:
        throw new Error(`${fileName}: unknown GGUF value type ${type}.`);
    }
  };
  if (u32() !== MAGIC) throw new Error(`${fileName}: not a GGUF file (bad magic).`);
  const version = u32();
  if (version !== 2 && version !== 3) throw new Error(`${fileName}: unsupported GGUF version ${version}.`);
  const nTensors = u64();
  const nKv = u64();
  const metadata = new Map<string, GgufReadValue>();
  for (let i = 0; i < nKv; i++) {
    const key = str();
    const type = u32();
    if (type === GGUF_VALUE.array) {
      const itemType = u32();
      const n = u64();
      const items: (number | bigint | boolean | string)[] = [];
      for (let j = 0; j < n; j++) items.push(scalar(itemType));
      metadata.set(key, items);
    } else metadata.set(key, scalar(type));
  }
  const infos: { name: string; shape: number[]; type: number; offset: number }[] = [];
  for (let i = 0; i < nTensors; i++) {
    const name = str();
    const nDims = u32();
    const dims: number[] = [];
    for (let d = 0; d < nDims; d++) dims.push(u64());
    const type = u32();
    infos.push({ name, shape: dims.reverse(), type, offset: u64() });
  }
  const alignment = Number(metadata.get('general.alignment') ?? GGUF_ALIGNMENT);
  const dataStart = Math.ceil(pos / alignment) * alignment;
  const tensors = new Map<string, { shape: number[]; type: number; data: Uint8Array }>();
  for (const t of infos) {
    const count = t.shape.reduce((a, b) => a * b, 1);
    const size = tensorBytes(t.type as GgmlType, count);
    const start = dataStart + t.offset;
    if (start + size > bytes.byteLength) throw new Error(`${fileName}: tensor '${t.name}' runs past the end of the file.`);
    tensors.set(t.name, { shape: t.shape, type: t.type, data: bytes.subarray(start, start + size) });
  }
  return { version, metadata, tensors };
}
