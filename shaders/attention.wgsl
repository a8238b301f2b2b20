// Causal grouped-query attention over a per-layer KV cache.
//
// Layouts (all f32, row-major):
//   q, out       [batch*tokens, heads*HD]      token-major activations
//   k, v (new)   [batch*tokens, kvHeads*HD]
//   cache k, v   [batch, kvHeads, maxSeq, HD]
//   positions    u32 [batch]: token t of sequence b sits at absolute position positions[b] + t
//   lse          [batch, heads, tokens]        log-sum-exp of the scaled scores of each query
//
// Query head h reads kv head h / (heads / kvHeads). Query t of sequence b sees cache positions
// 0 ..= positions[b] + t (clamped to maxSeq). Softmax is online (running max and sum): the running
// max starts at a large finite negative sentinel and masked keys get probability exactly 0, so a
// fully masked tile never produces NaN or infinity.
//
// All vectors are handled as vec4, so HD must be a multiple of 4 (TPQ = HD / 4 vec4 per row).
//
// Two families: the tiled kernels (prefill, decode, bw_dq, bw_dkv) share K/V tiles through
// workgroup memory, for real GPUs; the flat kernels at the end of the file (flat_fwd, flat_dq,
// flat_dkv) give every invocation one row and no workgroup memory or barriers, for CPU adapters
// (SwiftShader), where each barrier is a costly thread synchronisation.

const NEG: f32 = -3.0e38;

struct Params {
  tokens: u32,
  heads: u32,
  kvHeads: u32,
  maxSeq: u32,
  scale: f32,
  // write_kv: number of vec4 to write. prefill/decode: 1 when lse is written.
  n: u32,
  // decode: keys per split, and the number of splits (1: write out/lse directly).
  chunk: u32,
  splits: u32,
  // Sequences in the batch (read by the flat kernels).
  batch: u32,
}

@group(0) @binding(0) var<uniform> params: Params;

// ---------------------------------------------------------------------------------------------
// write_kv: cache[b, kvh, positions[b] + t, :] = k[b*tokens + t, kvh*HD : (kvh+1)*HD] (same for v).
// One invocation per vec4 of k (and of v).

@group(0) @binding(1) var<storage, read> wk_k: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read> wk_v: array<vec4<f32>>;
@group(0) @binding(3) var<storage, read> wk_positions: array<u32>;
@group(0) @binding(4) var<storage, read_write> wk_kc: array<vec4<f32>>;
@group(0) @binding(5) var<storage, read_write> wk_vc: array<vec4<f32>>;

override HD: u32 = 64u;
override TPQ: u32 = HD / 4u;

@compute @workgroup_size(256)
fn write_kv(@builtin(global_invocation_id) id: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
  let i = flat_index(id, groups, 256u);
  if (i >= params.n) {
    return;
  }
  let c = i % TPQ;
  let rest = i / TPQ;
  let kvh = rest % params.kvHeads;
  let bt = rest / params.kvHeads;
  let b = bt / params.tokens;
  let t = bt % params.tokens;
  let pos = wk_positions[b] + t;
  if (pos >= params.maxSeq) {
    return;
  }
  let dst = ((b * params.kvHeads + kvh) * params.maxSeq + pos) * TPQ + c;
  wk_kc[dst] = wk_k[i];
  wk_vc[dst] = wk_v[i];
}

// ---------------------------------------------------------------------------------------------
// Shared by the attention kernels.

@group(0) @binding(1) var<storage, read> q: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read> kc: array<vec4<f32>>;
@group(0) @binding(3) var<storage, read> vc: array<vec4<f32>>;
@group(0) @binding(4) var<storage, read> positions: array<u32>;
@group(0) @binding(5) var<storage, read_write> out: array<vec4<f32>>;
@group(0) @binding(6) var<storage, read_write> lse: array<f32>;

// ---------------------------------------------------------------------------------------------
// Tiles shared by prefill and the backward kernels.
//
// A workgroup owns BQ "A rows" (query rows in prefill and bw_dq, keys in bw_dkv), each with TPQ
// threads (one vec4 of the row each), WG = BQ * TPQ threads. It walks over tiles of BK "B rows"
// (keys, or query rows in bw_dkv) staged in `tile`. `tile_dots` computes the BQ x BK dot products
// between A rows held in `qa` and the B rows of `tile`, by all threads (P threads per product and a
// sum through `red` when there are fewer products than threads).

