import { test } from 'node:test';
import assert from 'node:assert/strict';
import { grpoLoss, LOSS_TYPES, torchQuantile, type CompletionTokens, type GrpoLossConfig, type LossType } from '../src/rl/loss.ts';
import { centralDifference } from './helpers/finite-diff.ts';
import { seededRandom as rng } from '../src/gpu/random.ts';

function close(actual: number, expected: number, tol = 1e-12, what = ''): void {
  assert.ok(Math.abs(actual - expected) <= tol, `${what}: got ${actual}, expected ${expected}`);
}
function closeArr(actual: ArrayLike<number>, expected: number[], tol = 1e-12, what = ''): void {
  assert.equal(actual.length, expected.length, `${what}: length`);
  for (let i = 0; i < expected.length; i++) close(actual[i], expected[i], tol, `${what}[${i}]`);
}

const LN2 = Math.LN2;

/**
 * The hand-worked example. Two completions with different lengths, each padded:
 *   c0: 3 tokens + 1 pad, A = +1,   ρ = [1.5, 1.1, 0.5], ref−θ = [ln2, 0, −ln2], H = [0.5, 1.0, 2.0] (pad H 0)
 *   c1: 2 tokens + 1 pad, A = −0.5, ρ = [0.6, 1.5],      ref−θ = [0, ln2],       H = [1.5, 0.2]      (pad H 0),
 *       truncated (no EOS).
 * old = −1 everywhere and θ = −1 + ln ρ. Pad log-probs are NaN: they must never be read.
 * ε_low = 0.2, ε_high = 0.28 → clip range [0.8, 1.28].
 *
 * Policy term per token, −min(ρA, clip(ρ)A):
 *   c0 t0: min(1.5, 1.28) = 1.28 (clipped, high-clip: ρ > 1.28 and A > 0)   → −1.28, gradient 0
 *   c0 t1: min(1.1, 1.1)  = 1.1  (in range)                                 → −1.1,  d/dθ = −A·ρ = −1.1
 *   c0 t2: min(0.5, 0.8)  = 0.5  (unclipped branch; A > 0 so no low-clip)   → −0.5,  d/dθ = −0.5
 *   c1 t0: min(−0.3, −0.4) = −0.4 (clipped, low-clip: ρ < 0.8 and A < 0)   → +0.4,  gradient 0
 *   c1 t1: min(−0.75, −0.64) = −0.75 (unclipped branch; A < 0: no high-clip) → +0.75, d/dθ = 0.75
 * Σ over c0 = −2.88 (3 tokens), Σ over c1 = 1.15 (2 tokens), total −1.73 over 5 tokens.
 */
function example(): CompletionTokens[] {
  const mk = (rho: number[], d: number[], H: number[], A: number, truncated: boolean): CompletionTokens => {
    const lp = [...rho.map((r) => -1 + Math.log(r)), NaN];
    return {
      logprobs: lp,
      oldLogprobs: [...rho.map(() => -1), -1],
      refLogprobs: [...rho.map((r, t) => -1 + Math.log(r) + d[t]), NaN],
      entropies: [...H, 0],
      mask: [...rho.map(() => 1), 0],
      advantage: A,
      truncated,
    };
  };
  return [mk([1.5, 1.1, 0.5], [LN2, 0, -LN2], [0.5, 1.0, 2.0], 1, false), mk([0.6, 1.5], [0, LN2], [1.5, 0.2], -0.5, true)];
}

const base: GrpoLossConfig = {
  lossType: 'grpo',
  epsilon: 0.2,
  epsilonHigh: 0.28,
  beta: 0,
  entropyCoef: 0,
  topEntropyQuantile: 1,
  maxCompletionLength: 4,
  maskTruncatedCompletions: false,
};

test('each loss type on the hand-worked example (clipping on both sides)', () => {
  const c = example();
  // grpo: mean over completions of per-completion means: (−2.88/3 + 1.15/2)/2 = (−0.96 + 0.575)/2 = −0.1925.
  //   w = 1/(2·3) on c0, 1/(2·2) on c1.
  let r = grpoLoss(c, { ...base, lossType: 'grpo' });
  close(r.loss, -0.1925, 1e-12, 'grpo loss');
  closeArr(r.gLogprob[0], [0, -1.1 / 6, -0.5 / 6, 0], 1e-12, 'grpo g0');
  closeArr(r.gLogprob[1], [0, 0.75 / 4, 0], 1e-12, 'grpo g1');
  closeArr(r.gEntropy[0], [0, 0, 0, 0], 0, 'grpo gH0 (no entropy bonus)');

  // bnpo: −1.73 / 5 = −0.346; w = 1/5.
  r = grpoLoss(c, { ...base, lossType: 'bnpo' });
  close(r.loss, -0.346, 1e-12, 'bnpo loss');
  closeArr(r.gLogprob[0], [0, -1.1 / 5, -0.5 / 5, 0], 1e-12, 'bnpo g0');
  closeArr(r.gLogprob[1], [0, 0.75 / 5, 0], 1e-12, 'bnpo g1');

  // dr_grpo: −1.73 / (B·L) = −1.73 / 8 = −0.21625; w = 1/8.
  r = grpoLoss(c, { ...base, lossType: 'dr_grpo' });
  close(r.loss, -0.21625, 1e-12, 'dr_grpo loss');
  closeArr(r.gLogprob[0], [0, -1.1 / 8, -0.5 / 8, 0], 1e-12, 'dr_grpo g0');
  closeArr(r.gLogprob[1], [0, 0.75 / 8, 0], 1e-12, 'dr_grpo g1');

  // dapo: default normaliser = this batch's 5 active tokens → −0.346; with the step's 10 tokens → −0.173.
  r = grpoLoss(c, { ...base, lossType: 'dapo' });
  close(r.loss, -0.346, 1e-12, 'dapo loss');
  r = grpoLoss(c, { ...base, lossType: 'dapo' }, { dapoNormalizer: 10 });
  close(r.loss, -0.173, 1e-12, 'dapo loss, normaliser 10');
  closeArr(r.gLogprob[1], [0, 0.75 / 10, 0], 1e-12, 'dapo g1, normaliser 10');
});

