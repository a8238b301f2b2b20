import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Gpu } from '../src/gpu/runtime.ts';
import type { Tensor, WeightMatrix } from '../src/gpu/tensor.ts';
import { writeRandomModel, type RandomModelOptions } from '../src/model/random-model.ts';
import { parseSafetensors, toFloat32, writeSafetensors, type TensorEntry, type WritableTensor } from '../src/io/safetensors.ts';
import { openSource } from '../src/io/source.ts';
import { destroyWeights, loadCpuWeights, loadModel } from '../src/model/weights.ts';
import { testGpu } from './helpers/gpu.ts';

const root = mkdtempSync(join(tmpdir(), 'webgrpo-weights-'));
after(() => rmSync(root, { recursive: true, force: true }));
let n = 0;
function model(opts: RandomModelOptions): string {
  const dir = join(root, `m${n++}`);
  writeRandomModel(dir, { hiddenSize: 32, numLayers: 2, numHeads: 4, numKvHeads: 2, intermediateSize: 48, vocabSize: 70, ...opts });
  return dir;
}

/** Every tensor of a model folder (all shards), as parsed entries. */
function fileTensors(dir: string): Map<string, TensorEntry> {
  const files = (() => {
    try {
      const index = JSON.parse(readFileSync(join(dir, 'model.safetensors.index.json'), 'utf8'));
      return [...new Set(Object.values(index.weight_map) as string[])];
    } catch {
      return ['model.safetensors'];
    }
  })();
  const out = new Map<string, TensorEntry>();
  for (const f of files) for (const [k, v] of parseSafetensors(readFileSync(join(dir, f)), f).tensors) out.set(k, v);
  return out;
}

/** The stored bytes of a weight matrix, all chunks in row order. */
async function matrixBytes(gpu: Gpu, w: WeightMatrix): Promise<Uint8Array> {
  const rowBytes = w.dtype === 'f32' ? w.cols * 4 : w.cols * 2;
  const out = new Uint8Array(w.rows * rowBytes);
  for (const c of w.chunks) out.set(new Uint8Array(await gpu.read(c.buffer, 0, c.rows * rowBytes)), c.rowStart * rowBytes);
  return out;
}

async function assertMatrix(gpu: Gpu, w: WeightMatrix, entry: TensorEntry, what: string): Promise<void> {
  assert.equal(w.rows, entry.shape[0], `${what} rows`);
  assert.equal(w.cols, entry.shape[1], `${what} cols`);
  assert.equal(w.dtype, { F32: 'f32', F16: 'f16', BF16: 'bf16' }[entry.dtype as 'F32'], `${what} dtype`);
  assert.deepEqual(await matrixBytes(gpu, w), new Uint8Array(entry.data), `${what} bytes`);
}

async function assertVector(t: Tensor, entry: TensorEntry, what: string): Promise<void> {
  assert.deepEqual([...t.shape], entry.shape, `${what} shape`);
  assert.deepEqual(await t.read(), toFloat32(entry), `${what} values`);
}

for (const architecture of ['llama', 'qwen2', 'qwen3'] as const) {
  test(`loadModel ${architecture}: every dtype, tied and untied`, async () => {
    const gpu = await testGpu();
    for (const dtype of ['F32', 'F16', 'BF16'] as const) {
      for (const tied of [true, false]) {
        const what = `${architecture} ${dtype} ${tied ? 'tied' : 'untied'}`;
        const dir = model({ architecture, dtype, tied, seed: n });
        const file = fileTensors(dir);
        const { config, weights } = await loadModel(openSource(dir), gpu);
        assert.equal(config.architecture, architecture);
        assert.equal(weights.layers.length, 2);
        assert.equal(weights.lmHead === weights.embed, tied, `${what}: lmHead is embed`);
        await assertMatrix(gpu, weights.embed, file.get('model.embed_tokens.weight')!, `${what} embed`);
        if (!tied) await assertMatrix(gpu, weights.lmHead, file.get('lm_head.weight')!, `${what} lm_head`);
        const l1 = weights.layers[1];
        await assertMatrix(gpu, l1.q, file.get('model.layers.1.self_attn.q_proj.weight')!, `${what} q`);
        await assertMatrix(gpu, l1.down, file.get('model.layers.1.mlp.down_proj.weight')!, `${what} down`);
        await assertVector(l1.inputNorm, file.get('model.layers.1.input_layernorm.weight')!, `${what} input norm`);
        await assertVector(weights.finalNorm, file.get('model.norm.weight')!, `${what} final norm`);
        assert.equal(!!l1.qBias, architecture === 'qwen2');
        assert.equal(!!l1.qNorm, architecture === 'qwen3');
        if (l1.vBias) await assertVector(l1.vBias, file.get('model.layers.1.self_attn.v_proj.bias')!, `${what} v bias`);
        if (l1.kNorm) await assertVector(l1.kNorm, file.get('model.layers.1.self_attn.k_norm.weight')!, `${what} k norm`);
        if (architecture === 'qwen3') assert.equal(l1.q.rows, 2 * 32, 'qwen3 q_proj widens (head_dim 2*hidden/heads)');
        destroyWeights(weights);
      }
    }
  });
}

