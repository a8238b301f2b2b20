// SwiGLU gating: y = silu(gate) * up, silu(g) = g · sigmoid(g). sigmoid is computed from
// exp(-|g|) ∈ (0, 1] so it never overflows for large |g|. Forward and backward side by side;
// entry points reuse binding numbers with different roles.

struct Params {
  n: u32,
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> gate: array<f32>;
@group(0) @binding(2) var<storage, read> up: array<f32>;
// swiglu
@group(0) @binding(3) var<storage, read_write> out: array<f32>;
// swiglu_backward
@group(0) @binding(3) var<storage, read> dy: array<f32>;
@group(0) @binding(4) var<storage, read_write> dgate: array<f32>;
@group(0) @binding(5) var<storage, read_write> dup: array<f32>;

// sigmoid: from the prelude.

@compute @workgroup_size(256)
fn swiglu(@builtin(global_invocation_id) id: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
  let i = flat_index(id, groups, 256u);
  if (i < params.n) {
    let g = gate[i];
    out[i] = g * sigmoid(g) * up[i];
  }
}

// dgate = dy · up · σ(g) · (1 + g · (1 - σ(g))), dup = dy · silu(g).
@compute @workgroup_size(256)
fn swiglu_backward(@builtin(global_invocation_id) id: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
  let i = flat_index(id, groups, 256u);
  if (i < params.n) {
    let g = gate[i];
    let s = sigmoid(g);
    let d = dy[i];
    dgate[i] = d * up[i] * s * (1.0 + g * (1.0 - s));
    dup[i] = d * g * s;
  }
}