test('metrics: clip ratios, entropy, kl, num_tokens', () => {
  const r = grpoLoss(example(), { ...base, beta: 0.1 });
  // One low-clipped (c1 t0) and one high-clipped (c0 t0) token out of 5.
  close(r.metrics['clip_ratio/low_mean'], 0.2, 1e-15, 'low');
  close(r.metrics['clip_ratio/high_mean'], 0.2, 1e-15, 'high');
  close(r.metrics['clip_ratio/region_mean'], 0.4, 1e-15, 'region');
  // entropy: (0.5 + 1 + 2 + 1.5 + 0.2) / 5 = 1.04 (pads excluded).
  close(r.metrics.entropy, 1.04, 1e-12, 'entropy');
  // kl: k3(ln2) = 2 − ln2 − 1 = 1 − ln2, k3(−ln2) = 0.5 + ln2 − 1 = ln2 − 0.5, k3(0) = 0.
  //     Σ = (1 − ln2) + (ln2 − 0.5) + (1 − ln2) = 1.5 − ln2 = 0.8068528194400547; / 5 = 0.16137056388801094.
  close(r.metrics.kl, 0.16137056388801094, 1e-12, 'kl');
  assert.equal(r.metrics.num_tokens, 5);
});

test('mask_truncated_completions zeroes the truncated completion', () => {
  const c = example(); // c1 is truncated
  const cfg = { ...base, maskTruncatedCompletions: true };
  // grpo: c1 still counts in the mean over completions (TRL): (−0.96 + 0)/2 = −0.48.
  let r = grpoLoss(c, { ...cfg, lossType: 'grpo' });
  close(r.loss, -0.48, 1e-12, 'grpo');
  closeArr(r.gLogprob[0], [0, -1.1 / 6, -0.5 / 6, 0], 1e-12, 'grpo g0');
  closeArr(r.gLogprob[1], [0, 0, 0], 0, 'grpo g1');
  // bnpo / dapo: −2.88 / 3 = −0.96; dr_grpo: −2.88 / 8 = −0.36.
  r = grpoLoss(c, { ...cfg, lossType: 'bnpo' });
  close(r.loss, -0.96, 1e-12, 'bnpo');
  closeArr(r.gLogprob[0], [0, -1.1 / 3, -0.5 / 3, 0], 1e-12, 'bnpo g0');
  close(grpoLoss(c, { ...cfg, lossType: 'dapo' }).loss, -0.96, 1e-12, 'dapo');
  close(grpoLoss(c, { ...cfg, lossType: 'dr_grpo' }).loss, -0.36, 1e-12, 'dr_grpo');
  // Metrics over c0's 3 tokens only: one high-clip.
  assert.equal(r.metrics.num_tokens, 3);
  close(r.metrics['clip_ratio/low_mean'], 0, 0, 'low');
  close(r.metrics['clip_ratio/high_mean'], 1 / 3, 1e-15, 'high');
  close(r.metrics['clip_ratio/region_mean'], 1 / 3, 1e-15, 'region');
  close(r.metrics.entropy, 3.5 / 3, 1e-12, 'entropy');
  // Not truncated → flag has no effect.
  const untrunc = example().map((x) => ({ ...x, truncated: false }));
  close(grpoLoss(untrunc, { ...cfg, lossType: 'grpo' }).loss, -0.1925, 1e-12, 'no truncation');
});

test('KL term with beta > 0', () => {
  const c = example();
  // grpo: per-completion mean k3: c0 (1 − ln2 + 0 + ln2 − 0.5)/3 = 0.5/3, c1 (0 + 1 − ln2)/2.
  //   loss = −0.1925 + 0.1·(0.5/3 + (1 − ln2)/2)/2 = −0.1925 + 0.1·0.16004653819335 = −0.17649534618067
  let r = grpoLoss(c, { ...base, beta: 0.1 });
  close(r.loss, -0.1925 + (0.1 * (0.5 / 3 + (1 - LN2) / 2)) / 2, 1e-12, 'grpo + kl');
  close(r.loss, -0.1764953461806653, 1e-12, 'grpo + kl literal');
  // d k3/dθ = 1 − e^(ref−θ): c0 [1 − 2, 0, 1 − 0.5], c1 [0, 1 − 2]; times β·w.
  closeArr(r.gLogprob[0], [(0.1 * -1) / 6, -1.1 / 6, -0.5 / 6 + (0.1 * 0.5) / 6, 0], 1e-12, 'grpo+kl g0');
  closeArr(r.gLogprob[1], [0, 0.75 / 4 + (0.1 * -1) / 4, 0], 1e-12, 'grpo+kl g1');
  // bnpo: −0.346 + 0.1·(1.5 − ln2)/5 = −0.32986294361119893.
  r = grpoLoss(c, { ...base, lossType: 'bnpo', beta: 0.1 });
  close(r.loss, -0.32986294361119894, 1e-12, 'bnpo + kl');
  // beta > 0 without refLogprobs is an error.
  const noRef = example().map(({ refLogprobs: _drop, ...rest }) => rest);
  assert.throws(() => grpoLoss(noRef, { ...base, beta: 0.1 }), /refLogprobs/);
  assert.equal(grpoLoss(noRef, base).metrics.kl, undefined);
});

