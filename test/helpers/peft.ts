// A PEFT adapter written by hand (PEFT key names and adapter_config.json, not our exporter), with
// seeded random A and non-zero B, for tests that start training from a known adapter.

import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { writeSafetensors } from '../../src/io/safetensors.ts';
import { randomArray } from './gpu.ts';

const PEFT_GROUP = {
  q_proj: 'self_attn',
  k_proj: 'self_attn',
  v_proj: 'self_attn',
  o_proj: 'self_attn',
  gate_proj: 'mlp',
  up_proj: 'mlp',
  down_proj: 'mlp',
} as const;
export type PeftModule = keyof typeof PEFT_GROUP;

/** PEFT key prefix of one LoRA site. */
export function peftKey(layer: number, module: PeftModule): string {
  return `base_model.model.model.layers.${layer}.${PEFT_GROUP[module]}.${module}`;
}

/** Writes adapter_model.safetensors (F32, A and B uniform in ±0.3, seeds from `seed` upwards) and adapter_config.json. */
export function writePeftAdapter(
  dir: string,
  opts: { layers: number; dims: Partial<Record<PeftModule, readonly [number, number]>>; r: number; alpha: number; seed: number },
): void {
  mkdirSync(dir, { recursive: true });
  const tensors: Parameters<typeof writeSafetensors>[0] = [];
  let seed = opts.seed;
  const modules = Object.keys(opts.dims) as PeftModule[];
  for (let layer = 0; layer < opts.layers; layer++) {
    for (const module of modules) {
      const [inDim, outDim] = opts.dims[module]!;
      const key = peftKey(layer, module);
      tensors.push({ name: `${key}.lora_A.weight`, dtype: 'F32', shape: [opts.r, inDim], data: randomArray(opts.r * inDim, seed++, 0.3) });
      tensors.push({ name: `${key}.lora_B.weight`, dtype: 'F32', shape: [outDim, opts.r], data: randomArray(outDim * opts.r, seed++, 0.3) });
    }
  }
  writeFileSync(join(dir, 'adapter_model.safetensors'), writeSafetensors(tensors));
  writeFileSync(
    join(dir, 'adapter_config.json'),
    JSON.stringify({
      peft_type: 'LORA',
      task_type: 'CAUSAL_LM',
      r: opts.r,
      lora_alpha: opts.alpha,
      lora_dropout: 0,
      target_modules: modules,
      bias: 'none',
      fan_in_fan_out: false,
      use_rslora: false,
      use_dora: false,
      modules_to_save: null,
    }),
  );
}
