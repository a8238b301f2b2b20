import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseConfig } from '../src/model/config.ts';
import { openSource } from '../src/io/source.ts';
import { f32ToBf16Bits, parseSafetensors, toFloat32, writeSafetensors, type WritableTensor } from '../src/io/safetensors.ts';
import { ALL_TARGETS, type LoraConfig, type TargetModule } from '../src/lora/config.ts';
import { LoraAdapter, moduleDims, peftModulePath } from '../src/lora/adapter.ts';
import type { Gpu } from '../src/gpu/runtime.ts';
import { randomArray, testGpu } from './helpers/gpu.ts';

// Qwen3-style: head_dim 8 so q_proj/o_proj are not square (q 32 ≠ hidden 16), GQA (kv 16).
const MODEL = parseConfig({
  model_type: 'qwen3',
  hidden_size: 16,
  num_hidden_layers: 2,
  num_attention_heads: 4,
  num_key_value_heads: 2,
  head_dim: 8,
  intermediate_size: 24,
  vocab_size: 32,
});

const CFG: LoraConfig = { r: 4, alpha: 8, dropout: 0.05, useRslora: false, targetModules: [...ALL_TARGETS] };

const EXPECTED_DIMS: Record<TargetModule, [number, number]> = {
  q_proj: [16, 32],
  k_proj: [16, 16],
  v_proj: [16, 16],
  o_proj: [32, 16],
  gate_proj: [16, 24],
  up_proj: [16, 24],
  down_proj: [24, 16],
};

/** Give every B random values (B = 0 after init would make a round trip of B vacuous). */
function randomizeB(gpu: Gpu, adapter: LoraAdapter, seed: number): void {
  gpu.flush();
  let k = 0;
  for (const { lora } of adapter.layers()) gpu.write(lora.B.buffer, randomArray(lora.B.size, seed + k++, 0.1));
}

async function values(adapter: LoraAdapter): Promise<Map<string, Float32Array>> {
  const out = new Map<string, Float32Array>();
  for (const p of adapter.params()) out.set(p.name, await p.value.read());
  return out;
}

function peftConfig(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    peft_type: 'LORA',
    task_type: 'CAUSAL_LM',
    r: 4,
    lora_alpha: 8,
    lora_dropout: 0,
    target_modules: ['q_proj', 'v_proj'],
    bias: 'none',
    fan_in_fan_out: false,
    modules_to_save: null,
    use_rslora: false,
    use_dora: false,
    base_model_name_or_path: 'Qwen/Qwen3-0.6B',
    ...overrides,
  };
}

/** A PEFT safetensors file for the given sites, as another implementation would write it. */
function handMade(
  sites: [number, TargetModule][],
  r = 4,
  opts: { dtype?: 'F32' | 'BF16'; extra?: WritableTensor[]; drop?: string } = {},
): { bytes: Uint8Array; values: Map<string, Float32Array> } {
  const tensors: WritableTensor[] = [];
  const values = new Map<string, Float32Array>();
  let seed = 1000;
  for (const [layer, module] of sites) {
    const { inDim, outDim } = moduleDims(MODEL, module);
    for (const [which, shape] of [
      ['A', [r, inDim]],
      ['B', [outDim, r]],
    ] as const) {
      const name = `${peftModulePath(layer, module)}.lora_${which}.weight`;
      if (name === opts.drop) continue;
      let v = randomArray(shape[0] * shape[1], seed++, 0.3);
      if (opts.dtype === 'BF16') {
        const bits = f32ToBf16Bits(v);
        v = toFloat32({ name, dtype: 'BF16', shape: [...shape], data: new Uint8Array(bits.buffer) });
        tensors.push({ name, dtype: 'BF16', shape: [...shape], data: bits });
      } else {
        tensors.push({ name, dtype: 'F32', shape: [...shape], data: v });
      }
      values.set(name, v);
    }
  }
  tensors.push(...(opts.extra ?? []));
  tensors.reverse(); // another writer's order (torch sorts keys; ours is by layer)
  return { bytes: writeSafetensors(tensors, { format: 'pt' }), values };
}