test('entropy bonus, aggregated like the loss', () => {
  const c = example();
  // grpo: loss −= 0.01 · mean over completions of the per-completion mean entropy
  //   = 0.01 · (3.5/3 + 1.7/2)/2 = 0.01 · 1.0083333… → −0.1925 − 0.010083333… = −0.20258333…
  let r = grpoLoss(c, { ...base, entropyCoef: 0.01 });
  close(r.loss, -0.20258333333333334, 1e-12, 'grpo + entropy');
  closeArr(r.gEntropy[0], [-0.01 / 6, -0.01 / 6, -0.01 / 6, 0], 1e-15, 'gH0');
  closeArr(r.gEntropy[1], [-0.01 / 4, -0.01 / 4, 0], 1e-15, 'gH1');
  // Log-prob gradients are unchanged by the entropy bonus.
  closeArr(r.gLogprob[0], [0, -1.1 / 6, -0.5 / 6, 0], 1e-12, 'g0');
  // dr_grpo: −0.21625 − 0.01 · 5.2/8 = −0.22275; gH = −0.01/8.
  r = grpoLoss(c, { ...base, lossType: 'dr_grpo', entropyCoef: 0.01 });
  close(r.loss, -0.22275, 1e-12, 'dr_grpo + entropy');
  closeArr(r.gEntropy[1], [-0.01 / 8, -0.01 / 8, 0], 1e-15, 'dr gH1');
  // bnpo: −0.346 − 0.01 · 1.04 = −0.3564.
  close(grpoLoss(c, { ...base, lossType: 'bnpo', entropyCoef: 0.01 }).loss, -0.3564, 1e-12, 'bnpo + entropy');
});

test('top_entropy_quantile keeps only high-entropy tokens in the policy term', () => {
  // Active entropies sorted: [0.2, 0.5, 1.0, 1.5, 2.0]; ρ = 0.4 → torch.quantile(·, 0.6): position 0.6·4 = 2.4
  // → 1.0 + 0.4·(1.5 − 1.0) = 1.2. Kept: c0 t2 (H 2.0) and c1 t0 (H 1.5).
  // (If the two pad entropies 0 were wrongly included: position 0.6·6 = 3.6 → 0.8, keeping c0 t1 too.)
  close(torchQuantile([2.0, 0.2, 1.5, 0.5, 1.0], 0.6), 1.2, 1e-15, 'quantile');
  const c = example();
  // grpo: (−0.5/3 + 0.4/2)/2 = 1/60.
  let r = grpoLoss(c, { ...base, topEntropyQuantile: 0.4 });
  close(r.loss, 1 / 60, 1e-12, 'grpo, top 40%');
  closeArr(r.gLogprob[0], [0, 0, -0.5 / 6, 0], 1e-12, 'g0');
  closeArr(r.gLogprob[1], [0, 0, 0], 1e-12, 'g1 (t0 clipped, t1 dropped)');
  // The KL term is not masked by entropy: adding β = 0.1 adds the same 0.1·(0.5/3 + (1 − ln2)/2)/2 as before.
  r = grpoLoss(c, { ...base, topEntropyQuantile: 0.4, beta: 0.1 });
  close(r.loss, 1 / 60 + (0.1 * (0.5 / 3 + (1 - LN2) / 2)) / 2, 1e-12, 'grpo, top 40%, kl');
  // Metrics are not restricted by the entropy mask.
  close(r.metrics['clip_ratio/region_mean'], 0.4, 1e-15, 'region');
  // ρ = 0: threshold = max entropy (2.0): only c0 t2 → (−0.5/3)/2.
  close(grpoLoss(c, { ...base, topEntropyQuantile: 0 }).loss, -0.5 / 6, 1e-12, 'top 0');
});

test('on-policy (no oldLogprobs): ρ = 1, gradient −A·w per token', () => {
  const c = example().map(({ oldLogprobs: _drop, ...rest }) => rest);
  // grpo: per-token loss −A: (−1 + 0.5)/2 = −0.25; gradient −A/(B·n_i).
  let r = grpoLoss(c, base);
  close(r.loss, -0.25, 1e-15, 'grpo');
  closeArr(r.gLogprob[0], [-1 / 6, -1 / 6, -1 / 6, 0], 1e-15, 'grpo g0');
  closeArr(r.gLogprob[1], [0.5 / 4, 0.5 / 4, 0], 1e-15, 'grpo g1');
  assert.equal(r.metrics['clip_ratio/region_mean'], 0);
  // dr_grpo: Σ(−A) / (B·L) = (−3 + 1)/8 = −0.25; gradient −A/8.
  r = grpoLoss(c, { ...base, lossType: 'dr_grpo' });
  close(r.loss, -0.25, 1e-15, 'dr_grpo');
  closeArr(r.gLogprob[0], [-1 / 8, -1 / 8, -1 / 8, 0], 1e-15, 'dr g0');
  closeArr(r.gLogprob[1], [0.5 / 8, 0.5 / 8, 0], 1e-15, 'dr g1');
  // Tie of the two min branches with ρ in range: torch.min splits the gradient ½/½ and both halves
  // carry −A·ρ, so the full gradient survives — also with a zero-width clip range (bounds inclusive).
  r = grpoLoss(c, { ...base, epsilon: 0, epsilonHigh: 0 });
  closeArr(r.gLogprob[0], [-1 / 6, -1 / 6, -1 / 6, 0], 1e-15, 'zero-width range');
  // Explicit oldLogprobs equal to logprobs gives the same (ρ = exp(0) = 1).
  const same = example().map((x) => ({ ...x, oldLogprobs: x.logprobs }));
  const s = grpoLoss(same, base);
  close(s.loss, -0.25, 1e-15, 'old = θ');
  closeArr(s.gLogprob[1], [0.5 / 4, 0.5 / 4, 0], 1e-15, 'old = θ g1');
});

