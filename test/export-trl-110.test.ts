// The TRL 1.10 options reach the exported GRPOConfig under TRL's names, and only when they differ
// from TRL's defaults (which are webgrpo's).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { trlScript } from '../src/rl/export-trl.ts';

function grpoConfigLines(script: string): string[] {
  const lines = script.split('\n');
  const start = lines.findIndex((l) => l.trimEnd().endsWith('GRPOConfig('));
  const end = lines.findIndex((l, i) => i > start && /^\s*\)\s*$/.test(l));
  return lines.slice(start + 1, end).map((l) => l.trim());
}

test('TRL 1.10 options are exported under their TRL names', () => {
  const lines = grpoConfigLines(
    trlScript({
      loss_type: 'sapo',
      importance_sampling_level: 'sequence',
      delta: 1.5,
      sapo_temperature_pos: 0.9,
      sapo_temperature_neg: 1.2,
      vespo_k_neg: 4,
      multi_objective_aggregation: 'normalize_then_sum',
      reward_funcs: ['math', 'format'],
      reward_weights: '1, 0.25',
    }),
  );
  const has = (prefix: string) =>
    assert.ok(
      lines.some((l) => l.startsWith(prefix)),
      `${prefix} in ${lines.join(' | ')}`,
    );
  has('loss_type="sapo",');
  has('importance_sampling_level="sequence",');
  has('delta=1.5,');
  has('sapo_temperature_pos=0.9,');
  has('sapo_temperature_neg=1.2,');
  has('vespo_k_neg=4.0,');
  has('multi_objective_aggregation="normalize_then_sum",');
  has('reward_weights=[1.0, 0.25],');
  assert.ok(!lines.some((l) => l.startsWith('vespo_k_pos')), 'defaults are left to TRL');
});

test('defaults add no TRL 1.10 lines', () => {
  const lines = grpoConfigLines(trlScript({}));
  for (const name of ['importance_sampling_level', 'delta', 'sapo_', 'vespo_', 'multi_objective_aggregation', 'reward_weights']) {
    assert.ok(!lines.some((l) => l.startsWith(name)), name);
  }
});

test('bias-corrected KL and the off-policy mask export under TRL names; passk and zero-std exclusion are commented', () => {
  const script = trlScript({
    use_bias_correction_kl: true,
    off_policy_mask_threshold: 0.5,
    advantage_estimator: 'passk',
    exclude_zero_std_from_denominator: true,
  });
  const lines = grpoConfigLines(script);
  assert.ok(
    lines.some((l) => l.startsWith('use_bias_correction_kl=True,')),
    lines.join(' | '),
  );
  assert.ok(
    lines.some((l) => l.startsWith('off_policy_mask_threshold=0.5,')),
    lines.join(' | '),
  );
  assert.ok(!lines.some((l) => l.startsWith('advantage_estimator') || l.startsWith('exclude_zero_std')), 'not TRL arguments');
  assert.match(script, /# advantage_estimator: this run used 'passk'/);
  assert.match(script, /# exclude_zero_std_from_denominator: /);
  const plain = trlScript({});
  for (const name of ['use_bias_correction_kl', 'off_policy_mask_threshold', 'advantage_estimator', 'exclude_zero_std']) assert.ok(!plain.includes(name), name);
});

test('entropy bonus, adaptive entropy and the sampler correction export under TRL 1.10 names', () => {
  const script = trlScript({
    loss_type: 'grpo',
    entropy_coef: 0.01,
    use_adaptive_entropy: true,
    entropy_target: 0.5,
    vllm_importance_sampling_correction: false,
    vllm_importance_sampling_mode: 'token_truncate',
    vllm_importance_sampling_clip_max: 2,
    vllm_importance_sampling_clip_min: 0.5,
  });
  const lines = grpoConfigLines(script);
  for (const prefix of [
    'entropy_coef=0.01,  # webgrpo averages the bonus like the grpo loss; TRL takes the token mean',
    'use_adaptive_entropy=True,',
    'entropy_target=0.5,',
    'vllm_importance_sampling_correction=False,  # TRL applies it only with use_vllm=True',
    'vllm_importance_sampling_mode="token_truncate",',
    'vllm_importance_sampling_clip_max=2.0,',
    'vllm_importance_sampling_clip_min=0.5,  # webgrpo 0 = TRL None',
  ]) {
    assert.ok(
      lines.some((l) => l.startsWith(prefix)),
      `${prefix} in ${lines.join(' | ')}`,
    );
  }
  const plain = grpoConfigLines(trlScript({}));
  for (const name of ['entropy_coef', 'use_adaptive_entropy', 'entropy_target', 'vllm_']) assert.ok(!plain.some((l) => l.startsWith(name)), name);
});