test('init: shapes, A ~ U(±1/√in), B = 0, zero gradients, seeded', async () => {
  const gpu = await testGpu();
  const adapter = LoraAdapter.init(gpu, MODEL, CFG, { seed: 7, baseModel: 'Qwen/Qwen3-0.6B' });
  assert.equal(adapter.layers().length, MODEL.numLayers * 7);
  assert.equal(adapter.baseModel, 'Qwen/Qwen3-0.6B');
  assert.equal(adapter.scale, 2);
  for (const { layer, module, lora } of adapter.layers()) {
    const [inDim, outDim] = EXPECTED_DIMS[module];
    assert.equal(adapter.get(layer, module), lora);
    assert.deepEqual([lora.inDim, lora.outDim, lora.r, lora.scale], [inDim, outDim, 4, 2]);
    assert.deepEqual(lora.A.shape, [4, inDim]);
    assert.deepEqual(lora.B.shape, [outDim, 4]);
    assert.deepEqual(lora.gradA.shape, [4, inDim]);
    assert.deepEqual(lora.gradB.shape, [outDim, 4]);
    const a = await lora.A.read();
    const bound = 1 / Math.sqrt(inDim);
    assert.ok(
      a.every((v) => Math.abs(v) <= bound),
      `A within ±${bound}`,
    );
    assert.ok(Math.max(...a) > 0.5 * bound && Math.min(...a) < -0.5 * bound, 'A spreads over the interval');
    assert.ok(
      (await lora.B.read()).every((v) => v === 0),
      'B = 0',
    );
    assert.ok(
      (await lora.gradA.read()).every((v) => v === 0),
      'gradA = 0',
    );
    assert.ok(
      (await lora.gradB.read()).every((v) => v === 0),
      'gradB = 0',
    );
  }
  // Distribution over all A values: mean ≈ 0, var ≈ bound²/3 for the hidden-input modules.
  const all: number[] = [];
  for (const { module, lora } of adapter.layers()) if (EXPECTED_DIMS[module][0] === 16) all.push(...(await lora.A.read()));
  const mean = all.reduce((s, v) => s + v, 0) / all.length;
  const variance = all.reduce((s, v) => s + (v - mean) ** 2, 0) / all.length;
  assert.ok(Math.abs(mean) < 0.03, `mean ${mean}`);
  assert.ok(Math.abs(variance / (1 / 16 / 3) - 1) < 0.15, `variance ${variance}`);
  assert.equal(adapter.parameterCount(), 2 * (4 * (16 + 32) + 2 * 4 * (16 + 16) + 4 * (32 + 16) + 3 * 4 * (16 + 24)));

  const same = LoraAdapter.init(gpu, MODEL, CFG, { seed: 7 });
  const other = LoraAdapter.init(gpu, MODEL, CFG, { seed: 8 });
  const [va, vs, vo] = [await values(adapter), await values(same), await values(other)];
  for (const [k, v] of va) {
    assert.deepEqual(vs.get(k), v, `same seed, ${k}`);
    if (k.endsWith('lora_A.weight')) assert.notDeepEqual(vo.get(k), v, `other seed, ${k}`);
  }
  const attn = LoraAdapter.init(gpu, MODEL, { ...CFG, targetModules: ['v_proj', 'q_proj'] }, { seed: 1 });
  assert.deepEqual(attn.config.targetModules, ['q_proj', 'v_proj']);
  assert.deepEqual(
    attn.layers().map((s) => `${s.layer}.${s.module}`),
    ['0.q_proj', '0.v_proj', '1.q_proj', '1.v_proj'],
  );
  assert.equal(attn.get(0, 'k_proj'), undefined);
  assert.throws(() => LoraAdapter.init(gpu, MODEL, { ...CFG, r: 0 }, { seed: 1 }), /r must be a positive integer/);
  assert.throws(() => LoraAdapter.init(gpu, MODEL, { ...CFG, dropout: 1 }, { seed: 1 }), /dropout/);
  assert.throws(() => LoraAdapter.init(gpu, MODEL, { ...CFG, targetModules: ['lm_head' as TargetModule] }, { seed: 1 }), /unknown target module 'lm_head'/);
  for (const a of [adapter, same, other, attn]) a.destroy();
});

