// Whole-model LoRA gradients on random tiny models of each architecture, against central finite
// differences of the independent float64 reference forward.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LanguageModel } from '../src/model/model.ts';
import { forwardBackward, ModelGradients } from '../src/model/backward.ts';
import { padBatch } from '../src/model/batch.ts';
import { referenceScore, type CpuAdapter, type CpuTensor } from '../src/model/reference.ts';
import type { ModelConfig } from '../src/model/types.ts';
import { openSource } from '../src/io/source.ts';
import { loadCpuWeights, loadModel } from '../src/model/weights.ts';
import { writeRandomModel } from '../src/model/random-model.ts';
import { ALL_TARGETS } from '../src/lora/config.ts';
import { LoraAdapter } from '../src/lora/adapter.ts';
import { randomArray, rng, testGpu } from './helpers/gpu.ts';
import { centralDifference, partialDerivative } from './helpers/finite-diff.ts';
import type { Gpu } from '../src/gpu/runtime.ts';

const shape = { hiddenSize: 32, numLayers: 2, numHeads: 4, numKvHeads: 2, intermediateSize: 48, vocabSize: 40 };
const temperature = 0.8;

async function setup(gpu: Gpu, architecture: 'llama' | 'qwen2' | 'qwen3', seed: number) {
  const dir = mkdtempSync(join(tmpdir(), 'webgrpo-bw-'));
  writeRandomModel(dir, { architecture, dtype: 'F32', tied: architecture !== 'qwen3', ...shape, seed });
  const { config, weights } = await loadModel(openSource(dir), gpu);
  const cpu = await loadCpuWeights(openSource(dir));
  const model = new LanguageModel(gpu, config, weights);
  const adapter = LoraAdapter.init(gpu, config, { r: 4, alpha: 8, dropout: 0, useRslora: false, targetModules: ALL_TARGETS }, { seed });
  // B starts at zero in PEFT's init, which would hide every A gradient: randomise it.
  adapter.layers().forEach(({ lora }, i) => gpu.write(lora.B.buffer, randomArray(lora.B.size, seed * 100 + i, 0.3)));
  model.adapter = adapter;
  return { model, cpu, adapter };
}

/** The adapter's current values as float64 reference sites. */
type Sites = Map<string, { A: Float64Array; B: Float64Array; r: number; scale: number }>;
async function cpuAdapter(adapter: LoraAdapter): Promise<Sites> {
  const sites: Sites = new Map();
  for (const { layer, module, lora } of adapter.layers()) {
    sites.set(`${layer}.${module}`, { A: Float64Array.from(await lora.A.read()), B: Float64Array.from(await lora.B.read()), r: lora.r, scale: lora.scale });
  }
  return sites;
}

const sequences = [
  [3, 17, 5, 29, 11, 8, 2],
  [30, 1, 22, 9, 14],
];

/** L = Σ over valid rows of c1·logprob + c2·entropy, with fixed random coefficients. */
function coefficients(seed: number) {
  const next = rng(seed);
  return sequences.map((s) => Array.from({ length: s.length - 1 }, () => [next() * 2 - 1, next() * 2 - 1] as const));
}

function referenceLoss(cpu: { config: ModelConfig; tensors: Map<string, CpuTensor> }, adapter: CpuAdapter, coef: ReturnType<typeof coefficients>): number {
  let loss = 0;
  sequences.forEach((seq, b) => {
    const { logprobs, entropies } = referenceScore(cpu.config, cpu.tensors, seq, temperature, adapter);
    logprobs.forEach((lp, t) => (loss += coef[b][t][0] * lp + coef[b][t][1] * entropies[t]));
  });
  return loss;
}

async function gpuGradients(model: LanguageModel, adapter: LoraAdapter, coef: ReturnType<typeof coefficients>, checkpoint: boolean) {
  adapter.zeroGrads();
  const data = padBatch(sequences);
  await forwardBackward(
    model,
    data,
    () => {
      const gLogprob = new Float32Array(data.batch * data.tokens);
      const gEntropy = new Float32Array(data.batch * data.tokens);
      coef.forEach((rows, b) =>
        rows.forEach(([c1, c2], t) => {
          gLogprob[b * data.tokens + t] = c1;
          gEntropy[b * data.tokens + t] = c2;
        }),
      );
      return { gLogprob, gEntropy };
    },
    { temperature, checkpoint },
  );
  const grads = new Map<string, { A: Float32Array; B: Float32Array }>();
  for (const { layer, module, lora } of adapter.layers()) {
    grads.set(`${layer}.${module}`, { A: await lora.gradA.read(), B: await lora.gradB.read() });
  }
  return grads;
}