test('numCompletionsInStep spreads grpo / bnpo / dr_grpo over the optimizer step', () => {
  const c = example();
  const o = { numCompletionsInStep: 4 };
  close(grpoLoss(c, { ...base, lossType: 'grpo' }, o).loss, (-0.96 + 0.575) / 4, 1e-12, 'grpo');
  close(grpoLoss(c, { ...base, lossType: 'dr_grpo' }, o).loss, -1.73 / 16, 1e-12, 'dr_grpo');
  close(grpoLoss(c, { ...base, lossType: 'bnpo' }, o).loss, (-0.346 * 2) / 4, 1e-12, 'bnpo');
  close(grpoLoss(c, { ...base, lossType: 'dapo' }, o).loss, -0.346, 1e-12, 'dapo ignores it');
  // Two micro-batches of one completion each, summed, equal the one-batch grpo loss (step of 2).
  const a = grpoLoss([c[0]], base, { numCompletionsInStep: 2 });
  const b = grpoLoss([c[1]], base, { numCompletionsInStep: 2 });
  close(a.loss + b.loss, -0.1925, 1e-12, 'grpo split');
  // dapo split with the step's token count.
  const da = grpoLoss([c[0]], { ...base, lossType: 'dapo' }, { dapoNormalizer: 5 });
  const db = grpoLoss([c[1]], { ...base, lossType: 'dapo' }, { dapoNormalizer: 5 });
  close(da.loss + db.loss, -0.346, 1e-12, 'dapo split');
  assert.throws(() => grpoLoss(c, base, { numCompletionsInStep: 1 }), /numCompletionsInStep/);
  assert.throws(() => grpoLoss(c, { ...base, lossType: 'dapo' }, { dapoNormalizer: 4 }), /dapoNormalizer/);
});

/** Random completions with ρ kept ≥ 0.03 away from the clip bounds [0.8, 1.28] and distinct entropies. */
function randomBatch(seed: number, avoid: number[] = [0.8, 1.28]): CompletionTokens[] {
  const rand = rng(seed);
  const lens = [5, 3, 6, 4];
  const pads = [1, 2, 0, 1];
  const advs = [1.3, -0.7, 0.4, -1.1];
  return lens.map((n, i) => {
    const T = n + pads[i];
    const lp: number[] = [];
    const old: number[] = [];
    const ref: number[] = [];
    const H: number[] = [];
    const mask: number[] = [];
    for (let t = 0; t < T; t++) {
      const active = t < n;
      let rho: number;
      do
        rho = 0.5 + rand(); // [0.5, 1.5)
      while (avoid.some((b) => Math.abs(rho - b) < 0.03));
      const l = -0.3 - 3 * rand();
      lp.push(l);
      old.push(l - Math.log(rho));
      ref.push(l + (rand() - 0.5));
      H.push(0.1 + 3 * rand());
      mask.push(active ? 1 : 0);
    }
    return { logprobs: lp, oldLogprobs: old, refLogprobs: ref, entropies: H, mask, advantage: advs[i], truncated: i === 3 };
  });
}

test('gradients match central finite differences (all loss types, KL, entropy bonus, top-entropy mask)', () => {
  const types: LossType[] = ['grpo', 'bnpo', 'dr_grpo', 'dapo'];
  const h = 1e-6;
  let checked = 0;
  for (const lossType of types) {
    for (const maskTruncatedCompletions of [false, true]) {
      const cfg: GrpoLossConfig = {
        lossType,
        epsilon: 0.2,
        epsilonHigh: 0.28,
        beta: 0.05,
        entropyCoef: 0.02,
        // 18 (or 14) active tokens: quantile position 0.3·17 = 5.1 (0.3·13 = 3.9), strictly between entropies.
        topEntropyQuantile: 0.7,
        maxCompletionLength: 8,
        maskTruncatedCompletions,
      };
      const opts = lossType === 'dapo' ? { dapoNormalizer: 40 } : { numCompletionsInStep: 6 };
      const batch = randomBatch(1234 + checked);
      const res = grpoLoss(batch, cfg, opts);
      // The entropy mask must actually drop some tokens, or the test would not cover it.
      const kept = grpoLoss(batch, { ...cfg, topEntropyQuantile: 1 }, opts).loss;
      assert.ok(Math.abs(kept - res.loss) > 1e-4, 'top-entropy mask has an effect');
      const lossAt = (i: number, t: number, field: 'logprobs' | 'entropies', delta: number): number => {
        const b = batch.map((c) => ({ ...c, logprobs: Array.from(c.logprobs), entropies: Array.from(c.entropies) }));
        b[i][field][t] += delta;
        return grpoLoss(b, cfg, opts).loss;
      };
      batch.forEach((c, i) => {
        for (let t = 0; t < c.mask.length; t++) {
          for (const field of ['logprobs', 'entropies'] as const) {
            const fd = centralDifference((delta) => lossAt(i, t, field, delta), h);
            const an = field === 'logprobs' ? res.gLogprob[i][t] : res.gEntropy[i][t];
            const tol = 1e-8 + 1e-6 * Math.abs(fd);
            assert.ok(Math.abs(fd - an) <= tol, `${lossType} maskTrunc=${maskTruncatedCompletions} c${i} t${t} ${field}: fd ${fd} vs ${an}`);
            if (!c.mask[t] || (maskTruncatedCompletions && c.truncated)) assert.equal(an, 0, 'inactive token has zero gradient');
          }
        }
      });
      // Some tokens must be clipped (zero policy gradient) and some not, so both branches are exercised.
      const m = res.metrics;
      assert.ok(m['clip_ratio/region_mean'] > 0 && m['clip_ratio/region_mean'] < 1, `clip ratio ${m['clip_ratio/region_mean']}`);
      checked++;
    }
  }
  assert.equal(checked, 8);
});