test('sharded checkpoint, chunked matrices, progress', async () => {
  const gpu = await testGpu();
  const dir = model({ architecture: 'qwen2', dtype: 'BF16', tied: false, shards: 3, seed: 7 });
  const file = fileTensors(dir);
  const events: { phase: string; file: string; loaded: number; total: number | null }[] = [];
  const { weights } = await loadModel(openSource(dir), gpu, { maxChunkBytes: 64 * 20, onProgress: (p) => events.push(p) });
  assert.equal(weights.embed.chunks.length, 4, 'embed 70 rows of 64 bytes in chunks of 20 rows');
  await assertMatrix(gpu, weights.embed, file.get('model.embed_tokens.weight')!, 'embed');
  await assertMatrix(gpu, weights.lmHead, file.get('lm_head.weight')!, 'lm_head');
  await assertMatrix(gpu, weights.layers[1].gate, file.get('model.layers.1.mlp.gate_proj.weight')!, 'gate');
  await assertVector(weights.layers[0].qBias!, file.get('model.layers.0.self_attn.q_proj.bias')!, 'q bias');
  const downloaded = new Set(events.filter((e) => e.phase === 'download').map((e) => e.file));
  assert.deepEqual([...downloaded].sort(), ['model-00001-of-00003.safetensors', 'model-00002-of-00003.safetensors', 'model-00003-of-00003.safetensors']);
  const uploads = events.filter((e) => e.phase === 'upload');
  assert.equal(uploads.at(-1)!.loaded, file.size);
  assert.equal(uploads.at(-1)!.total, file.size);
  destroyWeights(weights);
});

test('tied with lm_head stored: a different one is used, an identical one is shared', async () => {
  const gpu = await testGpu();
  const dir = model({ architecture: 'qwen3', dtype: 'BF16', tied: true, storeLmHeadWhenTied: true, seed: 3 });
  const file = fileTensors(dir);
  const a = await loadModel(openSource(dir), gpu);
  assert.notEqual(a.weights.lmHead, a.weights.embed);
  await assertMatrix(gpu, a.weights.lmHead, file.get('lm_head.weight')!, 'stored lm_head');
  destroyWeights(a.weights);
  // Rewrite with lm_head = embed bytes, as in Qwen3-0.6B.
  rewrite(dir, (ts) => ts.map((t) => (t.name === 'lm_head.weight' ? { ...t, data: ts.find((e) => e.name === 'model.embed_tokens.weight')!.data } : t)));
  const b = await loadModel(openSource(dir), gpu);
  assert.equal(b.weights.lmHead, b.weights.embed);
  destroyWeights(b.weights);
  const cpu = await loadCpuWeights(openSource(dir));
  assert.ok(cpu.tensors.has('lm_head.weight'));
});

/** Rewrite model.safetensors through a transform of its tensors (as writable F32/F16/BF16). */
function rewrite(dir: string, f: (ts: WritableTensor[]) => WritableTensor[], raw?: (header: Record<string, { dtype: string }>) => void): void {
  const { tensors } = parseSafetensors(readFileSync(join(dir, 'model.safetensors')), 'model.safetensors');
  const ts: WritableTensor[] = [...tensors.values()].map((e) => ({
    name: e.name,
    dtype: e.dtype as 'F32',
    shape: e.shape,
    data: e.dtype === 'F32' ? new Float32Array(e.data.slice().buffer) : new Uint16Array(e.data.slice().buffer),
  }));
  let bytes = writeSafetensors(f(ts));
  if (raw) {
    const len = new DataView(bytes.buffer).getUint32(0, true);
    const header = JSON.parse(new TextDecoder().decode(bytes.subarray(8, 8 + len)));
    raw(header);
    const json = new TextEncoder().encode(JSON.stringify(header).padEnd(len, ' '));
    assert.equal(json.length, len);
    bytes = bytes.slice();
    bytes.set(json, 8);
  }
  writeFileSync(join(dir, 'model.safetensors'), bytes);
}

