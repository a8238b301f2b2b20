// LoRA helpers. The LoRA matmuls themselves compose `gemm` and the projections (matmul.wgsl); this
// file holds the inverted-dropout kernel, whose mask is a counter-based hash of (seed, element
// index) so that the backward recomputes it instead of storing it (dropoutKeep() in
// src/kernels/lora.ts reproduces it bit-exactly on the CPU), and `up_group`, the B half of up to
// three LoRA sites that share an input, in one dispatch (DESIGN.md §7.1).

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

// ---- up_group: y_s[t, yCol0 + c] += scale_s · Σ_i D[t, dCol0 + i] · B_s[c, i] for each site s ----
// D [T, dStride] holds every site's x·Aᵀ side by side (one projection over the sites' A
// matrices); B_s is [N, r] row-major. Workgroup z picks the site; one invocation per output
// (up_group4 when r % 4 == 0).
// Each site adds into output 0 or 1 (q|k|v share one fused output; gate and up have their own).

struct UpParams {
  T: u32,
  r: u32,
  dStride: u32,
  pad: u32,
  site: array<vec4<u32>, 3>, // per site: (N, dCol0, yCol0, yStride)
  output: vec4<u32>,         // per site: 0 → y0, 1 → y1
  scale: vec4<f32>,          // per site
}

@group(0) @binding(0) var<uniform> up: UpParams;
@group(0) @binding(1) var<storage, read> upD: array<f32>;
@group(0) @binding(1) var<storage, read> upD4: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read> upBa: array<f32>;
@group(0) @binding(3) var<storage, read> upBb: array<f32>;
@group(0) @binding(4) var<storage, read> upBc: array<f32>;
@group(0) @binding(2) var<storage, read> upBa4: array<vec4<f32>>;
@group(0) @binding(3) var<storage, read> upBb4: array<vec4<f32>>;
@group(0) @binding(4) var<storage, read> upBc4: array<vec4<f32>>;
@group(0) @binding(5) var<storage, read_write> upY0: array<f32>;
@group(0) @binding(6) var<storage, read_write> upY1: array<f32>;

// Output i of site s as (t, c), or none past the site's T × N outputs.
fn upOutput(s: u32, i: u32) -> vec2<u32> {
  let N = up.site[s].x;
  return select(vec2<u32>(i / N, i % N), vec2<u32>(0xffffffffu), i >= up.T * N);
}

fn upStore(s: u32, tc: vec2<u32>, acc: f32) {
  let site = up.site[s];
  let o = tc.x * site.w + site.z + tc.y;
  if (up.output[s] == 0u) {
    upY0[o] += up.scale[s] * acc;
  } else {
    upY1[o] += up.scale[s] * acc;
  }
}

fn upSite(b: ptr<storage, array<f32>, read>, s: u32, i: u32) {
  let tc = upOutput(s, i);
  if (tc.x == 0xffffffffu) { return; }
  var acc = 0.0;
  for (var k = 0u; k < up.r; k++) {
    acc += upD[tc.x * up.dStride + up.site[s].y + k] * (*b)[tc.y * up.r + k];
  }
  upStore(s, tc, acc);
}

// r % 4 == 0: a 4 × 4 tile of outputs (rows t0.., columns c0..) per invocation, D's and B's rows
// read as vec4s (on SwiftShader each invocation has a large fixed cost).
fn upSite4(b: ptr<storage, array<vec4<f32>>, read>, s: u32, i: u32) {
  let site = up.site[s];
  let tilesC = (site.x + 3u) / 4u;
  if (i >= ((up.T + 3u) / 4u) * tilesC) { return; }
  let t0 = (i / tilesC) * 4u;
  let c0 = (i % tilesC) * 4u;
  var dRow: array<u32, 4>;
  var bRow: array<u32, 4>;
  for (var j = 0u; j < 4u; j++) {
    dRow[j] = (min(t0 + j, up.T - 1u) * up.dStride + site.y) >> 2u;
    bRow[j] = (min(c0 + j, site.x - 1u) * up.r) >> 2u;
  }
  var acc = mat4x4<f32>();
  for (var k = 0u; k < (up.r >> 2u); k++) {
    let bk = mat4x4<f32>((*b)[bRow[0] + k], (*b)[bRow[1] + k], (*b)[bRow[2] + k], (*b)[bRow[3] + k]);
    for (var j = 0u; j < 4u; j++) {
      acc[j] += upD4[dRow[j] + k] * bk; // row j: (d · B_c) for the 4 columns
    }
  }
  for (var j = 0u; j < 4u; j++) {
    for (var c = 0u; c < 4u; c++) {
      if (t0 + j < up.T && c0 + c < site.x) {
        upStore(s, vec2<u32>(t0 + j, c0 + c), acc[j][c]);
      }
    }
  }
}

@compute @workgroup_size(64)
fn up_group(@builtin(global_invocation_id) id: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
  let i = flat_index(id, groups, 64u);
  switch id.z {
    case 0u: { upSite(&upBa, 0u, i); }
    case 1u: { upSite(&upBb, 1u, i); }
    default: { upSite(&upBc, 2u, i); }
  }
}

@compute @workgroup_size(64)
fn up_group4(@builtin(global_invocation_id) id: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
  let i = flat_index(id, groups, 64u);
  switch id.z {
    case 0u: { upSite4(&upBa4, 0u, i); }
    case 1u: { upSite4(&upBb4, 1u, i); }
    default: { upSite4(&upBc4, 2u, i); }
  }
}
