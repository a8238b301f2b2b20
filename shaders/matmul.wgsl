// Matmul family.
//  * mm_tiled / mm_scalar / mm_gemv: Y[M, n] = X[M, K] · W[rows]ᵀ (+ bias) over one weight chunk, W
//    stored as f32, packed f16 or packed bf16 (override DTYPE) and decoded here, f32 accumulation.
//    mm_tiled: 4×4 outputs per thread, vec4 loads (K % 4 == 0). mm_scalar: any K (even for packed).
//    mm_narrow: decode-sized M ≤ 4, 2 weight rows per invocation, no workgroup memory.
//    mm_gemv (after the subgroups marker, compiled only where the `subgroups` feature exists):
//    M ≤ 4, one subgroup per weight row, lanes read consecutive vec4s, subgroupAdd reduces.
//    Every one of them can add into Y (accumulate) instead of overwriting it.
//  * gemm_vec / gemm_scalar: f32 C[M, N] = alpha · op(A) · op(B) (+ C) for backward passes, with
//    TRANS_A / TRANS_B overrides; 4×4 outputs per thread.
//  * mm_igrad_vec / mm_igrad_scalar: input gradient dX[M, K] (+)= dY[M, chunk cols] · W_chunk over
//    one weight chunk (DTYPE as above); 4×4 outputs per thread.
// Several storage variables alias one binding with different element types; each entry point uses
// exactly one of them.

override DTYPE: u32 = 0u; // 0 = f32, 1 = f16 pairs, 2 = bf16 pairs (two per u32, low half first)

struct MmParams {
  M: u32,        // rows of X and Y
  K: u32,        // inner dimension (columns of X and W)
  N: u32,        // weight rows computed by this dispatch
  wRow0: u32,    // the first of those rows inside the bound weight chunk
  yStride: u32,  // row stride of Y
  yCol0: u32,    // Y column written for the first row
  bias0: u32,    // bias index of the first row
  hasBias: u32,
  accumulate: u32, // 1: Y += result (Y holds the residual), 0: Y = result
}

@group(0) @binding(0) var<uniform> mp: MmParams;
@group(0) @binding(1) var<storage, read> x4: array<vec4<f32>>;
@group(0) @binding(1) var<storage, read> x1: array<f32>;
@group(0) @binding(2) var<storage, read> w2: array<vec2<u32>>;
@group(0) @binding(2) var<storage, read> w1: array<u32>;
@group(0) @binding(3) var<storage, read> bias: array<f32>;
@group(0) @binding(4) var<storage, read_write> y: array<f32>;

// Weights e .. e+3 (element index into the chunk, e % 4 == 0).
fn loadW4(e: u32) -> vec4<f32> {
  if (DTYPE == DTYPE_F32) {
    let i = e >> 1u;
    return bitcast<vec4<f32>>(vec4<u32>(w2[i], w2[i + 1u]));
  }
  return decode_quad(DTYPE, w2[e >> 2u]);
}

// Weight e (element index into the chunk).
fn loadW1(e: u32) -> f32 {
  return decode_weight(DTYPE, w1[weight_word(DTYPE, e)], e);
}

// The epilogue of one output (input row m, weight row n of this dispatch, n < N): + bias, and
// + the value already in Y when accumulating (the residual add of DESIGN.md §5.3).
fn storeOne(m: u32, n: u32, v: f32) {
  let idx = m * mp.yStride + mp.yCol0 + n;
  var r = v;
  if (mp.hasBias != 0u) {
    r += bias[mp.bias0 + n];
  }
  if (mp.accumulate != 0u) {
    r += y[idx];
  }
  y[idx] = r;
}

// Write a 4×4 tile (acc[i] holds rows m0+i, columns n0 .. n0+3), masked at the edges.
fn storeTile(m0: u32, n0: u32, acc: array<vec4<f32>, 4>) {
  for (var i = 0u; i < 4u; i++) {
    let m = m0 + i;
    if (m >= mp.M) { break; }
    for (var j = 0u; j < 4u; j++) {
      let n = n0 + j;
      if (n < mp.N) {
        storeOne(m, n, acc[i][j]);
      }
    }
  }
}

