// Hugging Face config.json -> ModelConfig, the tensor names and shapes a checkpoint must hold, and
// the parameter count. Works in Node and the browser.

import type { Architecture, ModelConfig } from './types.ts';

const SUPPORTED: readonly Architecture[] = ['llama', 'qwen2', 'qwen3'];

type Json = Record<string, unknown>;

function fail(fileName: string, msg: string): never {
  throw new Error(`${fileName}: ${msg}`);
}

function posInt(j: Json, key: string, fileName: string, fallback?: number): number {
  const v = j[key] ?? fallback;
  if (v === undefined || v === null) fail(fileName, `missing '${key}'.`);
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v <= 0) {
    fail(fileName, `'${key}' must be a positive integer, got ${JSON.stringify(v)}.`);
  }
  return v;
}

function posNum(j: Json, key: string, fileName: string, fallback: number): number {
  const v = j[key] ?? fallback;
  if (typeof v !== 'number' || !Number.isFinite(v) || v <= 0) {
    fail(fileName, `'${key}' must be a positive number, got ${JSON.stringify(v)}.`);
  }
  return v;
}

function tokenIds(v: unknown, key: string, fileName: string): number[] {
  if (v === undefined || v === null) return [];
  const list = Array.isArray(v) ? v : [v];
  for (const id of list) {
    if (typeof id !== 'number' || !Number.isSafeInteger(id) || id < 0) {
      fail(fileName, `'${key}' must be a token id or a list of token ids, got ${JSON.stringify(v)}.`);
    }
  }
  return [...new Set(list as number[])];
}

/** Normalise a config.json object. Throws a clear error for anything the engine cannot run. */
export function parseConfig(json: unknown, fileName = 'config.json'): ModelConfig {
  if (json === null || typeof json !== 'object' || Array.isArray(json)) fail(fileName, 'expected a JSON object.');
  const j = json as Json;
  const modelType = j.model_type;
  if (typeof modelType !== 'string') fail(fileName, `missing 'model_type'; supported: ${SUPPORTED.join(', ')}.`);
  if (!SUPPORTED.includes(modelType as Architecture)) {
    throw new Error(`unsupported model_type '${modelType}' in ${fileName}; supported: ${SUPPORTED.join(', ')}`);
  }
  const architecture = modelType as Architecture;

  const ropeScaling = j.rope_scaling as Json | null | undefined;
  if (ropeScaling !== undefined && ropeScaling !== null) {
    const kind = typeof ropeScaling === 'object' ? (ropeScaling.rope_type ?? ropeScaling.type) : ropeScaling;
    if (kind !== 'default') {
      fail(fileName, `rope_scaling ${JSON.stringify(ropeScaling)} is not supported (only plain RoPE: rope_scaling null or type "default").`);
    }
  }
  if (j.rope_interleaved === true) fail(fileName, 'rope_interleaved=true is not supported (HF rotate_half RoPE only).');
  if (j.use_sliding_window === true) fail(fileName, 'use_sliding_window=true is not supported (full attention only).');
  if (j.mlp_bias === true) fail(fileName, 'mlp_bias=true is not supported.');
  const act = j.hidden_act ?? 'silu';
  if (act !== 'silu') fail(fileName, `hidden_act '${String(act)}' is not supported (silu only).`);
  const tp = j.pretraining_tp;
  if (tp !== undefined && tp !== null && tp !== 1) fail(fileName, `pretraining_tp ${String(tp)} is not supported (1 only).`);

  const hiddenSize = posInt(j, 'hidden_size', fileName);
  const numLayers = posInt(j, 'num_hidden_layers', fileName);
  const numHeads = posInt(j, 'num_attention_heads', fileName);
  const numKvHeads = posInt(j, 'num_key_value_heads', fileName, numHeads);
  if (numHeads % numKvHeads !== 0) {
    fail(fileName, `num_attention_heads ${numHeads} is not a multiple of num_key_value_heads ${numKvHeads}.`);
  }
  let headDim: number;
  if (j.head_dim !== undefined && j.head_dim !== null) {
    headDim = posInt(j, 'head_dim', fileName);
  } else {
    if (hiddenSize % numHeads !== 0) {
      fail(fileName, `hidden_size ${hiddenSize} is not divisible by num_attention_heads ${numHeads} and no head_dim is given.`);
    }
    headDim = hiddenSize / numHeads;
  }
  if (headDim % 2 !== 0) fail(fileName, `head_dim ${headDim} must be even for RoPE.`);

  let attentionBias: boolean;
  if (architecture === 'qwen2')
    attentionBias = true; // Qwen2 always has q/k/v biases
  else attentionBias = j.attention_bias === true;

  const bos = j.bos_token_id;
  const bosTokenId = typeof bos === 'number' && Number.isSafeInteger(bos) && bos >= 0 ? bos : null;

  return {
    architecture,
    modelType,
    hiddenSize,
    numLayers,
    numHeads,
    numKvHeads,
    headDim,
    intermediateSize: posInt(j, 'intermediate_size', fileName),
    vocabSize: posInt(j, 'vocab_size', fileName),
    ropeTheta: posNum(j, 'rope_theta', fileName, 10000),
    rmsNormEps: posNum(j, 'rms_norm_eps', fileName, 1e-6),
    // LlamaConfig, Qwen2Config and Qwen3Config all default tie_word_embeddings to false.
    tieWordEmbeddings: j.tie_word_embeddings === true,
    attentionBias,
    qkNorm: architecture === 'qwen3',
    maxPositionEmbeddings: posInt(j, 'max_position_embeddings', fileName, 2048),
    bosTokenId,
    eosTokenIds: tokenIds(j.eos_token_id, 'eos_token_id', fileName),
  };
}

