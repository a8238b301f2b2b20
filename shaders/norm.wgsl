// RMSNorm over the last dim D of x viewed as [rows, D]: y = x / sqrt(mean(x²) + eps) * weight.
// One workgroup per row (row = workgroup_id.x + workgroup_id.y * num_workgroups.x), each thread
// strides over the row, sums go through a workgroup-memory tree reduction. WG (a power of two ≤
// 256) is an override so short rows (per-head q/k-norm, D = 64 or 128) do not idle 256 threads.
// Forward and backward side by side; entry points reuse binding numbers with different roles.
//
// `*_flat` / `*_flat4` entry points are the barrier-free variants for CPU adapters (SwiftShader runs
// every workgroupBarrier as a thread sync, 10–50× the cost of the math here): one invocation per
// row loops over the whole row, no workgroup memory. `*_flat4` read vec4s (dim % 4 == 0), through
// vec4 views of the same bindings. Rows are id.x + id.y * num_workgroups.x * FLAT_WG.

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

// ---- Barrier-free forward (CPU adapters) --------------------------------------------------------

const FLAT_WG: u32 = 16u;

@group(0) @binding(1) var<storage, read> x4: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read> weight4: array<vec4<f32>>;
@group(0) @binding(3) var<storage, read_write> y4: array<vec4<f32>>;

fn flat_row(id: vec3<u32>, groups: vec3<u32>) -> u32 {
  return flat_index(id, groups, FLAT_WG);
}

fn rms_norm_row_flat(row: u32) -> f32 {
  let base = row * params.dim;
  var ss = 0.0;
  for (var j = 0u; j < params.dim; j++) {
    let v = x[base + j];
    ss += v * v;
  }
  let r = inverseSqrt(ss / f32(params.dim) + params.eps);
  for (var j = 0u; j < params.dim; j++) {
    y[base + j] = x[base + j] * r * weight[j];
  }
  return r;
}

fn rms_norm_row_flat4(row: u32) -> f32 {
  let n4 = params.dim >> 2u;
  let base = row * n4;
  var ss = vec4<f32>();
  for (var j = 0u; j < n4; j++) {
    let v = x4[base + j];
    ss += v * v;
  }
  let r = inverseSqrt((ss.x + ss.y + ss.z + ss.w) / f32(params.dim) + params.eps);
  for (var j = 0u; j < n4; j++) {
    y4[base + j] = x4[base + j] * r * weight4[j];
  }
  return r;
}

@compute @workgroup_size(FLAT_WG)
fn rms_norm_flat(@builtin(global_invocation_id) id: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
  let row = flat_row(id, groups);
  if (row < params.rows) {
    _ = rms_norm_row_flat(row);
  }
}

@compute @workgroup_size(FLAT_WG)
fn rms_norm_save_flat(@builtin(global_invocation_id) id: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
  let row = flat_row(id, groups);
  if (row < params.rows) {
    rstd_out[row] = rms_norm_row_flat(row);
  }
}

@compute @workgroup_size(FLAT_WG)
fn rms_norm_flat4(@builtin(global_invocation_id) id: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
  let row = flat_row(id, groups);
  if (row < params.rows) {
    _ = rms_norm_row_flat4(row);
  }
}

@compute @workgroup_size(FLAT_WG)
fn rms_norm_save_flat4(@builtin(global_invocation_id) id: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
  let row = flat_row(id, groups);
  if (row < params.rows) {
    rstd_out[row] = rms_norm_row_flat4(row);
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

// Barrier-free dx (CPU adapters): one invocation per row, scalar or vec4 (dim % 4 == 0).
@group(0) @binding(3) var<storage, read_write> dx4: array<vec4<f32>>;
@group(0) @binding(5) var<storage, read> dy4: array<vec4<f32>>;

@compute @workgroup_size(FLAT_WG)
fn rms_norm_backward_dx_flat(@builtin(global_invocation_id) id: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
  let row = flat_row(id, groups);
  if (row >= params.rows) {
    return;
  }
  let base = row * params.dim;
  var dot = 0.0;
  for (var j = 0u; j < params.dim; j++) {
    dot += dy[base + j] * weight[j] * x[base + j];
  }
  let r = rstd_in[row];
  let k = r * r * r * dot / f32(params.dim);
  for (var j = 0u; j < params.dim; j++) {
    dx[base + j] = r * dy[base + j] * weight[j] - k * x[base + j];
  }
}

@compute @workgroup_size(FLAT_WG)
fn rms_norm_backward_dx_flat4(@builtin(global_invocation_id) id: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
  let row = flat_row(id, groups);
  if (row >= params.rows) {
    return;
  }
  let n4 = params.dim >> 2u;
  let base = row * n4;
  var dot4 = vec4<f32>();
  for (var j = 0u; j < n4; j++) {
    dot4 += dy4[base + j] * weight4[j] * x4[base + j];
  }
  let r = rstd_in[row];
  let k = r * r * r * (dot4.x + dot4.y + dot4.z + dot4.w) / f32(params.dim);
  for (var j = 0u; j < n4; j++) {
    dx4[base + j] = r * dy4[base + j] * weight4[j] - k * x4[base + j];
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
