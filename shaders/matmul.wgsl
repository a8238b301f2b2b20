// Matmul family.
//  * mm_tiled / mm_scalar / mm_narrow / mm_gemv: Y[M, ·] = X[M, K] · Wᵀ (+ bias) for up to three
//    "pieces" (row ranges of weight chunks, e.g. q/k/v, or the chunks of one big matrix) in one
//    dispatch: workgroup z picks the piece, whose outputs land in their own Y columns. W is f32,
//    packed f16 or packed bf16 (override DTYPE), decoded here, f32 accumulation; Y can be added
//    into (accumulate: the fused residual add).
//    mm_tiled: 4×4 outputs per thread, vec4 loads (K % 4 == 0). mm_scalar: any K (even for packed).
//    mm_narrow: decode-sized M ≤ 4, 2 weight rows per invocation, no workgroup memory; its input
//    loads (narrowX) come in two forms after the plain-x and subgroups markers.
//    mm_gemv (after the subgroups marker, compiled only where the `subgroups` feature exists):
//    M ≤ 4, one subgroup per weight row, lanes read consecutive vec4s, subgroupAdd reduces.
//  * mm_tiled_swiglu / mm_narrow_swiglu / mm_gemv_swiglu: act[M, N] = silu(X·Wgᵀ) ⊙ (X·Wuᵀ), gate
//    (piece 0) and up (piece 1) rows read by the same invocation / subgroup (DESIGN.md §5.3).
//  * gemm_vec / gemm_scalar: f32 C[M, N] = alpha · op(A) · op(B) (+ C) for backward passes, with
//    TRANS_A / TRANS_B overrides; 4×4 outputs per thread.
//  * mm_igrad_vec / mm_igrad_scalar: input gradient dX[M, K] (+)= dY[M, chunk cols] · W_chunk over
//    one weight chunk (DTYPE as above); 4×4 outputs per thread.
// Several storage variables alias one binding with different element types; each entry point uses
// exactly one of them. Kernel bodies take the piece's weight and bias as pointer parameters
// (unrestricted_pointer_parameters), so each piece gets its own specialised copy and no load
// branches on the piece.

override DTYPE: u32 = 0u; // 0 = f32, 1 = f16 pairs, 2 = bf16 pairs (two per u32, low half first)

struct MmParams {
  M: u32,          // rows of X and Y
  K: u32,          // inner dimension (columns of X and W)
  yStride: u32,    // row stride of Y
  accumulate: u32, // 1: Y += result (Y holds the residual), 0: Y = result
  // Per piece: (N weight rows computed, wRow0 = the first of them inside the bound chunk,
  // yCol0 = the Y column of the first, bias0 = its bias index).
  piece: array<vec4<u32>, 3>,
  hasBias: vec4<u32>, // per piece
}

@group(0) @binding(0) var<uniform> mp: MmParams;
@group(0) @binding(1) var<storage, read> x4: array<vec4<f32>>;
@group(0) @binding(1) var<storage, read> x1: array<f32>;
@group(0) @binding(4) var<storage, read_write> y: array<f32>;
// The three pieces' weights (a, b, c) in each view, and their biases.
// (Bindings 1-6 are what the SwiGLU pair entries use; piece c comes last.)
@group(0) @binding(2) var<storage, read> w2a: array<vec2<u32>>;
@group(0) @binding(5) var<storage, read> w2b: array<vec2<u32>>;
@group(0) @binding(7) var<storage, read> w2c: array<vec2<u32>>;
@group(0) @binding(2) var<storage, read> w1a: array<u32>;
@group(0) @binding(5) var<storage, read> w1b: array<u32>;
@group(0) @binding(7) var<storage, read> w1c: array<u32>;
@group(0) @binding(2) var<storage, read> wqa: array<vec4<u32>>;
@group(0) @binding(5) var<storage, read> wqb: array<vec4<u32>>;
@group(0) @binding(7) var<storage, read> wqc: array<vec4<u32>>;
@group(0) @binding(3) var<storage, read> ba: array<f32>;
@group(0) @binding(6) var<storage, read> bb: array<f32>;
@group(0) @binding(8) var<storage, read> bc: array<f32>;

