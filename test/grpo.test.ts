// `webgrpo train`: one SGD step moves the adapter by −lr × the gradient of the chosen GRPO loss
// over exactly the completions logged in rollouts.jsonl (checked with the float64 reference
// forward and central finite differences), for each loss type and with beta and entropy_coef.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import { ARITHMETIC_ALPHABET, TINY_ARITH_CHAT_TEMPLATE } from '../src/data/arithmetic.ts';
import { referenceScore, type CpuAdapter } from '../src/model/reference.ts';
import { openSource } from '../src/io/source.ts';
import { loadCpuWeights } from '../src/model/weights.ts';
import { writeRandomModel } from '../src/model/random-model.ts';
import { parseSafetensors, toFloat32 } from '../src/io/safetensors.ts';
import { grpoLoss, type LossType } from '../src/rl/loss.ts';
import { charTokenizerFiles } from '../src/io/tokenizer.ts';
import { rng } from './helpers/gpu.ts';
import { peftKey, writePeftAdapter } from './helpers/peft.ts';
import { directionalDerivative } from './helpers/finite-diff.ts';

const r = 2,
  alpha = 4,
  lr = 0.05,
  temperature = 0.9,
  maxLen = 10;
const modules = ['q_proj', 'v_proj'] as const;

function setup() {
  const root = mkdtempSync(join(tmpdir(), 'webgrpo-grpo-'));
  const modelDir = join(root, 'model');
  mkdirSync(modelDir);
  const { tokenizerJson, tokenizerConfig } = charTokenizerFiles(ARITHMETIC_ALPHABET);
  Object.assign(tokenizerConfig, { chat_template: TINY_ARITH_CHAT_TEMPLATE });
  const config = writeRandomModel(modelDir, {
    architecture: 'llama',
    dtype: 'F32',
    tied: true,
    hiddenSize: 32,
    numLayers: 2,
    numHeads: 4,
    numKvHeads: 2,
    intermediateSize: 48,
    vocabSize: ARITHMETIC_ALPHABET.length + 3,
    eosTokenId: ARITHMETIC_ALPHABET.length + 2,
    seed: 9,
  });
  writeFileSync(join(modelDir, 'tokenizer.json'), JSON.stringify(tokenizerJson));
  writeFileSync(join(modelDir, 'tokenizer_config.json'), JSON.stringify(tokenizerConfig));
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
