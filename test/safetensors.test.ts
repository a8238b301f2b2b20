import { test } from 'node:test';
import assert from 'node:assert/strict';
import { bf16BitsToNumber, f16BitsToNumber, f32ToBf16Bits, f32ToF16Bits, parseSafetensors, toFloat32, writeSafetensors } from '../src/io/safetensors.ts';

function rand(n: number, seed: number): Float32Array {
  let s = seed;
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    s = (s * 1103515245 + 12345) >>> 0;
    out[i] = (s / 4294967296) * 4 - 2;
  }
  return out;
}

/** A hand-built safetensors file from a header object and a data length. */
function build(header: unknown, dataBytes: number, rawHeader?: string): Uint8Array {
  const json = new TextEncoder().encode(rawHeader ?? JSON.stringify(header));
  const out = new Uint8Array(8 + json.length + dataBytes);
  new DataView(out.buffer).setUint32(0, json.length, true);
  out.set(json, 8);
  return out;
}

test('round trip F32, F16 and BF16 with metadata', () => {
  const a = rand(6, 1);
  const b = f32ToF16Bits(rand(5, 2));
  const c = f32ToBf16Bits(rand(8, 3));
  const bytes = writeSafetensors(
    [
      { name: 'a', dtype: 'F32', shape: [2, 3], data: a },
      { name: 'b.odd', dtype: 'F16', shape: [5], data: b },
      { name: 'c', dtype: 'BF16', shape: [2, 2, 2], data: c },
      { name: 'empty', dtype: 'F32', shape: [0, 4], data: new Float32Array(0) },
    ],
    { format: 'pt' },
  );
  const headerLen = new DataView(bytes.buffer).getUint32(0, true);
  assert.equal(headerLen % 8, 0, 'header padded to 8');
  const { tensors, metadata } = parseSafetensors(bytes, 'rt.safetensors');
  assert.deepEqual(metadata, { format: 'pt' });
  assert.deepEqual([...tensors.keys()], ['a', 'b.odd', 'c', 'empty']);
  assert.deepEqual(tensors.get('a')!.shape, [2, 3]);
  assert.deepEqual(toFloat32(tensors.get('a')!), a);
  const bEntry = tensors.get('b.odd')!;
  assert.equal(bEntry.dtype, 'F16');
  assert.deepEqual(new Uint16Array(bEntry.data.slice().buffer), b);
  assert.deepEqual(toFloat32(bEntry), Float32Array.from(b, f16BitsToNumber));
  assert.deepEqual(toFloat32(tensors.get('c')!), Float32Array.from(c, bf16BitsToNumber));
  assert.equal(toFloat32(tensors.get('empty')!).length, 0);
});

test('misaligned views are read correctly', () => {
  const a = rand(3, 9);
  const bytes = writeSafetensors([
    { name: 'h', dtype: 'BF16', shape: [1], data: f32ToBf16Bits(new Float32Array([1])) },
    { name: 'a', dtype: 'F32', shape: [3], data: a },
  ]);
  // Copy into a buffer at an odd offset so every view is misaligned.
  const shifted = new Uint8Array(bytes.length + 1);
  shifted.set(bytes, 1);
  const { tensors } = parseSafetensors(shifted.subarray(1), 'x.safetensors');
  assert.deepEqual(toFloat32(tensors.get('a')!), a);
  assert.deepEqual(toFloat32(tensors.get('h')!), new Float32Array([1]));
});

test('space-padded header, header-only metadata', () => {
  const bytes = build(
    { x: { dtype: 'F32', shape: [1], data_offsets: [0, 4] } },
    4,
    `${JSON.stringify({ x: { dtype: 'F32', shape: [1], data_offsets: [0, 4] } })}      `,
  );
  new DataView(bytes.buffer).setFloat32(bytes.length - 4, 2.5, true);
  assert.deepEqual(toFloat32(parseSafetensors(bytes, 'p.safetensors').tensors.get('x')!), new Float32Array([2.5]));
});

