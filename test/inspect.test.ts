// The step inspector's record (DESIGN.md §8.13) from `webgrpo train --inspect-every 1`: its
// advantages and rewards are the logged ones, its per-token loss shares sum to the step's logged
// loss, its clip flags follow its ratios, and each completion's log-prob before and after the update
// equals the float64 reference forward with the adapter before and after the step.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import { writeTinyArithmeticModel } from './helpers/tiny-model.ts';
import { openSource } from '../src/io/source.ts';
import { parseSafetensors, toFloat32 } from '../src/io/safetensors.ts';
import { referenceScore, type CpuAdapter } from '../src/model/reference.ts';
import { loadCpuWeights } from '../src/model/weights.ts';
import { inspectionFile, type StepInspection } from '../src/rl/inspect.ts';
import { grpoLoss, LOSS_TYPES } from '../src/rl/loss.ts';
import { rng } from './helpers/gpu.ts';
import { peftKey, writePeftAdapter } from './helpers/peft.ts';

const r = 2,
  alpha = 4,
  temperature = 0.9;
const modules = ['q_proj', 'v_proj'] as const;

const root = mkdtempSync(join(tmpdir(), 'webgrpo-inspect-'));
const modelDir = join(root, 'model');
const config = writeTinyArithmeticModel(modelDir, 9, { numLayers: 2 });
const adapterDir = join(root, 'adapter');
writePeftAdapter(adapterDir, { layers: config.numLayers, dims: { q_proj: [32, 32], v_proj: [32, 16] }, r, alpha, seed: 3 });
// Spaces in the completion, except that problems with an even answer all get 1: their group has
// advantage 0, so the default recipe skips its completions (§8.7) and the record says so.
const rewardModule = join(root, 'even-flat.mjs');
writeFileSync(rewardModule, "export default (completion, row) => (Number(row.answer) % 2 === 0 ? 1 : [...completion].filter((c) => c === ' ').length);\n");

function cpuAdapter(file: string): CpuAdapter {
  const tensors = parseSafetensors(readFileSync(file), file).tensors;
  const sites: CpuAdapter = new Map();
  for (let layer = 0; layer < config.numLayers; layer++) {
    for (const module of modules) {
      const key = peftKey(layer, module);
      const values = (part: string) => Float64Array.from(toFloat32(tensors.get(`${key}.${part}.weight`)!));
      sites.set(`${layer}.${module}`, { A: values('lora_A'), B: values('lora_B'), r, scale: alpha / r });
    }
  }
  return sites;
}

function train(name: string, flags: string[]): string {
  const run = join(root, name);
  const res = spawnSync(
    process.execPath,
    [
      'bin/webgrpo.mjs',
      'train',
      '--model',
      modelDir,
      '--init-adapter',
      adapterDir,
      '--out',
      run,
      '--reward-module',
      rewardModule,
      '--steps',
      '1',
      '--prompts-per-step',
      '4',
      '--num-generations',
      '3',
      '--max-completion-length',
      '10',
      '--temperature',
      String(temperature),
      '--eval-problems',
      '0',
      '--seed',
      '4',
      '--inspect-every',
      '1',
      '--lr',
      '0.05',
      '--lr-scheduler-type',
      'constant',
      '--warmup-ratio',
      '0',
      ...flags,
    ],
    { encoding: 'utf8' },
  );
  assert.equal(res.status, 0, res.stderr);
  return run;
}

const readLines = <T>(file: string): T[] =>
  readFileSync(file, 'utf8')
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as T);

const variants = [
  // Without the sampler correction (DESIGN §8.12), whose weights are 1 ± 1e-6 here, so the shares are exactly −A / tokens.
  { label: 'dapo, on-policy, a group with advantage 0', flags: ['--no-importance-sampling-correction'], iterations: 1 },
  {
    label: 'grpo, num_iterations 2, beta 0.05, tight clipping',
    flags: ['--loss-type', 'grpo', '--num-iterations', '2', '--beta', '0.05', '--epsilon', '0.002'],
    iterations: 2,
  },
];

