// Rotary position embedding, HF "rotate_half" convention: within each head the pairs are
// (i, i + headDim/2), rotated by angle = position * inv_freq[i], inv_freq[i] = theta^(-2i/headDim).
// x is [batch*tokens, heads*headDim] token-major; token t of sequence b sits at position
// positions[b] + t. One thread per pair; the result goes to a separate buffer (in place would race).
//
// The angle is exact to ~2e-7 rad at any u32 position: instead of the f32 product
// position * inv_freq (whose rounding alone is ~2.4e-4 rad at position 4096), the CPU uploads
// inv_freq / 2π as a 64-bit fixed-point fraction of a turn and the shader multiplies it by the
// integer position modulo 2^64, so whole turns drop out exactly (see rope_cos_sin).
// The backward (sign = -1) rotates by -angle, the transpose of the forward rotation.
//
// rope_qkv: the fused step after the q/k/v projection (DESIGN.md §5.3): reads one [rows,
// (heads + 2·kvHeads)·headDim] q|k|v tensor, writes RoPE(q) to out and RoPE(k), v into the KV
// cache at positions[b] + t (rows past maxSeq are dropped, as in write_kv).
// rope_qkv_norm: the same with Qwen3's per-head RMSNorm of q and k before RoPE (one invocation per
// head of a row, which sums its head's squares itself: no workgroup reduction, no barrier). With
// SAVE it also writes what the backward needs after the rotated q in `out`: the pre-norm q and k
// heads and their 1/rms (DESIGN.md §5.3).