@compute @workgroup_size(8, 8)
fn mm_tiled(@builtin(global_invocation_id) id: vec3<u32>) {
  let n0 = id.x * 4u;
  let m0 = id.y * 4u;
  if (n0 >= mp.N || m0 >= mp.M) { return; }
  let K4 = mp.K >> 2u;
  let r0 = min(m0, mp.M - 1u) * K4;
  let r1 = min(m0 + 1u, mp.M - 1u) * K4;
  let r2 = min(m0 + 2u, mp.M - 1u) * K4;
  let r3 = min(m0 + 3u, mp.M - 1u) * K4;
  let c0 = (mp.wRow0 + min(n0, mp.N - 1u)) * mp.K;
  let c1 = (mp.wRow0 + min(n0 + 1u, mp.N - 1u)) * mp.K;
  let c2 = (mp.wRow0 + min(n0 + 2u, mp.N - 1u)) * mp.K;
  let c3 = (mp.wRow0 + min(n0 + 3u, mp.N - 1u)) * mp.K;
  var acc0 = vec4<f32>();
  var acc1 = vec4<f32>();
  var acc2 = vec4<f32>();
  var acc3 = vec4<f32>();
  for (var k = 0u; k < K4; k++) {
    let e = k << 2u;
    let b0 = loadW4(c0 + e);
    let b1 = loadW4(c1 + e);
    let b2 = loadW4(c2 + e);
    let b3 = loadW4(c3 + e);
    var a = x4[r0 + k];
    acc0 += vec4<f32>(dot(a, b0), dot(a, b1), dot(a, b2), dot(a, b3));
    a = x4[r1 + k];
    acc1 += vec4<f32>(dot(a, b0), dot(a, b1), dot(a, b2), dot(a, b3));
    a = x4[r2 + k];
    acc2 += vec4<f32>(dot(a, b0), dot(a, b1), dot(a, b2), dot(a, b3));
    a = x4[r3 + k];
    acc3 += vec4<f32>(dot(a, b0), dot(a, b1), dot(a, b2), dot(a, b3));
  }
  storeTile(m0, n0, array<vec4<f32>, 4>(acc0, acc1, acc2, acc3));
}

@compute @workgroup_size(8, 8)
fn mm_scalar(@builtin(global_invocation_id) id: vec3<u32>) {
  let n0 = id.x * 4u;
  let m0 = id.y * 4u;
  if (n0 >= mp.N || m0 >= mp.M) { return; }
  let K = mp.K;
  let r0 = min(m0, mp.M - 1u) * K;
  let r1 = min(m0 + 1u, mp.M - 1u) * K;
  let r2 = min(m0 + 2u, mp.M - 1u) * K;
  let r3 = min(m0 + 3u, mp.M - 1u) * K;
  let c0 = (mp.wRow0 + min(n0, mp.N - 1u)) * K;
  let c1 = (mp.wRow0 + min(n0 + 1u, mp.N - 1u)) * K;
  let c2 = (mp.wRow0 + min(n0 + 2u, mp.N - 1u)) * K;
  let c3 = (mp.wRow0 + min(n0 + 3u, mp.N - 1u)) * K;
  var acc0 = vec4<f32>();
  var acc1 = vec4<f32>();
  var acc2 = vec4<f32>();
  var acc3 = vec4<f32>();
  for (var k = 0u; k < K; k++) {
    let b = vec4<f32>(loadW1(c0 + k), loadW1(c1 + k), loadW1(c2 + k), loadW1(c3 + k));
    acc0 += x1[r0 + k] * b;
    acc1 += x1[r1 + k] * b;
    acc2 += x1[r2 + k] * b;
    acc3 += x1[r3 + k] * b;
  }
  storeTile(m0, n0, array<vec4<f32>, 4>(acc0, acc1, acc2, acc3));
}