for (const [k, v] of variants.entries()) {
  test(`webgrpo train --inspect-every 1 records the step exactly (${v.label})`, async () => {
    const run = train(`run-${k}`, v.flags);
    const inspection = JSON.parse(readFileSync(join(run, inspectionFile(1)), 'utf8')) as StepInspection;
    const [metrics] = readLines<Record<string, number>>(join(run, 'metrics.jsonl'));
    const rollouts = readLines<{ prompt_ids: number[]; completion_ids: number[]; completion: string; advantage: number; reward: number; group: number }>(
      join(run, 'rollouts.jsonl'),
    );
    const completions = inspection.groups.flatMap((g) => g.completions);
    assert.equal(inspection.step, 1);
    assert.equal(inspection.groups.length, 4);
    assert.equal(completions.length, rollouts.length);

    // Advantages, rewards and texts are the logged ones; group mean/std are of the logged rewards.
    completions.forEach((c, i) => {
      assert.equal(c.advantage, rollouts[i].advantage, `completion ${i}: advantage`);
      assert.equal(c.reward, rollouts[i].reward, `completion ${i}: reward`);
      assert.equal(c.text, rollouts[i].completion);
      assert.equal(c.tokens.length, rollouts[i].completion_ids.length);
    });
    inspection.groups.forEach((g, p) => {
      const rs = rollouts.filter((x) => x.group === p).map((x) => x.reward);
      const mean = rs.reduce((a, b) => a + b, 0) / rs.length;
      assert.ok(Math.abs(g.rewardMean - mean) < 1e-12, `group ${p}: mean`);
      const std = Math.sqrt(rs.reduce((a, x) => a + (x - mean) ** 2, 0) / (rs.length - 1));
      assert.ok(Math.abs(g.rewardStd - std) < 1e-12, `group ${p}: std`);
    });

    // The per-token loss shares sum to the logged loss (the last update's, §8.6).
    const total = completions.reduce((a, c) => a + c.losses.reduce((b, x) => b + x, 0), 0);
    assert.ok(Math.abs(total - metrics.loss) <= 1e-12, `Σ token losses ${total} vs loss ${metrics.loss}`);
    if (v.iterations === 1) {
      // dapo on-policy, β = 0: each token adds −A / (active tokens of the step) (§8.3, §8.4).
      const tokens = rollouts.reduce((a, x) => a + x.completion_ids.length, 0);
      for (const c of completions.filter((c) => c.trained)) for (const l of c.losses) assert.ok(Math.abs(l + c.advantage / tokens) < 1e-12, `token loss ${l}`);
    }

    // Which completions were trained: with the default recipe, those with advantage ≠ 0.
    if (v.iterations === 1) {
      assert.ok(
        completions.some((c) => !c.trained),
        'the group with equal rewards is not trained',
      );
      for (const c of completions) assert.equal(c.trained, c.advantage !== 0);
    } else assert.ok(completions.every((c) => c.trained));

    // Clip flags follow the stored ratios and advantages (token level, ε_low = ε_high).
    let clipped = 0;
    for (const c of completions) {
      if (!c.trained) {
        assert.deepEqual([c.logprobs, c.losses, c.logprobBefore, c.logprobAfter], [[], [], null, null]);
        continue;
      }
      assert.equal(c.logprobs.length, c.tokens.length);
      c.ratios.forEach((rho, t) => {
        if (v.iterations === 1) assert.equal(rho, 1, 'on-policy ρ = 1');
        const expected = rho < 1 - inspection.epsilon && c.advantage < 0 ? -1 : rho > 1 + inspection.epsilonHigh && c.advantage > 0 ? 1 : 0;
        // ratios are stored to six digits: only decide flags away from the bounds.
        if (Math.abs(Math.abs(rho - 1) - inspection.epsilon) > 1e-5) assert.equal(c.clip[t], expected, `clip flag of ρ = ${rho}, A = ${c.advantage}`);
        if (c.clip[t] !== 0) clipped++;
      });
    }
    if (v.iterations === 2) assert.ok(clipped > 0, 'tight clipping clips some tokens in the second update');
    const clipMetric = metrics['clip_ratio/region_mean'] ?? 0;
    if (v.iterations === 1) assert.equal(clipMetric, 0);

    // Before and after: the float64 reference with the initial adapter and with the trained one.
    const cpu = await loadCpuWeights(openSource(modelDir));
    const beforeAdapter = cpuAdapter(join(adapterDir, 'adapter_model.safetensors'));
    const afterAdapter = cpuAdapter(join(run, 'adapter', 'adapter_model.safetensors'));
    const sequenceLogprob = (i: number, adapter: CpuAdapter) => {
      const x = rollouts[i];
      const s = referenceScore(cpu.config, cpu.tensors, [...x.prompt_ids, ...x.completion_ids], temperature, adapter);
      return s.logprobs.slice(x.prompt_ids.length - 1).reduce((a, b) => a + b, 0);
    };
    let moved = 0;
    completions.forEach((c, i) => {
      if (!c.trained) return;
      const before = sequenceLogprob(i, beforeAdapter);
      const after = sequenceLogprob(i, afterAdapter);
      assert.ok(Math.abs(c.logprobBefore! - before) < 1e-3, `completion ${i}: before ${c.logprobBefore} vs reference ${before}`);
      assert.ok(Math.abs(c.logprobAfter! - after) < 1e-3, `completion ${i}: after ${c.logprobAfter} vs reference ${after}`);
      if (v.iterations === 1) {
        const sumStored = c.logprobs.reduce((a, b) => a + b, 0);
        assert.ok(Math.abs(sumStored - c.logprobBefore!) < 1e-4, 'on-policy: before = Σ the loss log-probs');
      }
      if (Math.abs(c.logprobAfter! - c.logprobBefore!) > 1e-4) moved++;
    });
    assert.ok(moved > 0, 'the update moves the log-probs');
  });
}