test('cispo, sapo, luspo, vespo on the hand-worked example', () => {
  const c = example();
  // cispo: −sg(min(ρ, ε_high))·A·logπ with ε_high = 1.28, dapo normaliser (5 tokens).
  //   c0 (A = 1):    coef [1.28, 1.1, 0.5], logπ = −1 + ln ρ;  c1 (A = −0.5): coef [0.6, 1.28].
  let r = grpoLoss(c, { ...base, lossType: 'cispo', epsilonHigh: 1.28 });
  const lp = (rho: number) => -1 + Math.log(rho);
  const cispo = -(1.28 * lp(1.5) + 1.1 * lp(1.1) + 0.5 * lp(0.5)) + 0.5 * (0.6 * lp(0.6) + 1.28 * lp(1.5));
  close(r.loss, cispo / 5, 1e-12, 'cispo loss');
  closeArr(r.gLogprob[0], [-1.28 / 5, -1.1 / 5, -0.5 / 5, 0], 1e-12, 'cispo g0');
  closeArr(r.gLogprob[1], [(0.5 * 0.6) / 5, (0.5 * 1.28) / 5, 0], 1e-12, 'cispo g1');
  // cispo_clip_ratio: ρ > ε_high and A > 0: c0 t0 only.
  close(r.metrics.cispo_clip_ratio, 0.2, 1e-15, 'cispo clip ratio');
  // sapo: −(4/τ)·σ(τ(ρ−1))·A, τ = 1 for A > 0 and 1.05 for A ≤ 0; grpo normaliser.
  const sig = (x: number) => 1 / (1 + Math.exp(-x));
  const sapoTok = (rho: number, A: number) => {
    const tau = A > 0 ? 1 : 1.05;
    return -(4 / tau) * sig(tau * (rho - 1)) * A;
  };
  r = grpoLoss(c, { ...base, lossType: 'sapo' });
  const s0 = [1.5, 1.1, 0.5].reduce((a, x) => a + sapoTok(x, 1), 0) / 3;
  const s1 = [0.6, 1.5].reduce((a, x) => a + sapoTok(x, -0.5), 0) / 2;
  close(r.loss, (s0 + s1) / 2, 1e-12, 'sapo loss');
  // d/dlogπ = −4A·σ(1−σ)·ρ.
  const dSapo = (rho: number, A: number) => {
    const s = sig((A > 0 ? 1 : 1.05) * (rho - 1));
    return -4 * A * s * (1 - s) * rho;
  };
  closeArr(r.gLogprob[0], [dSapo(1.5, 1) / 6, dSapo(1.1, 1) / 6, dSapo(0.5, 1) / 6, 0], 1e-12, 'sapo g0');
  // On-policy sapo: σ(0) = ½, so the per-token loss is −2A/τ and the gradient −A·w, as for grpo.
  const onPolicy = example().map(({ oldLogprobs: _drop, ...rest }) => rest);
  r = grpoLoss(onPolicy, { ...base, lossType: 'sapo' });
  close(r.loss, (-2 + (2 * 0.5) / 1.05) / 2, 1e-12, 'sapo on-policy');
  closeArr(r.gLogprob[1], [0.5 / 4, 0.5 / 4, 0], 1e-15, 'sapo on-policy g1');
  // luspo at the sequence level: ρ_seq = exp(mean log-ratio) = geometric mean of the token ratios;
  //   loss = mean over completions of l_seq × length.
  const g0 = Math.cbrt(1.5 * 1.1 * 0.5); // 0.9378… in [0.8, 1.28]: unclipped, l = −ρ_seq
  const g1 = Math.sqrt(0.6 * 1.5); // 0.9487…, A < 0: l = 0.5·ρ_seq
  r = grpoLoss(c, { ...base, lossType: 'luspo', importanceSamplingLevel: 'sequence' });
  close(r.loss, (-g0 * 3 + 0.5 * g1 * 2) / 2, 1e-12, 'luspo sequence loss');
  // dl/dlogπ_t = (Σ_t w)·(−A)·ρ_seq / len = (len/2)·(−A)·ρ_seq/len = −A·ρ_seq/2 for each token.
  closeArr(r.gLogprob[0], [-g0 / 2, -g0 / 2, -g0 / 2, 0], 1e-12, 'luspo g0');
  closeArr(r.gLogprob[1], [(0.5 * g1) / 2, (0.5 * g1) / 2, 0], 1e-12, 'luspo g1');
  // vespo: φ = exp(λ + k·ln w − λw) of the summed sequence log-ratio; on-policy w = 1 → φ = 1.
  r = grpoLoss(onPolicy, { ...base, lossType: 'vespo' });
  closeArr(r.gLogprob[0], [-1 / 5, -1 / 5, -1 / 5, 0], 1e-15, 'vespo on-policy g0');
  r = grpoLoss(c, { ...base, lossType: 'vespo' });
  const w0 = 1.5 * 1.1 * 0.5;
  const phi0 = Math.exp(3 + 2 * Math.log(w0) - 3 * w0);
  closeArr(r.gLogprob[0], [-phi0 / 5, -phi0 / 5, -phi0 / 5, 0], 1e-12, 'vespo g0');
  const w1 = 0.6 * 1.5;
  const phi1 = Math.exp(2 + 3 * Math.log(w1) - 2 * w1);
  closeArr(r.gLogprob[1], [(0.5 * phi1) / 5, (0.5 * phi1) / 5, 0], 1e-12, 'vespo g1');
});

test('delta caps the unclipped branch (two-sided clipping)', () => {
  // c1 t1: ρ = 1.5, A = −0.5: unclipped branch −0.75 is the min; with δ = 1.4 it becomes −0.7, gradient 0.
  const c = example();
  const r = grpoLoss(c, { ...base, delta: 1.4 });
  close(r.loss, (-0.96 + (0.4 + 0.7) / 2) / 2, 1e-12, 'grpo with delta');
  closeArr(r.gLogprob[1], [0, 0, 0], 0, 'delta blocks the gradient above δ');
  closeArr(r.gLogprob[0], [0, -1.1 / 6, -0.5 / 6, 0], 1e-12, 'A > 0 unaffected');
});