test('toPeft: exact key names, shapes, F32, and adapter_config fields', async () => {
  const gpu = await testGpu();
  const adapter = LoraAdapter.init(gpu, MODEL, { ...CFG, targetModules: ['q_proj', 'o_proj', 'down_proj'] }, { seed: 3, baseModel: 'org/base' });
  const { adapterConfig, safetensors } = await adapter.toPeft();
  const parsed = parseSafetensors(safetensors, 'adapter_model.safetensors');
  const want = new Map<string, number[]>();
  for (let i = 0; i < 2; i++) {
    want.set(`base_model.model.model.layers.${i}.self_attn.q_proj.lora_A.weight`, [4, 16]);
    want.set(`base_model.model.model.layers.${i}.self_attn.q_proj.lora_B.weight`, [32, 4]);
    want.set(`base_model.model.model.layers.${i}.self_attn.o_proj.lora_A.weight`, [4, 32]);
    want.set(`base_model.model.model.layers.${i}.self_attn.o_proj.lora_B.weight`, [16, 4]);
    want.set(`base_model.model.model.layers.${i}.mlp.down_proj.lora_A.weight`, [4, 24]);
    want.set(`base_model.model.model.layers.${i}.mlp.down_proj.lora_B.weight`, [16, 4]);
  }
  assert.deepEqual([...parsed.tensors.keys()].sort(), [...want.keys()].sort());
  for (const [name, shape] of want) {
    const e = parsed.tensors.get(name)!;
    assert.equal(e.dtype, 'F32', name);
    assert.deepEqual(e.shape, shape, name);
  }
  assert.equal(parsed.metadata.format, 'pt');
  const c = adapterConfig as Record<string, unknown>;
  assert.equal(c.peft_type, 'LORA');
  assert.equal(c.task_type, 'CAUSAL_LM');
  assert.equal(c.r, 4);
  assert.equal(c.lora_alpha, 8);
  assert.equal(c.lora_dropout, 0.05);
  assert.deepEqual(c.target_modules, ['q_proj', 'o_proj', 'down_proj']);
  assert.equal(c.bias, 'none');
  assert.equal(c.fan_in_fan_out, false);
  assert.equal(c.inference_mode, true);
  assert.equal(c.use_rslora, false);
  assert.equal(c.use_dora, false);
  assert.equal(c.modules_to_save, null);
  assert.equal(c.base_model_name_or_path, 'org/base');
  // JSON-serialisable as is.
  assert.deepEqual(JSON.parse(JSON.stringify(c)), c);
  adapter.destroy();
});