override BQ: u32 = 16u;
override BK: u32 = 16u;
override WG: u32 = BQ * TPQ;
override KV4: u32 = BK * TPQ;
override NS: u32 = BQ * BK;
// Sizes of the staging arrays: prefill needs one A block, one tile and two score blocks; the
// backward kernels set QA = 2 WG (and bw_dkv TL = 2 KV4).
override QA: u32 = WG;
override TL: u32 = KV4;
override SA: u32 = 2u * NS;

var<workgroup> qa: array<vec4<f32>, QA>;
var<workgroup> tile: array<vec4<f32>, TL>;
var<workgroup> sa: array<f32, SA>;
var<workgroup> red: array<f32, WG>;
var<workgroup> mrow: array<f32, BQ>;
var<workgroup> tmaxs: array<f32, BQ>;

// sa[dOff + a*BK + j] = qa[aOff + a*TPQ ..] · tile[tOff + j*TPQ ..]. Call from uniform control flow,
// after a barrier that published qa and tile; read the results after another barrier.
fn tile_dots(tid: u32, aOff: u32, tOff: u32, dOff: u32) {
  if (NS >= WG) {
    for (var e = tid; e < NS; e += WG) {
      let ao = aOff + (e / BK) * TPQ;
      let to = tOff + (e % BK) * TPQ;
      var acc = 0.0;
      for (var d = 0u; d < TPQ; d++) {
        acc += dot(qa[ao + d], tile[to + d]);
      }
      sa[dOff + e] = acc;
    }
  } else {
    let P = WG / NS;
    let span = (TPQ + P - 1u) / P;
    let e = tid / P;
    let part = tid % P;
    var acc = 0.0;
    if (e < NS) {
      let ao = aOff + (e / BK) * TPQ;
      let to = tOff + (e % BK) * TPQ;
      let dEnd = min(part * span + span, TPQ);
      for (var d = part * span; d < dEnd; d++) {
        acc += dot(qa[ao + d], tile[to + d]);
      }
    }
    red[tid] = acc;
    workgroupBarrier();
    if (tid < NS) {
      var s = 0.0;
      for (var p = 0u; p < P; p++) {
        s += red[tid * P + p];
      }
      sa[dOff + tid] = s;
    }
    workgroupBarrier();
  }
}

// Stage keys [k0, k0 + BK) of kv row base (k or v cache) into tile[0 .. KV4), zeros past kvEnd.
fn load_kv_tile(tid: u32, fromV: bool, base: u32, k0: u32, kvEnd: u32) {
  for (var i = tid; i < KV4; i += WG) {
    let j = k0 + i / TPQ;
    var x = vec4<f32>(0.0);
    if (j < kvEnd) {
      let g = (base + j) * TPQ + i % TPQ;
      if (fromV) {
        x = vc[g];
      } else {
        x = kc[g];
      }
    }
    tile[i] = x;
  }
}

// ---------------------------------------------------------------------------------------------
// prefill: flash-style attention for any number of tokens.
//
// Workgroup (x, kvh, b) owns BQ query rows of kv head kvh in sequence b; row r stands for token
// r / G of query head kvh*G + r % G (G = heads / kvHeads), so the query heads that share a kv head
// share its K/V tiles. Each row has TPQ threads, each owning one vec4 of the row's output. Keys are
// visited in tiles of BK, each staged in `tile` (K first, then V):
//   1. load the K tile; scores S = (q·scale)·k of the BQ x BK tile (tile_dots);
//   2. load the V tile over the K tile; probabilities p = exp(S - rowmax), one exp per score;
//   3. every thread rescales its row's sum and output vec4 and adds p·v.
// The running max of each row lives in registers (identical in the row's TPQ threads) and in
// `mrow` for step 2. Scores are sa[0, NS), probabilities sa[NS, 2 NS).