test('gradients match central finite differences (cispo, sapo, luspo, vespo; token and sequence level; delta)', () => {
  const h = 1e-6;
  const cases: Partial<GrpoLossConfig>[] = [];
  for (const lossType of ['cispo', 'sapo', 'luspo', 'vespo', 'grpo', 'dapo'] as LossType[]) {
    for (const importanceSamplingLevel of ['token', 'sequence'] as const) {
      cases.push({ lossType, importanceSamplingLevel });
      if (lossType === 'grpo' || lossType === 'luspo' || lossType === 'dapo') cases.push({ lossType, importanceSamplingLevel, delta: 1.4 });
    }
  }
  cases.forEach((extra, k) => {
    const cfg: GrpoLossConfig = {
      lossType: 'grpo',
      epsilon: 0.2,
      epsilonHigh: extra.lossType === 'cispo' ? 1.1 : 0.28,
      beta: 0.05,
      entropyCoef: 0.02,
      topEntropyQuantile: 0.7,
      maxCompletionLength: 8,
      maskTruncatedCompletions: k % 2 === 1,
      sapoTemperaturePos: 1.3,
      sapoTemperatureNeg: 0.9,
      ...extra,
    };
    const opts = { dapoNormalizer: 40, numCompletionsInStep: 6 };
    // With δ at the token level, take the first seed where δ bites (some A < 0 token with ρ > δ kept).
    const bites = (b: CompletionTokens[]) => Math.abs(grpoLoss(b, { ...cfg, delta: 0 }, opts).loss - grpoLoss(b, cfg, opts).loss) > 1e-6;
    let seed = 77 + 100 * k;
    while (extra.delta && extra.importanceSamplingLevel === 'token' && !bites(randomBatch(seed, [0.8, 1.28, 1.1, 1.4]))) seed++;
    const batch = randomBatch(seed, [0.8, 1.28, 1.1, 1.4]);
    const res = grpoLoss(batch, cfg, opts);
    // cispo and vespo stop the gradient through their coefficient: moving the old log-prob with the
    // new one holds ρ (hence the coefficient) fixed, so the difference quotient is the detached gradient.
    const detached = cfg.lossType === 'cispo' || cfg.lossType === 'vespo';
    const lossAt = (i: number, t: number, field: 'logprobs' | 'entropies', delta: number): number => {
      const b = batch.map((c) => ({ ...c, logprobs: Array.from(c.logprobs), oldLogprobs: Array.from(c.oldLogprobs!), entropies: Array.from(c.entropies) }));
      b[i][field][t] += delta;
      if (detached && field === 'logprobs') b[i].oldLogprobs[t] += delta;
      return grpoLoss(b, cfg, opts).loss;
    };
    let nonzero = 0;
    batch.forEach((c, i) => {
      for (let t = 0; t < c.mask.length; t++) {
        for (const field of ['logprobs', 'entropies'] as const) {
          const fd = centralDifference((delta) => lossAt(i, t, field, delta), h);
          const an = field === 'logprobs' ? res.gLogprob[i][t] : res.gEntropy[i][t];
          assert.ok(Math.abs(fd - an) <= 1e-8 + 1e-6 * Math.abs(fd), `${JSON.stringify(extra)} c${i} t${t} ${field}: fd ${fd} vs ${an}`);
          if (field === 'logprobs' && Math.abs(an) > 1e-6) nonzero++;
        }
      }
    });
    assert.ok(nonzero > 5, `${JSON.stringify(extra)}: informative gradients`);
  });
});

test('rejects malformed input', () => {
  const c = example();
  assert.throws(() => grpoLoss([], base), /no completions/);
  assert.throws(() => grpoLoss([{ ...c[0], entropies: [1] }], base), /lengths differ/);
  assert.throws(() => grpoLoss(c, { ...base, topEntropyQuantile: 1.5 }), /topEntropyQuantile/);
  assert.throws(() => grpoLoss(c, { ...base, lossType: 'ppo' as LossType }), /unknown lossType/);
});