// Small-M kernel without workgroup memory, barriers or subgroup operations (M ≤ 4, K % 4 == 0, and
// K % 8 == 0 for packed weights): each invocation computes 2 weight rows for all M inputs, 16
// weights per row per loop iteration, read as whole vec4<u32> words. Chosen on CPU adapters and on
// GPUs without subgroups. SwiftShader pays a large fixed cost per loop iteration, per gathered load
// and per live register (private arrays, array arguments and unused accumulators spill), so the
// input count MROWS is an override (dead accumulators fold away) and everything is plain variables.
override MROWS: u32 = 1u;
const NW_ROWS = 2u;
@group(0) @binding(2) var<storage, read> wq: array<vec4<u32>>;

// Weights e .. e+3 of the chunk (e % 4 == 0) from the vec4<u32> view.
fn narrowW4(e: u32) -> vec4<f32> {
  if (DTYPE == DTYPE_F32) {
    return bitcast<vec4<f32>>(wq[e >> 2u]);
  }
  let v = wq[e >> 3u];
  return decode_quad(DTYPE, select(v.xy, v.zw, (e & 4u) != 0u));
}

// 16 weights e .. e+15 (e % 16 == 0 within an 8-aligned row) as four vec4s.
struct W16 {
  a: vec4<f32>,
  b: vec4<f32>,
  c: vec4<f32>,
  d: vec4<f32>,
}

fn narrowW16(e: u32) -> W16 {
  if (DTYPE == DTYPE_F32) {
    let i = e >> 2u;
    return W16(bitcast<vec4<f32>>(wq[i]), bitcast<vec4<f32>>(wq[i + 1u]), bitcast<vec4<f32>>(wq[i + 2u]), bitcast<vec4<f32>>(wq[i + 3u]));
  }
  let v0 = wq[e >> 3u];
  let v1 = wq[(e >> 3u) + 1u];
  return W16(decode_quad(DTYPE, v0.xy), decode_quad(DTYPE, v0.zw), decode_quad(DTYPE, v1.xy), decode_quad(DTYPE, v1.zw));
}

// The 4 partial dot products of one 16-weight step with X vec4s xb .. xb+3.
fn dot16(xb: u32, w: W16) -> vec4<f32> {
  return vec4<f32>(dot(x4[xb], w.a), dot(x4[xb + 1u], w.b), dot(x4[xb + 2u], w.c), dot(x4[xb + 3u], w.d));
}

@compute @workgroup_size(64)
fn mm_narrow(@builtin(global_invocation_id) id: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
  let n0 = flat_index(id, groups, 64u) * NW_ROWS;
  if (n0 >= mp.N) { return; }
  let K4 = mp.K >> 2u;
  let K16 = K4 & ~3u;
  let c0 = (mp.wRow0 + n0) * mp.K;
  let c1 = (mp.wRow0 + min(n0 + 1u, mp.N - 1u)) * mp.K;
  // aMr: input m, weight row n0 + r; four partial sums each.
  var a00 = vec4<f32>();
  var a01 = vec4<f32>();
  var a10 = vec4<f32>();
  var a11 = vec4<f32>();
  var a20 = vec4<f32>();
  var a21 = vec4<f32>();
  var a30 = vec4<f32>();
  var a31 = vec4<f32>();
  for (var k = 0u; k < K16; k += 4u) {
    let e = k << 2u;
    let u = narrowW16(c0 + e);
    let v = narrowW16(c1 + e);
    a00 += dot16(k, u);
    a01 += dot16(k, v);
    if (MROWS > 1u) {
      a10 += dot16(K4 + k, u);
      a11 += dot16(K4 + k, v);
    }
    if (MROWS > 2u) {
      a20 += dot16(2u * K4 + k, u);
      a21 += dot16(2u * K4 + k, v);
    }
    if (MROWS > 3u) {
      a30 += dot16(3u * K4 + k, u);
      a31 += dot16(3u * K4 + k, v);
    }
  }
  for (var k = K16; k < K4; k++) {
    let u = narrowW4(c0 + (k << 2u));
    let v = narrowW4(c1 + (k << 2u));
    a00.x += dot(x4[k], u);
    a01.x += dot(x4[k], v);
    if (MROWS > 1u) {
      a10.x += dot(x4[K4 + k], u);
      a11.x += dot(x4[K4 + k], v);
    }
    if (MROWS > 2u) {
      a20.x += dot(x4[2u * K4 + k], u);
      a21.x += dot(x4[2u * K4 + k], v);
    }
    if (MROWS > 3u) {
      a30.x += dot(x4[3u * K4 + k], u);
      a31.x += dot(x4[3u * K4 + k], v);
    }
  }
  let one = vec4<f32>(1.0);
  narrowStore(0u, n0, dot(a00, one), dot(a01, one));
  if (MROWS > 1u) {
    narrowStore(1u, n0, dot(a10, one), dot(a11, one));
  }
  if (MROWS > 2u) {
    narrowStore(2u, n0, dot(a20, one), dot(a21, one));
  }
  if (MROWS > 3u) {
    narrowStore(3u, n0, dot(a30, one), dot(a31, one));
  }
}