@compute @workgroup_size(WG)
fn prefill(@builtin(local_invocation_index) tid: u32, @builtin(workgroup_id) wg: vec3<u32>) {
  let b = wg.z;
  let kvh = wg.y;
  let G = params.heads / params.kvHeads;
  let rows = params.tokens * G;
  let r0 = wg.x * BQ;
  let qi = tid / TPQ;
  let c = tid % TPQ;
  let r = r0 + qi;
  let rowValid = r < rows;
  let t = r / G;
  let h = kvh * G + r % G;
  let pos0 = positions[b];

  var qv = vec4<f32>(0.0);
  if (rowValid) {
    qv = q[((b * params.tokens + t) * params.heads + h) * TPQ + c] * params.scale;
  }
  qa[tid] = qv;
  if (tid < BQ) {
    mrow[tid] = NEG;
  }

  let lastT = (min(r0 + BQ, rows) - 1u) / G;
  let kvEnd = min(pos0 + lastT + 1u, params.maxSeq);
  let base = (b * params.kvHeads + kvh) * params.maxSeq;

  var m = NEG;
  var l = 0.0;
  var o = vec4<f32>(0.0);
  for (var k0 = 0u; k0 < kvEnd; k0 += BK) {
    workgroupBarrier();
    load_kv_tile(tid, false, base, k0, kvEnd);
    workgroupBarrier();
    tile_dots(tid, 0u, 0u, 0u);
    workgroupBarrier();
    load_kv_tile(tid, true, base, k0, kvEnd);
    for (var e = tid; e < NS; e += WG) {
      let row = e / BK;
      let rr = r0 + row;
      // Keys [k0, k0 + n) of this tile are visible to the row.
      let rowEnd = select(0u, min(pos0 + rr / G + 1u, kvEnd), rr < rows);
      let n = select(0u, min(rowEnd - k0, BK), rowEnd > k0);
      var tmax = NEG;
      for (var j = 0u; j < n; j++) {
        tmax = max(tmax, sa[row * BK + j]);
      }
      let mNew = max(mrow[row], tmax);
      sa[NS + e] = select(0.0, exp(sa[e] - mNew), e % BK < n);
      if (e % BK == 0u) {
        tmaxs[row] = tmax;
      }
    }
    workgroupBarrier();
    let mNew = max(m, tmaxs[qi]);
    let alpha = exp(m - mNew);
    var psum = 0.0;
    var acc = vec4<f32>(0.0);
    for (var j = 0u; j < BK; j++) {
      let p = sa[NS + qi * BK + j];
      psum += p;
      acc += p * tile[j * TPQ + c];
    }
    l = l * alpha + psum;
    o = o * alpha + acc;
    m = mNew;
    if (c == 0u) {
      mrow[qi] = mNew;
    }
  }

  if (rowValid) {
    let inv = select(0.0, 1.0 / l, l > 0.0);
    out[((b * params.tokens + t) * params.heads + h) * TPQ + c] = o * inv;
    if (params.n != 0u && c == 0u) {
      lse[(b * params.heads + h) * params.tokens + t] = m + log(l);
    }
  }
}

// ---------------------------------------------------------------------------------------------
// decode: one query per (sequence, head), tokens = 1, split-K over the keys.
//
// Workgroup (h, split, b) covers keys [split*chunk, min((split+1)*chunk, kvEnd)) in tiles of DWG
// keys: thread j scores key j of the tile, a tree reduction gives the tile max, and thread
// (c = tid % TPQ, lane = tid / TPQ) accumulates vec4 c of the output over keys lane, lane + lanes,
// … Partial results (m, l, o) go to `partial` and `combine` merges the splits; with one split the
// kernel writes out (and lse) itself.

override DWG: u32 = 128u;

@group(0) @binding(7) var<storage, read_write> partial: array<f32>;

var<workgroup> dq: array<vec4<f32>, TPQ>;
var<workgroup> dp: array<f32, DWG>;
var<workgroup> dred: array<f32, DWG>;
var<workgroup> dacc: array<vec4<f32>, DWG>;

