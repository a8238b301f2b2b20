// Token sampling: one workgroup per row of logits [rows, vocab]; only columns [0, valid) are
// candidates. Greedy (temperature 0) is argmax with the lowest index on ties. Otherwise
// z = logit / temperature, then top-k, top-p and min-p (in that order, as Hugging Face applies
// them), renormalise, and draw with a uniform from a counter-based hash of (seed, step, row).
//
// Thresholds are exact: the k-th largest logit and the top-p threshold are found by bisection over
// the order-preserving u32 image of the f32 logits (32 rounds of a parallel count / sum over the
// row), so every logit tied with the threshold is kept. Logits are assumed finite (or -inf).
// The CPU reference sampleRef() in src/kernels/sample.ts follows the same steps in float64.
//
// Each row also gets the log-prob of its sampled id under log_softmax(logit / T) over the valid
// columns, before any truncation (T = 1 when greedy): the sampler's log-prob, as vLLM reports it.

struct SampleParams {
  vocab: u32,       // row stride of the logits
  valid: u32,       // candidate columns [0, valid)
  top_k: u32,       // 0 = off
  seed: u32,
  step: u32,
  temperature: f32, // <= 0 = greedy
  top_p: f32,       // >= 1 = off
  min_p: f32,       // <= 0 = off
  out_offset: u32,  // row r writes ids[out_offset + r] and logprobs[out_offset + r]
}

@group(0) @binding(0) var<uniform> sp: SampleParams;
@group(0) @binding(1) var<storage, read> logits: array<f32>;
@group(0) @binding(2) var<storage, read_write> ids: array<u32>;
@group(0) @binding(3) var<storage, read_write> logprobs: array<f32>;
// sample_step only: the next decode step's input ids [rows] and positions [rows].
@group(0) @binding(4) var<storage, read_write> next_ids: array<u32>;
@group(0) @binding(5) var<storage, read_write> positions: array<u32>;

// Threads per row (a power of two, 32..256): the wrapper picks fewer for small vocabularies.
override WG: u32 = 256u;
const NONE: u32 = 0xffffffffu;

var<workgroup> red_f: array<f32, WG>;
var<workgroup> red_u: array<u32, WG>;
var<workgroup> picked: atomic<u32>;
var<workgroup> last_kept: atomic<u32>; // 1 + the last kept index, 0 = none

// pcg_hash: PCG output permutation, from the prelude.

// The uniform in [0, 1) for (seed, step, row); uniformFor() in sample.ts reproduces it bit-exactly.
fn uniform_for(seed: u32, step: u32, row: u32) -> f32 {
  let h = pcg_hash(pcg_hash(pcg_hash(seed) + step) + row);
  return f32(h >> 8u) * (1.0 / 16777216.0);
}

// Order-preserving map of f32 onto u32 (-0 is taken as +0 so the two tie, as in float64).
fn order_key(v: f32) -> u32 {
  let b = select(bitcast<u32>(v), 0u, v == 0.0);
  return select(b | 0x80000000u, ~b, (b & 0x80000000u) != 0u);
}

fn reduce_sum_u(lid: u32, v: u32) -> u32 {
  red_u[lid] = v;
  workgroupBarrier();
  for (var s = WG / 2u; s > 0u; s >>= 1u) {
    if (lid < s) {
      red_u[lid] += red_u[lid + s];
    }
    workgroupBarrier();
  }
  let r = workgroupUniformLoad(&red_u[0]);
  workgroupBarrier();
  return r;
}

// Fixed tree order, so equal inputs give bit-equal sums (the bisection relies on it).
fn reduce_sum_f(lid: u32, v: f32) -> f32 {
  red_f[lid] = v;
  workgroupBarrier();
  for (var s = WG / 2u; s > 0u; s >>= 1u) {
    if (lid < s) {
      red_f[lid] += red_f[lid + s];
    }
    workgroupBarrier();
  }
  let r = workgroupUniformLoad(&red_f[0]);
  workgroupBarrier();
  return r;
}

// The sampled id of `row` (valid in thread 0 only), after which thread 0 writes it and its log-prob.
fn sample_row(row: u32, lid: u32) -> u32 {
  let base = row * sp.vocab;
  let n = sp.valid;
  let per = (n + WG - 1u) / WG;
  let start = min(lid * per, n);
  let end = min(start + per, n);
  if (lid == 0u) {
    atomicStore(&picked, NONE);
    atomicStore(&last_kept, 0u);
  }

  // Argmax over the thread's contiguous chunk, then across threads (lowest index on ties).
  var best = 0.0;
  var best_i = NONE;
  for (var i = start; i < end; i++) {
    let v = logits[base + i];
    if (best_i == NONE || v > best) {
      best = v;
      best_i = i;
    }
  }
  red_f[lid] = best;
  red_u[lid] = best_i;
  workgroupBarrier();
  for (var s = WG / 2u; s > 0u; s >>= 1u) {
    if (lid < s) {
      let oi = red_u[lid + s];
      let ov = red_f[lid + s];
      let mi = red_u[lid];
      if (oi != NONE && (mi == NONE || ov > red_f[lid])) {
        red_f[lid] = ov;
        red_u[lid] = oi;
      }
    }
    workgroupBarrier();
  }
  let m = workgroupUniformLoad(&red_f[0]);
  let arg = workgroupUniformLoad(&red_u[0]);
  workgroupBarrier();

  // log Σ exp((logit - m) / T) over the whole valid row, for the sampler's log-prob.
  let t_lp = select(1.0, sp.temperature, sp.temperature > 0.0);
  var z_local = 0.0;
  for (var i = start; i < end; i++) {
    z_local += exp((logits[base + i] - m) / t_lp);
  }
  let log_z = log(reduce_sum_f(lid, z_local));

  var id = arg;
  if (sp.temperature > 0.0) {
    id = draw(row, lid, base, n, start, end, m, arg);
  }
  if (lid == 0u) {
    ids[sp.out_offset + row] = id;
    logprobs[sp.out_offset + row] = (logits[base + id] - m) / t_lp - log_z;
  }
  return id;
}

