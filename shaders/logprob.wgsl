// Fused token log-prob / entropy over vocabulary blocks (forward), and its backward.
//
// Forward: the wrapper computes one block of logits [rows, cols] = h · W[col_start : col_start+cols]ᵀ
// with the matmul kernels, then `lp_block` folds it into a per-row running state
//   m = max z,  s = Σ exp(z − m),  t = Σ exp(z − m)·(z − m),  zt = z[target]      (z = logit / T)
// merged online across blocks (t is kept relative to m, so entropy = log s − t/s needs no
// cancellation against m). On the last block it writes logZ = m + log s, entropy = log s − t/s and
// logprob = zt − logZ, so no [rows, vocab] logits ever exist.
//
// Backward, per block: `lp_dlogits` turns the recomputed block logits into dL/dlogit in place,
//   dz = gL·(onehot − p) − gE·p·(z − E[z]),  dlogit = dz / T,  p = exp(z − logZ), E[z] = logZ − H,
// and `lp_dhidden` accumulates dh += dlogit · W[block] (f32 / packed f16 / packed bf16 weights).

// ---------------------------------------------------------------------------------------------
// Forward: fold one block of logits into the running state (one workgroup per row; the `_flat`
// variants below take one invocation per row and no barriers).

struct BlockParams {
  rows: u32,
  cols: u32,      // logits in this block (the block's row stride)
  col_start: u32, // vocabulary index of the block's column 0
  first: u32,     // 1 on the first block: no previous state
  last: u32,      // 1 on the last block: write the outputs
  temperature: f32,
}

@group(0) @binding(0) var<uniform> bp: BlockParams;
@group(0) @binding(1) var<storage, read> block: array<f32>;
@group(0) @binding(2) var<storage, read> targets: array<u32>;
@group(0) @binding(3) var<storage, read_write> state: array<vec4<f32>>;
@group(0) @binding(4) var<storage, read_write> out_logprob: array<f32>;
@group(0) @binding(5) var<storage, read_write> out_entropy: array<f32>;
@group(0) @binding(6) var<storage, read_write> out_logz: array<f32>;

const WG: u32 = 256u;
var<workgroup> red_a: array<f32, WG>;
var<workgroup> red_b: array<f32, WG>;

@compute @workgroup_size(256)
fn lp_block(
  @builtin(workgroup_id) wg: vec3<u32>,
  @builtin(num_workgroups) groups: vec3<u32>,
  @builtin(local_invocation_index) lid: u32,
) {
  let row = wg.x + wg.y * groups.x;
  if (row >= bp.rows) {
    return;
  }
  let base = row * bp.cols;
  let temp = bp.temperature;

  // Block max of z.
  var mx = -3.0e38;
  for (var j = lid; j < bp.cols; j += WG) {
    mx = max(mx, block[base + j] / temp);
  }
  red_a[lid] = mx;
  workgroupBarrier();
  for (var s = WG / 2u; s > 0u; s >>= 1u) {
    if (lid < s) {
      red_a[lid] = max(red_a[lid], red_a[lid + s]);
    }
    workgroupBarrier();
  }
  let mb = red_a[0];
  workgroupBarrier();

  // Σ exp(z − mb) and Σ exp(z − mb)·(z − mb).
  var sa = 0.0;
  var ta = 0.0;
  for (var j = lid; j < bp.cols; j += WG) {
    let d = block[base + j] / temp - mb;
    let e = exp(d);
    sa += e;
    ta += e * d;
  }
  red_a[lid] = sa;
  red_b[lid] = ta;
  workgroupBarrier();
  for (var s = WG / 2u; s > 0u; s >>= 1u) {
    if (lid < s) {
      red_a[lid] += red_a[lid + s];
      red_b[lid] += red_b[lid + s];
    }
    workgroupBarrier();
  }

  if (lid == 0u) {
    let tgt = targets[row];
    var zt_new = 0.0;
    if (tgt >= bp.col_start && tgt - bp.col_start < bp.cols) {
      zt_new = block[base + tgt - bp.col_start] / temp;
    }
    lp_fold(row, mb, red_a[0], red_b[0], zt_new);
  }
}