@compute @workgroup_size(DWG)
fn decode(@builtin(local_invocation_index) tid: u32, @builtin(workgroup_id) wg: vec3<u32>) {
  let h = wg.x;
  let split = wg.y;
  let b = wg.z;
  let kvh = h / (params.heads / params.kvHeads);
  for (var i = tid; i < TPQ; i += DWG) {
    dq[i] = q[(b * params.heads + h) * TPQ + i] * params.scale;
  }
  let kvEnd = min(positions[b] + 1u, params.maxSeq);
  let k0 = split * params.chunk;
  let k1 = min(k0 + params.chunk, kvEnd);
  let base = (b * params.kvHeads + kvh) * params.maxSeq;
  let lanes = DWG / TPQ;
  let c = tid % TPQ;
  let lane = tid / TPQ;

  var m = NEG;
  var l = 0.0; // this thread's share of the sum (its own keys)
  var o = vec4<f32>(0.0);
  workgroupBarrier();
  for (var t0 = k0; t0 < k1; t0 += DWG) {
    let j = t0 + tid;
    var s = NEG;
    if (j < k1) {
      let ko = (base + j) * TPQ;
      var acc = 0.0;
      for (var d = 0u; d < TPQ; d++) {
        acc += dot(dq[d], kc[ko + d]);
      }
      s = acc;
    }
    dred[tid] = s;
    workgroupBarrier();
    for (var stride = DWG / 2u; stride > 0u; stride /= 2u) {
      if (tid < stride) {
        dred[tid] = max(dred[tid], dred[tid + stride]);
      }
      workgroupBarrier();
    }
    let mNew = max(m, dred[0]);
    let alpha = exp(m - mNew);
    let p = select(0.0, exp(s - mNew), j < k1);
    dp[tid] = p;
    l = l * alpha + p;
    m = mNew;
    workgroupBarrier();
    o = o * alpha;
    if (lane < lanes) {
      let n = min(DWG, k1 - t0);
      for (var jj = lane; jj < n; jj += lanes) {
        o += dp[jj] * vc[(base + t0 + jj) * TPQ + c];
      }
    }
    workgroupBarrier();
  }

  // Reduce l over all threads and o over the lanes.
  dred[tid] = l;
  dacc[tid] = select(vec4<f32>(0.0), o, lane < lanes);
  workgroupBarrier();
  for (var stride = DWG / 2u; stride > 0u; stride /= 2u) {
    if (tid < stride) {
      dred[tid] += dred[tid + stride];
    }
    workgroupBarrier();
  }
  let lsum = dred[0];
  if (tid < TPQ) {
    var acc = vec4<f32>(0.0);
    for (var ln = 0u; ln < lanes; ln++) {
      acc += dacc[ln * TPQ + tid];
    }
    let row = b * params.heads + h;
    if (params.splits == 1u) {
      let inv = select(0.0, 1.0 / lsum, lsum > 0.0);
      out[row * TPQ + tid] = acc * inv;
      if (params.n != 0u && tid == 0u) {
        lse[row] = m + log(lsum);
      }
    } else {
      let rec = (row * params.splits + split) * (HD + 4u);
      if (tid == 0u) {
        partial[rec] = m;
        partial[rec + 1u] = lsum;
      }
      let oo = rec + 4u + tid * 4u;
      partial[oo] = acc.x;
      partial[oo + 1u] = acc.y;
      partial[oo + 2u] = acc.z;
      partial[oo + 3u] = acc.w;
    }
  }
}

// combine: merge the decode splits of row (h, b) into out and lse.
@group(0) @binding(1) var<storage, read> cb_partial: array<f32>;
@group(0) @binding(2) var<storage, read_write> cb_out: array<f32>;
@group(0) @binding(3) var<storage, read_write> cb_lse: array<f32>;

@compute @workgroup_size(64)
fn combine(@builtin(local_invocation_index) tid: u32, @builtin(workgroup_id) wg: vec3<u32>) {
  let row = wg.y * params.heads + wg.x;
  let S = params.splits;
  let rec0 = row * S * (HD + 4u);
  var M = NEG;
  for (var s = 0u; s < S; s++) {
    M = max(M, cb_partial[rec0 + s * (HD + 4u)]);
  }
  var L = 0.0;
  for (var s = 0u; s < S; s++) {
    let rec = rec0 + s * (HD + 4u);
    L += cb_partial[rec + 1u] * exp(cb_partial[rec] - M);
  }
  let inv = select(0.0, 1.0 / L, L > 0.0);
  for (var d = tid; d < HD; d += 64u) {
    var acc = 0.0;
    for (var s = 0u; s < S; s++) {
      let rec = rec0 + s * (HD + 4u);
      acc += cb_partial[rec + 4u + d] * exp(cb_partial[rec] - M);
    }
    cb_out[row * HD + d] = acc * inv;
  }
  if (params.n != 0u && tid == 0u) {
    cb_lse[row] = M + log(L);
  }
}

// ---------------------------------------------------------------------------------------------
// Backward (FlashAttention-2 style): probabilities are recomputed from the forward's lse,
// P = exp(S - lse), S = scale q·k. With dO the gradient of out and Δ = rowsum(dO ∘ out):
//   dP = dO·vᵀ,  dS = P ∘ (dP − Δ),  dq = scale dS·k,  dk = scale dSᵀ·q,  dv = Pᵀ·dO.
// bw_stats packs (lse, Δ) per query row; bw_dq owns query rows and loops over key tiles; bw_dkv
// owns keys (the tokens of this call only: cache positions before positions[b] are constants) and
// loops over the query rows that see them, summing over the query heads of the group. No atomics.

@group(0) @binding(1) var<storage, read> st_do: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read> st_o: array<vec4<f32>>;
@group(0) @binding(3) var<storage, read> st_lse: array<f32>;
@group(0) @binding(4) var<storage, read_write> st_stats: array<vec2<f32>>;