test('exclude_zero_std_from_denominator: zero-std completions add no loss, tokens or completions', () => {
  const [c0, c1] = example();
  const z = { ...c1, zeroStdGroup: true };
  const cfg = { ...base, beta: 0.1, entropyCoef: 0.01, excludeZeroStdFromDenominator: true };
  // Hand value, grpo: only c0 counts (S = 1): policy −2.88/3, KL 0.1·(0.5/3), entropy −0.01·3.5/3.
  const r = grpoLoss([c0, z], cfg);
  close(r.loss, -2.88 / 3 + (0.1 * 0.5) / 3 - (0.01 * 3.5) / 3, 1e-12, 'grpo hand value');
  closeArr(r.gLogprob[1], [0, 0, 0], 0, 'excluded gLogprob');
  closeArr(r.gEntropy[1], [0, 0, 0], 0, 'excluded gEntropy');
  for (const lossType of ['grpo', 'bnpo', 'dr_grpo', 'dapo'] as LossType[]) {
    for (const opts of [{}, { numCompletionsInStep: 3, dapoNormalizer: 7 }]) {
      const a = grpoLoss([c0, z], { ...cfg, lossType }, opts);
      const b = grpoLoss([c0], { ...cfg, lossType }, opts);
      close(a.loss, b.loss, 1e-15, `${lossType} ${JSON.stringify(opts)} loss`);
      closeArr(a.gLogprob[0], Array.from(b.gLogprob[0]), 1e-15, `${lossType} g0`);
      closeArr(a.gEntropy[0], Array.from(b.gEntropy[0]), 1e-15, `${lossType} ge0`);
      assert.equal(a.metrics.num_tokens, 3);
    }
    // Without the option the flag changes nothing.
    const off = grpoLoss([c0, z], { ...cfg, lossType, excludeZeroStdFromDenominator: false });
    close(off.loss, grpoLoss([c0, c1], { ...cfg, lossType, excludeZeroStdFromDenominator: false }).loss, 0, `${lossType} off`);
  }
  // numCompletionsInStep counts only the completions that are not left out.
  assert.throws(() => grpoLoss([c0, z], { ...cfg, excludeZeroStdFromDenominator: false }, { numCompletionsInStep: 1 }), /numCompletionsInStep/);
  assert.doesNotThrow(() => grpoLoss([c0, z], cfg, { numCompletionsInStep: 1 }));
  // Gradients stay exact (central differences) with a zero-std completion in the batch, every normaliser.
  for (const lossType of ['grpo', 'bnpo', 'dr_grpo', 'dapo'] as LossType[]) {
    const batch = randomBatch(99).map((c, i) => (i === 1 ? { ...c, zeroStdGroup: true } : c));
    const lc: GrpoLossConfig = { ...base, lossType, beta: 0.05, entropyCoef: 0.02, maxCompletionLength: 8, excludeZeroStdFromDenominator: true };
    const opts = { numCompletionsInStep: 5, dapoNormalizer: 30 };
    const res = grpoLoss(batch, lc, opts);
    batch.forEach((c, i) => {
      for (let t = 0; t < c.mask.length; t++) {
        const fd = centralDifference((d) => {
          const b = batch.map((x) => ({ ...x, logprobs: Array.from(x.logprobs) }));
          b[i].logprobs[t] += d;
          return grpoLoss(b, lc, opts).loss;
        }, 1e-6);
        assert.ok(Math.abs(fd - res.gLogprob[i][t]) <= 1e-8 + 1e-6 * Math.abs(fd), `${lossType} c${i} t${t}: fd ${fd} vs ${res.gLogprob[i][t]}`);
        if (i === 1) assert.equal(res.gLogprob[i][t], 0);
      }
    });
  }
});

test('use_bias_correction_kl: k3 × ratio, gradient through the ratio (token and sequence level)', () => {
  const c = example();
  // c0: Σ k3·ρ = 1.5(1 − ln2) + 0·1.1 + 0.5(ln2 − 0.5) = 1.25 − ln2; c1: 0·0.6 + 1.5(1 − ln2).
  const r = grpoLoss(c, { ...base, beta: 0.1, useBiasCorrectionKl: true });
  close(r.loss, -0.1925 + (0.1 * ((1.25 - LN2) / 3 + (1.5 * (1 - LN2)) / 2)) / 2, 1e-12, 'grpo + bias-corrected kl');
  // d(k3·ρ)/dθ = (1 − e^(ref−θ))·ρ + k3·ρ: c0 t0 (−1 + 1 − ln2)·1.5, t2 (0.5 + ln2 − 0.5)·0.5.
  closeArr(r.gLogprob[0], [(0.1 * -LN2 * 1.5) / 6, -1.1 / 6, -0.5 / 6 + (0.1 * LN2 * 0.5) / 6, 0], 1e-12, 'g0');
  close(r.metrics.kl, (1.25 - LN2 + 1.5 * (1 - LN2)) / 5, 1e-12, 'kl metric is the corrected k3');
  const h = 1e-6;
  for (const lossType of ['grpo', 'bnpo', 'dr_grpo', 'dapo', 'sapo', 'luspo'] as LossType[]) {
    for (const importanceSamplingLevel of ['token', 'sequence'] as const) {
      const cfg: GrpoLossConfig = { ...base, lossType, importanceSamplingLevel, beta: 0.3, maxCompletionLength: 8, useBiasCorrectionKl: true };
      const batch = randomBatch(555, [0.8, 1.28]);
      const res = grpoLoss(batch, cfg, { numCompletionsInStep: 6, dapoNormalizer: 40 });
      assert.ok(
        Math.abs(res.loss - grpoLoss(batch, { ...cfg, useBiasCorrectionKl: false }, { numCompletionsInStep: 6, dapoNormalizer: 40 }).loss) > 1e-6,
        'the correction bites',
      );
      batch.forEach((cc, i) => {
        for (let t = 0; t < cc.mask.length; t++) {
          const fd = centralDifference((d) => {
            const b = batch.map((x) => ({ ...x, logprobs: Array.from(x.logprobs) }));
            b[i].logprobs[t] += d;
            return grpoLoss(b, cfg, { numCompletionsInStep: 6, dapoNormalizer: 40 }).loss;
          }, h);
          const an = res.gLogprob[i][t];
          assert.ok(Math.abs(fd - an) <= 1e-8 + 1e-6 * Math.abs(fd), `${lossType} ${importanceSamplingLevel} c${i} t${t}: fd ${fd} vs ${an}`);
        }
      });
    }
  }
});