alias W2 = ptr<storage, array<vec2<u32>>, read>;
alias W1 = ptr<storage, array<u32>, read>;
alias WQ = ptr<storage, array<vec4<u32>>, read>;
alias Bias = ptr<storage, array<f32>, read>;

// One piece as a kernel body sees it.
struct Piece {
  N: u32,
  wRow0: u32,
  yCol0: u32,
  bias0: u32,
  hasBias: bool,
}

fn pieceOf(z: u32) -> Piece {
  let p = mp.piece[z];
  return Piece(p.x, p.y, p.z, p.w, mp.hasBias[z] != 0u);
}

// Weights e .. e+3 (element index into the chunk, e % 4 == 0).
fn loadW4(w: W2, e: u32) -> vec4<f32> {
  if (DTYPE == DTYPE_F32) {
    let i = e >> 1u;
    return bitcast<vec4<f32>>(vec4<u32>((*w)[i], (*w)[i + 1u]));
  }
  return decode_quad(DTYPE, (*w)[e >> 2u]);
}

// Weight e (element index into the chunk).
fn loadW1(w: W1, e: u32) -> f32 {
  return decode_weight(DTYPE, (*w)[weight_word(DTYPE, e)], e);
}

// The epilogue of one output (input row m, row n of the piece, n < N): + bias, and + the value
// already in Y when accumulating (the residual add of DESIGN.md §5.3).
fn storeOne(b: Bias, pc: Piece, m: u32, n: u32, v: f32) {
  let idx = m * mp.yStride + pc.yCol0 + n;
  var r = v;
  if (pc.hasBias) {
    r += (*b)[pc.bias0 + n];
  }
  if (mp.accumulate != 0u) {
    r += y[idx];
  }
  y[idx] = r;
}

// Write a 4×4 tile (acc[i] holds rows m0+i, columns n0 .. n0+3), masked at the edges.
fn storeTile(b: Bias, pc: Piece, m0: u32, n0: u32, acc: array<vec4<f32>, 4>) {
  for (var i = 0u; i < 4u; i++) {
    let m = m0 + i;
    if (m >= mp.M) { break; }
    for (var j = 0u; j < 4u; j++) {
      let n = n0 + j;
      if (n < pc.N) {
        storeOne(b, pc, m, n, acc[i][j]);
      }
    }
  }
}

// The 4×4 tile of X·Wᵀ at input rows m0 .. m0+3 and piece rows n0 .. n0+3 (rows past M or N
// repeat the last one; storeTile masks them).
fn tiledDots(w: W2, pc: Piece, m0: u32, n0: u32) -> array<vec4<f32>, 4> {
  let K4 = mp.K >> 2u;
  let r0 = min(m0, mp.M - 1u) * K4;
  let r1 = min(m0 + 1u, mp.M - 1u) * K4;
  let r2 = min(m0 + 2u, mp.M - 1u) * K4;
  let r3 = min(m0 + 3u, mp.M - 1u) * K4;
  let c0 = (pc.wRow0 + min(n0, pc.N - 1u)) * mp.K;
  let c1 = (pc.wRow0 + min(n0 + 1u, pc.N - 1u)) * mp.K;
  let c2 = (pc.wRow0 + min(n0 + 2u, pc.N - 1u)) * mp.K;
  let c3 = (pc.wRow0 + min(n0 + 3u, pc.N - 1u)) * mp.K;
  var acc0 = vec4<f32>();
  var acc1 = vec4<f32>();
  var acc2 = vec4<f32>();
  var acc3 = vec4<f32>();
  for (var k = 0u; k < K4; k++) {
    let e = k << 2u;
    let b0 = loadW4(w, c0 + e);
    let b1 = loadW4(w, c1 + e);
    let b2 = loadW4(w, c2 + e);
    let b3 = loadW4(w, c3 + e);
    var a = x4[r0 + k];
    acc0 += vec4<f32>(dot(a, b0), dot(a, b1), dot(a, b2), dot(a, b3));
    a = x4[r1 + k];
    acc1 += vec4<f32>(dot(a, b0), dot(a, b1), dot(a, b2), dot(a, b3));
    a = x4[r2 + k];
    acc2 += vec4<f32>(dot(a, b0), dot(a, b1), dot(a, b2), dot(a, b3));
    a = x4[r3 + k];
    acc3 += vec4<f32>(dot(a, b0), dot(a, b1), dot(a, b2), dot(a, b3));
  }
  return array<vec4<f32>, 4>(acc0, acc1, acc2, acc3);
}

