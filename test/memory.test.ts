import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseConfig } from '../src/model/config.ts';
import { bindingLimitProblem, trainingMemory } from '../src/train/memory.ts';

const qwen25 = parseConfig({
  architectures: ['Qwen2ForCausalLM'],
  model_type: 'qwen2',
  hidden_size: 896,
  intermediate_size: 4864,
  num_hidden_layers: 24,
  num_attention_heads: 14,
  num_key_value_heads: 2,
  vocab_size: 151936,
  rope_theta: 1000000,
  rms_norm_eps: 1e-6,
  tie_word_embeddings: true,
  max_position_embeddings: 32768,
  torch_dtype: 'bfloat16',
  bos_token_id: 151643,
  eos_token_id: 151645,
});

test('a Qwen2.5-0.5B GRPO batch (8 × 384, LoRA r=16) fits in a few GB with checkpointing', () => {
  const shape = { batch: 8, tokens: 384, loraRank: 16, full: false, weightBytes: 2 };
  const withCheckpoint = trainingMemory(qwen25, { ...shape, checkpoint: true });
  const without = trainingMemory(qwen25, { ...shape, checkpoint: false });
  assert.ok(withCheckpoint.total < 3 * 2 ** 30, `${withCheckpoint.total} bytes`);
  assert.ok(without.activations > (10 * withCheckpoint.activations) / 2, 'checkpointing saves most activation memory');
  assert.equal(withCheckpoint.weights, 494032768 * 2);
  // KV: 24 layers × (k, v) × 2 heads × 64 × 3072 tokens × 4 bytes
  assert.equal(withCheckpoint.kvCache, 24 * 2 * 2 * 64 * 3072 * 4);
  // LoRA r=16 on all seven projections: 24 × 16 × (896+896 + 2·(896+128) + 896+896 + 2·(896+4864) + 4864+896)
  const lora = 24 * 16 * (1792 + 2 * 1024 + 1792 + 2 * 5760 + 5760);
  assert.equal(withCheckpoint.optimizer, lora * 4 * 4);
});

test('full-parameter training counts f32 weights plus gradient and AdamW moments', () => {
  const m = trainingMemory(qwen25, { batch: 1, tokens: 16, loraRank: 16, full: true, checkpoint: false, weightBytes: 2 });
  assert.equal(m.weights, 494032768 * 4);
  assert.equal(m.optimizer, 494032768 * 4 * 3);
});

test("bindingLimitProblem names the limit when one layer's activations exceed a storage binding", () => {
  const shape = { batch: 64, tokens: 512, loraRank: 16, full: false, checkpoint: true, weightBytes: 2 };
  // The widest activation is the MLP's: 64 × 512 × 4864 floats = 608 MiB.
  assert.equal(bindingLimitProblem(qwen25, shape, 1024 * 2 ** 20), null);
  const problem = bindingLimitProblem(qwen25, shape, 128 * 2 ** 20);
  assert.match(problem!, /608\.0 MiB in one buffer, but this device binds at most 128\.0 MiB \(maxStorageBufferBindingSize\)/);
  assert.equal(bindingLimitProblem(qwen25, { ...shape, batch: 8 }, 128 * 2 ** 20), null, '76 MiB fits');
});