// mm_narrow's two outputs of input m (the second skipped past N).
fn narrowStore(m: u32, n0: u32, v0: f32, v1: f32) {
  storeOne(m, n0, v0);
  if (n0 + 1u < mp.N) {
    storeOne(m, n0 + 1u, v1);
  }
}

// ---- f32 GEMM for backward passes: C[M, N] = alpha · op(A) · op(B) (+ C when accumulate). ----
// A is [M, K] ([K, M] when TRANS_A); B is [K, N] ([N, K] when TRANS_B); all row-major.

override TRANS_A: bool = false;
override TRANS_B: bool = false;

struct GemmParams {
  M: u32,
  K: u32,
  N: u32,
  accumulate: u32,
  alpha: f32,
}

@group(0) @binding(0) var<uniform> gp: GemmParams;
@group(0) @binding(1) var<storage, read> ga4: array<vec4<f32>>;
@group(0) @binding(1) var<storage, read> ga1: array<f32>;
@group(0) @binding(2) var<storage, read> gb4: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read> gb1: array<f32>;
@group(0) @binding(3) var<storage, read_write> gc: array<f32>;

fn gemmStore(m0: u32, n0: u32, acc: array<vec4<f32>, 4>) {
  for (var i = 0u; i < 4u; i++) {
    let m = m0 + i;
    if (m >= gp.M) { break; }
    for (var j = 0u; j < 4u; j++) {
      let n = n0 + j;
      if (n < gp.N) {
        let idx = m * gp.N + n;
        var v = gp.alpha * acc[i][j];
        if (gp.accumulate != 0u) {
          v += gc[idx];
        }
        gc[idx] = v;
      }
    }
  }
}