fn tiledBody(w: W2, b: Bias, pc: Piece, id: vec3<u32>) {
  let n0 = id.x * 4u;
  let m0 = id.y * 4u;
  if (n0 >= pc.N || m0 >= mp.M) { return; }
  storeTile(b, pc, m0, n0, tiledDots(w, pc, m0, n0));
}

@compute @workgroup_size(8, 8)
fn mm_tiled(@builtin(global_invocation_id) id: vec3<u32>) {
  switch id.z {
    case 0u: { tiledBody(&w2a, &ba, pieceOf(0u), id); }
    case 1u: { tiledBody(&w2b, &bb, pieceOf(1u), id); }
    default: { tiledBody(&w2c, &bc, pieceOf(2u), id); }
  }
}

fn scalarBody(w: W1, b: Bias, pc: Piece, id: vec3<u32>) {
  let n0 = id.x * 4u;
  let m0 = id.y * 4u;
  if (n0 >= pc.N || m0 >= mp.M) { return; }
  let K = mp.K;
  let r0 = min(m0, mp.M - 1u) * K;
  let r1 = min(m0 + 1u, mp.M - 1u) * K;
  let r2 = min(m0 + 2u, mp.M - 1u) * K;
  let r3 = min(m0 + 3u, mp.M - 1u) * K;
  let c0 = (pc.wRow0 + min(n0, pc.N - 1u)) * K;
  let c1 = (pc.wRow0 + min(n0 + 1u, pc.N - 1u)) * K;
  let c2 = (pc.wRow0 + min(n0 + 2u, pc.N - 1u)) * K;
  let c3 = (pc.wRow0 + min(n0 + 3u, pc.N - 1u)) * K;
  var acc0 = vec4<f32>();
  var acc1 = vec4<f32>();
  var acc2 = vec4<f32>();
  var acc3 = vec4<f32>();
  for (var k = 0u; k < K; k++) {
    let bv = vec4<f32>(loadW1(w, c0 + k), loadW1(w, c1 + k), loadW1(w, c2 + k), loadW1(w, c3 + k));
    acc0 += x1[r0 + k] * bv;
    acc1 += x1[r1 + k] * bv;
    acc2 += x1[r2 + k] * bv;
    acc3 += x1[r3 + k] * bv;
  }
  storeTile(b, pc, m0, n0, array<vec4<f32>, 4>(acc0, acc1, acc2, acc3));
}

@compute @workgroup_size(8, 8)
fn mm_scalar(@builtin(global_invocation_id) id: vec3<u32>) {
  switch id.z {
    case 0u: { scalarBody(&w1a, &ba, pieceOf(0u), id); }
    case 1u: { scalarBody(&w1b, &bb, pieceOf(1u), id); }
    default: { scalarBody(&w1c, &bc, pieceOf(2u), id); }
  }
}

