import { test } from 'node:test';
import assert from 'node:assert/strict';
import { expectedTensors, parameterCount, parseConfig, withGenerationConfig } from '../src/model/config.ts';

// Real config.json contents from the Hub (DESIGN.md §5.1).
const QWEN25_05B_INSTRUCT = {
  architectures: ['Qwen2ForCausalLM'],
  attention_dropout: 0.0,
  bos_token_id: 151643,
  eos_token_id: 151645,
  hidden_act: 'silu',
  hidden_size: 896,
  initializer_range: 0.02,
  intermediate_size: 4864,
  max_position_embeddings: 32768,
  max_window_layers: 21,
  model_type: 'qwen2',
  num_attention_heads: 14,
  num_hidden_layers: 24,
  num_key_value_heads: 2,
  rms_norm_eps: 1e-6,
  rope_theta: 1000000.0,
  sliding_window: 32768,
  tie_word_embeddings: true,
  torch_dtype: 'bfloat16',
  transformers_version: '4.43.1',
  use_cache: true,
  use_sliding_window: false,
  vocab_size: 151936,
};
const QWEN25_05B_INSTRUCT_GENERATION = {
  bos_token_id: 151643,
  pad_token_id: 151643,
  do_sample: true,
  eos_token_id: [151645, 151643],
  repetition_penalty: 1.1,
  temperature: 0.7,
  top_p: 0.8,
  top_k: 20,
  transformers_version: '4.37.0',
};

const QWEN3_06B = {
  architectures: ['Qwen3ForCausalLM'],
  attention_bias: false,
  attention_dropout: 0.0,
  bos_token_id: 151643,
  eos_token_id: 151645,
  head_dim: 128,
  hidden_act: 'silu',
  hidden_size: 1024,
  initializer_range: 0.02,
  intermediate_size: 3072,
  max_position_embeddings: 40960,
  max_window_layers: 28,
  model_type: 'qwen3',
  num_attention_heads: 16,
  num_hidden_layers: 28,
  num_key_value_heads: 8,
  rms_norm_eps: 1e-6,
  rope_scaling: null,
  rope_theta: 1000000,
  sliding_window: null,
  tie_word_embeddings: true,
  torch_dtype: 'bfloat16',
  transformers_version: '4.51.0',
  use_cache: true,
  use_sliding_window: false,
  vocab_size: 151936,
};

const SMOLLM2_135M_INSTRUCT = {
  architectures: ['LlamaForCausalLM'],
  attention_bias: false,
  attention_dropout: 0.0,
  bos_token_id: 1,
  eos_token_id: 2,
  head_dim: 64,
  hidden_act: 'silu',
  hidden_size: 576,
  initializer_range: 0.041666666666666664,
  intermediate_size: 1536,
  is_llama_config: true,
  max_position_embeddings: 8192,
  mlp_bias: false,
  model_type: 'llama',
  num_attention_heads: 9,
  num_hidden_layers: 30,
  num_key_value_heads: 3,
  pad_token_id: 2,
  pretraining_tp: 1,
  rms_norm_eps: 1e-5,
  rope_interleaved: false,
  rope_scaling: null,
  rope_theta: 100000,
  tie_word_embeddings: true,
  torch_dtype: 'bfloat16',
  transformers_version: '4.42.3',
  use_cache: true,
  vocab_size: 49152,
};

/** A safetensors file of 16-bit weights is 2 bytes per stored parameter plus a small header. */
function assertFileSize(stored: number, fileBytes: number): void {
  const header = fileBytes - 2 * stored;
  assert.ok(header > 8 && header < 65536, `header ${header} bytes`);
}

