// `npm run demo`: the quick start's main job. Measures the built-in tiny model's held-out
// accuracy on two-digit arithmetic, fine-tunes a LoRA adapter on fresh problems with the real
// `webgrpo sft` command (WebGPU forward and backward), and measures again with the adapter.
// (GRPO, the project's point, becomes the main job when it lands.)

import { execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { acquireGpu } from '../src/gpu/device.ts';
import { arithmeticProblem, TINY_ARITH_LEVEL } from '../src/data/arithmetic.ts';
import { seededRandom } from '../src/gpu/random.ts';
import { LoraAdapter } from '../src/lora/adapter.ts';
import { LanguageModel } from '../src/model/model.ts';
import { openSource } from '../src/io/source.ts';
import { loadModel } from '../src/model/weights.ts';
import { chatPromptIds, evaluatePassAtK } from '../src/rl/evaluate.ts';
import { boxedAnswerReward } from '../src/rl/rewards/math.ts';
import { ModelTokenizer } from '../src/io/tokenizer.ts';

const MODEL = 'public/models/tiny-arith';
const WORK = join('.cache', 'demo');
const STEPS = 40,
  BATCH = 16,
  SAMPLES = 4,
  PROBLEMS = 48;
mkdirSync(WORK, { recursive: true });

const source = openSource(MODEL);
const tokenizer = await ModelTokenizer.load(source);
const heldOut = Array.from(
  { length: PROBLEMS },
  (
    (r) => () =>
      arithmeticProblem(TINY_ARITH_LEVEL, r)
  )(seededRandom(99)),
);

async function accuracy(adapterDir?: string): Promise<number> {
  const gpu = await acquireGpu();
  const { config, weights } = await loadModel(source, gpu);
  const model = new LanguageModel(gpu, config, weights);
  if (adapterDir) model.adapter = await LoraAdapter.load(openSource(adapterDir), gpu, config);
  const result = await evaluatePassAtK(model, tokenizer, heldOut, {
    samples: SAMPLES,
    ks: [1],
    temperature: 1,
    maxNewTokens: 64,
    seed: 5,
    grade: (completion, problem) => boxedAnswerReward(completion, problem.answer),
  });
  gpu.destroy();
  return result.passAtK[1];
}

const t0 = performance.now();
console.log(`Built-in tiny model ${MODEL}: ${PROBLEMS} held-out problems × ${SAMPLES} samples at temperature 1.`);
console.log(`Example prompt: ${JSON.stringify(tokenizer.decode(chatPromptIds(tokenizer, heldOut[0].question)))}`);
const before = await accuracy();
console.log(`pass@1 before training: ${(100 * before).toFixed(1)}%`);

// Fresh training problems (a different seed from the held-out set), as SFT rows.
const random = seededRandom(2024);
const rows = Array.from({ length: STEPS * BATCH }, () => {
  const p = arithmeticProblem(TINY_ARITH_LEVEL, random);
  return JSON.stringify({ prompt: tokenizer.decode(chatPromptIds(tokenizer, p.question)), completion: `${p.solution}<|im_end|>` });
});
writeFileSync(join(WORK, 'train.jsonl'), `${rows.join('\n')}\n`);
const run = join(WORK, 'run');
console.log(
  `\n$ npx webgrpo sft --model ${MODEL} --data ${join(WORK, 'train.jsonl')} --out ${run} --lora-r 16 --lora-alpha 32 --lr 2e-3 --steps ${STEPS} --batch-size ${BATCH}`,
);
execFileSync(
  process.execPath,
  [
    'bin/webgrpo.mjs',
    'sft',
    '--model',
    MODEL,
    '--data',
    join(WORK, 'train.jsonl'),
    '--out',
    run,
    '--lora-r',
    '16',
    '--lora-alpha',
    '32',
    '--lr',
    '2e-3',
    '--steps',
    String(STEPS),
    '--batch-size',
    String(BATCH),
    '--seed',
    '1',
  ],
  { stdio: 'inherit' },
);

const after = await accuracy(join(run, 'adapter'));
console.log(
  `\npass@1 before: ${(100 * before).toFixed(1)}%   after ${STEPS} LoRA SFT steps: ${(100 * after).toFixed(1)}%   (${((performance.now() - t0) / 60000).toFixed(1)} min)`,
);
console.log(`Adapter (PEFT format): ${join(run, 'adapter')}`);
process.exit(0);