// Top-k, top-p and min-p on z = logit / T, then the seeded draw; the id is valid in thread 0.
fn draw(row: u32, lid: u32, base: u32, n: u32, start: u32, end: u32, m: f32, arg: u32) -> u32 {
  let t = sp.temperature;
  let m_key = order_key(m);

  // Top-k: the largest key with at least k logits >= it is exactly the k-th largest logit.
  var k_key = 0u;
  if (sp.top_k > 0u && sp.top_k < n) {
    for (var b = 0u; b < 32u; b++) {
      let cand = k_key | (0x80000000u >> b);
      var c = 0u;
      for (var i = start; i < end; i++) {
        c += select(0u, 1u, order_key(logits[base + i]) >= cand);
      }
      if (reduce_sum_u(lid, c) >= sp.top_k) {
        k_key = cand;
      }
    }
  }

  // Top-p over the top-k distribution: the largest key whose tail (keys >= it, within top-k)
  // holds at least top_p of the top-k mass.
  var p_key = 0u;
  if (sp.top_p < 1.0) {
    var local = 0.0;
    for (var i = start; i < end; i++) {
      let v = logits[base + i];
      if (order_key(v) >= k_key) {
        local += exp((v - m) / t);
      }
    }
    let want = sp.top_p * reduce_sum_f(lid, local);
    for (var b = 0u; b < 32u; b++) {
      let cand = p_key | (0x80000000u >> b);
      let lo = max(cand, k_key);
      var acc = 0.0;
      for (var i = start; i < end; i++) {
        let v = logits[base + i];
        if (order_key(v) >= lo) {
          acc += exp((v - m) / t);
        }
      }
      if (reduce_sum_f(lid, acc) >= want) {
        p_key = cand;
      }
    }
  }
  // The most likely token is always kept.
  let thr = min(max(k_key, p_key), m_key);
  let min_p = sp.min_p;

  // Kept mass of the thread's chunk, then an inclusive prefix over the chunks (Hillis-Steele).
  var chunk = 0.0;
  var last = 0u;
  for (var i = start; i < end; i++) {
    let v = logits[base + i];
    let w = exp((v - m) / t);
    if (order_key(v) >= thr && (min_p <= 0.0 || w >= min_p)) {
      chunk += w;
      last = i + 1u;
    }
  }
  if (last != 0u) {
    atomicMax(&last_kept, last);
  }
  red_f[lid] = chunk;
  workgroupBarrier();
  for (var off = 1u; off < WG; off <<= 1u) {
    var add = 0.0;
    if (lid >= off) {
      add = red_f[lid - off];
    }
    workgroupBarrier();
    red_f[lid] += add;
    workgroupBarrier();
  }
  let incl = red_f[lid];
  var excl = 0.0;
  if (lid > 0u) {
    excl = red_f[lid - 1u];
  }
  let total = workgroupUniformLoad(&red_f[WG - 1u]);
  let goal = uniform_for(sp.seed, sp.step, row) * total;

  // The chunk whose prefix range holds the target walks its tokens in index order.
  if (excl <= goal && goal < incl) {
    let local_goal = goal - excl;
    var acc = 0.0;
    var found = last - 1u;
    for (var i = start; i < end; i++) {
      let v = logits[base + i];
      let w = exp((v - m) / t);
      if (order_key(v) >= thr && (min_p <= 0.0 || w >= min_p)) {
        acc += w;
        if (acc > local_goal) {
          found = i;
          break;
        }
      }
    }
    atomicMin(&picked, found);
  }
  workgroupBarrier();
  var id = atomicLoad(&picked);
  if (id == NONE) {
    // u * total rounded up to total: take the last kept token, as the float64 reference does.
    let lk = atomicLoad(&last_kept);
    id = select(arg, lk - 1u, lk != 0u);
  }
  return id;
}

@compute @workgroup_size(WG)
fn sample(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  _ = sample_row(wg.x, lid);
}

// One decode step's sampling that also feeds the next step: the id becomes the row's next input
// and its position advances by one, so the decode loop needs no CPU round trip (DESIGN.md §6.2).
@compute @workgroup_size(WG)
fn sample_step(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let row = wg.x;
  let id = sample_row(row, lid);
  if (lid == 0u) {
    next_ids[row] = id;
    positions[row] += 1u;
  }
}