// Merge one row's block statistics (block max mb, Σ exp(z − mb), Σ exp(z − mb)·(z − mb), and the
// target's z when the target is in this block, else 0) into its running state; write the outputs
// on the last block.
fn lp_fold(row: u32, mb: f32, sb: f32, tb: f32, zt_block: f32) {
  var m = mb;
  var s = sb;
  var t = tb;
  var zt = zt_block;
  if (bp.first == 0u) {
    let old = state[row];
    m = max(old.x, mb);
    let a = exp(old.x - m);
    let b = exp(mb - m);
    s = old.y * a + sb * b;
    // Re-centre both partial t sums on the new max before adding them.
    t = a * (old.z + (old.x - m) * old.y) + b * (tb + (mb - m) * sb);
    let tgt = targets[row];
    if (!(tgt >= bp.col_start && tgt - bp.col_start < bp.cols)) {
      zt = old.w;
    }
  }
  if (bp.last != 0u) {
    let log_s = log(s);
    let logz = m + log_s;
    out_logz[row] = logz;
    out_entropy[row] = max(log_s - t / s, 0.0);
    out_logprob[row] = zt - logz;
  } else {
    state[row] = vec4<f32>(m, s, t, zt);
  }
}

// Barrier-free variants for CPU adapters (SwiftShader runs each workgroupBarrier as a thread sync):
// one invocation per row makes two passes over the row's block logits (max, then the exp sums).
// `lp_block_flat4` reads vec4s through a vec4 view of the block (cols % 4 == 0). Rows are
// id.x + id.y * num_workgroups.x * FLAT_WG.
const FLAT_WG: u32 = 16u;
@group(0) @binding(1) var<storage, read> block4: array<vec4<f32>>;

@compute @workgroup_size(FLAT_WG)
fn lp_block_flat(@builtin(global_invocation_id) id: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
  let row = flat_index(id, groups, FLAT_WG);
  if (row >= bp.rows) {
    return;
  }
  let base = row * bp.cols;
  let temp = bp.temperature;
  var mb = -3.0e38;
  for (var j = 0u; j < bp.cols; j++) {
    mb = max(mb, block[base + j] / temp);
  }
  var sa = 0.0;
  var ta = 0.0;
  for (var j = 0u; j < bp.cols; j++) {
    let d = block[base + j] / temp - mb;
    let e = exp(d);
    sa += e;
    ta += e * d;
  }
  let tgt = targets[row];
  var zt_new = 0.0;
  if (tgt >= bp.col_start && tgt - bp.col_start < bp.cols) {
    zt_new = block[base + tgt - bp.col_start] / temp;
  }
  lp_fold(row, mb, sa, ta, zt_new);
}

@compute @workgroup_size(FLAT_WG)
fn lp_block_flat4(@builtin(global_invocation_id) id: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
  let row = flat_index(id, groups, FLAT_WG);
  if (row >= bp.rows) {
    return;
  }
  let n4 = bp.cols >> 2u;
  let base = row * n4;
  let temp = bp.temperature;
  var mx = vec4<f32>(-3.0e38);
  for (var j = 0u; j < n4; j++) {
    mx = max(mx, block4[base + j] / temp);
  }
  let mb = max(max(mx.x, mx.y), max(mx.z, mx.w));
  var sa = vec4<f32>();
  var ta = vec4<f32>();
  for (var j = 0u; j < n4; j++) {
    let d = block4[base + j] / temp - mb;
    let e = exp(d);
    sa += e;
    ta += e * d;
  }
  let tgt = targets[row];
  var zt_new = 0.0;
  if (tgt >= bp.col_start && tgt - bp.col_start < bp.cols) {
    let c = tgt - bp.col_start;
    zt_new = block4[base + (c >> 2u)][c & 3u] / temp;
  }
  lp_fold(row, mb, sa.x + sa.y + sa.z + sa.w, ta.x + ta.y + ta.z + ta.w, zt_new);
}

