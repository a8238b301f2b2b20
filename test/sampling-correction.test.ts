import { test } from 'node:test';
import assert from 'node:assert/strict';
import { samplingCorrectionWeights, samplingMetrics, type SamplingCorrection } from '../src/rl/sampling-correction.ts';

function closeArr(actual: ArrayLike<number>, expected: number[], what: string): void {
  assert.equal(actual.length, expected.length, `${what}: length`);
  for (let i = 0; i < expected.length; i++) assert.ok(Math.abs(actual[i] - expected[i]) < 1e-12, `${what}[${i}]: got ${actual[i]}, expected ${expected[i]}`);
}

// old − sampler = [0.1, 0, −0.3]: token ratios e^0.1, 1, e^−0.3; sequence ratio e^(−0.2).
const c = { trainer: [-1, -2, -0.5], sampler: [-1.1, -2, -0.2] };
const E01 = Math.exp(0.1);
const EM03 = Math.exp(-0.3);
const EM02 = Math.exp(-0.2); // 0.8187…

test('correction weights of each mode against hand-computed values', () => {
  const w = (mode: SamplingCorrection['mode'], cap: number, min = 0) => samplingCorrectionWeights(c, { mode, cap, min });
  closeArr(w('token_truncate', 3), [E01, 1, EM03], 'token_truncate under the cap: the ratios');
  closeArr(w('token_truncate', 1.05, 0.8), [1.05, 1, 0.8], 'token_truncate clamps to [min, cap]');
  closeArr(w('token_mask', 1.05), [0, 1, EM03], 'token_mask zeroes tokens above the cap');
  closeArr(w('token_mask', 1.05, 0.8), [0, 1, 0], 'token_mask zeroes tokens below min too');
  closeArr(w('sequence_truncate', 3), [EM02, EM02, EM02], 'sequence_truncate: one weight, the product of the ratios');
  closeArr(w('sequence_truncate', 0.81), [0.81, 0.81, 0.81], 'sequence_truncate caps it');
  closeArr(w('sequence_truncate', 3, 0.9), [0.9, 0.9, 0.9], 'and raises it to min');
  closeArr(w('sequence_mask', 3), [EM02, EM02, EM02], 'sequence_mask within the limits');
  closeArr(w('sequence_mask', 0.81), [0, 0, 0], 'sequence_mask drops the completion above the cap');
  closeArr(w('sequence_mask', 3, 0.9), [0, 0, 0], 'and below min');
  assert.throws(
    () => samplingCorrectionWeights({ trainer: [1, 2], sampler: [1] }, { mode: 'token_mask', cap: 3, min: 0 }, 4),
    /completion 4 has 1 sampler log-probs for 2 tokens/,
  );
});

test('sampling metrics: |old − sampler| and the ratio, raw without the correction, its weights with it', () => {
  const other = { trainer: [-0.4], sampler: [-0.4] };
  const raw = samplingMetrics([c, other], null);
  assert.ok(Math.abs(raw['sampling/sampling_logp_difference/mean'] - 0.4 / 4) < 1e-12);
  assert.ok(Math.abs(raw['sampling/sampling_logp_difference/max'] - 0.3) < 1e-12);
  closeArr(
    ['min', 'mean', 'max'].map((k) => raw[`sampling/importance_sampling_ratio/${k}`]),
    [EM03, (E01 + 1 + EM03 + 1) / 4, E01],
    'raw token ratios',
  );
  // sequence modes: one ratio per completion (e^−0.2 and 1).
  const seq = samplingMetrics([c, other], { mode: 'sequence_mask', cap: 3, min: 0 });
  closeArr(
    ['min', 'mean', 'max'].map((k) => seq[`sampling/importance_sampling_ratio/${k}`]),
    [EM02, (EM02 + 1) / 2, 1],
    'sequence weights',
  );
  const tok = samplingMetrics([c, other], { mode: 'token_truncate', cap: 1.05, min: 0 });
  closeArr(
    ['min', 'mean', 'max'].map((k) => tok[`sampling/importance_sampling_ratio/${k}`]),
    [EM03, (1.05 + 1 + EM03 + 1) / 4, 1.05],
    'truncated token weights',
  );
  assert.equal(samplingMetrics([], null)['sampling/importance_sampling_ratio/mean'], 0);
});