test('Qwen2.5-0.5B-Instruct config', () => {
  const c = parseConfig(QWEN25_05B_INSTRUCT);
  assert.deepEqual(c, {
    architecture: 'qwen2',
    modelType: 'qwen2',
    hiddenSize: 896,
    numLayers: 24,
    numHeads: 14,
    numKvHeads: 2,
    headDim: 64,
    intermediateSize: 4864,
    vocabSize: 151936,
    ropeTheta: 1e6,
    rmsNormEps: 1e-6,
    tieWordEmbeddings: true,
    attentionBias: true,
    qkNorm: false,
    maxPositionEmbeddings: 32768,
    bosTokenId: 151643,
    eosTokenIds: [151645],
  });
  assert.deepEqual(withGenerationConfig(c, QWEN25_05B_INSTRUCT_GENERATION).eosTokenIds, [151645, 151643]);
  assert.deepEqual(c.eosTokenIds, [151645], 'withGenerationConfig does not mutate');
  const t = expectedTensors(c);
  assert.deepEqual(t.get('model.embed_tokens.weight'), [151936, 896]);
  assert.deepEqual(t.get('model.layers.0.self_attn.q_proj.bias'), [896]);
  assert.deepEqual(t.get('model.layers.23.self_attn.k_proj.weight'), [128, 896]);
  assert.deepEqual(t.get('model.layers.23.self_attn.v_proj.bias'), [128]);
  assert.deepEqual(t.get('model.layers.5.mlp.down_proj.weight'), [896, 4864]);
  assert.equal(t.has('lm_head.weight'), false);
  assert.equal(t.has('model.layers.24.input_layernorm.weight'), false);
  assert.equal(t.size, 1 + 24 * 12 + 1);
  assert.equal(parameterCount(c), 494_032_768);
  assertFileSize(parameterCount(c), 988_097_824);
});

test('Qwen3-0.6B config', () => {
  const c = parseConfig(QWEN3_06B);
  assert.equal(c.architecture, 'qwen3');
  assert.equal(c.headDim, 128);
  assert.equal(c.qkNorm, true);
  assert.equal(c.attentionBias, false);
  assert.equal(c.numKvHeads, 8);
  assert.equal(c.maxPositionEmbeddings, 40960);
  assert.deepEqual(c.eosTokenIds, [151645]);
  const t = expectedTensors(c);
  assert.deepEqual(t.get('model.layers.0.self_attn.q_proj.weight'), [2048, 1024]);
  assert.deepEqual(t.get('model.layers.0.self_attn.o_proj.weight'), [1024, 2048]);
  assert.deepEqual(t.get('model.layers.0.self_attn.k_proj.weight'), [1024, 1024]);
  assert.deepEqual(t.get('model.layers.27.self_attn.q_norm.weight'), [128]);
  assert.deepEqual(t.get('model.layers.27.self_attn.k_norm.weight'), [128]);
  assert.equal(t.has('model.layers.0.self_attn.q_proj.bias'), false);
  assert.equal(t.has('lm_head.weight'), false, 'tied: lm_head optional');
  assert.equal(parameterCount(c), 596_049_920);
  // The checkpoint stores lm_head.weight too.
  assertFileSize(parameterCount(c) + 151936 * 1024, 1_503_300_328);
});

test('SmolLM2-135M-Instruct config', () => {
  const c = parseConfig(SMOLLM2_135M_INSTRUCT);
  assert.equal(c.architecture, 'llama');
  assert.equal(c.hiddenSize, 576);
  assert.equal(c.numLayers, 30);
  assert.equal(c.numHeads, 9);
  assert.equal(c.numKvHeads, 3);
  assert.equal(c.headDim, 64);
  assert.equal(c.ropeTheta, 100000);
  assert.equal(c.rmsNormEps, 1e-5);
  assert.equal(c.attentionBias, false);
  assert.equal(c.qkNorm, false);
  assert.equal(c.bosTokenId, 1);
  assert.deepEqual(c.eosTokenIds, [2]);
  assert.equal(parameterCount(c), 134_515_008);
  assertFileSize(parameterCount(c), 269_060_552);
  // SmolLM2-360M-Instruct differs only in sizes.
  const c360 = parseConfig({
    ...SMOLLM2_135M_INSTRUCT,
    hidden_size: 960,
    num_hidden_layers: 32,
    num_attention_heads: 15,
    num_key_value_heads: 5,
    intermediate_size: 2560,
  });
  assertFileSize(parameterCount(c360), 723_674_912);
});

