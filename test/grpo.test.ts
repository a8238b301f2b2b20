// `webgrpo train`: one SGD step moves the adapter by −lr × the gradient of the chosen GRPO loss
// over exactly the completions logged in rollouts.jsonl (checked with the float64 reference
// forward and central finite differences), for each loss type and with beta and entropy_coef.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import { writeTinyArithmeticModel } from './helpers/tiny-model.ts';
import { referenceScore, type CpuAdapter } from '../src/model/reference.ts';
import { openSource } from '../src/io/source.ts';
import { loadCpuWeights } from '../src/model/weights.ts';
import { parseSafetensors, toFloat32 } from '../src/io/safetensors.ts';
import { grpoLoss, type LossType } from '../src/rl/loss.ts';
import { rng } from './helpers/gpu.ts';
import { peftKey, writePeftAdapter } from './helpers/peft.ts';
import { directionalDerivative, numericGradient } from './helpers/finite-diff.ts';

const r = 2,
  alpha = 4,
  lr = 0.05,
  temperature = 0.9,
  maxLen = 10;
const modules = ['q_proj', 'v_proj'] as const;

function setup() {
  const root = mkdtempSync(join(tmpdir(), 'webgrpo-grpo-'));
  const modelDir = join(root, 'model');
  const config = writeTinyArithmeticModel(modelDir, 9, { numLayers: 2 });
  const adapterDir = join(root, 'adapter');
  writePeftAdapter(adapterDir, { layers: config.numLayers, dims: { q_proj: [32, 32], v_proj: [32, 16] }, r, alpha, seed: 3 });
  // A reward with spread on this random model's text: the number of spaces in the completion.
  const rewardModule = join(root, 'ones.mjs');
  writeFileSync(rewardModule, "export default (completion) => [...completion].filter((c) => c === ' ').length;\n");
  // The same, except that problems with an even answer all get 1: their group has advantage 0.
  const evenFlatReward = join(root, 'even-flat.mjs');
  writeFileSync(evenFlatReward, "export default (completion, row) => (Number(row.answer) % 2 === 0 ? 1 : [...completion].filter((c) => c === ' ').length);\n");
  return { root, modelDir, adapterDir, rewardModule, evenFlatReward, config };
}

const variants: { lossType: LossType; beta: number; entropyCoef: number; mask: boolean; zeroGroup?: boolean }[] = [
  { lossType: 'grpo', beta: 0, entropyCoef: 0, mask: false },
  { lossType: 'bnpo', beta: 0, entropyCoef: 0, mask: false },
  { lossType: 'dr_grpo', beta: 0, entropyCoef: 0, mask: false },
  { lossType: 'dapo', beta: 0, entropyCoef: 0, mask: true },
  { lossType: 'grpo', beta: 0.05, entropyCoef: 0.01, mask: false },
  // A group whose rewards are all equal (advantage 0) skips the forward/backward: the update must not change.
  { lossType: 'dapo', beta: 0, entropyCoef: 0, mask: false, zeroGroup: true },
  { lossType: 'grpo', beta: 0, entropyCoef: 0, mask: false, zeroGroup: true },
];

const fixture = setup();