// stats[(b*heads + h)*tokens + t] = (lse, Δ); one invocation per query row, params.n rows.
@compute @workgroup_size(64)
fn bw_stats(@builtin(global_invocation_id) id: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
  let i = flat_index(id, groups, 64u);
  if (i >= params.n) {
    return;
  }
  // i = (b*tokens + t)*heads + h: the token-major row of q/out.
  let h = i % params.heads;
  let bt = i / params.heads;
  let t = bt % params.tokens;
  let b = bt / params.tokens;
  var acc = 0.0;
  for (var d = 0u; d < TPQ; d++) {
    acc += dot(st_do[i * TPQ + d], st_o[i * TPQ + d]);
  }
  let s = (b * params.heads + h) * params.tokens + t;
  st_stats[s] = vec2<f32>(st_lse[s], acc);
}

@group(0) @binding(5) var<storage, read> bw_do: array<vec4<f32>>;
@group(0) @binding(6) var<storage, read> bw_stats_in: array<vec2<f32>>;
@group(0) @binding(7) var<storage, read_write> bw_dq_out: array<vec4<f32>>;
@group(0) @binding(7) var<storage, read_write> bw_dk_out: array<vec4<f32>>;
@group(0) @binding(8) var<storage, read_write> bw_dv_out: array<vec4<f32>>;

// bw_dq: workgroup (x, kvh, b) owns BQ query rows as in prefill. qa = [q·scale | dO] rows; per key
// tile: V tile → dP, K tile → S, then dS in place of S, then dq += dS·k.
@compute @workgroup_size(WG)
fn bw_dq(@builtin(local_invocation_index) tid: u32, @builtin(workgroup_id) wg: vec3<u32>) {
  let b = wg.z;
  let kvh = wg.y;
  let G = params.heads / params.kvHeads;
  let rows = params.tokens * G;
  let r0 = wg.x * BQ;
  let qi = tid / TPQ;
  let c = tid % TPQ;
  let r = r0 + qi;
  let rowValid = r < rows;
  let t = r / G;
  let h = kvh * G + r % G;
  let pos0 = positions[b];

  var qv = vec4<f32>(0.0);
  var dov = vec4<f32>(0.0);
  if (rowValid) {
    let g = ((b * params.tokens + t) * params.heads + h) * TPQ + c;
    qv = q[g] * params.scale;
    dov = bw_do[g];
  }
  qa[tid] = qv;
  qa[WG + tid] = dov;

  let lastT = (min(r0 + BQ, rows) - 1u) / G;
  let kvEnd = min(pos0 + lastT + 1u, params.maxSeq);
  let base = (b * params.kvHeads + kvh) * params.maxSeq;

  var dqa = vec4<f32>(0.0);
  for (var k0 = 0u; k0 < kvEnd; k0 += BK) {
    workgroupBarrier();
    load_kv_tile(tid, true, base, k0, kvEnd);
    workgroupBarrier();
    tile_dots(tid, WG, 0u, NS); // dP
    workgroupBarrier();
    load_kv_tile(tid, false, base, k0, kvEnd);
    workgroupBarrier();
    tile_dots(tid, 0u, 0u, 0u); // S
    workgroupBarrier();
    for (var e = tid; e < NS; e += WG) {
      let rr = r0 + e / BK;
      let j = k0 + e % BK;
      var ds = 0.0;
      if (rr < rows && j < kvEnd && j <= pos0 + rr / G) {
        let st = bw_stats_in[(b * params.heads + kvh * G + rr % G) * params.tokens + rr / G];
        ds = exp(sa[e] - st.x) * (sa[NS + e] - st.y);
      }
      sa[e] = ds;
    }
    workgroupBarrier();
    for (var j = 0u; j < BK; j++) {
      dqa += sa[qi * BK + j] * tile[j * TPQ + c];
    }
  }
  if (rowValid) {
    bw_dq_out[((b * params.tokens + t) * params.heads + h) * TPQ + c] = dqa * params.scale;
  }
}

