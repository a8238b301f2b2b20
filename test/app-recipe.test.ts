// The web app's recipes: defaults = `webgrpo train`, each preset's settings per DESIGN.md §8.10, and the
// memory estimate the model list shows for Hub models.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { defaultSettings, HUB_MODELS, hubModelMemory, oneShotExample, PRESETS } from '../src/app/recipe.ts';
import type { RunConfig } from '../src/app/protocol.ts';
import { GRPO_DEFAULTS } from '../src/rl/grpo.ts';
import { parseConfig } from '../src/model/config.ts';
import { trainingMemory } from '../src/train/memory.ts';
import { KNOBS } from '../src/app/components/knobs.ts';
import { SETTINGS } from '../src/rl/settings.ts';

const ALL = ['q_proj', 'k_proj', 'v_proj', 'o_proj', 'gate_proj', 'up_proj', 'down_proj'];

function preset(id: string, base: RunConfig = defaultSettings()): RunConfig {
  const p = PRESETS.find((x) => x.id === id);
  assert.ok(p, `preset ${id}`);
  return p.apply(base);
}

const hub = (s: RunConfig): RunConfig => ({ ...s, model: { kind: 'hub', repo: 'Qwen/Qwen2.5-0.5B-Instruct' } });

test('defaultSettings are the CLI quick demo: GRPO_DEFAULTS, the tiny model, arithmetic:2, LoRA r16/α32 on all projections', () => {
  const s = defaultSettings();
  assert.deepEqual(s.grpo, GRPO_DEFAULTS);
  assert.equal(s.grpo.learningRate, 3e-3);
  assert.equal(s.grpo.maxSteps, 90);
  assert.equal(s.grpo.lossType, 'dapo');
  assert.deepEqual(s.model, { kind: 'builtin' });
  assert.deepEqual(s.data, { kind: 'builtin', spec: 'arithmetic:2' });
  assert.deepEqual(s.lora, { r: 16, alpha: 32, dropout: 0, useRslora: false, targetModules: ALL });
  assert.deepEqual(s.rewards, ['math']);
  assert.equal(s.filterAccuracy, null);
  assert.equal(s.dynamicSampling, false);
  assert.ok(s.saveEvery >= 1, 'runs checkpoint so a reload can resume');
  // a fresh object each time: editing one does not leak into the next
  s.grpo.maxSteps = 3;
  s.lora.targetModules.pop();
  assert.equal(defaultSettings().grpo.maxSteps, 90);
  assert.equal(defaultSettings().lora.targetModules.length, 7);
});

test('the presets exist, each with a label and a one-line explanation', () => {
  assert.deepEqual(
    PRESETS.map((p) => p.id),
    ['quick', 'one-shot', 'tina', 'dr-grpo', 'dapo', 'gspo', 'cispo', 'sapo', 'stories-word', 'stories-happy'],
  );
  for (const p of PRESETS) {
    assert.ok(p.label.length > 0);
    assert.ok(p.about.length > 20 && !p.about.includes('\n'), p.id);
  }
});

test('quick resets to the defaults whatever came before', () => {
  const edited = preset('dapo', preset('tina'));
  assert.deepEqual(preset('quick', edited), defaultSettings());
});