test('off_policy_mask_threshold: completions with A < 0 and mean(logπold − logπ) above it lose the policy term', () => {
  const c = example();
  // c1 (A = −0.5): mean(old − θ) = mean(−ln 0.6, −ln 1.5) = 0.0526802…; c0 has A > 0 and is always kept.
  let r = grpoLoss(c, { ...base, offPolicyMaskThreshold: 0.05 });
  close(r.loss, -2.88 / 3 / 2, 1e-12, 'c1 masked');
  closeArr(r.gLogprob[1], [0, 0, 0], 0, 'masked c1 has no policy gradient');
  assert.equal(r.metrics.off_policy_masked_ratio, 0.5);
  r = grpoLoss(c, { ...base, offPolicyMaskThreshold: 0.06 });
  close(r.loss, grpoLoss(c, base).loss, 0, 'below the threshold: kept');
  // The KL term is not masked.
  r = grpoLoss(c, { ...base, beta: 0.1, offPolicyMaskThreshold: 0.05 });
  close(r.loss, -2.88 / 3 / 2 + (0.1 * (0.5 / 3 + (1 - LN2) / 2)) / 2, 1e-12, 'kl stays');
  closeArr(r.gLogprob[1], [0, (0.1 * -1) / 4, 0], 1e-12, 'only the kl gradient');
  // On-policy (no old log-probs) the mean is 0: nothing is masked.
  const onPolicy = example().map(({ oldLogprobs: _o, ...rest }) => rest);
  assert.equal(grpoLoss(onPolicy, { ...base, offPolicyMaskThreshold: 0.01 }).metrics.off_policy_masked_ratio, 0);
  assert.throws(() => grpoLoss(c, { ...base, offPolicyMaskThreshold: 0 }), /offPolicyMaskThreshold/);
});

test('samplingWeights (sampler/trainer correction) multiply each token’s policy term, not the KL', () => {
  const weigh = (c: CompletionTokens[], w: number[][]) => c.map((x, i) => ({ ...x, samplingWeights: w[i] }));
  const weights = [
    [2, 0.5, 1, 7],
    [0, 3, 7],
  ];
  // grpo: c0 (−1.28·2 − 1.1·0.5 − 0.5·1)/3 = −3.61/3, c1 (0.4·0 + 0.75·3)/2 = 2.25/2; pads (weight 7) are not read.
  let r = grpoLoss(weigh(example(), weights), base);
  close(r.loss, (-3.61 / 3 + 2.25 / 2) / 2, 1e-12, 'weighted grpo loss');
  closeArr(r.gLogprob[0], [0, (-1.1 * 0.5) / 6, -0.5 / 6, 0], 1e-12, 'g0');
  closeArr(r.gLogprob[1], [0, (0.75 * 3) / 4, 0], 1e-12, 'g1');
  // The KL term keeps weight 1: adding β changes the loss by the same amount with and without weights.
  const kl = (c: CompletionTokens[]) => grpoLoss(c, { ...base, beta: 0.1 }).loss - grpoLoss(c, base).loss;
  close(kl(weigh(example(), weights)), kl(example()), 1e-12, 'kl unweighted');
  // All weights 1 is no correction.
  close(
    grpoLoss(
      weigh(example(), [
        [1, 1, 1, 1],
        [1, 1, 1],
      ]),
      { ...base, lossType: 'sapo' },
    ).loss,
    grpoLoss(example(), { ...base, lossType: 'sapo' }).loss,
    1e-15,
    'weight 1',
  );
  // vespo folds ln c into its sequence log-weight: the same as an old log-prob lowered by ln c.
  const vespoW = [
    [1.2, 0.9, 1.1, 1],
    [0.8, 1.3, 1],
  ];
  const shifted = example().map((x, i) => ({ ...x, oldLogprobs: Array.from(x.oldLogprobs!, (o, t) => o - Math.log(vespoW[i][t])) }));
  r = grpoLoss(weigh(example(), vespoW), { ...base, lossType: 'vespo' });
  const s = grpoLoss(shifted, { ...base, lossType: 'vespo' });
  close(r.loss, s.loss, 1e-12, 'vespo folds the weight into φ');
  closeArr(r.gLogprob[0], Array.from(s.gLogprob[0]), 1e-12, 'vespo g0');
  assert.ok(Math.abs(r.loss - grpoLoss(example(), { ...base, lossType: 'vespo' }).loss) > 1e-6, 'and it changes vespo');
  assert.throws(() => grpoLoss(weigh(example(), [[1], [1, 1, 1]]), base), /completion 0: samplingWeights length/);
});

test('gradients with samplingWeights match central finite differences (every loss type, token and sequence level)', () => {
  const h = 1e-6;
  for (const lossType of LOSS_TYPES) {
    for (const importanceSamplingLevel of ['token', 'sequence'] as const) {
      const cfg: GrpoLossConfig = {
        ...base,
        lossType,
        importanceSamplingLevel,
        epsilonHigh: lossType === 'cispo' ? 1.1 : 0.28,
        beta: 0.05,
        entropyCoef: 0.02,
        maxCompletionLength: 8,
      };
      const rand = rng(901);
      const batch = randomBatch(313, [0.8, 1.28, 1.1]).map((c) => ({ ...c, samplingWeights: Array.from(c.mask, () => 0.5 + rand()) }));
      const opts = { dapoNormalizer: 40, numCompletionsInStep: 6 };
      const res = grpoLoss(batch, cfg, opts);
      assert.ok(
        Math.abs(
          res.loss -
            grpoLoss(
              batch.map(({ samplingWeights: _, ...c }) => c),
              cfg,
              opts,
            ).loss,
        ) > 1e-6,
        `${lossType}: the weights bite`,
      );
      const detached = lossType === 'cispo' || lossType === 'vespo';
      batch.forEach((c, i) => {
        for (let t = 0; t < c.mask.length; t++) {
          const fd = centralDifference((d) => {
            const b = batch.map((x) => ({ ...x, logprobs: Array.from(x.logprobs), oldLogprobs: Array.from(x.oldLogprobs!) }));
            b[i].logprobs[t] += d;
            if (detached) b[i].oldLogprobs[t] += d;
            return grpoLoss(b, cfg, opts).loss;
          }, h);
          const an = res.gLogprob[i][t];
          assert.ok(Math.abs(fd - an) <= 1e-8 + 1e-6 * Math.abs(fd), `${lossType} ${importanceSamplingLevel} c${i} t${t}: fd ${fd} vs ${an}`);
        }
      });
    }
  }
});