struct Params {
  pairs: u32, // batch * tokens * heads * headDim/2
  tokens: u32,
  heads: u32,
  half_dim: u32,
  sign: f32,
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read> positions: array<u32>;
// (hi, lo) words of round(inv_freq[i] / 2π · 2^64).
@group(0) @binding(3) var<storage, read> turns: array<vec2<u32>>;
@group(0) @binding(4) var<storage, read_write> out: array<f32>;

// High 32 bits of the 64-bit product a·b.
fn mul_hi(a: u32, b: u32) -> u32 {
  let a0 = a & 0xffffu;
  let a1 = a >> 16u;
  let b0 = b & 0xffffu;
  let b1 = b >> 16u;
  let lo = a0 * b0;
  let m1 = a1 * b0;
  let m2 = a0 * b1;
  let carry = ((lo >> 16u) + (m1 & 0xffffu) + (m2 & 0xffffu)) >> 16u;
  return a1 * b1 + (m1 >> 16u) + (m2 >> 16u) + carry;
}

// cos and sin of position · inv_freq. Built-in sin/cos are not used: WebGPU only promises
// ~2^-11 absolute error for them (SwiftShader's is ~2e-4). The phase is split into a quarter turn
// q and a remainder r in [-π/4, π/4) where short Taylor series are accurate to ~1e-9.
fn rope_cos_sin(position: u32, i: u32) -> vec2<f32> {
  let t = turns[i];
  // Top 32 bits of (position · (hi·2^32 + lo)) mod 2^64: the fraction of a turn.
  let phase = position * t.x + mul_hi(position, t.y);
  let q = ((phase + 0x20000000u) >> 30u) & 3u;
  let r = f32(bitcast<i32>(phase - (q << 30u))) * 1.4629180792671596e-9; // 2π / 2^32
  let r2 = r * r;
  let s = r * (1.0 + r2 * (-1.6666666666666666e-1 + r2 * (8.333333333333333e-3 + r2 * (-1.984126984126984e-4 + r2 * 2.7557319223985893e-6))));
  let c = 1.0 + r2 * (-0.5 + r2 * (4.1666666666666664e-2 + r2 * (-1.388888888888889e-3 + r2 * (2.48015873015873e-5 + r2 * -2.755731922398589e-7))));
  switch q {
    case 0u: { return vec2<f32>(c, s); }
    case 1u: { return vec2<f32>(-s, c); }
    case 2u: { return vec2<f32>(-c, -s); }
    default: { return vec2<f32>(s, -c); }
  }
}

@compute @workgroup_size(256)
fn rope(@builtin(global_invocation_id) id: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
  let idx = flat_index(id, groups, 256u);
  if (idx >= params.pairs) {
    return;
  }
  let i = idx % params.half_dim;
  let q = idx / params.half_dim; // row * heads + head
  let row = q / params.heads;
  let b = row / params.tokens;
  let t = row % params.tokens;
  let cs = rope_cos_sin(positions[b] + t, i);
  let c = cs.x;
  let s = params.sign * cs.y;
  let base = q * 2u * params.half_dim + i;
  let x1 = x[base];
  let x2 = x[base + params.half_dim];
  out[base] = x1 * c - x2 * s;
  out[base + params.half_dim] = x2 * c + x1 * s;
}

struct QkvParams {
  pairs: u32, // rows * (heads + 2 * kvHeads) * headDim/2
  tokens: u32,
  heads: u32,
  half_dim: u32,
  kv_heads: u32,
  max_seq: u32,
  eps: f32, // rope_qkv_norm only
}

@group(0) @binding(0) var<uniform> qkv_params: QkvParams;
// [batch, kvHeads, maxSeq, headDim] f32 each (KvCache in src/kernels/attention.ts).
@group(0) @binding(5) var<storage, read_write> cache_k: array<f32>;
@group(0) @binding(6) var<storage, read_write> cache_v: array<f32>;

// One invocation per (row, head slot, pair): slots [0, heads) are q heads, then kvHeads k heads,
// then kvHeads v heads (v only moves into the cache).
@compute @workgroup_size(256)
fn rope_qkv(@builtin(global_invocation_id) id: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
  let p = qkv_params;
  let idx = flat_index(id, groups, 256u);
  if (idx >= p.pairs) {
    return;
  }
  let i = idx % p.half_dim;
  let slots = p.heads + 2u * p.kv_heads;
  let slot = (idx / p.half_dim) % slots;
  let row = idx / (p.half_dim * slots);
  let b = row / p.tokens;
  let position = positions[b] + row % p.tokens;
  let head_dim = 2u * p.half_dim;
  let src = (row * slots + slot) * head_dim + i;
  let x1 = x[src];
  let x2 = x[src + p.half_dim];
  let kv_slot = slot - p.heads; // k heads 0 .. kvHeads-1, then v heads
  let cache_row = ((b * p.kv_heads + kv_slot % p.kv_heads) * p.max_seq + position) * head_dim + i;
  if (slot >= p.heads + p.kv_heads) {
    if (position < p.max_seq) {
      cache_v[cache_row] = x1;
      cache_v[cache_row + p.half_dim] = x2;
    }
    return;
  }
  let cs = rope_cos_sin(position, i);
  let r1 = x1 * cs.x - x2 * cs.y;
  let r2 = x2 * cs.x + x1 * cs.y;
  if (slot < p.heads) {
    let dst = (row * p.heads + slot) * head_dim + i;
    out[dst] = r1;
    out[dst + p.half_dim] = r2;
  } else if (position < p.max_seq) {
    cache_k[cache_row] = r1;
    cache_k[cache_row + p.half_dim] = r2;
  }
}

// Per-head norm weights of Qwen3 (rope_qkv_norm).
@group(0) @binding(7) var<storage, read> q_norm: array<f32>;
@group(0) @binding(8) var<storage, read> k_norm: array<f32>;

override SAVE: bool = false;

// One invocation per (row, head slot): q heads are normed, rotated and written to out; k heads
// normed, rotated and written to the cache; v heads copied to the cache. `p.pairs` counts the
// (row, slot) items here. With SAVE, out holds [rows, heads·headDim] rotated q, then the pre-norm
// q [rows, heads·headDim], the pre-norm k [rows, kvHeads·headDim], 1/rms of q [rows·heads] and of
// k [rows·kvHeads].
@compute @workgroup_size(64)
fn rope_qkv_norm(@builtin(global_invocation_id) id: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
  let p = qkv_params;
  let idx = flat_index(id, groups, 64u);
  if (idx >= p.pairs) {
    return;
  }
  let slots = p.heads + 2u * p.kv_heads;
  let slot = idx % slots;
  let row = idx / slots;
  let rows = p.pairs / slots;
  let b = row / p.tokens;
  let position = positions[b] + row % p.tokens;
  let half = p.half_dim;
  let head_dim = 2u * half;
  let src = idx * head_dim;
  let kv_slot = slot - p.heads;
  let cache_row = ((b * p.kv_heads + kv_slot % p.kv_heads) * p.max_seq + position) * head_dim;
  if (slot >= p.heads + p.kv_heads) {
    if (position < p.max_seq) {
      for (var j = 0u; j < head_dim; j++) {
        cache_v[cache_row + j] = x[src + j];
      }
    }
    return;
  }
  var ss = 0.0;
  for (var j = 0u; j < head_dim; j++) {
    let v = x[src + j];
    ss += v * v;
  }
  let r = inverseSqrt(ss / f32(head_dim) + p.eps);
  let is_q = slot < p.heads;
  let q_dim = p.heads * head_dim;
  if (SAVE) {
    // Sections after the rotated q (see above); k heads index (row, kv head).
    let pre = select(2u * rows * q_dim + (row * p.kv_heads + kv_slot) * head_dim, rows * q_dim + (row * p.heads + slot) * head_dim, is_q);
    for (var j = 0u; j < head_dim; j++) {
      out[pre + j] = x[src + j];
    }
    let rstd_base = 2u * rows * q_dim + rows * p.kv_heads * head_dim;
    out[select(rstd_base + rows * p.heads + row * p.kv_heads + kv_slot, rstd_base + row * p.heads + slot, is_q)] = r;
  }
  for (var i = 0u; i < half; i++) {
    let w1 = select(k_norm[i], q_norm[i], is_q);
    let w2 = select(k_norm[i + half], q_norm[i + half], is_q);
    let x1 = x[src + i] * r * w1;
    let x2 = x[src + i + half] * r * w2;
    let cs = rope_cos_sin(position, i);
    let r1 = x1 * cs.x - x2 * cs.y;
    let r2 = x2 * cs.x + x1 * cs.y;
    if (is_q) {
      let dst = (row * p.heads + slot) * head_dim + i;
      out[dst] = r1;
      out[dst + half] = r2;
    } else if (position < p.max_seq) {
      cache_k[cache_row + i] = r1;
      cache_k[cache_row + i + half] = r2;
    }
  }
}
