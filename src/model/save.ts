// Write a model's current GPU weights back out in Hugging Face layout (F32 safetensors), for
// full-parameter training of small models.

import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Tensor, WeightMatrix } from '../gpu/tensor.ts';
import { writeSafetensors } from '../io/safetensors.ts';
import type { LanguageModel } from './model.ts';

async function readMatrix(w: WeightMatrix): Promise<Float32Array> {
  if (w.dtype !== 'f32') throw new Error(`saveWeights: ${w.name} is ${w.dtype}; only f32 weights are written back.`);
  const out = new Float32Array(w.rows * w.cols);
  for (const c of w.chunks) out.set(await w.gpu!.readF32(c.buffer, c.rows * w.cols), c.rowStart * w.cols);
  return out;
}

/** Writes model.safetensors (F32) with every weight under its HF name; other files are the caller's. */
export async function saveWeights(model: LanguageModel, dir: string): Promise<void> {
  const { weights, config } = model;
  const tensors: Parameters<typeof writeSafetensors>[0] = [];
  const matrix = async (name: string, w: WeightMatrix) => tensors.push({ name, dtype: 'F32', shape: [w.rows, w.cols], data: await readMatrix(w) });
  const vector = async (name: string, t: Tensor | undefined) => {
    if (t) tensors.push({ name, dtype: 'F32', shape: [t.size], data: await t.read() });
  };
  await matrix('model.embed_tokens.weight', weights.embed);
  if (!config.tieWordEmbeddings || weights.lmHead !== weights.embed) await matrix('lm_head.weight', weights.lmHead);
  await vector('model.norm.weight', weights.finalNorm);
  for (const [l, layer] of weights.layers.entries()) {
    const p = `model.layers.${l}.`;
    await vector(`${p}input_layernorm.weight`, layer.inputNorm);
    await vector(`${p}post_attention_layernorm.weight`, layer.postNorm);
    for (const [name, w] of [
      ['q', layer.q],
      ['k', layer.k],
      ['v', layer.v],
      ['o', layer.o],
    ] as const)
      await matrix(`${p}self_attn.${name}_proj.weight`, w);
    await vector(`${p}self_attn.q_proj.bias`, layer.qBias);
    await vector(`${p}self_attn.k_proj.bias`, layer.kBias);
    await vector(`${p}self_attn.v_proj.bias`, layer.vBias);
    await vector(`${p}self_attn.q_norm.weight`, layer.qNorm);
    await vector(`${p}self_attn.k_norm.weight`, layer.kNorm);
    for (const [name, w] of [
      ['gate', layer.gate],
      ['up', layer.up],
      ['down', layer.down],
    ] as const)
      await matrix(`${p}mlp.${name}_proj.weight`, w);
  }
  writeFileSync(join(dir, 'model.safetensors'), writeSafetensors(tensors, { format: 'pt' }));
}