// ---------------------------------------------------------------------------------------------
// Backward: block logits → dL/dlogit in place (one invocation per logit, no barriers: used on
// every adapter).

struct DlogitsParams {
  rows: u32,
  cols: u32,
  col_start: u32,
  use_entropy: u32, // 0: no entropy gradient (g_entropy is not read)
  temperature: f32,
}

@group(0) @binding(0) var<uniform> dp: DlogitsParams;
@group(0) @binding(1) var<storage, read_write> dblock: array<f32>;
@group(0) @binding(2) var<storage, read> d_targets: array<u32>;
@group(0) @binding(3) var<storage, read> d_logz: array<f32>;
@group(0) @binding(4) var<storage, read> d_entropy: array<f32>;
@group(0) @binding(5) var<storage, read> g_logprob: array<f32>;
@group(0) @binding(6) var<storage, read> g_entropy: array<f32>;

@compute @workgroup_size(256)
fn lp_dlogits(@builtin(global_invocation_id) id: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
  let i = flat_index(id, groups, 256u);
  if (i >= dp.rows * dp.cols) {
    return;
  }
  let row = i / dp.cols;
  let j = i - row * dp.cols;
  let z = dblock[i] / dp.temperature;
  let logz = d_logz[row];
  let p = exp(z - logz);
  var onehot = 0.0;
  if (d_targets[row] == dp.col_start + j) {
    onehot = 1.0;
  }
  var dz = g_logprob[row] * (onehot - p);
  if (dp.use_entropy != 0u) {
    let ez = logz - d_entropy[row];
    dz -= g_entropy[row] * p * (z - ez);
  }
  dblock[i] = dz / dp.temperature;
}

// ---------------------------------------------------------------------------------------------
// Backward: dh[rows, H] (+)= dlogit[rows, k0 : k0+kn] · W[chunk rows w0 : w0+kn, :].
// 64×64 output tile per workgroup, 4×4 per thread, K steps of 16.

struct DhParams {
  rows: u32,   // M
  hidden: u32, // H (= W's columns)
  ld: u32,     // row stride of dlogit
  k0: u32,     // first dlogit column used
  kn: u32,     // number of K terms (weight rows) in this dispatch
  w0: u32,     // first weight row inside the chunk buffer
  accumulate: u32,
}

override DTYPE: u32 = 0u; // 0 f32, 1 packed f16, 2 packed bf16

@group(0) @binding(0) var<uniform> hp: DhParams;
@group(0) @binding(1) var<storage, read> h_dlogit: array<f32>;
@group(0) @binding(2) var<storage, read> h_w: array<u32>;
@group(0) @binding(3) var<storage, read_write> h_out: array<f32>;

const T_MN: u32 = 64u;
const T_K: u32 = 16u;
var<workgroup> tile_a: array<f32, 1024>; // [64 rows][16 k]
var<workgroup> tile_b: array<f32, 1024>; // [16 k][64 cols]

fn weight_at(r: u32, c: u32) -> f32 {
  let e = r * hp.hidden + c;
  return decode_weight(DTYPE, h_w[weight_word(DTYPE, e)], e);
}

