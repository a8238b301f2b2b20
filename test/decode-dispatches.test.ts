// Dispatches per decoder layer for one decoded token at batch 1 and at batch 8 with a 384-position
// cache (issue 13's target: at most 8 without an adapter), and at batch 8 with LoRA on every
// projection (18: 2 per shared input): counted by wrapping gpu.dispatch around each layer call of a tiny model.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LanguageModel } from '../src/model/model.ts';
import { openSource } from '../src/io/source.ts';
import { destroyWeights, loadModel } from '../src/model/weights.ts';
import { writeRandomModel } from '../src/model/random-model.ts';
import type { Gpu } from '../src/gpu/runtime.ts';
import { LoraAdapter } from '../src/lora/adapter.ts';
import { ALL_TARGETS } from '../src/model/types.ts';
import { testGpu } from './helpers/gpu.ts';

const small = { hiddenSize: 64, numLayers: 2, numHeads: 4, numKvHeads: 2, intermediateSize: 96, vocabSize: 50 };

for (const c of [
  { label: 'llama F32', architecture: 'llama', dtype: 'F32' },
  { label: 'qwen2 BF16 (q/k/v biases)', architecture: 'qwen2', dtype: 'BF16' },
  { label: 'qwen3 BF16 (per-head q/k norms)', architecture: 'qwen3', dtype: 'BF16' },
] as const) {
  test(`one decoded token takes at most 8 dispatches per layer at batch 1 and at GRPO's 8 × 384 positions: ${c.label}`, async () => {
    const gpu = await testGpu();
    const dir = mkdtempSync(join(tmpdir(), 'webgrpo-dispatches-'));
    writeRandomModel(dir, { ...small, ...c, tied: true, seed: 7 });
    const { config, weights } = await loadModel(openSource(dir), gpu);
    const model = new LanguageModel(gpu, config, weights);
    for (const [batch, capacity] of [
      [1, 8],
      [8, 384],
    ])
      await countLayerDispatches(gpu, model, batch, capacity);
    // GRPO's generation decodes with its adapter: LoRA on all 7 projections, 2 dispatches per input.
    model.adapter = LoraAdapter.init(gpu, config, { r: 4, alpha: 8, dropout: 0, useRslora: false, targetModules: ALL_TARGETS }, { seed: 1 });
    await countLayerDispatches(gpu, model, 8, 384);
    destroyWeights(weights);
  });
}

async function countLayerDispatches(gpu: Gpu, model: LanguageModel, batch: number, capacity: number): Promise<void> {
  const { config } = model;
  const caches = model.createCaches(batch, capacity);
  // Prefill 4 tokens per sequence, then decode the 5th at position 4.
  const prompt = gpu.upload(
    new Uint32Array(batch * 4).map((_, i) => 1 + (i % 4)),
    'ids',
  );
  model.hidden(prompt, batch, 4, gpu.upload(new Uint32Array(batch), 'positions'), caches).release();
  const positions = gpu.upload(new Uint32Array(batch).fill(4), 'positions');
  let x = model.embed(gpu.upload(new Uint32Array(batch).fill(5), 'ids'), batch);
  const dispatch = gpu.dispatch;
  const kernels: string[] = [];
  gpu.dispatch = (...args: Parameters<typeof dispatch>) => {
    kernels.push(args[0]);
    dispatch.apply(gpu, args);
  };
  try {
    for (let l = 0; l < config.numLayers; l++) {
      kernels.length = 0;
      x = model.layer(l, x, batch, 1, positions, caches[l]);
      const limit = model.adapter ? 18 : 8;
      assert.ok(kernels.length <= limit, `batch ${batch}, layer ${l}: ${kernels.length} dispatches (${kernels.join(', ')})`);
    }
  } finally {
    gpu.dispatch = dispatch;
  }
  const rope = config.architecture === 'qwen3' ? /^rope_qkv_norm$/ : /^rope_qkv$/;
  // With the adapter: each input's LoRA A matrices as one projection, then every B in one up_group.
  const lora = [/^matmul\(lora_A(\+lora_A)*\):/, /^lora_up_group4?$/];
  // The fused path really ran: one q|k|v projection, (q/k norms +) RoPE + cache write, gate/up with SwiGLU.
  const expected = model.adapter
    ? [
        /^rms_norm/,
        /^matmul\(\S*q_proj\S*\+\S*k_proj\S*\+\S*v_proj/,
        ...lora,
        rope,
        /^attention/,
        /^matmul\(\S*o_proj/,
        ...lora,
        /^rms_norm/,
        /^matmul\(\S*gate_proj/,
        /^matmul\(\S*up_proj/,
        ...lora,
        /^swiglu$/,
        /^matmul\(\S*down_proj/,
        ...lora,
      ]
    : [
        /^rms_norm/,
        /^matmul\(\S*q_proj\S*\+\S*k_proj\S*\+\S*v_proj/,
        rope,
        /^attention/,
        /^matmul\(\S*o_proj/,
        /^rms_norm/,
        /^matmulSwiglu\(\S*gate_proj/,
        /^matmul\(\S*down_proj/,
      ];
  assert.equal(kernels.length, expected.length, `batch ${batch}: ${kernels.join(', ')}`);
  expected.forEach((pattern, i) => assert.match(kernels[i], pattern));
  x.release();
  for (const cache of caches) cache.destroy();
  await gpu.sync();
}