// Small-M kernel without workgroup memory, barriers or subgroup operations (M ≤ 4, K % 4 == 0, and
// K % 8 == 0 for packed weights): each invocation computes 2 weight rows for all M inputs, 16
// weights per row per loop iteration, read as whole vec4<u32> words. Chosen on CPU adapters and on
// GPUs without subgroups. SwiftShader pays a large fixed cost per loop iteration, per gathered load
// and per live register (private arrays, array arguments and unused accumulators spill), so the
// input count MROWS is an override (dead accumulators fold away) and everything is plain variables.
override MROWS: u32 = 1u;
const NW_ROWS = 2u;

// Weights e .. e+3 of the chunk (e % 4 == 0) from the vec4<u32> view.
fn narrowW4(w: WQ, e: u32) -> vec4<f32> {
  if (DTYPE == DTYPE_F32) {
    return bitcast<vec4<f32>>((*w)[e >> 2u]);
  }
  let v = (*w)[e >> 3u];
  return decode_quad(DTYPE, select(v.xy, v.zw, (e & 4u) != 0u));
}

// 16 weights e .. e+15 (e % 16 == 0 within an 8-aligned row) as four vec4s.
struct W16 {
  a: vec4<f32>,
  b: vec4<f32>,
  c: vec4<f32>,
  d: vec4<f32>,
}

fn narrowW16(w: WQ, e: u32) -> W16 {
  if (DTYPE == DTYPE_F32) {
    let i = e >> 2u;
    return W16(bitcast<vec4<f32>>((*w)[i]), bitcast<vec4<f32>>((*w)[i + 1u]), bitcast<vec4<f32>>((*w)[i + 2u]), bitcast<vec4<f32>>((*w)[i + 3u]));
  }
  let v0 = (*w)[e >> 3u];
  let v1 = (*w)[(e >> 3u) + 1u];
  return W16(decode_quad(DTYPE, v0.xy), decode_quad(DTYPE, v0.zw), decode_quad(DTYPE, v1.xy), decode_quad(DTYPE, v1.zw));
}

// One 16-weight step of rows u and v with the 4 X vec4s xq (narrowX): column 0 holds the 4
// partial dot products with u, column 1 those with v.
fn dot16x2(xq: W16, u: W16, v: W16) -> mat2x4<f32> {
  return mat2x4<f32>(
    vec4<f32>(dot(xq.a, u.a), dot(xq.b, u.b), dot(xq.c, u.c), dot(xq.d, u.d)),
    vec4<f32>(dot(xq.a, v.a), dot(xq.b, v.b), dot(xq.c, v.c), dot(xq.d, v.d)),
  );
}

// The tail step (one vec4 of each row) of input row xb.
fn dot4x2(xb: u32, u: vec4<f32>, v: vec4<f32>) -> mat2x4<f32> {
  let a = x4[xb];
  return mat2x4<f32>(vec4<f32>(dot(a, u), 0.0, 0.0, 0.0), vec4<f32>(dot(a, v), 0.0, 0.0, 0.0));
}

// Dot products of the M inputs with two weight rows: (row u, row v) per input.
struct NarrowSums {
  s0: vec2<f32>,
  s1: vec2<f32>,
  s2: vec2<f32>,
  s3: vec2<f32>,
}

fn rowSums(a: mat2x4<f32>) -> vec2<f32> {
  let one = vec4<f32>(1.0);
  return vec2<f32>(dot(a[0], one), dot(a[1], one));
}