test('1-shot RLVR: one problem, G=8, T=0.6, entropy bonus 0.001, β 0.001', () => {
  const s = preset('one-shot');
  assert.deepEqual(s.data, { kind: 'one-shot', ...oneShotExample({ kind: 'builtin' }) });
  assert.deepEqual(preset('one-shot', hub(defaultSettings())).data, {
    kind: 'one-shot',
    ...oneShotExample({ kind: 'hub', repo: 'Qwen/Qwen2.5-0.5B-Instruct' }),
  });
  assert.equal(oneShotExample({ kind: 'hub', repo: 'x/y' }).answer, '12.8', 'π₁ is graded against its gold string');
  assert.equal(s.grpo.numGenerations, 8);
  assert.equal(s.grpo.temperature, 0.6);
  assert.equal(s.grpo.entropyCoef, 0.001);
  assert.equal(s.grpo.beta, 0.001);
  assert.equal(s.grpo.learningRate, 1e-3, 'the tiny model gets a lower lr than the quick demo: one problem repeated');
  assert.equal(preset('one-shot', hub(defaultSettings())).grpo.learningRate, 1e-5, 'Hub models get a LoRA lr');
  // an edited one-shot problem survives re-applying the preset
  const mine = { ...defaultSettings(), data: { kind: 'one-shot' as const, question: 'What is 9 + 9?', answer: '18' } };
  assert.deepEqual(preset('one-shot', mine).data, mine.data);
  const tiny = oneShotExample({ kind: 'builtin' });
  const [a, b] = tiny.question.match(/\d+/g)!.map(Number);
  assert.equal(Number(tiny.answer), a + b, 'the worked example is right');
  assert.match(tiny.question, /^\d+\+\d+$/, "in the tiny model's own question format");
});

test('Tina: LoRA r=32, α=128 on all seven projections', () => {
  const s = preset('tina');
  assert.equal(s.lora.r, 32);
  assert.equal(s.lora.alpha, 128);
  assert.deepEqual(s.lora.targetModules, ALL);
  assert.equal(s.grpo.learningRate, 5e-4);
  assert.equal(preset('tina', hub(defaultSettings())).grpo.learningRate, 5e-6);
  assert.equal(s.grpo.lossType, defaultSettings().grpo.lossType, 'only the adapter and lr change');
});

test('Dr. GRPO: loss dr_grpo, no reward scaling', () => {
  const s = preset('dr-grpo');
  assert.equal(s.grpo.lossType, 'dr_grpo');
  assert.equal(s.grpo.scaleRewards, 'none');
  assert.deepEqual({ ...s, grpo: { ...s.grpo, lossType: 'dapo', scaleRewards: 'group' } }, defaultSettings());
});

test('DAPO: clip-higher 0.28, dapo loss, truncated completions masked, β 0, dynamic sampling', () => {
  const s = preset('dapo');
  assert.equal(s.grpo.epsilonHigh, 0.28);
  assert.equal(s.grpo.epsilon, 0.2);
  assert.equal(s.grpo.lossType, 'dapo');
  assert.equal(s.grpo.maskTruncatedCompletions, true);
  assert.equal(s.grpo.beta, 0);
  assert.equal(s.dynamicSampling, true);
});

test('presets compose: Dr. GRPO on top of Tina keeps the Tina adapter', () => {
  const s = preset('dr-grpo', preset('tina'));
  assert.equal(s.lora.r, 32);
  assert.equal(s.grpo.lossType, 'dr_grpo');
});

test('Hub model list: the four models of the issue with their real shapes and sizes', () => {
  assert.deepEqual(
    HUB_MODELS.map((m) => [m.repo, m.bytes]),
    [
      ['Qwen/Qwen2.5-0.5B-Instruct', 988_097_824],
      ['Qwen/Qwen3-0.6B', 1_503_300_328],
      ['HuggingFaceTB/SmolLM2-135M-Instruct', 269_060_552],
      ['HuggingFaceTB/SmolLM2-360M-Instruct', 723_674_912],
    ],
  );
  const qwen3 = HUB_MODELS[1].config;
  assert.equal(qwen3.headDim, 128);
  assert.equal(qwen3.qkNorm, true);
  assert.equal(HUB_MODELS[0].config.attentionBias, true);
});