for (const v of variants) {
  test(`one SGD step of webgrpo train follows −lr × ∇ of the ${v.lossType} loss (beta ${v.beta}, entropy_coef ${v.entropyCoef}${v.zeroGroup ? ', a group with advantage 0' : ''})`, async () => {
    const { root, modelDir, adapterDir, config } = fixture;
    const rewardModule = v.zeroGroup ? fixture.evenFlatReward : fixture.rewardModule;
    const mixed = (xs: { advantage: number }[]) => xs.some((x) => x.advantage === 0) && xs.some((x) => x.advantage !== 0);
    const eos = config.eosTokenIds;
    const truncated = (x: { completion_ids: number[] }) => !eos.includes(x.completion_ids[x.completion_ids.length - 1]);
    // With masking, the batch must mix finished and truncated completions for the test to mean
    // anything: try a few seeds until one does (sampling is seeded, so this is deterministic).
    let run = '';
    let rollouts: { prompt_ids: number[]; completion_ids: number[]; advantage: number; reward: number }[] = [];
    for (const seed of [4, 5, 6, 7, 8, 9]) {
      run = join(root, `run-${v.lossType}-${v.beta}-${v.zeroGroup ? 'zero-' : ''}${seed}`);
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
          '--optimizer',
          'sgd',
          '--lr',
          String(lr),
          '--lr-scheduler-type',
          'constant',
          '--warmup-ratio',
          '0',
          '--max-grad-norm',
          '0',
          '--steps',
          '1',
          '--prompts-per-step',
          '2',
          '--num-generations',
          '3',
          '--max-completion-length',
          String(maxLen),
          '--temperature',
          String(temperature),
          '--loss-type',
          v.lossType,
          '--beta',
          String(v.beta),
          '--entropy-coef',
          String(v.entropyCoef),
          '--eval-problems',
          '0',
          '--seed',
          String(seed),
          ...(v.mask ? ['--mask-truncated-completions'] : []),
        ],
        { encoding: 'utf8' },
      );
      assert.equal(res.status, 0, res.stderr);
      rollouts = readFileSync(join(run, 'rollouts.jsonl'), 'utf8')
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l));
      if (v.zeroGroup ? mixed(rollouts) : !v.mask || (rollouts.some(truncated) && !rollouts.every(truncated))) break;
    }
    if (v.zeroGroup) assert.ok(mixed(rollouts), 'a group with advantage 0 beside one with advantages');
    assert.equal(rollouts.length, 6);
    if (v.mask) assert.ok(rollouts.some(truncated) && !rollouts.every(truncated), 'a mix of finished and truncated completions');
    assert.ok(new Set(rollouts.map((x) => x.reward)).size > 1, 'rewards differ, so advantages are not all zero');

    const names = [...parseSafetensors(readFileSync(join(adapterDir, 'adapter_model.safetensors')), 'a').tensors.keys()].sort();
    const before = parseSafetensors(readFileSync(join(adapterDir, 'adapter_model.safetensors')), 'before').tensors;
    const after = parseSafetensors(readFileSync(join(run, 'adapter', 'adapter_model.safetensors')), 'after').tensors;
    const values = names.map((n) => Float64Array.from(toFloat32(before.get(n)!)));
    const update = names.map((n, k) => Float64Array.from(toFloat32(after.get(n)!), (x, j) => (values[k][j] - x) / lr));
    const cpu = await loadCpuWeights(openSource(modelDir));
    const adapterOf = (): CpuAdapter => {
      const sites: CpuAdapter = new Map();
      for (let layer = 0; layer < config.numLayers; layer++) {
        for (const module of modules) {
          const key = peftKey(layer, module);
          sites.set(`${layer}.${module}`, {
            A: values[names.indexOf(`${key}.lora_A.weight`)],
            B: values[names.indexOf(`${key}.lora_B.weight`)],
            r,
            scale: alpha / r,
          });
        }
      }
      return sites;
    };
    const completionScores = (adapter: CpuAdapter | undefined) =>
      rollouts.map((x) => {
        const ids = [...x.prompt_ids, ...x.completion_ids];
        const s = referenceScore(cpu.config, cpu.tensors, ids, temperature, adapter);
        const from = x.prompt_ids.length - 1;
        return { logprobs: s.logprobs.slice(from), entropies: s.entropies.slice(from) };
      });
    // Old log-probs are the policy at θ0 (constants), so ρ varies with θ exactly as autograd sees it.
    const old = completionScores(adapterOf()).map((s) => s.logprobs);
    const ref = completionScores(undefined).map((s) => s.logprobs);
    const loss = () => {
      const scores = completionScores(adapterOf());
      return grpoLoss(
        rollouts.map((x, i) => ({
          logprobs: scores[i].logprobs,
          oldLogprobs: old[i],
          refLogprobs: ref[i],
          entropies: scores[i].entropies,
          mask: new Float64Array(x.completion_ids.length).fill(1),
          advantage: x.advantage,
          truncated: truncated(x),
        })),
        {
          lossType: v.lossType,
          epsilon: 0.2,
          epsilonHigh: 0.2,
          beta: v.beta,
          entropyCoef: v.entropyCoef,
          topEntropyQuantile: 1,
          maxCompletionLength: maxLen,
          maskTruncatedCompletions: v.mask,
        },
      ).loss;
    };
    // Directional derivatives along random directions through every adapter value.
    const eps = 1e-5;
    const next = rng(17);
    for (let trial = 0; trial < 3; trial++) {
      const direction = values.map((t) => Float64Array.from(t, () => next() * 2 - 1));
      const numeric = directionalDerivative(loss, values, direction, eps);
      const analytic = update.reduce((a, u, k) => a + u.reduce((b, x, j) => b + x * direction[k][j], 0), 0);
      assert.ok(Math.abs(numeric) > 1e-4, `directional derivative is informative (${numeric})`);
      assert.ok(Math.abs(analytic - numeric) <= 1e-3 * Math.abs(numeric), `direction ${trial}: update/lr ${analytic} vs finite differences ${numeric}`);
    }
  });
}

