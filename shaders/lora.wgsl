// LoRA helpers. The LoRA matmuls themselves compose `gemm` (matmul.wgsl); this file only holds the
// inverted-dropout kernel, whose mask is a counter-based hash of (seed, element index) so that the
// backward recomputes it instead of storing it. dropoutKeep() in src/lora/lora.ts reproduces the
// mask bit-exactly on the CPU.

struct Params {
  n: u32,
  seed: u32,
  // keep element i iff hash(seed, i) >= threshold (threshold = round(p · 2^32), clamped)
  threshold: u32,
  accumulate: u32,
  // 1 / (1 - p)
  scale: f32,
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> src: array<f32>;
@group(0) @binding(2) var<storage, read_write> dst: array<f32>;

// pcg_hash: PCG output permutation, from the prelude.

fn dropout_hash(seed: u32, i: u32) -> u32 {
  return pcg_hash((pcg_hash(seed) + 0x9e3779b9u) ^ pcg_hash(i));
}

// dst = mask ⊙ src · scale (accumulate = 0) or dst += mask ⊙ src · scale (accumulate = 1).
// Forward: src = x, dst = dropout(x). Backward: src = dD·A, dst = dx (accumulated).
@compute @workgroup_size(256)
fn dropout(@builtin(global_invocation_id) id: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
  let i = flat_index(id, groups, 256u);
  if (i >= params.n) {
    return;
  }
  let keep = dropout_hash(params.seed, i) >= params.threshold;
  let v = select(0.0, src[i] * params.scale, keep);
  if (params.accumulate != 0u) {
    dst[i] = dst[i] + v;
  } else {
    dst[i] = v;
  }
}