test('hubModelMemory equals trainingMemory of the parsed config and grows with batch and sequence length', () => {
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
  const s = defaultSettings(); // 16 prompts × 4 generations, 64 completion tokens, r16
  const m = hubModelMemory(HUB_MODELS[0], s);
  const expected = trainingMemory(qwen25, { batch: 64, tokens: 128 + 64, loraRank: 16, full: false, checkpoint: true, weightBytes: 2 }).total;
  assert.equal(m, expected);
  assert.ok(m > 494032768 * 2, 'at least the bf16 weights');
  const withPrompt = hubModelMemory(HUB_MODELS[0], s, 256);
  assert.ok(withPrompt > m);
  const bigger = { ...s, grpo: { ...s.grpo, promptsPerStep: 32 } };
  assert.ok(hubModelMemory(HUB_MODELS[0], bigger) > m);
  const longer = { ...s, grpo: { ...s.grpo, maxCompletionLength: 512 } };
  assert.ok(hubModelMemory(HUB_MODELS[0], longer) > m);
  const accumulated = { ...s, grpo: { ...s.grpo, gradientAccumulationSteps: 4 } };
  assert.equal(
    hubModelMemory(HUB_MODELS[0], accumulated),
    trainingMemory(qwen25, { batch: 16, tokens: 192, loraRank: 16, full: false, checkpoint: true, weightBytes: 2 }).total,
  );
  // gradient_checkpointing off keeps every layer's activations: the estimate follows the setting.
  const unchecked = { ...s, grpo: { ...s.grpo, gradientCheckpointing: false } };
  assert.equal(
    hubModelMemory(HUB_MODELS[0], unchecked),
    trainingMemory(qwen25, { batch: 64, tokens: 192, loraRank: 16, full: false, checkpoint: false, weightBytes: 2 }).total,
  );
  assert.ok(hubModelMemory(HUB_MODELS[0], unchecked) > m, 'without checkpointing a step needs more');
  assert.ok(hubModelMemory(HUB_MODELS[0], preset('tina')) > m, 'a rank-32 adapter needs more');
  // Qwen3-0.6B needs more than SmolLM2-135M at the same settings
  assert.ok(hubModelMemory(HUB_MODELS[1], s) > hubModelMemory(HUB_MODELS[2], s));
});

test('the story presets train stories260K on a story task with its reward and plain prompts', () => {
  for (const [id, spec, reward] of [
    ['stories-word', 'stories:mention_word:ball', 'mention_word'],
    ['stories-happy', 'stories:happy_ending', 'happy_ending'],
  ]) {
    const s = preset(id);
    assert.deepEqual(s.model, { kind: 'builtin', name: 'stories260k' });
    assert.deepEqual(s.data, { kind: 'builtin', spec });
    assert.deepEqual(s.rewards, [reward]);
    assert.equal(s.plainPrompt, true);
    assert.equal((s.grpo.promptsPerStep * s.grpo.numGenerations) % s.grpo.gradientAccumulationSteps, 0);
  }
  assert.deepEqual(preset('quick', preset('stories-word')), defaultSettings());
});

test('GSPO, CISPO (MiniMax-M1) and SAPO presets set the settings of DESIGN.md §8.10', () => {
  const gspo = preset('gspo').grpo;
  assert.deepEqual([gspo.importanceSamplingLevel, gspo.lossType, gspo.epsilon, gspo.epsilonHigh], ['sequence', 'grpo', 3e-4, 4e-4]);
  const cispo = preset('cispo').grpo;
  assert.deepEqual([cispo.lossType, cispo.epsilonHigh], ['cispo', 5]);
  const sapo = preset('sapo').grpo;
  assert.deepEqual([sapo.lossType, sapo.sapoTemperaturePos, sapo.sapoTemperatureNeg, sapo.scaleRewards], ['sapo', 1, 1.05, 'group']);
});

test('every GRPO and LoRA setting of the schema has a Recipe knob with its one-line help', () => {
  const knobs = new Map(KNOBS.map((k) => [k.field.key, k]));
  for (const s of SETTINGS.filter((x) => x.section !== 'run')) {
    const k = knobs.get(s.key);
    assert.ok(k, `no knob for ${s.name}`);
    assert.equal(k.help, s.help);
    assert.ok(s.help.length > 20 && !s.help.includes('\n'), `${s.name}: one-line help`);
  }
});