// Two updates from one batch (num_iterations 2): the adapter must end where two SGD steps of TRL's
// loss over the logged rollouts take it, with the old log-probs fixed at the starting adapter θ0:
//   θ1 = θ0 − lr·∇L(θ0),  θ2 = θ1 − lr·∇L(θ1),
// each gradient by central differences of the float64 reference, coordinate by coordinate. ε is small
// enough that the second update clips. cispo and vespo stop the gradient through their coefficient:
// their reference holds the ratio at its value at the point of differentiation.
interface TwoStepVariant {
  lossType: LossType;
  level?: 'token' | 'sequence';
  delta?: number;
  epsilon: number;
  epsilonHigh: number;
  /** The loss reports clipping in the second update (cispo_clip_ratio for cispo). */
  clips: boolean;
}
const twoStep: TwoStepVariant[] = [
  { lossType: 'cispo', epsilon: 0.2, epsilonHigh: 1, clips: true },
  { lossType: 'sapo', epsilon: 0.2, epsilonHigh: 0.2, clips: false },
  { lossType: 'luspo', epsilon: 0.01, epsilonHigh: 0.01, clips: true },
  { lossType: 'vespo', epsilon: 0.2, epsilonHigh: 0.2, clips: false },
  { lossType: 'grpo', level: 'sequence', epsilon: 0.002, epsilonHigh: 0.002, clips: true },
  { lossType: 'luspo', level: 'sequence', epsilon: 0.002, epsilonHigh: 0.002, clips: true },
  { lossType: 'dapo', delta: 1.02, epsilon: 0.01, epsilonHigh: 0.01, clips: true },
];