// vec4 loads along the contiguous dimension of each operand: needs K % 4 == 0 for A untransposed
// and B transposed, M % 4 == 0 for A transposed, N % 4 == 0 for B untransposed.
@compute @workgroup_size(8, 8)
fn gemm_vec(@builtin(global_invocation_id) id: vec3<u32>) {
  let n0 = id.x * 4u;
  let m0 = id.y * 4u;
  let M = gp.M;
  let K = gp.K;
  let N = gp.N;
  if (n0 >= N || m0 >= M) { return; }
  let mi = vec4<u32>(min(m0, M - 1u), min(m0 + 1u, M - 1u), min(m0 + 2u, M - 1u), min(m0 + 3u, M - 1u));
  let ni = vec4<u32>(min(n0, N - 1u), min(n0 + 1u, N - 1u), min(n0 + 2u, N - 1u), min(n0 + 3u, N - 1u));
  var acc0 = vec4<f32>();
  var acc1 = vec4<f32>();
  var acc2 = vec4<f32>();
  var acc3 = vec4<f32>();
  for (var k = 0u; k < K; k += 4u) {
    // a_i = A(m0 + i, k .. k+3)
    var a0: vec4<f32>;
    var a1: vec4<f32>;
    var a2: vec4<f32>;
    var a3: vec4<f32>;
    if (TRANS_A) {
      // Rows of the stored [K, M] matrix: t_q = A(m0 .. m0+3, k+q); zero past K.
      let t0 = ga4[(k * M + m0) >> 2u];
      let t1 = select(vec4<f32>(), ga4[(min(k + 1u, K - 1u) * M + m0) >> 2u], k + 1u < K);
      let t2 = select(vec4<f32>(), ga4[(min(k + 2u, K - 1u) * M + m0) >> 2u], k + 2u < K);
      let t3 = select(vec4<f32>(), ga4[(min(k + 3u, K - 1u) * M + m0) >> 2u], k + 3u < K);
      a0 = vec4<f32>(t0.x, t1.x, t2.x, t3.x);
      a1 = vec4<f32>(t0.y, t1.y, t2.y, t3.y);
      a2 = vec4<f32>(t0.z, t1.z, t2.z, t3.z);
      a3 = vec4<f32>(t0.w, t1.w, t2.w, t3.w);
    } else {
      a0 = ga4[(mi.x * K + k) >> 2u];
      a1 = ga4[(mi.y * K + k) >> 2u];
      a2 = ga4[(mi.z * K + k) >> 2u];
      a3 = ga4[(mi.w * K + k) >> 2u];
    }
    // b_q = B(k+q, n0 .. n0+3)
    var b0: vec4<f32>;
    var b1: vec4<f32>;
    var b2: vec4<f32>;
    var b3: vec4<f32>;
    if (TRANS_B) {
      // Rows of the stored [N, K] matrix: u_j = B(k .. k+3, n0+j).
      let u0 = gb4[(ni.x * K + k) >> 2u];
      let u1 = gb4[(ni.y * K + k) >> 2u];
      let u2 = gb4[(ni.z * K + k) >> 2u];
      let u3 = gb4[(ni.w * K + k) >> 2u];
      b0 = vec4<f32>(u0.x, u1.x, u2.x, u3.x);
      b1 = vec4<f32>(u0.y, u1.y, u2.y, u3.y);
      b2 = vec4<f32>(u0.z, u1.z, u2.z, u3.z);
      b3 = vec4<f32>(u0.w, u1.w, u2.w, u3.w);
    } else {
      b0 = gb4[(k * N + n0) >> 2u];
      b1 = select(vec4<f32>(), gb4[(min(k + 1u, K - 1u) * N + n0) >> 2u], k + 1u < K);
      b2 = select(vec4<f32>(), gb4[(min(k + 2u, K - 1u) * N + n0) >> 2u], k + 2u < K);
      b3 = select(vec4<f32>(), gb4[(min(k + 3u, K - 1u) * N + n0) >> 2u], k + 3u < K);
    }
    acc0 += a0.x * b0 + a0.y * b1 + a0.z * b2 + a0.w * b3;
    acc1 += a1.x * b0 + a1.y * b1 + a1.z * b2 + a1.w * b3;
    acc2 += a2.x * b0 + a2.y * b1 + a2.z * b2 + a2.w * b3;
    acc3 += a3.x * b0 + a3.y * b1 + a3.z * b2 + a3.w * b3;
  }
  gemmStore(m0, n0, array<vec4<f32>, 4>(acc0, acc1, acc2, acc3));
}

fn gemmA(m: u32, k: u32) -> f32 {
  if (TRANS_A) {
    return ga1[k * gp.M + m];
  }
  return ga1[m * gp.K + k];
}

fn gemmB(k: u32, n: u32) -> f32 {
  if (TRANS_B) {
    return gb1[n * gp.K + k];
  }
  return gb1[k * gp.N + n];
}