// bw_dkv: workgroup (x, kvh, b) owns BQ keys: tokens x*BQ + kj of this call (cache positions
// positions[b] + token). qa = [k | v] rows of those keys; tile = [q·scale | dO] of BK query rows
// (token t = row / G of head kvh*G + row % G), for all rows with t >= x*BQ. Per row tile:
// S = k·q, dP = v·dO, then P and dS = P (dP − Δ) in sa, then dv += P·dO and dk += dS·(q·scale).
@compute @workgroup_size(WG)
fn bw_dkv(@builtin(local_invocation_index) tid: u32, @builtin(workgroup_id) wg: vec3<u32>) {
  let b = wg.z;
  let kvh = wg.y;
  let G = params.heads / params.kvHeads;
  let rows = params.tokens * G;
  let kt0 = wg.x * BQ;
  let kj = tid / TPQ;
  let c = tid % TPQ;
  let pos0 = positions[b];
  let keyT = kt0 + kj;
  let keyValid = keyT < params.tokens && pos0 + keyT < params.maxSeq;
  let base = (b * params.kvHeads + kvh) * params.maxSeq;

  var kv = vec4<f32>(0.0);
  var vv = vec4<f32>(0.0);
  if (keyValid) {
    let g = (base + pos0 + keyT) * TPQ + c;
    kv = kc[g];
    vv = vc[g];
  }
  qa[tid] = kv;
  qa[WG + tid] = vv;

  var dka = vec4<f32>(0.0);
  var dva = vec4<f32>(0.0);
  for (var rt0 = kt0 * G; rt0 < rows; rt0 += BK) {
    workgroupBarrier();
    for (var i = tid; i < KV4; i += WG) {
      let rr = rt0 + i / TPQ;
      var x = vec4<f32>(0.0);
      var y = vec4<f32>(0.0);
      if (rr < rows) {
        let g = ((b * params.tokens + rr / G) * params.heads + kvh * G + rr % G) * TPQ + i % TPQ;
        x = q[g] * params.scale;
        y = bw_do[g];
      }
      tile[i] = x;
      tile[KV4 + i] = y;
    }
    workgroupBarrier();
    tile_dots(tid, 0u, 0u, 0u); // S (keys x rows)
    tile_dots(tid, WG, KV4, NS); // dP
    workgroupBarrier();
    for (var e = tid; e < NS; e += WG) {
      let kt = kt0 + e / BK;
      let rr = rt0 + e % BK;
      var p = 0.0;
      var ds = 0.0;
      if (rr < rows && kt < params.tokens && pos0 + kt < params.maxSeq && kt <= rr / G) {
        let st = bw_stats_in[(b * params.heads + kvh * G + rr % G) * params.tokens + rr / G];
        p = exp(sa[e] - st.x);
        ds = p * (sa[NS + e] - st.y);
      }
      sa[e] = p;
      sa[NS + e] = ds;
    }
    workgroupBarrier();
    for (var i = 0u; i < BK; i++) {
      dva += sa[kj * BK + i] * tile[KV4 + i * TPQ + c];
      dka += sa[NS + kj * BK + i] * tile[i * TPQ + c];
    }
  }
  if (keyT < params.tokens) {
    let g = ((b * params.tokens + keyT) * params.kvHeads + kvh) * TPQ + c;
    bw_dk_out[g] = dka;
    bw_dv_out[g] = dva;
  }
}

// ---------------------------------------------------------------------------------------------
// Flat (barrier-free) variants for CPU adapters. Each invocation owns one row, keeps its vectors
// in private arrays of FMAX vec4 (so HD <= 4 FMAX) and reads K/V (or q/dO) straight from storage,
// four rows at a time: the four dot products of a block accumulate in one vec4, and rows past the
// end are clamped to the last valid one for the loads and masked out of the math. No workgroup
// memory, no barriers. The flat index is id.x + id.y * num_workgroups.x * FWG (linearGroups).

const FMAX: u32 = 32u;
override FWG: u32 = 32u;