for (const v of twoStep) {
  const what = `${v.lossType}${v.level ? ` ${v.level}-level` : ''}${v.delta ? ` delta ${v.delta}` : ''}`;
  test(`num_iterations 2: webgrpo train makes the two SGD updates of the ${what} loss`, async (t) => {
    const { root, modelDir, adapterDir, rewardModule, config } = fixture;
    const run = join(root, `two-${what.replace(/\W+/g, '-')}`);
    const res = spawnSync(
      process.execPath,
      [
        'bin/webgrpo.mjs',
        'train',
        ...['--model', modelDir, '--init-adapter', adapterDir, '--out', run, '--reward-module', rewardModule],
        ...['--optimizer', 'sgd', '--lr', String(lr), '--lr-scheduler-type', 'constant', '--warmup-ratio', '0', '--max-grad-norm', '0'],
        ...['--steps', '1', '--num-iterations', '2', '--prompts-per-step', '2', '--num-generations', '3'],
        ...['--max-completion-length', String(maxLen), '--temperature', String(temperature), '--eval-problems', '0', '--seed', '4'],
        ...['--loss-type', v.lossType, '--epsilon', String(v.epsilon), '--epsilon-high', String(v.epsilonHigh), '--beta', '0'],
        ...(v.level ? ['--importance-sampling-level', v.level] : []),
        ...(v.delta ? ['--delta', String(v.delta)] : []),
      ],
      { encoding: 'utf8' },
    );
    assert.equal(res.status, 0, res.stderr);
    const rollouts: { prompt_ids: number[]; completion_ids: number[]; advantage: number }[] = readFileSync(join(run, 'rollouts.jsonl'), 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    assert.ok(
      rollouts.some((x) => x.advantage !== 0),
      'some advantage is not 0',
    );
    const eos = config.eosTokenIds;
    const names = [...parseSafetensors(readFileSync(join(adapterDir, 'adapter_model.safetensors')), 'a').tensors.keys()].sort();
    const before = parseSafetensors(readFileSync(join(adapterDir, 'adapter_model.safetensors')), 'before').tensors;
    const after = parseSafetensors(readFileSync(join(run, 'adapter', 'adapter_model.safetensors')), 'after').tensors;
    const theta0 = names.map((n) => Float64Array.from(toFloat32(before.get(n)!)));
    const theta2 = names.map((n) => Float64Array.from(toFloat32(after.get(n)!)));
    const cpu = await loadCpuWeights(openSource(modelDir));
    const adapterOf = (vals: Float64Array[]): CpuAdapter => {
      const sites: CpuAdapter = new Map();
      for (let layer = 0; layer < config.numLayers; layer++) {
        for (const module of modules) {
          const key = peftKey(layer, module);
          sites.set(`${layer}.${module}`, {
            A: vals[names.indexOf(`${key}.lora_A.weight`)],
            B: vals[names.indexOf(`${key}.lora_B.weight`)],
            r,
            scale: alpha / r,
          });
        }
      }
      return sites;
    };
    const scores = (vals: Float64Array[]) =>
      rollouts.map((x) => {
        const s = referenceScore(cpu.config, cpu.tensors, [...x.prompt_ids, ...x.completion_ids], temperature, adapterOf(vals));
        const from = x.prompt_ids.length - 1;
        return { logprobs: s.logprobs.slice(from), entropies: s.entropies.slice(from) };
      });
    const old = scores(theta0).map((s) => s.logprobs);
    const detached = v.lossType === 'cispo' || v.lossType === 'vespo';
    const lossAt = (vals: Float64Array[], frozen: number[][] | null) => {
      const sc = scores(vals);
      return grpoLoss(
        rollouts.map((x, i) => ({
          logprobs: sc[i].logprobs,
          // Detached coefficient: ρ = exp(frozen − old) whatever θ is (old moves with logπ).
          oldLogprobs: frozen ? sc[i].logprobs.map((l, t) => old[i][t] + l - frozen[i][t]) : old[i],
          entropies: sc[i].entropies,
          mask: new Float64Array(x.completion_ids.length).fill(1),
          advantage: x.advantage,
          truncated: !eos.includes(x.completion_ids[x.completion_ids.length - 1]),
        })),
        {
          lossType: v.lossType,
          epsilon: v.epsilon,
          epsilonHigh: v.epsilonHigh,
          beta: 0,
          entropyCoef: 0,
          topEntropyQuantile: 1,
          maxCompletionLength: maxLen,
          maskTruncatedCompletions: false,
          importanceSamplingLevel: v.level ?? 'token',
          delta: v.delta ?? 0,
        },
      );
    };
    const sgdStep = (vals: Float64Array[]) => {
      const frozen = detached ? scores(vals).map((s) => s.logprobs) : null;
      const point = vals.map((t) => Float64Array.from(t));
      const f = () => lossAt(point, frozen).loss;
      return point.map((t) => {
        const g = numericGradient(f, t, 1e-5);
        return Float64Array.from(t, (x, j) => x - lr * g[j]);
      });
    };
    const theta1 = sgdStep(theta0);
    const second = lossAt(theta1, detached ? scores(theta1).map((s) => s.logprobs) : null).metrics;
    if (v.clips) {
      const clip = v.lossType === 'cispo' ? second.cispo_clip_ratio : second['clip_ratio/region_mean'];
      assert.ok(clip > 0, `the second update clips (${clip})`);
    }
    if (v.delta) {
      // δ must bite in the second update: some token with A < 0 whose ratio exceeds δ.
      const s1 = scores(theta1);
      const above = rollouts.some((x, i) => x.advantage < 0 && s1[i].logprobs.some((l, t) => Math.exp(l - old[i][t]) > v.delta!));
      assert.ok(above, 'a token with A < 0 and ρ > δ in the second update');
    }
    const theta2Ref = sgdStep(theta1);
    let num = 0,
      den = 0;
    theta2Ref.forEach((t, k) =>
      t.forEach((x, j) => {
        const dRef = x - theta0[k][j];
        const dGot = theta2[k][j] - theta0[k][j];
        num += (dGot - dRef) ** 2;
        den += dRef ** 2;
      }),
    );
    const rel = Math.sqrt(num / den);
    t.diagnostic(
      `${what}: |θ2 − θ0| = ${Math.sqrt(den).toExponential(3)}, relative error ${rel.toExponential(3)}, second-update clip ${JSON.stringify(v.lossType === 'cispo' ? second.cispo_clip_ratio : second['clip_ratio/region_mean'])}`,
    );
    assert.ok(den > 0, 'the adapter moved');
    assert.ok(rel <= 1e-3, `${what}: relative error of θ2 − θ0 is ${rel}`);
  });
}

test('a GRPO step logs the sampler/trainer mismatch: finite, above 0 and small; rollouts keep the sampler log-probs', async () => {
  const { root, modelDir, adapterDir, rewardModule, config } = fixture;
  const run = join(root, 'sampling-metrics');
  const res = spawnSync(
    process.execPath,
    [
      'bin/webgrpo.mjs',
      'train',
      ...['--model', modelDir, '--init-adapter', adapterDir, '--out', run, '--reward-module', rewardModule],
      ...['--steps', '1', '--prompts-per-step', '2', '--num-generations', '3', '--max-completion-length', String(maxLen)],
      ...['--temperature', String(temperature), '--top-k', '5', '--eval-problems', '0', '--seed', '4', '--entropy-coef', '0.01'],
    ],
    { encoding: 'utf8' },
  );
  assert.equal(res.status, 0, res.stderr);
  const metrics = JSON.parse(readFileSync(join(run, 'metrics.jsonl'), 'utf8').trim().split('\n')[0]);
  const diffMean = metrics['sampling/sampling_logp_difference/mean'];
  const diffMax = metrics['sampling/sampling_logp_difference/max'];
  assert.ok(diffMean > 0 && diffMax >= diffMean && diffMax < 1e-3, `|old − sampler| mean ${diffMean}, max ${diffMax}`);
  const ratio = ['min', 'mean', 'max'].map((k) => metrics[`sampling/importance_sampling_ratio/${k}`]);
  assert.ok(ratio[0] <= ratio[1] && ratio[1] <= ratio[2], `ratio ${ratio}`);
  // The default correction (sequence_mask, cap 3) keeps every completion: weights exp(Σ old − sampler) ≈ 1.
  for (const r of ratio) assert.ok(Math.abs(r - 1) < 1e-2, `importance-sampling ratio ${r}`);
  const rollouts: { prompt_ids: number[]; completion_ids: number[]; sampling_logprobs: number[] }[] = readFileSync(join(run, 'rollouts.jsonl'), 'utf8')
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l));
  // The sampler's log-probs are the policy's at the sampling temperature before top-k (float64 reference at θ0).
  const cpu = await loadCpuWeights(openSource(modelDir));
  const names = [...parseSafetensors(readFileSync(join(adapterDir, 'adapter_model.safetensors')), 'a').tensors.keys()].sort();
  const tensors = parseSafetensors(readFileSync(join(adapterDir, 'adapter_model.safetensors')), 'a').tensors;
  const adapter: CpuAdapter = new Map();
  for (let layer = 0; layer < config.numLayers; layer++) {
    for (const module of modules) {
      const key = peftKey(layer, module);
      const value = (suffix: string) => Float64Array.from(toFloat32(tensors.get(names.find((n) => n === `${key}.${suffix}`)!)!));
      adapter.set(`${layer}.${module}`, { A: value('lora_A.weight'), B: value('lora_B.weight'), r, scale: alpha / r });
    }
  }
  let worst = 0;
  for (const x of rollouts) {
    assert.equal(x.sampling_logprobs.length, x.completion_ids.length);
    const s = referenceScore(cpu.config, cpu.tensors, [...x.prompt_ids, ...x.completion_ids], temperature, adapter);
    x.sampling_logprobs.forEach((l, j) => (worst = Math.max(worst, Math.abs(l - s.logprobs[x.prompt_ids.length - 1 + j]))));
  }
  assert.ok(worst < 1e-4, `sampler log-probs vs float64 reference: max |Δ| ${worst}`);
  assert.equal(metrics.entropy_coef, 0.01, 'a static entropy bonus logs its coefficient');

  // --no-importance-sampling-correction (on by default): config.json records it off, the ratio metrics are the raw token ratios.
  const off = join(root, 'sampling-metrics-off');
  const resOff = spawnSync(
    process.execPath,
    [
      'bin/webgrpo.mjs',
      'train',
      ...['--model', modelDir, '--init-adapter', adapterDir, '--out', off, '--reward-module', rewardModule, '--no-importance-sampling-correction'],
      ...['--steps', '1', '--prompts-per-step', '2', '--num-generations', '3', '--max-completion-length', '4', '--eval-problems', '0', '--seed', '4'],
    ],
    { encoding: 'utf8' },
  );
  assert.equal(resOff.status, 0, resOff.stderr);
  assert.equal(JSON.parse(readFileSync(join(off, 'config.json'), 'utf8')).vllm_importance_sampling_correction, false);
  const offMetrics = JSON.parse(readFileSync(join(off, 'metrics.jsonl'), 'utf8').trim().split('\n')[0]);
  const spread = offMetrics['sampling/importance_sampling_ratio/max'] - offMetrics['sampling/importance_sampling_ratio/min'];
  assert.ok(spread > 0 && spread < 1e-3, `raw token ratios spread ${spread}`);
});

