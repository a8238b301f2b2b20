// Optimizer kernels: AdamW and SGD parameter updates, the global gradient L2 norm (two passes, no
// float atomics) with torch's clip coefficient, and zeroing gradients.
// Entry points reuse binding numbers with different roles; each uses only its own variables.
//
// Every update reads the effective gradient as  g · grad_scale · clip[0]  where clip is a [1]
// buffer: the clip coefficient written by grad_norm_final, or a constant 1 when clipping is off.
// 1-D elementwise kernels recover the flat index as id.x + id.y · num_workgroups.x · 256.

// ---- AdamW (torch.optim.AdamW, single-tensor path) ---------------------------------------------
//   p ← p · (1 − lr·wd)
//   m ← m + (g − m)(1 − β1);   v ← β2 v + (1 − β2) g²
//   p ← p − (lr / bc1) · m / (√v / √bc2 + eps),   bc_k = 1 − β_k^step (computed on the CPU)

struct AdamParams {
  n: u32,
  decay: f32, // 1 − lr·wd
  beta1: f32,
  beta2: f32,
  eps: f32,
  step_size: f32, // lr / bc1
  bc2_sqrt: f32, // √bc2
  grad_scale: f32,
}

@group(0) @binding(0) var<uniform> adam: AdamParams;
@group(0) @binding(1) var<storage, read> adam_clip: array<f32>;
@group(0) @binding(2) var<storage, read_write> adam_p: array<f32>;
@group(0) @binding(3) var<storage, read> adam_g: array<f32>;
@group(0) @binding(4) var<storage, read_write> adam_m: array<f32>;
@group(0) @binding(5) var<storage, read_write> adam_v: array<f32>;

@compute @workgroup_size(256)
fn adamw_step(@builtin(global_invocation_id) id: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
  let i = flat_index(id, groups, 256u);
  if (i >= adam.n) {
    return;
  }
  let g = adam_g[i] * (adam.grad_scale * adam_clip[0]);
  let p = adam_p[i] * adam.decay;
  let m0 = adam_m[i];
  let m = m0 + (g - m0) * (1.0 - adam.beta1);
  let v = adam_v[i] * adam.beta2 + (1.0 - adam.beta2) * g * g;
  adam_m[i] = m;
  adam_v[i] = v;
  adam_p[i] = p - adam.step_size * m / (sqrt(v) / adam.bc2_sqrt + adam.eps);
}

// ---- SGD (torch.optim.SGD, dampening 0) ----------------------------------------------------------
//   d = g + wd·p;  with momentum: buf ← μ·buf + d (buf starts at 0, so the first step gives buf = d
//   as torch's clone does);  d = nesterov ? d + μ·buf : buf;   p ← p − lr·d

struct SgdParams {
  n: u32,
  lr: f32,
  weight_decay: f32,
  momentum: f32,
  nesterov: u32,
  grad_scale: f32,
}

@group(0) @binding(0) var<uniform> sgd: SgdParams;
@group(0) @binding(1) var<storage, read> sgd_clip: array<f32>;
@group(0) @binding(2) var<storage, read_write> sgd_p: array<f32>;
@group(0) @binding(3) var<storage, read> sgd_g: array<f32>;
@group(0) @binding(4) var<storage, read_write> sgd_buf: array<f32>;

@compute @workgroup_size(256)
fn sgd_step(@builtin(global_invocation_id) id: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
  let i = flat_index(id, groups, 256u);
  if (i >= sgd.n) {
    return;
  }
  let p = sgd_p[i];
  let d = sgd_g[i] * (sgd.grad_scale * sgd_clip[0]) + sgd.weight_decay * p;
  sgd_p[i] = p - sgd.lr * d;
}

@compute @workgroup_size(256)
fn sgd_momentum_step(@builtin(global_invocation_id) id: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
  let i = flat_index(id, groups, 256u);
  if (i >= sgd.n) {
    return;
  }
  let p = sgd_p[i];
  let d = sgd_g[i] * (sgd.grad_scale * sgd_clip[0]) + sgd.weight_decay * p;
  let buf = sgd.momentum * sgd_buf[i] + d;
  sgd_buf[i] = buf;
  var u = buf;
  if (sgd.nesterov != 0u) {
    u = d + sgd.momentum * buf;
  }
  sgd_p[i] = p - sgd.lr * u;
}

// ---- Global gradient norm ------------------------------------------------------------------------
// Pass 1 (one dispatch per gradient tensor): each workgroup grid-strides over the tensor and writes
// its sum of squares to partial[slot + workgroup]. Pass 2 (one workgroup): sums all partials,
// norm = √Σ · |scale|, coef = max_norm > 0 ? min(1, max_norm / (norm + 1e-6)) : 1
// (torch.nn.utils.clip_grad_norm_).

struct ReduceParams {
  n: u32, // values in the tensor (pass 1) or partials in total (pass 2)
  slot: u32, // first partial of this tensor (pass 1)
  scale: f32, // pass 2: the norm is of scale · grads
  max_norm: f32, // pass 2
}

@group(0) @binding(0) var<uniform> red: ReduceParams;
@group(0) @binding(1) var<storage, read> sq_x: array<f32>;
@group(0) @binding(2) var<storage, read_write> sq_partial: array<f32>;

var<workgroup> wg_sum: array<f32, 256>;

// Sum of `v` over the 256-thread workgroup. Every thread must call it (uniform control flow).
fn workgroup_sum(lid: u32, v: f32) -> f32 {
  wg_sum[lid] = v;
  workgroupBarrier();
  for (var s = 128u; s > 0u; s = s >> 1u) {
    if (lid < s) {
      wg_sum[lid] = wg_sum[lid] + wg_sum[lid + s];
    }
    workgroupBarrier();
  }
  return wg_sum[0];
}

@compute @workgroup_size(256)
fn sumsq_partial(
  @builtin(workgroup_id) wid: vec3<u32>,
  @builtin(num_workgroups) groups: vec3<u32>,
  @builtin(local_invocation_index) lid: u32,
) {
  let stride = groups.x * 256u;
  var acc = 0.0;
  for (var i = wid.x * 256u + lid; i < red.n; i += stride) {
    let x = sq_x[i];
    acc += x * x;
  }
  let total = workgroup_sum(lid, acc);
  if (lid == 0u) {
    sq_partial[red.slot + wid.x] = total;
  }
}

@group(0) @binding(1) var<storage, read> fin_partial: array<f32>;
@group(0) @binding(2) var<storage, read_write> fin_norm: array<f32>;
@group(0) @binding(3) var<storage, read_write> fin_coef: array<f32>;

@compute @workgroup_size(256)
fn grad_norm_final(@builtin(local_invocation_index) lid: u32) {
  var acc = 0.0;
  for (var i = lid; i < red.n; i += 256u) {
    acc += fin_partial[i];
  }
  let total = workgroup_sum(lid, acc);
  if (lid == 0u) {
    let norm = sqrt(total) * abs(red.scale);
    fin_norm[0] = norm;
    var coef = 1.0;
    if (red.max_norm > 0.0) {
      // A comparison rather than min() so a NaN norm gives a NaN coefficient, as in torch.
      coef = red.max_norm / (norm + 1e-6);
      if (coef > 1.0) {
        coef = 1.0;
      }
    }
    fin_coef[0] = coef;
  }
}
