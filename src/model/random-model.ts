// Random tiny models in the exact Hugging Face layout (config.json, generation_config.json,
// model.safetensors or a sharded index), for tests and demos. Node only (writes files).

import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { seededRandom } from '../gpu/random.ts';
import type { Architecture, ModelConfig } from './types.ts';
import { expectedTensors, parseConfig } from './config.ts';
import { f32ToBf16Bits, f32ToF16Bits, writeSafetensors, type WritableTensor } from '../io/safetensors.ts';

export interface RandomModelOptions {
  architecture: Architecture;
  dtype: 'F32' | 'F16' | 'BF16';
  tied: boolean;
  /** With tied embeddings, also store a separate lm_head.weight (as Qwen3-0.6B does). */
  storeLmHeadWhenTied?: boolean;
  hiddenSize?: number;
  numLayers?: number;
  numHeads?: number;
  numKvHeads?: number;
  /** Default hidden/heads; Qwen3 defaults to 2 * hidden/heads so q_proj widens (as Qwen3-0.6B). */
  headDim?: number;
  intermediateSize?: number;
  vocabSize?: number;
  seed?: number;
  /** >1 writes model.safetensors.index.json + model-0000i-of-0000n.safetensors. */
  shards?: number;
  /** Multiplies the standard deviation of every linear/embedding weight (default 1). */
  scale?: number;
  /**
   * 'uniform' draws every value from a uniform of the same mean and standard deviation: ~10× faster
   * than the default 'normal', for the bench's 0.5B-parameter model.
   */
  distribution?: 'normal' | 'uniform';
  /** Llama only: q/k/v biases (attention_bias: true). */
  attentionBias?: boolean;
  ropeTheta?: number;
  rmsNormEps?: number;
  maxPositionEmbeddings?: number;
  bosTokenId?: number;
  eosTokenId?: number;
}

/** Seeded normal-ish values (mulberry32 + Box-Muller). */
function normals(seed: number): () => number {
  const u = seededRandom(seed);
  return () => Math.sqrt(-2 * Math.log(1 - u())) * Math.cos(2 * Math.PI * u());
}

/** Seeded uniform values of mean 0 and variance 1, on [-√3, √3). */
function uniforms(seed: number): () => number {
  const u = seededRandom(seed);
  return () => (2 * u() - 1) * Math.sqrt(3);
}

/** The config.json object a random model gets (real HF field names). */
function randomModelConfigJson(opts: RandomModelOptions): Record<string, unknown> {
  const hidden = opts.hiddenSize ?? 64;
  const heads = opts.numHeads ?? 4;
  const arch = opts.architecture;
  const headDim = opts.headDim ?? (arch === 'qwen3' ? (2 * hidden) / heads : hidden / heads);
  const eos = opts.eosTokenId ?? 2;
  const json: Record<string, unknown> = {
    architectures: [{ llama: 'LlamaForCausalLM', qwen2: 'Qwen2ForCausalLM', qwen3: 'Qwen3ForCausalLM' }[arch]],
    model_type: arch,
    hidden_act: 'silu',
    hidden_size: hidden,
    num_hidden_layers: opts.numLayers ?? 2,
    num_attention_heads: heads,
    num_key_value_heads: opts.numKvHeads ?? 2,
    head_dim: headDim,
    intermediate_size: opts.intermediateSize ?? 128,
    vocab_size: opts.vocabSize ?? 256,
    rope_theta: opts.ropeTheta ?? (arch === 'llama' ? 100000 : 1000000),
    rope_scaling: null,
    rms_norm_eps: opts.rmsNormEps ?? (arch === 'llama' ? 1e-5 : 1e-6),
    tie_word_embeddings: opts.tied,
    max_position_embeddings: opts.maxPositionEmbeddings ?? 2048,
    bos_token_id: opts.bosTokenId ?? 1,
    eos_token_id: eos,
    torch_dtype: { F32: 'float32', F16: 'float16', BF16: 'bfloat16' }[opts.dtype],
    use_cache: true,
  };
  if (arch === 'llama') {
    json.attention_bias = opts.attentionBias ?? false;
    json.mlp_bias = false;
  } else {
    json.use_sliding_window = false;
    if (arch === 'qwen3') json.attention_bias = false;
  }
  return json;
}