// Rows starting at elements cu of wu and cv of wv (the same or different weights); `lane` is
// narrowLane()'s, taken while every invocation of the workgroup was active.
fn narrowDots(wu: WQ, cu: u32, wv: WQ, cv: u32, lane: u32) -> NarrowSums {
  let K4 = mp.K >> 2u;
  let K16 = K4 & ~3u;
  // Input m: four partial sums per row (columns u, v).
  var a0 = mat2x4<f32>();
  var a1 = mat2x4<f32>();
  var a2 = mat2x4<f32>();
  var a3 = mat2x4<f32>();
  for (var k = 0u; k < K16; k += 4u) {
    let e = k << 2u;
    let u = narrowW16(wu, cu + e);
    let v = narrowW16(wv, cv + e);
    a0 += dot16x2(narrowX(k, lane), u, v);
    if (MROWS > 1u) {
      a1 += dot16x2(narrowX(K4 + k, lane), u, v);
    }
    if (MROWS > 2u) {
      a2 += dot16x2(narrowX(2u * K4 + k, lane), u, v);
    }
    if (MROWS > 3u) {
      a3 += dot16x2(narrowX(3u * K4 + k, lane), u, v);
    }
  }
  for (var k = K16; k < K4; k++) {
    let u = narrowW4(wu, cu + (k << 2u));
    let v = narrowW4(wv, cv + (k << 2u));
    a0 += dot4x2(k, u, v);
    if (MROWS > 1u) {
      a1 += dot4x2(K4 + k, u, v);
    }
    if (MROWS > 2u) {
      a2 += dot4x2(2u * K4 + k, u, v);
    }
    if (MROWS > 3u) {
      a3 += dot4x2(3u * K4 + k, u, v);
    }
  }
  return NarrowSums(rowSums(a0), rowSums(a1), rowSums(a2), rowSums(a3));
}

// mm_narrow's two outputs (rows n0, n0 + 1) of input m, those past N skipped.
fn narrowStore(b: Bias, pc: Piece, m: u32, n0: u32, v: vec2<f32>) {
  if (n0 < pc.N) {
    storeOne(b, pc, m, n0, v.x);
  }
  if (n0 + 1u < pc.N) {
    storeOne(b, pc, m, n0 + 1u, v.y);
  }
}

// Invocations past N compute the last row again (narrowX needs every invocation) and store nothing.
fn narrowBody(w: WQ, b: Bias, pc: Piece, n0: u32, lane: u32) {
  let c0 = (pc.wRow0 + min(n0, pc.N - 1u)) * mp.K;
  let c1 = (pc.wRow0 + min(n0 + 1u, pc.N - 1u)) * mp.K;
  let s = narrowDots(w, c0, w, c1, lane);
  narrowStore(b, pc, 0u, n0, s.s0);
  if (MROWS > 1u) {
    narrowStore(b, pc, 1u, n0, s.s1);
  }
  if (MROWS > 2u) {
    narrowStore(b, pc, 2u, n0, s.s2);
  }
  if (MROWS > 3u) {
    narrowStore(b, pc, 3u, n0, s.s3);
  }
}

@compute @workgroup_size(64)
fn mm_narrow(@builtin(global_invocation_id) id: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
  let lane = narrowLane();
  let n0 = flat_index(id, groups, 64u) * NW_ROWS;
  switch id.z {
    case 0u: { narrowBody(&wqa, &ba, pieceOf(0u), n0, lane); }
    case 1u: { narrowBody(&wqb, &bb, pieceOf(1u), n0, lane); }
    default: { narrowBody(&wqc, &bc, pieceOf(2u), n0, lane); }
  }
}

// SwiGLU output of input m, row n: silu(g) · u written at Y[m, yCol0 + n] (piece 0's layout).
fn swigluStore(m: u32, n: u32, gu: vec2<f32>) {
  let pc = pieceOf(0u);
  let g = gu.x + select(0.0, ba[pc.bias0 + n], pc.hasBias);
  let u = gu.y + select(0.0, bb[pieceOf(1u).bias0 + n], mp.hasBias[1] != 0u);
  y[m * mp.yStride + pc.yCol0 + n] = g * sigmoid(g) * u;
}