test('parse errors name the file and the tensor', () => {
  const ok = writeSafetensors([
    { name: 'w', dtype: 'F32', shape: [4], data: rand(4, 1) },
    { name: 'v', dtype: 'F32', shape: [2], data: rand(2, 1) },
  ]);
  assert.throws(() => parseSafetensors(ok.subarray(0, 5), 'tiny.safetensors'), /tiny\.safetensors: truncated .*needs 8/);
  const bigHeader = ok.slice();
  new DataView(bigHeader.buffer).setUint32(0, 1 << 20, true);
  assert.throws(() => parseSafetensors(bigHeader, 'big.safetensors'), /big\.safetensors: truncated .*header claims 1048576 bytes/);
  assert.throws(
    () => parseSafetensors(ok.subarray(0, ok.length - 3), 'cut.safetensors'),
    /cut\.safetensors: tensor 'v': data_offsets \[16, 24\] run past the end .*truncated/,
  );
  assert.throws(() => parseSafetensors(build(null, 0, '{"w": {'), 'json.safetensors'), /json\.safetensors: bad safetensors header JSON/);
  assert.throws(() => parseSafetensors(build(null, 0, '[1,2]'), 'arr.safetensors'), /arr\.safetensors: bad safetensors header JSON: expected an object/);
  assert.throws(
    () => parseSafetensors(build({ w: { dtype: 'F32', shape: [2, 3], data_offsets: [0, 12] } }, 24), 'off.safetensors'),
    /off\.safetensors: tensor 'w': data_offsets \[0, 12\] span 12 bytes but F32 \[2, 3\] needs 24/,
  );
  assert.throws(
    () => parseSafetensors(build({ w: { dtype: 'BF16', shape: [4], data_offsets: [0, 16] } }, 16), 'size.safetensors'),
    /size\.safetensors: tensor 'w': .*BF16 \[4\] needs 8/,
  );
  assert.throws(
    () =>
      parseSafetensors(
        build({ a: { dtype: 'F32', shape: [2], data_offsets: [0, 8] }, b: { dtype: 'F32', shape: [2], data_offsets: [4, 12] } }, 12),
        'ov.safetensors',
      ),
    /ov\.safetensors: tensor 'b' data_offsets \[4, 12\] overlap tensor 'a'/,
  );
  assert.throws(
    () => parseSafetensors(build({ w: { dtype: 'F32', shape: [2], data_offsets: [8, 0] } }, 8), 'neg.safetensors'),
    /neg\.safetensors: tensor 'w': bad data_offsets/,
  );
  assert.throws(
    () => parseSafetensors(build({ w: { dtype: 'Q4_K', shape: [2], data_offsets: [0, 2] } }, 2), 'q.safetensors'),
    /q\.safetensors: tensor 'w' has dtype Q4_K, which is not supported \(supported: F32, F16, BF16\)/,
  );
  // A defined but non-float dtype parses (it might be an unused buffer) and fails when read.
  const i64 = parseSafetensors(build({ ids: { dtype: 'I64', shape: [2], data_offsets: [0, 16] } }, 16), 'i.safetensors');
  assert.throws(() => toFloat32(i64.tensors.get('ids')!), /i\.safetensors: tensor 'ids' has dtype I64, which is not supported/);
  assert.throws(
    () => parseSafetensors(build({ ids: { dtype: 'I64', shape: [2], data_offsets: [0, 16] } }, 16), 'i.safetensors', { floatOnly: true }),
    /i\.safetensors: tensor 'ids' has dtype I64/,
  );
});

const f16 = (...x: number[]) => [...f32ToF16Bits(new Float32Array(x))];
const bf16 = (...x: number[]) => [...f32ToBf16Bits(new Float32Array(x))];

test('f16 bit patterns: exact values, limits, subnormals, inf, nan, ties to even', () => {
  assert.deepEqual(f16(1, -2.5, 0, -0, 65504, 0.5, 2 ** -14), [0x3c00, 0xc100, 0x0000, 0x8000, 0x7bff, 0x3800, 0x0400]);
  assert.deepEqual(f16(Infinity, -Infinity), [0x7c00, 0xfc00]);
  assert.equal(f16(NaN)[0] & 0x7c00, 0x7c00);
  assert.notEqual(f16(NaN)[0] & 0x3ff, 0);
  // Overflow: 65520 is the midpoint between 65504 and 65536 (inf): ties to even -> inf; just below stays.
  assert.deepEqual(f16(65520, 65519.99, 1e6), [0x7c00, 0x7bff, 0x7c00]);
  // Subnormals: 2^-24 is the smallest; 2^-25 (a tie with 0) rounds to 0; 1.5*2^-25 rounds up.
  assert.deepEqual(f16(2 ** -24, 2 ** -25, 1.5 * 2 ** -25, 3 * 2 ** -25, 5 * 2 ** -25, 1e-10), [0x0001, 0x0000, 0x0001, 0x0002, 0x0002, 0x0000]);
  assert.deepEqual(f16(-(2 ** -24)), [0x8001]);
  // Largest subnormal and rounding up into the smallest normal.
  assert.deepEqual(f16(1023 * 2 ** -24, 1023.5 * 2 ** -24), [0x03ff, 0x0400]);
  // Ties between normals: 1 + 2^-11 is halfway between 1 and 1+2^-10 -> even (1.0); 1 + 3*2^-11 -> up.
  assert.deepEqual(f16(1 + 2 ** -11, 1 + 3 * 2 ** -11, 1 + 2 ** -11 + 2 ** -20), [0x3c00, 0x3c02, 0x3c01]);
  // Every f16 value round-trips.
  for (let h = 0; h < 65536; h++) {
    const v = f16BitsToNumber(h);
    if (Number.isNaN(v)) continue;
    assert.equal(f16(v)[0], h, `f16 pattern ${h.toString(16)}`);
  }
});

test('bf16 bit patterns: exact values, inf, nan, ties to even', () => {
  assert.deepEqual(bf16(1, -2.5, 0, -0, 65504, 3.140625), [0x3f80, 0xc020, 0x0000, 0x8000, 0x4780, 0x4049]);
  assert.deepEqual(bf16(Infinity, -Infinity, 3.4e38), [0x7f80, 0xff80, 0x7f80]);
  const nan = bf16(NaN)[0];
  assert.equal(nan & 0x7f80, 0x7f80);
  assert.notEqual(nan & 0x7f, 0);
  // A NaN whose payload lives only in the low 16 bits must stay NaN (not become inf).
  const lowNan = new Float32Array(new Uint32Array([0x7f800001]).buffer);
  assert.notEqual(f32ToBf16Bits(lowNan)[0] & 0x7f, 0);
  // Ties: 1 + 2^-8 is halfway between 1 and 1+2^-7 -> 1; 1 + 3*2^-8 -> 1 + 2^-6 (even).
  assert.deepEqual(bf16(1 + 2 ** -8, 1 + 3 * 2 ** -8, 1 + 2 ** -8 + 2 ** -20), [0x3f80, 0x3f82, 0x3f81]);
  // bf16 keeps f32 subnormals (truncated mantissa).
  assert.deepEqual(bf16(2 ** -133), [0x0001]);
  assert.equal(bf16BitsToNumber(0x3f80), 1);
  assert.equal(bf16BitsToNumber(0xc020), -2.5);
});