// Any shapes.
@compute @workgroup_size(8, 8)
fn gemm_scalar(@builtin(global_invocation_id) id: vec3<u32>) {
  let n0 = id.x * 4u;
  let m0 = id.y * 4u;
  let M = gp.M;
  let N = gp.N;
  if (n0 >= N || m0 >= M) { return; }
  let mi = vec4<u32>(min(m0, M - 1u), min(m0 + 1u, M - 1u), min(m0 + 2u, M - 1u), min(m0 + 3u, M - 1u));
  let ni = vec4<u32>(min(n0, N - 1u), min(n0 + 1u, N - 1u), min(n0 + 2u, N - 1u), min(n0 + 3u, N - 1u));
  var acc0 = vec4<f32>();
  var acc1 = vec4<f32>();
  var acc2 = vec4<f32>();
  var acc3 = vec4<f32>();
  for (var k = 0u; k < gp.K; k++) {
    let b = vec4<f32>(gemmB(k, ni.x), gemmB(k, ni.y), gemmB(k, ni.z), gemmB(k, ni.w));
    acc0 += gemmA(mi.x, k) * b;
    acc1 += gemmA(mi.y, k) * b;
    acc2 += gemmA(mi.z, k) * b;
    acc3 += gemmA(mi.w, k) * b;
  }
  gemmStore(m0, n0, array<vec4<f32>, 4>(acc0, acc1, acc2, acc3));
}

// ---- Input gradient through a weight chunk: dX[M, K] (+)= dY[M, col0 : col0+N] · W_chunk[N, K]. ----
// W decoded like the forward (DTYPE). 4×4 outputs (rows m0.., columns k0..) per thread, f32
// accumulation over the chunk's N rows in order; the wrapper dispatches chunk after chunk with
// accumulate set from the second one on, so every element sums its terms in a fixed order.

struct IgParams {
  M: u32,          // rows of dY and dX
  K: u32,          // columns of W and dX
  N: u32,          // weight rows in this chunk
  dyStride: u32,   // row stride of dY (all weight rows)
  dyCol0: u32,     // dY column of the chunk's first row
  accumulate: u32, // 1: add to dX, 0: overwrite
}

@group(0) @binding(0) var<uniform> ip: IgParams;
@group(0) @binding(1) var<storage, read> igDy: array<f32>;
@group(0) @binding(3) var<storage, read_write> igDx: array<f32>;

fn igStore(m0: u32, k0: u32, acc: array<vec4<f32>, 4>) {
  for (var i = 0u; i < 4u; i++) {
    let m = m0 + i;
    if (m >= ip.M) { break; }
    for (var j = 0u; j < 4u; j++) {
      let k = k0 + j;
      if (k < ip.K) {
        let idx = m * ip.K + k;
        var v = acc[i][j];
        if (ip.accumulate != 0u) {
          v += igDx[idx];
        }
        igDx[idx] = v;
      }
    }
  }
}

// K % 4 == 0: one vec4 weight load per row.
@compute @workgroup_size(8, 8)
fn mm_igrad_vec(@builtin(global_invocation_id) id: vec3<u32>) {
  let k0 = id.x * 4u;
  let m0 = id.y * 4u;
  let M = ip.M;
  if (k0 >= ip.K || m0 >= M) { return; }
  let s = ip.dyStride;
  let r0 = min(m0, M - 1u) * s + ip.dyCol0;
  let r1 = min(m0 + 1u, M - 1u) * s + ip.dyCol0;
  let r2 = min(m0 + 2u, M - 1u) * s + ip.dyCol0;
  let r3 = min(m0 + 3u, M - 1u) * s + ip.dyCol0;
  var acc0 = vec4<f32>();
  var acc1 = vec4<f32>();
  var acc2 = vec4<f32>();
  var acc3 = vec4<f32>();
  var e = k0;
  for (var n = 0u; n < ip.N; n++) {
    let b = loadW4(e);
    acc0 += igDy[r0 + n] * b;
    acc1 += igDy[r1 + n] * b;
    acc2 += igDy[r2 + n] * b;
    acc3 += igDy[r3 + n] * b;
    e += ip.K;
  }
  igStore(m0, k0, array<vec4<f32>, 4>(acc0, acc1, acc2, acc3));
}

