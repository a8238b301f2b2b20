// RMSNorm over the last dim D of x viewed as [rows, D]: y = x / sqrt(mean(x²) + eps) * weight.
// One workgroup per row (row = workgroup_id.x + workgroup_id.y * num_workgroups.x), each thread
// strides over the row, sums go through a workgroup-memory tree reduction. WG (a power of two ≤
// 256) is an override so short rows (per-head q/k-norm, D = 64 or 128) do not idle 256 threads.
// Forward and backward side by side; entry points reuse binding numbers with different roles.

struct Params {
  rows: u32,
  dim: u32,
  eps: f32,
  // rmsNorm backward, dweight partials: rows summed per workgroup and number of row blocks.
  rows_per_block: u32,
  blocks: u32,
}

override WG: u32 = 256u;

@group(0) @binding(0) var<uniform> params: Params;

// rms_norm / rms_norm_save
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read> weight: array<f32>;
@group(0) @binding(3) var<storage, read_write> y: array<f32>;
@group(0) @binding(4) var<storage, read_write> rstd_out: array<f32>;

var<workgroup> partial: array<f32, 256>;

// Sum of `v` over the workgroup. Every thread must call it (uniform control flow).
fn workgroup_sum(lid: u32, v: f32) -> f32 {
  partial[lid] = v;
  workgroupBarrier();
  for (var s = WG / 2u; s > 0u; s = s >> 1u) {
    if (lid < s) {
      partial[lid] = partial[lid] + partial[lid + s];
    }
    workgroupBarrier();
  }
  let total = partial[0];
  workgroupBarrier(); // the next call may overwrite partial[0]
  return total;
}

// Normalises one row and returns its 1/rms.
fn rms_norm_row(row: u32, lid: u32) -> f32 {
  let base = row * params.dim;
  var ss = 0.0;
  for (var j = lid; j < params.dim; j += WG) {
    let v = x[base + j];
    ss += v * v;
  }
  let total = workgroup_sum(lid, ss);
  let r = inverseSqrt(total / f32(params.dim) + params.eps);
  for (var j = lid; j < params.dim; j += WG) {
    y[base + j] = x[base + j] * r * weight[j];
  }
  return r;
}

@compute @workgroup_size(WG)
fn rms_norm(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let row = wid.x + wid.y * groups.x;
  if (row >= params.rows) {
    return;
  }
  _ = rms_norm_row(row, lid);
}

@compute @workgroup_size(WG)
fn rms_norm_save(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let row = wid.x + wid.y * groups.x;
  if (row >= params.rows) {
    return;
  }
  let r = rms_norm_row(row, lid);
  if (lid == 0u) {
    rstd_out[row] = r;
  }
}

// ---- Backward ----------------------------------------------------------------------------------
// With r = 1/rms (saved by rms_norm_save) and g = dy ⊙ weight:
//   dx = r · g − (r³ / D) · (Σ_j g_j x_j) · x
//   dweight_j = Σ_rows dy_j · x_j · r   (two passes: per-block partial sums, then a sum over blocks)

// rms_norm_backward_dx: x (1) and weight (2) as in the forward, then
@group(0) @binding(3) var<storage, read_write> dx: array<f32>;
@group(0) @binding(4) var<storage, read> rstd_in: array<f32>;
@group(0) @binding(5) var<storage, read> dy: array<f32>;

@compute @workgroup_size(WG)
fn rms_norm_backward_dx(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let row = wid.x + wid.y * groups.x;
  if (row >= params.rows) {
    return;
  }
  let base = row * params.dim;
  var dot = 0.0;
  for (var j = lid; j < params.dim; j += WG) {
    dot += dy[base + j] * weight[j] * x[base + j];
  }
  let total = workgroup_sum(lid, dot);
  let r = rstd_in[row];
  let k = r * r * r * total / f32(params.dim);
  for (var j = lid; j < params.dim; j += WG) {
    dx[base + j] = r * dy[base + j] * weight[j] - k * x[base + j];
  }
}

// rms_norm_dweight_partial: partial[b, j] = Σ over rows of block b of dy·x·r. One thread per column,
// workgroups over (column tiles of 256, row blocks).
@group(0) @binding(1) var<storage, read> dw_dy: array<f32>;
@group(0) @binding(2) var<storage, read> dw_x: array<f32>;
@group(0) @binding(3) var<storage, read> dw_rstd: array<f32>;
@group(0) @binding(4) var<storage, read_write> dw_partial: array<f32>;

@compute @workgroup_size(256)
fn rms_norm_dweight_partial(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(workgroup_id) wid: vec3<u32>) {
  let j = gid.x;
  let b = wid.y;
  if (j >= params.dim) {
    return;
  }
  let start = b * params.rows_per_block;
  let end = min(start + params.rows_per_block, params.rows);
  var acc = 0.0;
  for (var r = start; r < end; r++) {
    acc += dw_dy[r * params.dim + j] * dw_x[r * params.dim + j] * dw_rstd[r];
  }
  dw_partial[b * params.dim + j] = acc;
}

// rms_norm_dweight_reduce: dweight[j] = Σ_b partial[b, j].
@group(0) @binding(1) var<storage, read> red_partial: array<f32>;
@group(0) @binding(2) var<storage, read_write> dweight: array<f32>;

@compute @workgroup_size(256)
fn rms_norm_dweight_reduce(@builtin(global_invocation_id) gid: vec3<u32>) {
  let j = gid.x;
  if (j >= params.dim) {
    return;
  }
  var acc = 0.0;
  for (var b = 0u; b < params.blocks; b++) {
    acc += red_partial[b * params.dim + j];
  }
  dweight[j] = acc;
}