/**
 * Write a random model to `dir` (created if needed) and return its parsed config. Weights are
 * seeded and scaled so activations stay O(1): linears ~ N(0, 1/in) * scale, embeddings and
 * lm_head ~ N(0, 4/hidden) * scale (logit spread ~2), norm weights ~ 1 + 0.1 N, biases ~ 0.1 N.
 */
export function writeRandomModel(dir: string, opts: RandomModelOptions): ModelConfig {
  const configJson = randomModelConfigJson(opts);
  const config = parseConfig(configJson);
  const next = (opts.distribution === 'uniform' ? uniforms : normals)(opts.seed ?? 1);
  const scale = opts.scale ?? 1;
  const shapes = expectedTensors(config);
  if (config.tieWordEmbeddings && opts.storeLmHeadWhenTied) {
    shapes.set('lm_head.weight', [config.vocabSize, config.hiddenSize]);
  }
  const tensors: WritableTensor[] = [];
  for (const [name, shape] of shapes) {
    const n = shape.reduce((a, b) => a * b, 1);
    const values = new Float32Array(n);
    let std: number;
    let mean = 0;
    if (name.endsWith('norm.weight')) {
      mean = 1;
      std = 0.1;
    } else if (name.endsWith('.bias')) {
      std = 0.1;
    } else if (name === 'model.embed_tokens.weight' || name === 'lm_head.weight') {
      std = (2 / Math.sqrt(config.hiddenSize)) * scale;
    } else {
      std = (1 / Math.sqrt(shape[1])) * scale;
    }
    for (let i = 0; i < n; i++) values[i] = mean + std * next();
    const data = opts.dtype === 'F32' ? values : opts.dtype === 'F16' ? f32ToF16Bits(values) : f32ToBf16Bits(values);
    tensors.push({ name, dtype: opts.dtype, shape, data });
  }

  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'config.json'), `${JSON.stringify(configJson, null, 2)}\n`);
  const gen = {
    bos_token_id: configJson.bos_token_id,
    eos_token_id: [configJson.eos_token_id],
    do_sample: true,
    temperature: 0.7,
    top_p: 0.8,
    top_k: 20,
  };
  writeFileSync(join(dir, 'generation_config.json'), `${JSON.stringify(gen, null, 2)}\n`);

  const shards = Math.max(1, Math.floor(opts.shards ?? 1));
  const metadata = { format: 'pt' };
  if (shards === 1) {
    writeFileSync(join(dir, 'model.safetensors'), writeSafetensors(tensors, metadata));
    return config;
  }
  // Contiguous groups of tensors, balanced by bytes.
  const totalBytes = tensors.reduce((a, t) => a + t.data.byteLength, 0);
  const groups: WritableTensor[][] = Array.from({ length: shards }, () => []);
  let acc = 0;
  for (const t of tensors) {
    const g = Math.min(shards - 1, Math.floor((acc / totalBytes) * shards));
    groups[g].push(t);
    acc += t.data.byteLength;
  }
  const pad = (k: number) => String(k).padStart(5, '0');
  const weightMap: Record<string, string> = {};
  groups.forEach((group, g) => {
    const file = `model-${pad(g + 1)}-of-${pad(shards)}.safetensors`;
    for (const t of group) weightMap[t.name] = file;
    writeFileSync(join(dir, file), writeSafetensors(group, metadata));
  });
  const index = { metadata: { total_size: totalBytes }, weight_map: weightMap };
  writeFileSync(join(dir, 'model.safetensors.index.json'), `${JSON.stringify(index, null, 2)}\n`);
  return config;
}