test('head_dim falls back to hidden/heads; llama attention_bias and defaults', () => {
  const { head_dim: _drop, ...noHeadDim } = SMOLLM2_135M_INSTRUCT;
  void _drop;
  assert.equal(parseConfig(noHeadDim).headDim, 64);
  const biased = parseConfig({ ...SMOLLM2_135M_INSTRUCT, attention_bias: true });
  assert.equal(biased.attentionBias, true);
  assert.deepEqual(expectedTensors(biased).get('model.layers.0.self_attn.k_proj.bias'), [192]);
  const untied = parseConfig({ ...SMOLLM2_135M_INSTRUCT, tie_word_embeddings: false });
  assert.deepEqual(expectedTensors(untied).get('lm_head.weight'), [49152, 576]);
  assert.equal(parameterCount(untied), 134_515_008 + 49152 * 576);
  // Missing optional fields take the transformers defaults.
  const { num_key_value_heads: _k, rope_theta: _r, tie_word_embeddings: _t, eos_token_id: _e, bos_token_id: _b, ...minimal } = SMOLLM2_135M_INSTRUCT;
  void _k, void _r, void _t, void _e, void _b;
  const m = parseConfig(minimal);
  assert.equal(m.numKvHeads, 9);
  assert.equal(m.ropeTheta, 10000);
  assert.equal(m.tieWordEmbeddings, false);
  assert.deepEqual(m.eosTokenIds, []);
  assert.equal(m.bosTokenId, null);
  assert.deepEqual(parseConfig({ ...SMOLLM2_135M_INSTRUCT, eos_token_id: [2, 0, 2] }).eosTokenIds, [2, 0]);
  assert.equal(withGenerationConfig(m, { bos_token_id: 1, eos_token_id: 2 }).bosTokenId, 1);
  assert.deepEqual(withGenerationConfig(m, { bos_token_id: 1, eos_token_id: 2 }).eosTokenIds, [2]);
});

test('unsupported configs fail clearly', () => {
  assert.throws(
    () => parseConfig({ ...SMOLLM2_135M_INSTRUCT, model_type: 'gemma2' }),
    (e: Error) => e.message === "unsupported model_type 'gemma2' in config.json; supported: llama, qwen2, qwen3",
  );
  assert.throws(() => parseConfig({ ...SMOLLM2_135M_INSTRUCT, model_type: 'mistral' }, 'x/config.json'), /unsupported model_type 'mistral' in x\/config\.json/);
  assert.throws(
    () => parseConfig({ ...SMOLLM2_135M_INSTRUCT, rope_scaling: { rope_type: 'llama3', factor: 32 } }),
    /config\.json: rope_scaling .*llama3.* is not supported/,
  );
  assert.throws(() => parseConfig({ ...QWEN3_06B, rope_scaling: { type: 'yarn', factor: 4 } }), /rope_scaling .*yarn.* is not supported/);
  assert.equal(parseConfig({ ...QWEN3_06B, rope_scaling: { rope_type: 'default' } }).headDim, 128);
  assert.throws(() => parseConfig({ ...QWEN25_05B_INSTRUCT, use_sliding_window: true }), /use_sliding_window/);
  assert.throws(() => parseConfig({ ...SMOLLM2_135M_INSTRUCT, rope_interleaved: true }), /rope_interleaved/);
  assert.throws(() => parseConfig({ ...SMOLLM2_135M_INSTRUCT, hidden_act: 'gelu' }), /hidden_act 'gelu'/);
  assert.throws(() => parseConfig({ ...SMOLLM2_135M_INSTRUCT, hidden_size: undefined }), /missing 'hidden_size'/);
  assert.throws(() => parseConfig({ ...SMOLLM2_135M_INSTRUCT, num_key_value_heads: 4 }), /not a multiple of num_key_value_heads 4/);
  assert.throws(() => parseConfig({ ...SMOLLM2_135M_INSTRUCT, vocab_size: -1 }), /'vocab_size' must be a positive integer/);
  assert.throws(() => parseConfig('nope'), /config\.json: expected a JSON object/);
  assert.throws(() => parseConfig({ ...SMOLLM2_135M_INSTRUCT, eos_token_id: 'x' }), /eos_token_id/);
});