@compute @workgroup_size(16, 16)
fn lp_dhidden(
  @builtin(workgroup_id) wg: vec3<u32>,
  @builtin(local_invocation_id) lid3: vec3<u32>,
  @builtin(local_invocation_index) lid: u32,
) {
  let row0 = wg.y * T_MN;
  let col0 = wg.x * T_MN;
  var acc: array<array<f32, 4>, 4>;
  for (var k = 0u; k < hp.kn; k += T_K) {
    // Each of the 256 threads loads 4 elements of each tile.
    for (var q = 0u; q < 4u; q++) {
      let e = lid + q * 256u;
      // tile_a[r][kk]: dlogit[row0 + r, k0 + k + kk]
      let ar = e / T_K;
      let ak = e % T_K;
      var av = 0.0;
      if (row0 + ar < hp.rows && k + ak < hp.kn) {
        av = h_dlogit[(row0 + ar) * hp.ld + hp.k0 + k + ak];
      }
      tile_a[e] = av;
      // tile_b[kk][c]: W[w0 + k + kk, col0 + c]
      let bk = e / T_MN;
      let bc = e % T_MN;
      var bv = 0.0;
      if (k + bk < hp.kn && col0 + bc < hp.hidden) {
        bv = weight_at(hp.w0 + k + bk, col0 + bc);
      }
      tile_b[e] = bv;
    }
    workgroupBarrier();
    for (var kk = 0u; kk < T_K; kk++) {
      var a: array<f32, 4>;
      var b: array<f32, 4>;
      for (var i = 0u; i < 4u; i++) {
        a[i] = tile_a[(lid3.y * 4u + i) * T_K + kk];
        b[i] = tile_b[kk * T_MN + lid3.x * 4u + i];
      }
      for (var i = 0u; i < 4u; i++) {
        for (var j = 0u; j < 4u; j++) {
          acc[i][j] += a[i] * b[j];
        }
      }
    }
    workgroupBarrier();
  }
  for (var i = 0u; i < 4u; i++) {
    let r = row0 + lid3.y * 4u + i;
    if (r >= hp.rows) {
      continue;
    }
    for (var j = 0u; j < 4u; j++) {
      let c = col0 + lid3.x * 4u + j;
      if (c < hp.hidden) {
        let o = r * hp.hidden + c;
        if (hp.accumulate != 0u) {
          h_out[o] += acc[i][j];
        } else {
          h_out[o] = acc[i][j];
        }
      }
    }
  }
}

// Barrier-free lp_dhidden for CPU adapters: each invocation computes a 4×4 output tile (4 rows × 4
// hidden columns) straight from storage, workgroups of 8×8 invocations cover 32×32 outputs.
@compute @workgroup_size(8, 8)
fn lp_dhidden_flat(@builtin(global_invocation_id) id: vec3<u32>) {
  let c0 = id.x * 4u;
  let r0 = id.y * 4u;
  if (c0 >= hp.hidden || r0 >= hp.rows) {
    return;
  }
  // Clamped rows and columns (their results are not written) keep every load in bounds.
  var rb: array<u32, 4>;
  var cs: array<u32, 4>;
  for (var i = 0u; i < 4u; i++) {
    rb[i] = min(r0 + i, hp.rows - 1u) * hp.ld + hp.k0;
    cs[i] = min(c0 + i, hp.hidden - 1u);
  }
  var acc0 = vec4<f32>();
  var acc1 = vec4<f32>();
  var acc2 = vec4<f32>();
  var acc3 = vec4<f32>();
  for (var k = 0u; k < hp.kn; k++) {
    let wr = hp.w0 + k;
    let b = vec4<f32>(weight_at(wr, cs[0]), weight_at(wr, cs[1]), weight_at(wr, cs[2]), weight_at(wr, cs[3]));
    acc0 += h_dlogit[rb[0] + k] * b;
    acc1 += h_dlogit[rb[1] + k] * b;
    acc2 += h_dlogit[rb[2] + k] * b;
    acc3 += h_dlogit[rb[3] + k] * b;
  }
  let acc = array<vec4<f32>, 4>(acc0, acc1, acc2, acc3);
  for (var i = 0u; i < 4u; i++) {
    let r = r0 + i;
    if (r >= hp.rows) {
      break;
    }
    for (var j = 0u; j < 4u; j++) {
      let c = c0 + j;
      if (c < hp.hidden) {
        let o = r * hp.hidden + c;
        if (hp.accumulate != 0u) {
          h_out[o] += acc[i][j];
        } else {
          h_out[o] = acc[i][j];
        }
      }
    }
  }
}