test('export → import round trip (values equal), also through save/load of a folder', async () => {
  const gpu = await testGpu();
  const cfg: LoraConfig = { r: 3, alpha: 5, dropout: 0.1, useRslora: true, targetModules: [...ALL_TARGETS] };
  const adapter = LoraAdapter.init(gpu, MODEL, cfg, { seed: 11, baseModel: 'org/base' });
  randomizeB(gpu, adapter, 50);
  const before = await values(adapter);
  const { adapterConfig, safetensors } = await adapter.toPeft();
  const back = LoraAdapter.fromPeft(gpu, MODEL, JSON.parse(JSON.stringify(adapterConfig)), safetensors);
  assert.deepEqual(back.config, cfg);
  assert.equal(back.baseModel, 'org/base');
  assert.equal(back.scale, 5 / Math.sqrt(3));
  const after = await values(back);
  assert.deepEqual([...after.keys()], [...before.keys()]);
  for (const [k, v] of before) assert.deepEqual(after.get(k), v, k);
  for (const { lora } of back.layers()) assert.ok((await lora.gradA.read()).every((v) => v === 0));

  const dir = mkdtempSync(join(tmpdir(), 'webgrpo-lora-'));
  try {
    await adapter.save(dir);
    const loaded = await LoraAdapter.load(openSource(dir), gpu, MODEL);
    assert.deepEqual(loaded.config, cfg);
    const lv = await values(loaded);
    for (const [k, v] of before) assert.deepEqual(lv.get(k), v, `loaded ${k}`);
    loaded.destroy();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  back.destroy();
  adapter.destroy();
});

test('llamaCppCompat exports rsLoRA as lora_alpha·√r with use_rslora false (same scale)', async () => {
  const gpu = await testGpu();
  const rs = LoraAdapter.init(gpu, MODEL, { ...CFG, r: 4, alpha: 8, useRslora: true, targetModules: ['q_proj'] }, { seed: 1 });
  const plain = await rs.toPeft();
  assert.equal((plain.adapterConfig as { lora_alpha: number }).lora_alpha, 8);
  assert.equal((plain.adapterConfig as { use_rslora: boolean }).use_rslora, true);
  const compat = await rs.toPeft({ llamaCppCompat: true });
  const c = compat.adapterConfig as { lora_alpha: number; use_rslora: boolean; r: number };
  assert.equal(c.lora_alpha, 16);
  assert.equal(c.use_rslora, false);
  const back = LoraAdapter.fromPeft(gpu, MODEL, compat.adapterConfig, compat.safetensors);
  assert.equal(back.scale, rs.scale);
  assert.equal(back.get(0, 'q_proj')!.scale, 4);
  // Without rsLoRA the flag changes nothing.
  const nonRs = LoraAdapter.init(gpu, MODEL, { ...CFG, targetModules: ['q_proj'] }, { seed: 1 });
  assert.deepEqual((await nonRs.toPeft({ llamaCppCompat: true })).adapterConfig, (await nonRs.toPeft()).adapterConfig);
  for (const a of [rs, back, nonRs]) a.destroy();
});

test('adapters written by another implementation load (attention-only and all seven, F32 and BF16)', async () => {
  const gpu = await testGpu();
  const attnSites: [number, TargetModule][] = [];
  const allSites: [number, TargetModule][] = [];
  for (let i = 0; i < 2; i++) {
    for (const m of ['q_proj', 'k_proj', 'v_proj', 'o_proj'] as const) attnSites.push([i, m]);
    for (const m of ALL_TARGETS) allSites.push([i, m]);
  }
  // Fields recent PEFT versions write, which we do not use.
  const extra = {
    auto_mapping: null,
    revision: null,
    inference_mode: true,
    init_lora_weights: true,
    layers_pattern: null,
    layers_to_transform: null,
    loftq_config: {},
    megatron_config: null,
    megatron_core: 'megatron.core',
    rank_pattern: {},
    alpha_pattern: {},
    layer_replication: null,
    lora_bias: false,
    exclude_modules: null,
    eva_config: null,
    corda_config: null,
    trainable_token_indices: null,
  };
  for (const [sites, targets, dtype] of [
    [attnSites, ['q_proj', 'k_proj', 'v_proj', 'o_proj'], 'F32'],
    [allSites, ['down_proj', 'up_proj', 'gate_proj', 'o_proj', 'v_proj', 'k_proj', 'q_proj'], 'BF16'],
  ] as const) {
    const file = handMade([...sites], 4, { dtype });
    const adapter = LoraAdapter.fromPeft(gpu, MODEL, peftConfig({ ...extra, target_modules: [...targets], lora_alpha: 16 }), file.bytes);
    assert.equal(adapter.layers().length, sites.length);
    assert.equal(adapter.scale, 4);
    assert.equal(adapter.baseModel, 'Qwen/Qwen3-0.6B');
    const got = await values(adapter);
    assert.equal(got.size, file.values.size);
    for (const [k, v] of file.values) assert.deepEqual(got.get(k), v, k);
    if (sites === attnSites) assert.equal(adapter.get(1, 'gate_proj'), undefined);
    else assert.ok(adapter.get(1, 'down_proj'));
    adapter.destroy();
  }
  // "all-linear", a single plain module name, and a layers_to_transform subset.
  const l0 = handMade([[0, 'q_proj']]);
  const a1 = LoraAdapter.fromPeft(gpu, MODEL, peftConfig({ target_modules: 'all-linear' }), l0.bytes);
  assert.deepEqual(a1.config.targetModules, ALL_TARGETS);
  const a2 = LoraAdapter.fromPeft(gpu, MODEL, peftConfig({ target_modules: 'q_proj', layers_to_transform: [0] }), l0.bytes);
  assert.deepEqual(a2.config.targetModules, ['q_proj']);
  assert.equal(a2.layers().length, 1);
  assert.equal(a2.get(1, 'q_proj'), undefined);
  a1.destroy();
  a2.destroy();
});

test('fromPeft rejects what it cannot represent, naming the problem', async () => {
  const gpu = await testGpu();
  const good = handMade([
    [0, 'q_proj'],
    [1, 'v_proj'],
  ]);
  const load =
    (cfg: Record<string, unknown>, bytes = good.bytes) =>
    () =>
      LoraAdapter.fromPeft(gpu, MODEL, cfg, bytes);
  const cases: [string, () => unknown, RegExp][] = [
    ['peft_type', load(peftConfig({ peft_type: 'PREFIX_TUNING' })), /peft_type "PREFIX_TUNING" is not supported/],
    ['not an object', load(null as unknown as Record<string, unknown>), /expected a JSON object/],
    ['DoRA', load(peftConfig({ use_dora: true })), /use_dora.*DoRA.*not supported/],
    ['bias', load(peftConfig({ bias: 'lora_only' })), /bias "lora_only" is not supported/],
    ['modules_to_save', load(peftConfig({ modules_to_save: ['lm_head'] })), /modules_to_save \["lm_head"\] is not supported/],
    ['fan_in_fan_out', load(peftConfig({ fan_in_fan_out: true })), /fan_in_fan_out: true is not supported/],
    ['unknown target embed_tokens', load(peftConfig({ target_modules: ['q_proj', 'embed_tokens'] })), /unknown target module 'embed_tokens'/],
    ['unknown target lm_head', load(peftConfig({ target_modules: ['lm_head'] })), /unknown target module 'lm_head'/],
    ['regex target_modules', load(peftConfig({ target_modules: '.*\\.(q|v)_proj' })), /regular expression, which is not supported/],
    ['rank_pattern', load(peftConfig({ rank_pattern: { q_proj: 8 } })), /rank_pattern .* is not supported/],
    ['bad r', load(peftConfig({ r: 0 })), /r must be a positive integer/],
  ];
  const lmHead = handMade([[0, 'q_proj']], 4, {
    extra: [
      { name: 'base_model.model.lm_head.lora_A.weight', dtype: 'F32', shape: [4, 16], data: new Float32Array(64) },
      { name: 'base_model.model.lm_head.lora_B.weight', dtype: 'F32', shape: [32, 4], data: new Float32Array(128) },
    ],
  });
  cases.push([
    'lm_head tensor',
    load(peftConfig({ target_modules: ['q_proj'] }), lmHead.bytes),
    /lm_head\.lora_[AB]\.weight': unknown target module 'lm_head'/,
  ]);
  const embed = handMade([[0, 'q_proj']], 4, {
    extra: [{ name: 'base_model.model.model.embed_tokens.lora_embedding_A', dtype: 'F32', shape: [4, 32], data: new Float32Array(128) }],
  });
  cases.push(['embedding tensor', load(peftConfig({ target_modules: ['q_proj'] }), embed.bytes), /embed_tokens.*LoRA on embeddings is not supported/]);
  const dora = handMade([[0, 'q_proj']], 4, {
    extra: [{ name: 'base_model.model.model.layers.0.self_attn.q_proj.lora_magnitude_vector', dtype: 'F32', shape: [32], data: new Float32Array(32) }],
  });
  cases.push(['DoRA tensor', load(peftConfig({ target_modules: ['q_proj'] }), dora.bytes), /DoRA \(lora_magnitude_vector\) is not supported/]);
  const loraBias = handMade([[0, 'q_proj']], 4, {
    extra: [{ name: 'base_model.model.model.layers.0.self_attn.q_proj.lora_B.bias', dtype: 'F32', shape: [32], data: new Float32Array(32) }],
  });
  cases.push(['lora bias tensor', load(peftConfig({ target_modules: ['q_proj'] }), loraBias.bytes), /q_proj\.lora_B\.bias': LoRA biases/]);
  const layer5 = handMade([
    [0, 'q_proj'],
    [5, 'q_proj'],
  ]);
  cases.push([
    'layer ≥ numLayers',
    load(peftConfig({ target_modules: ['q_proj'] }), layer5.bytes),
    /layers\.5\.self_attn\.q_proj\.lora_[AB]\.weight': layer index 5 is out of range \(the model has 2 layers\)/,
  ]);
  const rank8 = handMade([[0, 'q_proj']], 8);
  cases.push([
    'shape mismatch',
    load(peftConfig({ target_modules: ['q_proj'] }), rank8.bytes),
    /tensor 'base_model\.model\.model\.layers\.0\.self_attn\.q_proj\.lora_[AB]\.weight' has shape \[(8, 16|32, 8)\] but this model needs \[(4, 16|32, 4)\]/,
  ]);
  const wrongModel = handMade([[0, 'q_proj']], 4);
  const bigger = { ...MODEL, hiddenSize: 20 };
  cases.push([
    'model mismatch',
    () => LoraAdapter.fromPeft(gpu, bigger, peftConfig({ target_modules: ['q_proj'] }), wrongModel.bytes),
    /lora_A\.weight' has shape \[4, 16\] but this model needs \[4, 20\]/,
  ]);
  const noB = handMade([[0, 'q_proj']], 4, { drop: `${peftModulePath(0, 'q_proj')}.lora_B.weight` });
  cases.push(['missing lora_B', load(peftConfig({ target_modules: ['q_proj'] }), noB.bytes), /q_proj\.lora_A\.weight' has no matching lora_B/]);
  const noA = handMade([[0, 'q_proj']], 4, { drop: `${peftModulePath(0, 'q_proj')}.lora_A.weight` });
  cases.push(['missing lora_A', load(peftConfig({ target_modules: ['q_proj'] }), noA.bytes), /q_proj\.lora_B\.weight' has no matching lora_A/]);
  cases.push(['module not in target_modules', load(peftConfig({ target_modules: ['q_proj'] })), /module v_proj is not in the adapter's target_modules/]);
  const misplaced = handMade([], 4, {
    extra: [{ name: 'base_model.model.model.layers.0.mlp.q_proj.lora_A.weight', dtype: 'F32', shape: [4, 16], data: new Float32Array(64) }],
  });
  cases.push(['q_proj under mlp', load(peftConfig({ target_modules: ['q_proj'] }), misplaced.bytes), /q_proj belongs under self_attn, not mlp/]);
  cases.push(['no tensors', load(peftConfig(), writeSafetensors([])), /no LoRA tensors/]);
  const stray = handMade([[0, 'q_proj']], 4, {
    extra: [{ name: 'base_model.model.score.weight', dtype: 'F32', shape: [2, 16], data: new Float32Array(32) }],
  });
  cases.push(['stray tensor', load(peftConfig({ target_modules: ['q_proj'] }), stray.bytes), /score\.weight' is not a LoRA weight/]);

  for (const [what, fn, re] of cases) {
    assert.throws(fn, re, what);
  }
  // The adapter file name prefixes tensor errors.
  assert.throws(
    () => LoraAdapter.fromPeft(gpu, MODEL, peftConfig({ target_modules: ['q_proj'] }), noB.bytes, 'hf:org/x@main/adapter_model.safetensors'),
    /^Error: hf:org\/x@main\/adapter_model\.safetensors: /,
  );

  // A folder with only a pickle adapter, and one with nothing.
  const dir = mkdtempSync(join(tmpdir(), 'webgrpo-lora-'));
  try {
    await assert.rejects(LoraAdapter.load(openSource(dir), gpu, MODEL), /no adapter_model\.safetensors found/);
    writeFileSync(join(dir, 'adapter_config.json'), JSON.stringify(peftConfig()));
    writeFileSync(join(dir, 'adapter_model.bin'), new Uint8Array(8));
    await assert.rejects(LoraAdapter.load(openSource(dir), gpu, MODEL), /adapter_model\.bin .* is not supported/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