// act = silu(X·Wgᵀ) ⊙ (X·Wuᵀ): one gate row (piece 0) and the same up row (piece 1) per invocation.
@compute @workgroup_size(64)
fn mm_narrow_swiglu(@builtin(global_invocation_id) id: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
  let lane = narrowLane();
  let g = pieceOf(0u);
  let u = pieceOf(1u);
  let n = flat_index(id, groups, 64u);
  let row = min(n, g.N - 1u);
  let s = narrowDots(&wqa, (g.wRow0 + row) * mp.K, &wqb, (u.wRow0 + row) * mp.K, lane);
  if (n >= g.N) { return; }
  swigluStore(0u, n, s.s0);
  if (MROWS > 1u) {
    swigluStore(1u, n, s.s1);
  }
  if (MROWS > 2u) {
    swigluStore(2u, n, s.s2);
  }
  if (MROWS > 3u) {
    swigluStore(3u, n, s.s3);
  }
}

// act = silu(X·Wgᵀ) ⊙ (X·Wuᵀ) for any M: the same 4×4 tile of gate (piece 0) and up (piece 1),
// one after the other, so it loads what the two projections apart would and skips their outputs.
@compute @workgroup_size(8, 8)
fn mm_tiled_swiglu(@builtin(global_invocation_id) id: vec3<u32>) {
  let n0 = id.x * 4u;
  let m0 = id.y * 4u;
  let pg = pieceOf(0u);
  if (n0 >= pg.N || m0 >= mp.M) { return; }
  let g = tiledDots(&w2a, pg, m0, n0);
  let u = tiledDots(&w2b, pieceOf(1u), m0, n0);
  for (var i = 0u; i < 4u; i++) {
    if (m0 + i >= mp.M) { break; }
    for (var j = 0u; j < 4u; j++) {
      if (n0 + j < pg.N) {
        swigluStore(m0 + i, n0 + j, vec2<f32>(g[i][j], u[i][j]));
      }
    }
  }
}

// ---- f32 GEMM for backward passes: C[M, N] = alpha · op(A) · op(B) (+ C when accumulate). ----
// C may be a column slice [cCol0, cCol0 + N) of a wider row-major tensor (LoRA deltas into q|k|v).
// A is [M, K] ([K, M] when TRANS_A); B is [K, N] ([N, K] when TRANS_B); all row-major.

override TRANS_A: bool = false;
override TRANS_B: bool = false;

struct GemmParams {
  M: u32,
  K: u32,
  N: u32,
  accumulate: u32,
  alpha: f32,
  cStride: u32, // row stride of C (N, or wider when C is a column slice of a larger tensor)
  cCol0: u32,   // first column of C in that tensor
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
        let idx = m * gp.cStride + gp.cCol0 + n;
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
    let b = loadW4(&w2a, e);
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
    let b = vec4<f32>(loadW1(&w1a, e + k0), loadW1(&w1a, e + k1), loadW1(&w1a, e + k2), loadW1(&w1a, e + k3));
    acc0 += igDy[r0 + n] * b;
    acc1 += igDy[r1 + n] * b;
    acc2 += igDy[r2 + n] * b;
    acc3 += igDy[r3 + n] * b;
    e += K;
  }
  igStore(m0, k0, array<vec4<f32>, 4>(acc0, acc1, acc2, acc3));
}

// ---- plain x ----
// mm_narrow's input loads without subgroups: every invocation reads the 4 vec4s itself.
fn narrowLane() -> u32 {
  return 0u;
}

fn narrowX(xb: u32, lane: u32) -> W16 {
  return W16(x4[xb], x4[xb + 1u], x4[xb + 2u], x4[xb + 3u]);
}

// ---- subgroups ----
// Everything below needs the `subgroups` feature: matmul.ts compiles it (with `enable subgroups;`
// in front) only on devices that have it.