/**
 * Merge generation_config.json into a config: its eos_token_id (number or list) adds stop ids after
 * the config's own, and its bos_token_id fills a missing one. Returns a new object.
 */
export function withGenerationConfig(config: ModelConfig, genJson: unknown, fileName = 'generation_config.json'): ModelConfig {
  if (genJson === null || typeof genJson !== 'object' || Array.isArray(genJson)) return config;
  const g = genJson as Json;
  const eos = [...config.eosTokenIds];
  for (const id of tokenIds(g.eos_token_id, 'eos_token_id', fileName)) if (!eos.includes(id)) eos.push(id);
  let bosTokenId = config.bosTokenId;
  if (bosTokenId === null && typeof g.bos_token_id === 'number' && Number.isSafeInteger(g.bos_token_id)) {
    bosTokenId = g.bos_token_id;
  }
  return { ...config, eosTokenIds: eos, bosTokenId };
}

/**
 * Every tensor the checkpoint must hold, name -> shape (HF names, Linear weights [out, in]).
 * `lm_head.weight` is listed only when embeddings are untied; when tied it is optional (a stored
 * one, as in Qwen3-0.6B, is used: see the loader).
 */
export function expectedTensors(config: ModelConfig): Map<string, number[]> {
  const { hiddenSize: h, numHeads, numKvHeads, headDim: d, intermediateSize: m, vocabSize: v } = config;
  const q = numHeads * d;
  const kv = numKvHeads * d;
  const out = new Map<string, number[]>();
  out.set('model.embed_tokens.weight', [v, h]);
  for (let i = 0; i < config.numLayers; i++) {
    const p = `model.layers.${i}`;
    out.set(`${p}.input_layernorm.weight`, [h]);
    out.set(`${p}.self_attn.q_proj.weight`, [q, h]);
    if (config.attentionBias) out.set(`${p}.self_attn.q_proj.bias`, [q]);
    out.set(`${p}.self_attn.k_proj.weight`, [kv, h]);
    if (config.attentionBias) out.set(`${p}.self_attn.k_proj.bias`, [kv]);
    out.set(`${p}.self_attn.v_proj.weight`, [kv, h]);
    if (config.attentionBias) out.set(`${p}.self_attn.v_proj.bias`, [kv]);
    out.set(`${p}.self_attn.o_proj.weight`, [h, q]);
    if (config.qkNorm) {
      out.set(`${p}.self_attn.q_norm.weight`, [d]);
      out.set(`${p}.self_attn.k_norm.weight`, [d]);
    }
    out.set(`${p}.post_attention_layernorm.weight`, [h]);
    out.set(`${p}.mlp.gate_proj.weight`, [m, h]);
    out.set(`${p}.mlp.up_proj.weight`, [m, h]);
    out.set(`${p}.mlp.down_proj.weight`, [h, m]);
  }
  out.set('model.norm.weight', [h]);
  if (!config.tieWordEmbeddings) out.set('lm_head.weight', [v, h]);
  return out;
}

/** The name of the optional output projection (required when untied). */
export const LM_HEAD = 'lm_head.weight';

/** Number of distinct parameters (tied embeddings counted once; a redundant stored lm_head not counted). */
export function parameterCount(config: ModelConfig): number {
  let n = 0;
  for (const shape of expectedTensors(config).values()) n += shape.reduce((a, b) => a * b, 1);
  return n;
}