// flat_fwd: prefill and decode. Invocation i = row * splits + split, row = (b*tokens + t)*heads + h
// (the token-major row of q and out). It covers keys [split*chunk, min(split*chunk + chunk, end))
// of the row's visible keys [0, end), end = min(positions[b] + t + 1, maxSeq), with an online
// softmax (running max m, sum l, output o), and writes out and lse (splits == 1) or its partial
// record (m, l, -, -, o) for `combine` (tokens == 1).
@compute @workgroup_size(FWG)
fn flat_fwd(@builtin(global_invocation_id) id: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
  let i = flat_index(id, groups, FWG);
  let S = params.splits;
  let row = i / S;
  let split = i % S;
  if (row >= params.batch * params.tokens * params.heads) {
    return;
  }
  let h = row % params.heads;
  let bt = row / params.heads;
  let t = bt % params.tokens;
  let b = bt / params.tokens;
  let kvh = h / (params.heads / params.kvHeads);
  let kvEnd = min(positions[b] + t + 1u, params.maxSeq);
  let k0 = split * params.chunk;
  let k1 = min(k0 + params.chunk, kvEnd);
  let base = (b * params.kvHeads + kvh) * params.maxSeq;

  var qv: array<vec4<f32>, FMAX>;
  var o: array<vec4<f32>, FMAX>;
  for (var d = 0u; d < TPQ; d++) {
    qv[d] = q[row * TPQ + d] * params.scale;
    o[d] = vec4<f32>(0.0);
  }
  var m = NEG;
  var l = 0.0;
  for (var j = k0; j < k1; j += 4u) {
    let last = k1 - 1u;
    let r0 = (base + j) * TPQ;
    let r1 = (base + min(j + 1u, last)) * TPQ;
    let r2 = (base + min(j + 2u, last)) * TPQ;
    let r3 = (base + min(j + 3u, last)) * TPQ;
    var s = vec4<f32>(0.0);
    for (var d = 0u; d < TPQ; d++) {
      let x = qv[d];
      s += vec4<f32>(dot(x, kc[r0 + d]), dot(x, kc[r1 + d]), dot(x, kc[r2 + d]), dot(x, kc[r3 + d]));
    }
    let valid = vec4<u32>(j, j + 1u, j + 2u, j + 3u) < vec4<u32>(k1);
    s = select(vec4<f32>(NEG), s, valid);
    let mNew = max(m, max(max(s.x, s.y), max(s.z, s.w)));
    let alpha = exp(m - mNew);
    let p = select(vec4<f32>(0.0), exp(s - mNew), valid);
    l = l * alpha + (p.x + p.y + p.z + p.w);
    for (var d = 0u; d < TPQ; d++) {
      o[d] = o[d] * alpha + p.x * vc[r0 + d] + p.y * vc[r1 + d] + p.z * vc[r2 + d] + p.w * vc[r3 + d];
    }
    m = mNew;
  }

  if (S == 1u) {
    let inv = select(0.0, 1.0 / l, l > 0.0);
    for (var d = 0u; d < TPQ; d++) {
      out[row * TPQ + d] = o[d] * inv;
    }
    if (params.n != 0u) {
      lse[(b * params.heads + h) * params.tokens + t] = m + log(l);
    }
  } else {
    let rec = i * (HD + 4u);
    partial[rec] = m;
    partial[rec + 1u] = l;
    for (var d = 0u; d < TPQ; d++) {
      let oo = rec + 4u + d * 4u;
      partial[oo] = o[d].x;
      partial[oo + 1u] = o[d].y;
      partial[oo + 2u] = o[d].z;
      partial[oo + 3u] = o[d].w;
    }
  }
}

// flat_dq: invocation row = (b*tokens + t)*heads + h over the row's visible keys j:
// s = (q·scale)·k_j, dp = dO·v_j, ds = exp(s − lse)(dp − Δ), dq = scale Σ ds k_j.
@compute @workgroup_size(FWG)
fn flat_dq(@builtin(global_invocation_id) id: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
  let row = flat_index(id, groups, FWG);
  if (row >= params.batch * params.tokens * params.heads) {
    return;
  }
  let h = row % params.heads;
  let bt = row / params.heads;
  let t = bt % params.tokens;
  let b = bt / params.tokens;
  let kvh = h / (params.heads / params.kvHeads);
  let kvEnd = min(positions[b] + t + 1u, params.maxSeq);
  let base = (b * params.kvHeads + kvh) * params.maxSeq;
  let st = bw_stats_in[(b * params.heads + h) * params.tokens + t];

  var qv: array<vec4<f32>, FMAX>;
  var dov: array<vec4<f32>, FMAX>;
  var acc: array<vec4<f32>, FMAX>;
  for (var d = 0u; d < TPQ; d++) {
    qv[d] = q[row * TPQ + d] * params.scale;
    dov[d] = bw_do[row * TPQ + d];
    acc[d] = vec4<f32>(0.0);
  }
  for (var j = 0u; j < kvEnd; j += 4u) {
    let last = kvEnd - 1u;
    let r0 = (base + j) * TPQ;
    let r1 = (base + min(j + 1u, last)) * TPQ;
    let r2 = (base + min(j + 2u, last)) * TPQ;
    let r3 = (base + min(j + 3u, last)) * TPQ;
    var s = vec4<f32>(0.0);
    var dp = vec4<f32>(0.0);
    for (var d = 0u; d < TPQ; d++) {
      let x = qv[d];
      let y = dov[d];
      s += vec4<f32>(dot(x, kc[r0 + d]), dot(x, kc[r1 + d]), dot(x, kc[r2 + d]), dot(x, kc[r3 + d]));
      dp += vec4<f32>(dot(y, vc[r0 + d]), dot(y, vc[r1 + d]), dot(y, vc[r2 + d]), dot(y, vc[r3 + d]));
    }
    let valid = vec4<u32>(j, j + 1u, j + 2u, j + 3u) < vec4<u32>(kvEnd);
    let ds = select(vec4<f32>(0.0), exp(s - st.x) * (dp - st.y), valid);
    for (var d = 0u; d < TPQ; d++) {
      acc[d] += ds.x * kc[r0 + d] + ds.y * kc[r1 + d] + ds.z * kc[r2 + d] + ds.w * kc[r3 + d];
    }
  }
  for (var d = 0u; d < TPQ; d++) {
    bw_dq_out[row * TPQ + d] = acc[d] * params.scale;
  }
}