// GEMV for decode on GPUs (M = MROWS ≤ 4, K % 4 == 0): GV_ROWS weight rows per workgroup of 128;
// each subgroup takes one row at a time, its lanes read consecutive vec4s of the row (coalesced)
// and accumulate all M inputs at once, and subgroupAdd sums the lanes. Any subgroup size up to 128
// works (fewer subgroups just take more rows each).
// mm_narrow's input loads with subgroups: every lane reads one of the 4 vec4s, and each reaches
// the others by subgroupBroadcast from lanes 0..3. SwiftShader runs each load as a gather with
// bounds checks, so this quarters the input loads, the larger part of the loop's cost there.
fn narrowLane() -> u32 {
  return subgroupExclusiveAdd(1u);
}

fn narrowX(xb: u32, lane: u32) -> W16 {
  let x = x4[xb + (lane & 3u)];
  return W16(subgroupBroadcast(x, 0u), subgroupBroadcast(x, 1u), subgroupBroadcast(x, 2u), subgroupBroadcast(x, 3u));
}

const GV_ROWS = 16u;
const GV_THREADS = 128u;

// This invocation's sums of one row (starting at element c of w) with the M inputs (input m in
// component m), over the row's vec4s first, first + step, ...
fn gemvLaneDots(w: W2, c: u32, first: u32, step: u32) -> vec4<f32> {
  let K4 = mp.K >> 2u;
  var acc = vec4<f32>();
  for (var k = first; k < K4; k += step) {
    let wv = loadW4(w, c + (k << 2u));
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
  return acc;
}

fn gemvBody(w: W2, b: Bias, pc: Piece, rowBase: u32, t: u32, lane: u32, sgSize: u32) {
  for (var r = t / sgSize; r < GV_ROWS; r += max(1u, GV_THREADS / sgSize)) {
    let n = rowBase + r;
    if (n >= pc.N) { break; }
    let sum = subgroupAdd(gemvLaneDots(w, (pc.wRow0 + n) * mp.K, lane, sgSize));
    if (lane < MROWS) {
      storeOne(b, pc, lane, n, sum[lane]);
    }
  }
}

// Split-K form (GV_SPLIT_ROWS = R > 0, for weights with too few rows to fill a GPU at 16 rows per
// workgroup): R rows per workgroup, each row's K spread over all 128 invocations (consecutive vec4s,
// coalesced). Every invocation leaves its partial sums in gvSums; after one barrier each subgroup
// adds the 128 slots (lane l takes slots l, l + size, ...; then subgroupAdd), so the total does not
// depend on how invocations are grouped into subgroups, and invocation 0 stores it.
override GV_SPLIT_ROWS: u32 = 0u;
// Up to 2 row sets (gate and up) of up to 2 rows each.
var<workgroup> gvSums: array<vec4<f32>, 512>; // [set][GV_THREADS]

fn gemvSplitTotal(slots: u32, lane: u32, sgSize: u32) -> vec4<f32> {
  var partial = vec4<f32>();
  for (var i = lane; i < GV_THREADS; i += sgSize) {
    partial += gvSums[slots * GV_THREADS + i];
  }
  return subgroupAdd(partial);
}

// Rows past N compute the last row again (every invocation takes part in each barrier and
// subgroupAdd) and store nothing.
fn gemvSplitBody(w: W2, b: Bias, pc: Piece, rowBase: u32, t: u32, lane: u32, sgSize: u32) {
  for (var r = 0u; r < GV_SPLIT_ROWS; r++) {
    let n = min(rowBase + r, pc.N - 1u);
    gvSums[r * GV_THREADS + t] = gemvLaneDots(w, (pc.wRow0 + n) * mp.K, t, GV_THREADS);
  }
  workgroupBarrier();
  for (var r = 0u; r < GV_SPLIT_ROWS; r++) {
    let total = gemvSplitTotal(r, lane, sgSize);
    if (t == 0u && rowBase + r < pc.N) {
      for (var m = 0u; m < MROWS; m++) {
        storeOne(b, pc, m, rowBase + r, total[m]);
      }
    }
  }
}

fn gemvRowBase(wg: vec3<u32>, groups: vec3<u32>) -> u32 {
  return (wg.x + wg.y * groups.x) * select(GV_ROWS, GV_SPLIT_ROWS, GV_SPLIT_ROWS > 0u);
}

fn gemvPiece(w: W2, b: Bias, pc: Piece, rowBase: u32, t: u32, lane: u32, sgSize: u32) {
  if (GV_SPLIT_ROWS > 0u) {
    gemvSplitBody(w, b, pc, rowBase, t, lane, sgSize);
  } else {
    gemvBody(w, b, pc, rowBase, t, lane, sgSize);
  }
}

@compute @workgroup_size(128)
fn mm_gemv(
  @builtin(local_invocation_index) t: u32,
  @builtin(workgroup_id) wg: vec3<u32>,
  @builtin(num_workgroups) groups: vec3<u32>,
  @builtin(subgroup_invocation_id) lane: u32,
  @builtin(subgroup_size) sgSize: u32,
) {
  let rowBase = gemvRowBase(wg, groups);
  switch wg.z {
    case 0u: { gemvPiece(&w2a, &ba, pieceOf(0u), rowBase, t, lane, sgSize); }
    case 1u: { gemvPiece(&w2b, &bb, pieceOf(1u), rowBase, t, lane, sgSize); }
    default: { gemvPiece(&w2c, &bc, pieceOf(2u), rowBase, t, lane, sgSize); }
  }
}

// act = silu(X·Wgᵀ) ⊙ (X·Wuᵀ): each subgroup reduces one gate row (piece 0) and the same up row
// (piece 1); in the split-K form the workgroup reduces its R gate rows and the same R up rows.
@compute @workgroup_size(128)
fn mm_gemv_swiglu(
  @builtin(local_invocation_index) t: u32,
  @builtin(workgroup_id) wg: vec3<u32>,
  @builtin(num_workgroups) groups: vec3<u32>,
  @builtin(subgroup_invocation_id) lane: u32,
  @builtin(subgroup_size) sgSize: u32,
) {
  let rowBase = gemvRowBase(wg, groups);
  let g = pieceOf(0u);
  let u = pieceOf(1u);
  if (GV_SPLIT_ROWS > 0u) {
    // Sets 0 .. R-1: gate rows, R .. 2R-1: the same up rows.
    for (var r = 0u; r < GV_SPLIT_ROWS; r++) {
      let n = min(rowBase + r, g.N - 1u);
      gvSums[r * GV_THREADS + t] = gemvLaneDots(&w2a, (g.wRow0 + n) * mp.K, t, GV_THREADS);
      gvSums[(GV_SPLIT_ROWS + r) * GV_THREADS + t] = gemvLaneDots(&w2b, (u.wRow0 + n) * mp.K, t, GV_THREADS);
    }
    workgroupBarrier();
    for (var r = 0u; r < GV_SPLIT_ROWS; r++) {
      let sg = gemvSplitTotal(r, lane, sgSize);
      let su = gemvSplitTotal(GV_SPLIT_ROWS + r, lane, sgSize);
      if (t == 0u && rowBase + r < g.N) {
        for (var m = 0u; m < MROWS; m++) {
          swigluStore(m, rowBase + r, vec2<f32>(sg[m], su[m]));
        }
      }
    }
    return;
  }
  for (var r = t / sgSize; r < GV_ROWS; r += max(1u, GV_THREADS / sgSize)) {
    let n = rowBase + r;
    if (n >= g.N) { break; }
    let sg = subgroupAdd(gemvLaneDots(&w2a, (g.wRow0 + n) * mp.K, lane, sgSize));
    let su = subgroupAdd(gemvLaneDots(&w2b, (u.wRow0 + n) * mp.K, lane, sgSize));
    if (lane < MROWS) {
      swigluStore(lane, n, vec2<f32>(sg[lane], su[lane]));
    }
  }
}