test('inspect_every 0 stores no inspection', () => {
  const run = train('run-off', ['--inspect-every', '0']);
  assert.ok(existsSync(join(run, 'metrics.jsonl')));
  assert.ok(!existsSync(join(run, 'inspect')));
});

test('grpoLoss per-token terms: shares sum to the loss, flags count as the clip metrics, ratios as the loss saw them', () => {
  const next = rng(5);
  const completions = [7, 4, 9].map((T, i) => {
    const logprobs = Array.from({ length: T }, () => -2 * next());
    return {
      logprobs,
      oldLogprobs: logprobs.map((x) => x + 0.6 * (next() - 0.5)),
      refLogprobs: logprobs.map((x) => x + 0.2 * (next() - 0.5)),
      entropies: Array.from({ length: T }, () => next()),
      mask: new Float64Array(T).fill(1),
      advantage: [0.8, -1.1, 0.3][i],
      truncated: i === 2,
    };
  });
  for (const lossType of LOSS_TYPES) {
    for (const level of ['token', 'sequence'] as const) {
      const result = grpoLoss(completions, {
        lossType,
        epsilon: 0.1,
        epsilonHigh: lossType === 'cispo' ? 1.05 : 0.12,
        beta: 0.04,
        entropyCoef: 0.01,
        topEntropyQuantile: 1,
        maxCompletionLength: 12,
        maskTruncatedCompletions: true,
        importanceSamplingLevel: level,
      });
      const what = `${lossType}, ${level} level`;
      const shares = result.tokens.reduce((a, t) => a + t.loss.reduce((b, x) => b + x, 0), 0);
      assert.ok(Math.abs(shares - result.loss) < 1e-12, `${what}: Σ shares ${shares} vs loss ${result.loss}`);
      // The truncated completion is masked: no share, no flag.
      assert.ok(result.tokens[2].loss.every((x) => x === 0) && result.tokens[2].clip.every((x) => x === 0), `${what}: masked completion`);
      const N = result.metrics.num_tokens;
      const count = (flag: number) => result.tokens.reduce((a, t) => a + t.clip.filter((c) => c === flag).length, 0);
      assert.ok(Math.abs(count(-1) / N - result.metrics['clip_ratio/low_mean']) < 1e-12, `${what}: low flags`);
      const high = lossType === 'cispo' ? result.metrics.cispo_clip_ratio : result.metrics['clip_ratio/high_mean'];
      assert.ok(Math.abs(count(1) / N - high) < 1e-12, `${what}: high flags`);
      if (level === 'token' && lossType !== 'vespo') {
        result.tokens[0].ratio.forEach((rho, t) => assert.ok(Math.abs(rho - Math.exp(completions[0].logprobs[t] - completions[0].oldLogprobs[t])) < 1e-12));
      }
    }
  }
});
