// Token embedding lookup: out[n, :] = table[ids[n], :] decoded to f32. The table is a
// WeightMatrix [vocab, hidden] stored as f32, or as packed f16 / bf16 pairs (two per u32, low half
// first), split into row chunks: the wrapper dispatches once per chunk and each dispatch writes only
// the rows whose id falls in its chunk. Ids ≥ vocab never index the table; the dispatch for the
// first chunk writes zeros for them. One thread per stored u32 word of the output rows.

struct Params {
  words: u32,         // count * words_per_row
  words_per_row: u32, // hidden (f32) or hidden / 2 (packed)
  row_start: u32,     // first vocab row in this chunk
  chunk_rows: u32,
  vocab: u32,
  zero_invalid: u32,  // 1 for the dispatch that zero-fills rows of out-of-range ids
}

// 0: f32, 1: packed f16, 2: packed bf16.
override DTYPE: u32 = 0u;

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> ids: array<u32>;
@group(0) @binding(2) var<storage, read> table: array<u32>;
@group(0) @binding(3) var<storage, read_write> out: array<f32>;

@compute @workgroup_size(256)
fn embed(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
  let idx = flat_index(gid, groups, 256u);
  if (idx >= params.words) {
    return;
  }
  let n = idx / params.words_per_row;
  let w = idx % params.words_per_row;
  let id = ids[n];
  let per = select(2u, 1u, DTYPE == DTYPE_F32);
  let dst = n * params.words_per_row * per + w * per;
  if (id >= params.vocab) {
    if (params.zero_invalid == 1u) {
      out[dst] = 0.0;
      if (per == 2u) {
        out[dst + 1u] = 0.0;
      }
    }
    return;
  }
  // Unsigned wrap makes ids below row_start fail this test too.
  let local = id - params.row_start;
  if (local >= params.chunk_rows) {
    return;
  }
  let word = table[local * params.words_per_row + w];
  if (DTYPE == DTYPE_F32) {
    out[dst] = bitcast<f32>(word);
  } else {
    let v = decode_pair(DTYPE, word);
    out[dst] = v.x;
    out[dst + 1u] = v.y;
  }
}

// ---- Backward: dTable[v, :] += Σ_{n : ids[n] = v} dOut[n, :], deterministic and without atomics. ----
// The wrapper sorts token positions by id on the CPU (stable, so positions ascend within an id) and
// uploads one u32 index buffer: perm[count] (positions in sorted order), then segStart[segments + 1]
// (where each distinct id's run begins in perm), then segId[segments] (that id). One thread per
// (segment, column) sums its rows in order and adds the sum to the table gradient.

struct BackParams {
  total: u32,     // segments * hidden
  hidden: u32,
  segments: u32,
  count: u32,     // token positions (length of perm)
}

@group(0) @binding(0) var<uniform> bp: BackParams;
@group(0) @binding(1) var<storage, read> bIndex: array<u32>;
@group(0) @binding(2) var<storage, read> bDOut: array<f32>;
@group(0) @binding(3) var<storage, read_write> bDTable: array<f32>;

@compute @workgroup_size(256)
fn embed_backward(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
  let idx = flat_index(gid, groups, 256u);
  if (idx >= bp.total) {
    return;
  }
  let s = idx / bp.hidden;
  let c = idx % bp.hidden;
  let begin = bIndex[bp.count + s];
  let end = bIndex[bp.count + s + 1u];
  let v = bIndex[bp.count + bp.segments + 1u + s];
  var sum = 0.0;
  for (var r = begin; r < end; r++) {
    sum += bDOut[bIndex[r] * bp.hidden + c];
  }
  let dst = v * bp.hidden + c;
  bDTable[dst] = bDTable[dst] + sum;
}