test('gradient_checkpointing: one GRPO step with and without it gives the same loss, rollouts and updated adapter; config.json records it', () => {
  const { root, modelDir, adapterDir, rewardModule } = fixture;
  const train = (name: string, flag: string) => {
    const run = join(root, name);
    const res = spawnSync(
      process.execPath,
      [
        'bin/webgrpo.mjs',
        'train',
        ...['--model', modelDir, '--init-adapter', adapterDir, '--out', run, '--reward-module', rewardModule, flag],
        ...['--steps', '1', '--prompts-per-step', '2', '--num-generations', '3', '--max-completion-length', String(maxLen)],
        ...['--lr', String(lr), '--lr-scheduler-type', 'constant', '--warmup-ratio', '0'],
        // LoRA dropout: the recomputed layer must draw the same masks as the first forward.
        ...['--temperature', String(temperature), '--lora-dropout', '0.2', '--beta', '0.05', '--eval-problems', '0', '--seed', '4'],
      ],
      { encoding: 'utf8' },
    );
    assert.equal(res.status, 0, res.stderr);
    const read = (file: string) => readFileSync(join(run, file), 'utf8');
    const tensors = parseSafetensors(readFileSync(join(run, 'adapter', 'adapter_model.safetensors')), name).tensors;
    return {
      config: JSON.parse(read('config.json')),
      metrics: JSON.parse(read('metrics.jsonl').trim().split('\n')[0]),
      rollouts: read('rollouts.jsonl')
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l) as { completion_ids: number[]; advantage: number }),
      adapter: new Map([...tensors].map(([k, t]) => [k, toFloat32(t)])),
    };
  };
  const on = train('checkpointing-on', '--gradient-checkpointing');
  const off = train('checkpointing-off', '--no-gradient-checkpointing');
  assert.equal(on.config.gradient_checkpointing, true);
  assert.equal(off.config.gradient_checkpointing, false);
  assert.deepEqual(
    on.rollouts.map((x) => [x.completion_ids, x.advantage]),
    off.rollouts.map((x) => [x.completion_ids, x.advantage]),
  );
  assert.ok(
    on.rollouts.some((x) => x.advantage !== 0),
    'the step learns something',
  );
  assert.ok(Math.abs(on.metrics.loss - off.metrics.loss) <= 1e-6 * Math.max(1, Math.abs(off.metrics.loss)), `loss ${on.metrics.loss} vs ${off.metrics.loss}`);
  assert.ok(
    Math.abs(on.metrics.grad_norm - off.metrics.grad_norm) <= 1e-5 * off.metrics.grad_norm,
    `grad_norm ${on.metrics.grad_norm} vs ${off.metrics.grad_norm}`,
  );
  assert.ok(off.metrics.grad_norm > 0, 'the gradient is not 0');
  const before = parseSafetensors(readFileSync(join(adapterDir, 'adapter_model.safetensors')), 'before').tensors;
  let moved = 0,
    diff = 0;
  for (const [name, x] of off.adapter) {
    const y = on.adapter.get(name)!;
    const x0 = toFloat32(before.get(name)!);
    x.forEach((v, j) => {
      moved += (v - x0[j]) ** 2;
      diff += (v - y[j]) ** 2;
    });
  }
  assert.ok(moved > 0, 'the adapter moved');
  assert.ok(Math.sqrt(diff) <= 1e-5 * Math.sqrt(moved), `updated adapters differ by ${Math.sqrt(diff)} (update ${Math.sqrt(moved)})`);
});
