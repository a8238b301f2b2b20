// Shared WGSL prelude, prepended to a kernel family's source by withPrelude() (src/kernels/prelude.ts).
// A shader using it must not define any of these names itself.

// Weight storage codes of WeightMatrix (override DTYPE in the families that read weights; the TS
// side passes DTYPE_CODE from src/kernels/prelude.ts).
const DTYPE_F32: u32 = 0u;  // one f32 per u32 word
const DTYPE_F16: u32 = 1u;  // two f16 per word, element j of a row in word (row*cols + j)/2, low half for even j
const DTYPE_BF16: u32 = 2u; // two bf16 per word, same layout

// Both halves of a packed bf16 word (low, high) as f32.
fn bf16_pair(word: u32) -> vec2<f32> {
  return vec2<f32>(bitcast<f32>(word << 16u), bitcast<f32>(word & 0xffff0000u));
}

// Both elements of a packed 16-bit word (dtype F16 or BF16): (low = even element, high = odd element).
fn decode_pair(dtype: u32, word: u32) -> vec2<f32> {
  if (dtype == DTYPE_F16) {
    return unpack2x16float(word);
  }
  return bf16_pair(word);
}

// One element of a packed 16-bit word (dtype F16 or BF16): the high half when `high`.
fn decode_half(dtype: u32, word: u32, high: bool) -> f32 {
  if (dtype == DTYPE_F16) {
    let v = unpack2x16float(word);
    return select(v.x, v.y, high);
  }
  return bitcast<f32>(select(word << 16u, word & 0xffff0000u, high));
}

// Four consecutive elements from two packed 16-bit words (dtype F16 or BF16).
fn decode_quad(dtype: u32, h: vec2<u32>) -> vec4<f32> {
  return vec4<f32>(decode_pair(dtype, h.x), decode_pair(dtype, h.y));
}

// Index of the u32 word holding element e of a weight chunk (e itself for f32, e / 2 packed).
fn weight_word(dtype: u32, e: u32) -> u32 {
  return select(e >> 1u, e, dtype == DTYPE_F32);
}

// Element e of a chunk given the word holding it (from weight_word): f32 words are bit-cast,
// packed words decoded.
fn decode_weight(dtype: u32, word: u32, e: u32) -> f32 {
  if (dtype == DTYPE_F32) {
    return bitcast<f32>(word);
  }
  return decode_half(dtype, word, (e & 1u) == 1u);
}

// Flat invocation index of a 1-D dispatch folded into x and y (linearGroups in
// src/kernels/dispatch.ts): `per_group` invocations per workgroup along x.
fn flat_index(id: vec3<u32>, groups: vec3<u32>, per_group: u32) -> u32 {
  return id.x + id.y * groups.x * per_group;
}

// Logistic sigmoid from exp(-|g|), so it never overflows (SwiGLU, DESIGN.md §5.3).
fn sigmoid(g: f32) -> f32 {
  let e = exp(-abs(g));
  let r = 1.0 / (1.0 + e);
  return select(e * r, r, g >= 0.0);
}

// PCG output permutation (O'Neill; "Hash Functions for GPU Rendering", Jarzynski & Olano 2020).
fn pcg_hash(x: u32) -> u32 {
  let state = x * 747796405u + 2891336453u;
  let word = ((state >> ((state >> 28u) + 4u)) ^ state) * 277803737u;
  return (word >> 22u) ^ word;
}
