// `webgrpo score --adapter` with PEFT adapters written by hand (as another implementation would
// write them: PEFT key names and adapter_config.json, not our exporter), against the float64
// reference forward with the same LoRA sites.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execFileSync } from 'node:child_process';
import { referenceScore, type CpuAdapter } from '../src/model/reference.ts';
import { openSource } from '../src/io/source.ts';
import { loadCpuWeights } from '../src/model/weights.ts';
import { writeRandomModel } from '../src/model/random-model.ts';
import { writeSafetensors } from '../src/io/safetensors.ts';
import { assertClose, randomArray, rng } from './helpers/gpu.ts';

const ATTENTION = ['q_proj', 'k_proj', 'v_proj', 'o_proj'];
const ALL = [...ATTENTION, 'gate_proj', 'up_proj', 'down_proj'];

interface Variant {
  label: string;
  architecture: 'llama' | 'qwen2' | 'qwen3';
  modules: string[];
  r: number;
  alpha: number;
  rslora: boolean;
}

const variants: Variant[] = [
  { label: 'llama, attention-only, α/r', architecture: 'llama', modules: ATTENTION, r: 4, alpha: 8, rslora: false },
  { label: 'qwen2, all seven projections, rsLoRA', architecture: 'qwen2', modules: ALL, r: 8, alpha: 16, rslora: true },
  { label: 'qwen3, all seven projections, α/r', architecture: 'qwen3', modules: ALL, r: 2, alpha: 3, rslora: false },
  { label: 'qwen3, attention-only, rsLoRA', architecture: 'qwen3', modules: ATTENTION, r: 4, alpha: 4, rslora: true },
];

const shape = { hiddenSize: 64, numLayers: 2, numHeads: 4, numKvHeads: 2, intermediateSize: 96, vocabSize: 200 };

for (const [i, v] of variants.entries()) {
  test(`score --adapter agrees with the float64 reference: ${v.label}`, async () => {
    const root = mkdtempSync(join(tmpdir(), 'webgrpo-peft-'));
    const modelDir = join(root, 'model');
    const adapterDir = join(root, 'adapter');
    mkdirSync(modelDir), mkdirSync(adapterDir);
    const config = writeRandomModel(modelDir, { architecture: v.architecture, dtype: 'BF16', tied: true, ...shape, seed: 40 + i });
    const dims: Record<string, [number, number]> = {
      q_proj: [config.hiddenSize, config.numHeads * config.headDim],
      k_proj: [config.hiddenSize, config.numKvHeads * config.headDim],
      v_proj: [config.hiddenSize, config.numKvHeads * config.headDim],
      o_proj: [config.numHeads * config.headDim, config.hiddenSize],
      gate_proj: [config.hiddenSize, config.intermediateSize],
      up_proj: [config.hiddenSize, config.intermediateSize],
      down_proj: [config.intermediateSize, config.hiddenSize],
    };
    const scale = v.rslora ? v.alpha / Math.sqrt(v.r) : v.alpha / v.r;
    const tensors: Parameters<typeof writeSafetensors>[0] = [];
    const sites: CpuAdapter = new Map();
    let seed = 1000 * i;
    for (let layer = 0; layer < config.numLayers; layer++) {
      for (const module of v.modules) {
        const [inDim, outDim] = dims[module];
        const A = randomArray(v.r * inDim, seed++, 1 / Math.sqrt(inDim));
        const B = randomArray(outDim * v.r, seed++, 0.2);
        const group = ATTENTION.includes(module) ? 'self_attn' : 'mlp';
        const key = `base_model.model.model.layers.${layer}.${group}.${module}`;
        tensors.push({ name: `${key}.lora_A.weight`, dtype: 'F32', shape: [v.r, inDim], data: A });
        tensors.push({ name: `${key}.lora_B.weight`, dtype: 'F32', shape: [outDim, v.r], data: B });
        sites.set(`${layer}.${module}`, { A, B, r: v.r, scale });
      }
    }
    writeFileSync(join(adapterDir, 'adapter_model.safetensors'), writeSafetensors(tensors));
    writeFileSync(
      join(adapterDir, 'adapter_config.json'),
      JSON.stringify({
        peft_type: 'LORA',
        task_type: 'CAUSAL_LM',
        base_model_name_or_path: 'test/tiny',
        r: v.r,
        lora_alpha: v.alpha,
        lora_dropout: 0.05,
        target_modules: v.modules,
        bias: 'none',
        fan_in_fan_out: false,
        inference_mode: true,
        use_rslora: v.rslora,
        use_dora: false,
        modules_to_save: null,
        init_lora_weights: true,
        layers_to_transform: null,
        layers_pattern: null,
        rank_pattern: {},
        alpha_pattern: {},
        revision: null,
      }),
    );
    const next = rng(i);
    const ids = Array.from({ length: 12 }, () => Math.floor(next() * config.vocabSize));
    const stdout = execFileSync(
      process.execPath,
      ['bin/webgrpo.mjs', 'score', '--model', modelDir, '--adapter', adapterDir, '--ids', ids.join(','), '--json'],
      {
        encoding: 'utf8',
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    const got = JSON.parse(stdout.trim().split('\n').pop()!) as { logprobs: number[]; entropies: number[] };
    const cpu = await loadCpuWeights(openSource(modelDir));
    const want = referenceScore(cpu.config, cpu.tensors, ids, 1, sites);
    const base = referenceScore(cpu.config, cpu.tensors, ids, 1);
    assertClose(got.logprobs, want.logprobs, 2e-3, 'logprobs with adapter');
    assertClose(got.entropies, want.entropies, 2e-3, 'entropies with adapter');
    // The adapter must matter, or the comparison would not test it.
    const shift = Math.max(...base.logprobs.map((lp, t) => Math.abs(lp - want.logprobs[t])));
    assert.ok(shift > 0.05, `adapter changes the log-probs (max shift ${shift})`);
  });
}