// flat_dkv: invocation i = (b*tokens + kt)*kvHeads + kvh (the writeKv row of the key at cache
// position positions[b] + kt) over the query rows that see it: tokens t >= kt of every query head
// of the group. p = exp(s − lse), ds = p (dp − Δ), dv = Σ p dO, dk = scale Σ ds q. Keys past
// maxSeq were never written and get zeros.
@compute @workgroup_size(FWG)
fn flat_dkv(@builtin(global_invocation_id) id: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
  let i = flat_index(id, groups, FWG);
  if (i >= params.batch * params.tokens * params.kvHeads) {
    return;
  }
  let kvh = i % params.kvHeads;
  let bt = i / params.kvHeads;
  let kt = bt % params.tokens;
  let b = bt / params.tokens;
  let G = params.heads / params.kvHeads;
  let keyPos = positions[b] + kt;

  var kv: array<vec4<f32>, FMAX>;
  var vv: array<vec4<f32>, FMAX>;
  var dk: array<vec4<f32>, FMAX>;
  var dv: array<vec4<f32>, FMAX>;
  let valid = keyPos < params.maxSeq;
  let g0 = ((b * params.kvHeads + kvh) * params.maxSeq + min(keyPos, params.maxSeq - 1u)) * TPQ;
  for (var d = 0u; d < TPQ; d++) {
    kv[d] = kc[g0 + d] * params.scale;
    vv[d] = vc[g0 + d];
    dk[d] = vec4<f32>(0.0);
    dv[d] = vec4<f32>(0.0);
  }
  // Query rows of this sequence and group: t in [kt, tokens), head kvh*G + g, four tokens a block.
  let tEnd = select(kt, params.tokens, valid);
  for (var g = 0u; g < G; g++) {
    let h = kvh * G + g;
    let stBase = (b * params.heads + h) * params.tokens;
    for (var t = kt; t < tEnd; t += 4u) {
      let last = tEnd - 1u;
      let t1 = min(t + 1u, last);
      let t2 = min(t + 2u, last);
      let t3 = min(t + 3u, last);
      let r0 = ((b * params.tokens + t) * params.heads + h) * TPQ;
      let r1 = ((b * params.tokens + t1) * params.heads + h) * TPQ;
      let r2 = ((b * params.tokens + t2) * params.heads + h) * TPQ;
      let r3 = ((b * params.tokens + t3) * params.heads + h) * TPQ;
      var s = vec4<f32>(0.0);
      var dp = vec4<f32>(0.0);
      for (var d = 0u; d < TPQ; d++) {
        let x = kv[d];
        let y = vv[d];
        s += vec4<f32>(dot(x, q[r0 + d]), dot(x, q[r1 + d]), dot(x, q[r2 + d]), dot(x, q[r3 + d]));
        dp += vec4<f32>(dot(y, bw_do[r0 + d]), dot(y, bw_do[r1 + d]), dot(y, bw_do[r2 + d]), dot(y, bw_do[r3 + d]));
      }
      let s0 = bw_stats_in[stBase + t];
      let s1 = bw_stats_in[stBase + t1];
      let s2 = bw_stats_in[stBase + t2];
      let s3 = bw_stats_in[stBase + t3];
      let inRange = vec4<u32>(t, t + 1u, t + 2u, t + 3u) < vec4<u32>(tEnd);
      let p = select(vec4<f32>(0.0), exp(s - vec4<f32>(s0.x, s1.x, s2.x, s3.x)), inRange);
      let ds = p * (dp - vec4<f32>(s0.y, s1.y, s2.y, s3.y));
      for (var d = 0u; d < TPQ; d++) {
        dv[d] += p.x * bw_do[r0 + d] + p.y * bw_do[r1 + d] + p.z * bw_do[r2 + d] + p.w * bw_do[r3 + d];
        dk[d] += ds.x * q[r0 + d] + ds.y * q[r1 + d] + ds.z * q[r2 + d] + ds.w * q[r3 + d];
      }
    }
  }
  for (var d = 0u; d < TPQ; d++) {
    bw_dk_out[i * TPQ + d] = dk[d] * params.scale;
    bw_dv_out[i * TPQ + d] = dv[d];
  }
}