for (const [i, architecture] of (['llama', 'qwen2', 'qwen3'] as const).entries()) {
  test(`LoRA gradients through the whole ${architecture} model match finite differences of the float64 reference`, async () => {
    const gpu = await testGpu();
    const { model, cpu, adapter } = await setup(gpu, architecture, 11 + i);
    const coef = coefficients(5 + i);
    const grads = await gpuGradients(model, adapter, coef, false);
    const base = await cpuAdapter(adapter);

    // Directional derivative along a random direction through every LoRA parameter at once.
    const eps = 1e-4;
    const next = rng(77 + i);
    const direction = new Map([...base].map(([k, s]) => [k, { A: s.A.map(() => next() * 2 - 1), B: s.B.map(() => next() * 2 - 1) }]));
    const shifted = (delta: number): CpuAdapter =>
      new Map(
        [...base].map(([k, s]) => {
          const d = direction.get(k)!;
          return [k, { ...s, A: s.A.map((v, j) => v + delta * d.A[j]), B: s.B.map((v, j) => v + delta * d.B[j]) }];
        }),
      );
    const numeric = centralDifference((delta) => referenceLoss(cpu, shifted(delta), coef), eps);
    let analytic = 0;
    for (const [k, g] of grads) {
      const d = direction.get(k)!;
      g.A.forEach((v, j) => (analytic += v * d.A[j]));
      g.B.forEach((v, j) => (analytic += v * d.B[j]));
    }
    assert.ok(Math.abs(numeric) > 1e-2, `directional derivative is informative (${numeric})`);
    assert.ok(Math.abs(analytic - numeric) <= 1e-3 * Math.abs(numeric), `directional: GPU ${analytic} vs finite differences ${numeric}`);

    // Single coordinates of A and B at the first and last layer's sites.
    let worst = 0,
      scale = 0;
    for (const key of ['0.q_proj', '0.gate_proj', `1.o_proj`, '1.down_proj', '1.k_proj']) {
      for (const which of ['A', 'B'] as const) {
        const values = base.get(key)![which];
        for (const j of [0, Math.floor(values.length / 2), values.length - 1]) {
          const bump = (delta: number): CpuAdapter => {
            const site = base.get(key)!;
            const changed = Float64Array.from(site[which]);
            changed[j] += delta;
            return new Map(base).set(key, { ...site, [which]: changed });
          };
          const fd = centralDifference((delta) => referenceLoss(cpu, bump(delta), coef), eps);
          const g = grads.get(key)![which][j];
          worst = Math.max(worst, Math.abs(g - fd));
          scale = Math.max(scale, Math.abs(fd));
        }
      }
    }
    assert.ok(worst <= 1e-3 * Math.max(scale, 1e-2), `coordinate gradients: worst abs error ${worst} at scale ${scale}`);

    // Activation checkpointing recomputes each layer and must give the same gradients.
    const recomputed = await gpuGradients(model, adapter, coef, true);
    for (const [k, g] of grads) {
      const r = recomputed.get(k)!;
      for (const which of ['A', 'B'] as const) {
        g[which].forEach((v, j) => assert.ok(Math.abs(v - r[which][j]) <= 1e-6 + 1e-5 * Math.abs(v), `${k}.${which}[${j}] with checkpointing`));
      }
    }
  });
}

/** HF tensor name of each full-parameter gradient. */
function hfName(param: string): string {
  const top: Record<string, string> = { embed: 'model.embed_tokens.weight', lmHead: 'lm_head.weight', finalNorm: 'model.norm.weight' };
  if (top[param]) return top[param];
  const [layer, name] = param.split('.');
  const attention: Record<string, string> = {
    q: 'q_proj.weight',
    k: 'k_proj.weight',
    v: 'v_proj.weight',
    o: 'o_proj.weight',
    qBias: 'q_proj.bias',
    kBias: 'k_proj.bias',
    vBias: 'v_proj.bias',
    qNorm: 'q_norm.weight',
    kNorm: 'k_norm.weight',
  };
  const rest: Record<string, string> = {
    gate: 'mlp.gate_proj.weight',
    up: 'mlp.up_proj.weight',
    down: 'mlp.down_proj.weight',
    inputNorm: 'input_layernorm.weight',
    postNorm: 'post_attention_layernorm.weight',
  };
  return `model.layers.${layer}.${attention[name] ? `self_attn.${attention[name]}` : rest[name]}`;
}

for (const [i, [architecture, tied]] of (
  [
    ['qwen2', true],
    ['qwen3', false],
  ] as const
).entries()) {
  test(`full-parameter gradients of every ${architecture} weight (${tied ? 'tied' : 'untied'}) match finite differences`, async () => {
    const gpu = await testGpu();
    const dir = mkdtempSync(join(tmpdir(), 'webgrpo-full-'));
    writeRandomModel(dir, { architecture, dtype: 'F32', tied, ...shape, seed: 60 + i });
    const { config, weights } = await loadModel(openSource(dir), gpu);
    const cpu = await loadCpuWeights(openSource(dir));
    const model = new LanguageModel(gpu, config, weights);
    const gradients = ModelGradients.create(model);
    const coef = coefficients(9 + i);
    const data = padBatch(sequences);
    await forwardBackward(
      model,
      data,
      () => {
        const gLogprob = new Float32Array(data.batch * data.tokens);
        const gEntropy = new Float32Array(data.batch * data.tokens);
        coef.forEach((rows, b) =>
          rows.forEach(([c1, c2], t) => {
            gLogprob[b * data.tokens + t] = c1;
            gEntropy[b * data.tokens + t] = c2;
          }),
        );
        return { gLogprob, gEntropy };
      },
      { temperature, gradients },
    );
    const tensors = new Map([...cpu.tensors].map(([k, t]) => [k, { shape: t.shape, data: Float64Array.from(t.data) }]));
    const loss = () => referenceLoss({ ...cpu, tensors }, new Map(), coef);
    const eps = 1e-4;
    let worst = 0,
      scale = 0,
      checked = 0;
    const next = rng(31 + i);
    for (const p of gradients.params) {
      const grad = await p.grad.read();
      const values = tensors.get(hfName(p.name))!.data;
      assert.equal(values.length, grad.length, p.name);
      for (let c = 0; c < 3; c++) {
        const j = Math.floor(next() * values.length);
        const fd = partialDerivative(loss, values, j, eps);
        worst = Math.max(worst, Math.abs(grad[j] - fd));
        scale = Math.max(scale, Math.abs(fd));
        checked++;
      }
    }
    assert.ok(checked > 60, `${checked} coordinates checked`);
    assert.ok(worst <= 2e-3 * Math.max(scale, 1e-2), `full-parameter gradients: worst abs error ${worst} at scale ${scale}`);
  });
}