// Any K (even for packed weights): four scalar weight loads per row, columns clamped at the edge.
@compute @workgroup_size(8, 8)
fn mm_igrad_scalar(@builtin(global_invocation_id) id: vec3<u32>) {
  let k0 = id.x * 4u;
  let m0 = id.y * 4u;
  let M = ip.M;
  let K = ip.K;
  if (k0 >= K || m0 >= M) { return; }
  let s = ip.dyStride;
  let r0 = min(m0, M - 1u) * s + ip.dyCol0;
  let r1 = min(m0 + 1u, M - 1u) * s + ip.dyCol0;
  let r2 = min(m0 + 2u, M - 1u) * s + ip.dyCol0;
  let r3 = min(m0 + 3u, M - 1u) * s + ip.dyCol0;
  let k1 = min(k0 + 1u, K - 1u);
  let k2 = min(k0 + 2u, K - 1u);
  let k3 = min(k0 + 3u, K - 1u);
  var acc0 = vec4<f32>();
  var acc1 = vec4<f32>();
  var acc2 = vec4<f32>();
  var acc3 = vec4<f32>();
  var e = 0u;
  for (var n = 0u; n < ip.N; n++) {
    let b = vec4<f32>(loadW1(e + k0), loadW1(e + k1), loadW1(e + k2), loadW1(e + k3));
    acc0 += igDy[r0 + n] * b;
    acc1 += igDy[r1 + n] * b;
    acc2 += igDy[r2 + n] * b;
    acc3 += igDy[r3 + n] * b;
    e += K;
  }
  igStore(m0, k0, array<vec4<f32>, 4>(acc0, acc1, acc2, acc3));
}

// ---- subgroups ----
// Everything below needs the `subgroups` feature: matmul.ts compiles it (with `enable subgroups;`
// in front) only on devices that have it.

// GEMV for decode on GPUs (M = MROWS ≤ 4, K % 4 == 0): GV_ROWS weight rows per workgroup of 128; each
// subgroup takes one row at a time, its lanes read consecutive vec4s of the row (coalesced) and
// accumulate all M inputs at once, and subgroupAdd sums the lanes. Any subgroup size
// up to 128 works (a larger subgroup count just takes fewer rows each).
const GV_ROWS = 16u;
const GV_THREADS = 128u;

@compute @workgroup_size(128)
fn mm_gemv(
  @builtin(local_invocation_index) t: u32,
  @builtin(workgroup_id) wg: vec3<u32>,
  @builtin(num_workgroups) groups: vec3<u32>,
  @builtin(subgroup_invocation_id) lane: u32,
  @builtin(subgroup_size) sgSize: u32,
) {
  let rowBase = (wg.x + wg.y * groups.x) * GV_ROWS;
  let K4 = mp.K >> 2u;
  for (var r = t / sgSize; r < GV_ROWS; r += max(1u, GV_THREADS / sgSize)) {
    let n = rowBase + r;
    if (n >= mp.N) { break; }
    let wBase = (mp.wRow0 + n) * mp.K;
    var acc = vec4<f32>(); // input m in component m
    for (var k = lane; k < K4; k += sgSize) {
      let wv = loadW4(wBase + (k << 2u));
      acc.x += dot(x4[k], wv);
      if (MROWS > 1u) {
        acc.y += dot(x4[K4 + k], wv);
      }
      if (MROWS > 2u) {
        acc.z += dot(x4[2u * K4 + k], wv);
      }
      if (MROWS > 3u) {
        acc.w += dot(x4[3u * K4 + k], wv);
      }
    }
    let sum = subgroupAdd(acc);
    if (lane < MROWS) {
      storeOne(lane, n, sum[lane]);
    }
  }
}