test('missing tensors, wrong shapes and unsupported dtypes are named', async () => {
  const gpu = await testGpu();
  const base = { architecture: 'qwen2', dtype: 'F16', tied: true } as const;

  let dir = model(base);
  rewrite(dir, (ts) => ts.filter((t) => t.name !== 'model.layers.1.self_attn.k_proj.bias'));
  await assert.rejects(loadModel(openSource(dir), gpu), /m\d+\/model\.safetensors: missing tensor 'model\.layers\.1\.self_attn\.k_proj\.bias'/);
  await assert.rejects(loadCpuWeights(openSource(dir)), /missing tensor 'model\.layers\.1\.self_attn\.k_proj\.bias'/);

  dir = model(base);
  rewrite(dir, (ts) => ts.map((t) => (t.name === 'model.layers.0.mlp.up_proj.weight' ? { ...t, shape: [32, 48] } : t)));
  await assert.rejects(
    loadModel(openSource(dir), gpu),
    /model\.safetensors: tensor 'model\.layers\.0\.mlp\.up_proj\.weight' has shape \[32, 48\], expected \[48, 32\]/,
  );

  dir = model(base);
  rewrite(
    dir,
    (ts) => ts,
    (h) => {
      h['model.norm.weight'].dtype = 'I16';
    },
  );
  await assert.rejects(loadModel(openSource(dir), gpu), /model\.safetensors: tensor 'model\.norm\.weight' has dtype I16, which is not supported/);

  // Untied without lm_head.
  dir = model({ ...base, tied: false });
  rewrite(dir, (ts) => ts.filter((t) => t.name !== 'lm_head.weight'));
  await assert.rejects(loadModel(openSource(dir), gpu), /missing tensor 'lm_head\.weight'/);

  // Sharded: absent from the weight map, and absent from the shard the map names.
  dir = model({ ...base, shards: 2 });
  const indexPath = join(dir, 'model.safetensors.index.json');
  const index = JSON.parse(readFileSync(indexPath, 'utf8'));
  delete index.weight_map['model.norm.weight'];
  writeFileSync(indexPath, JSON.stringify(index));
  await assert.rejects(loadModel(openSource(dir), gpu), /model\.safetensors\.index\.json: missing tensor 'model\.norm\.weight' \(not in weight_map\)/);
  index.weight_map['model.norm.weight'] = 'model-00001-of-00002.safetensors';
  writeFileSync(indexPath, JSON.stringify(index));
  await assert.rejects(
    loadModel(openSource(dir), gpu),
    /model-00001-of-00002\.safetensors: missing tensor 'model\.norm\.weight' \(model\.safetensors\.index\.json places it in this file\)/,
  );

  // No checkpoint at all; unsupported config.
  dir = model(base);
  rmSync(join(dir, 'model.safetensors'));
  await assert.rejects(loadModel(openSource(dir), gpu), /no model\.safetensors or model\.safetensors\.index\.json/);
  writeFileSync(join(dir, 'config.json'), JSON.stringify({ model_type: 'gpt2' }));
  await assert.rejects(loadModel(openSource(dir), gpu), /unsupported model_type 'gpt2' in .*config\.json; supported: llama, qwen2, qwen3/);
  await assert.rejects(loadModel(openSource(join(root, 'nope')), gpu), /no such model folder: .*nope \(use hf:owner\/repo for the Hub\)/);
  // A folder that exists but lacks the file still names the file.
  mkdirSync(join(root, 'empty'), { recursive: true });
  await assert.rejects(loadModel(openSource(join(root, 'empty')), gpu), /file not found: 'config\.json' in .*empty/);
});

test('extra tensors are ignored; generation_config adds eos ids; weightDtype converts', async () => {
  const gpu = await testGpu();
  const dir = model({ architecture: 'llama', dtype: 'BF16', tied: true, seed: 11 });
  rewrite(dir, (ts) => [...ts, { name: 'model.rotary_emb.inv_freq', dtype: 'F32', shape: [4], data: new Float32Array(4) }]);
  writeFileSync(join(dir, 'generation_config.json'), JSON.stringify({ eos_token_id: [2, 5] }));
  const file = fileTensors(dir);
  const { config, weights } = await loadModel(openSource(dir), gpu, { weightDtype: 'f32' });
  assert.deepEqual(config.eosTokenIds, [2, 5]);
  assert.equal(weights.embed.dtype, 'f32');
  const got = new Float32Array((await matrixBytes(gpu, weights.layers[0].o)).buffer);
  assert.deepEqual(got, toFloat32(file.get('model.layers.0.self_attn.o_proj.weight')!));
  destroyWeights(weights);
});

test('loadCpuWeights widens every tensor to f32', async () => {
  for (const dtype of ['F32', 'F16', 'BF16'] as const) {
    const dir = model({ architecture: 'qwen3', dtype, tied: false, shards: 2, seed: 5 });
    const file = fileTensors(dir);
    const { config, tensors } = await loadCpuWeights(openSource(dir));
    assert.equal(config.qkNorm, true);
    assert.equal(tensors.size, file.size);
    for (const [name, entry] of file) {
      const t = tensors.get(name)!;
      assert.deepEqual(t.shape, entry.shape, name);
      assert.deepEqual(t.data, toFloat32(entry), name);
    }
    // Norm weights are near 1 and linears are small: activations stay O(1).
    const norm = tensors.get('model.norm.weight')!.data;
    assert.ok(norm.every((x) => x > 0.5 && x < 1.5));
    const q = tensors.get('model.layers.0.self_attn.q_proj.weight')!.data;
    const rms = Math.sqrt(q.reduce((a, x) => a + x * x, 0) / q.length);
    assert.ok(rms > 0.1 && rms < 0.3, `q rms ${rms}`);
  }
});
