// `npm run make:tiny-model`: trains the built-in tiny model (public/models/tiny-arith) from scratch
// with webgrpo's own engine (full-parameter SFT on WebGPU), seeded, then measures held-out
// pass@1 / pass@8 at the default sampling temperature and writes them into its README.
//
// Flags: --steps N (at most), --level 1|2|3, --target-pass1 P (stop once validation pass@1 ≥ P; 1 = never),
// --out DIR, --eval-problems N (defaults give the shipped model).

import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { acquireGpu } from '../src/gpu/device.ts';
import { arithmeticProblem, ARITHMETIC_ALPHABET, TINY_ARITH_CHAT_TEMPLATE, TINY_ARITH_LEVEL, type ArithmeticLevel } from '../src/data/arithmetic.ts';
import { seededRandom } from '../src/gpu/random.ts';
import { ModelGradients } from '../src/model/backward.ts';
import { LanguageModel } from '../src/model/model.ts';
import { writeRandomModel } from '../src/model/random-model.ts';
import { saveWeights } from '../src/model/save.ts';
import { openSource } from '../src/io/source.ts';
import { loadModel } from '../src/model/weights.ts';
import { chatPromptIds, evaluatePassAtK } from '../src/rl/evaluate.ts';
import { boxedAnswerReward } from '../src/rl/rewards/math.ts';
import { charTokenizerFiles, ModelTokenizer } from '../src/io/tokenizer.ts';
import { trainSft, type SftExample } from '../src/train/sft.ts';

const { values: flags } = parseArgs({
  options: {
    steps: { type: 'string', default: '400' },
    level: { type: 'string', default: String(TINY_ARITH_LEVEL) },
    out: { type: 'string', default: 'public/models/tiny-arith' },
    'eval-problems': { type: 'string', default: '100' },
    'target-pass1': { type: 'string', default: '0.35' },
  },
});
const STEPS = Number(flags.steps);
const OUT = flags.out!;
const EVAL_PROBLEMS = Number(flags['eval-problems']);
const SEED = 1234;
const TEMPERATURE = 1.0;
const LEVEL = Number(flags.level) as ArithmeticLevel;
const ARCH = { hiddenSize: 64, numLayers: 2, numHeads: 4, numKvHeads: 2, intermediateSize: 176 };

const LEVEL_DESCRIPTION: Record<ArithmeticLevel, string> = {
  1: 'one-digit sums',
  2: 'two-digit sums, added tens first, then units',
  3: 'two-digit sums, differences, and products with a one-digit factor',
};

const started = performance.now();
const log = (message: string) => process.stderr.write(`[${((performance.now() - started) / 1000).toFixed(0)} s] ${message}\n`);

const { tokenizerJson, tokenizerConfig } = charTokenizerFiles(ARITHMETIC_ALPHABET);
Object.assign(tokenizerConfig, { chat_template: TINY_ARITH_CHAT_TEMPLATE, model_max_length: 128 });
const tokenizer = ModelTokenizer.fromJson(tokenizerJson, tokenizerConfig);
const eos = tokenizer.tokenToId('<|im_end|>')!;
const promptIds = (question: string) => chatPromptIds(tokenizer, question);

// Training data: fresh problems every step; held-out evaluation problems come from another seed.
const random = seededRandom(SEED);
const BATCH = 32;
const examples: SftExample[] = Array.from({ length: STEPS * BATCH }, () => {
  const p = arithmeticProblem(LEVEL, random);
  const prompt = promptIds(p.question);
  const completion = [...tokenizer.encode(p.solution), eos];
  return { ids: [...prompt, ...completion], lossMask: [...prompt.map(() => 0), ...completion.map(() => 1)] };
});
const evalRandom = seededRandom(SEED + 1);
const evalProblems = Array.from({ length: EVAL_PROBLEMS }, () => arithmeticProblem(LEVEL, evalRandom));
// Training stops once pass@1 on a separate validation set reaches TARGET_PASS1: the model is meant
// to be only partly trained, so that RL has room to improve it.
const TARGET_PASS1 = Number(flags['target-pass1']);
const validationRandom = seededRandom(SEED + 2);
const validation = Array.from({ length: 32 }, () => arithmeticProblem(LEVEL, validationRandom));

const work = mkdtempSync(join(tmpdir(), 'tiny-arith-'));
const config = writeRandomModel(work, {
  architecture: 'llama',
  dtype: 'F32',
  tied: true,
  ...ARCH,
  vocabSize: tokenizer.vocabSize,
  maxPositionEmbeddings: 128,
  eosTokenId: eos,
  seed: SEED,
});
const gpu = await acquireGpu();
const { weights } = await loadModel(openSource(work), gpu, { weightDtype: 'f32' });
const model = new LanguageModel(gpu, config, weights);
const gradients = ModelGradients.create(model);
let stepsRun = 0;
log(
  `training ${STEPS} steps × ${BATCH} problems, ${gradients.params.reduce((a, p) => a + p.value.size, 0)} parameters, on ${gpu.adapter.description || gpu.adapter.architecture}`,
);

await trainSft(
  model,
  examples,
  {
    optimizer: 'adamw',
    learningRate: 4e-3,
    weightDecay: 0.01,
    adamBeta1: 0.9,
    adamBeta2: 0.98,
    adamEpsilon: 1e-8,
    maxGradNorm: 1,
    lrSchedulerType: 'cosine',
    warmupRatio: 0.05,
    perDeviceTrainBatchSize: BATCH,
    gradientAccumulationSteps: 1,
    maxSteps: STEPS,
    seed: SEED,
    gradientCheckpointing: false,
  },
  async (m) => {
    stepsRun = m.step;
    if (m.step % 20 === 0 || m.step === STEPS)
      log(
        `step ${m.step}/${STEPS} loss ${m.loss.toFixed(4)} grad_norm ${m.grad_norm.toFixed(3)} lr ${m.learning_rate.toExponential(2)} (${m.step_time.toFixed(2)} s/step)`,
      );
    if (m.step % 25 !== 0 || TARGET_PASS1 >= 1) return true;
    const v = await evaluatePassAtK(model, tokenizer, validation, {
      samples: 4,
      ks: [1],
      temperature: TEMPERATURE,
      maxNewTokens: 64,
      seed: SEED + m.step,
      grade: (c, p) => boxedAnswerReward(c, p.answer),
    });
    log(`step ${m.step}: validation pass@1 ${(100 * v.passAtK[1]).toFixed(1)}%`);
    return v.passAtK[1] < TARGET_PASS1;
  },
  { gradients },
);
const trainSeconds = (performance.now() - started) / 1000;
log(`stopped after ${stepsRun} steps`);

// Held-out pass@k at the default sampling temperature, n = 8 samples per problem.
const SAMPLES = 8;
const evaluation = await evaluatePassAtK(model, tokenizer, evalProblems, {
  samples: SAMPLES,
  ks: [1, 8],
  temperature: TEMPERATURE,
  maxNewTokens: 64,
  seed: SEED,
  grade: (completion, problem) => boxedAnswerReward(completion, problem.answer),
});
const [pass1, pass8] = [evaluation.passAtK[1], evaluation.passAtK[8]];
const totalSeconds = (performance.now() - started) / 1000;
log(
  `held-out pass@1 ${(100 * pass1).toFixed(1)}%, pass@8 ${(100 * pass8).toFixed(1)}% (${evalProblems.length} problems × ${SAMPLES} samples, T=${TEMPERATURE})`,
);

mkdirSync(OUT, { recursive: true });
await saveWeights(model, OUT);
const configJson = JSON.parse(JSON.stringify((await openSource(work).readJson('config.json')) as object));
writeFileSync(join(OUT, 'config.json'), `${JSON.stringify({ ...configJson, torch_dtype: 'float32' }, null, 2)}\n`);
writeFileSync(
  join(OUT, 'generation_config.json'),
  `${JSON.stringify({ eos_token_id: eos, pad_token_id: tokenizer.tokenToId('<|endoftext|>'), do_sample: true, temperature: TEMPERATURE, max_new_tokens: 64 }, null, 2)}\n`,
);
writeFileSync(join(OUT, 'tokenizer.json'), JSON.stringify(tokenizerJson));
writeFileSync(join(OUT, 'tokenizer_config.json'), `${JSON.stringify(tokenizerConfig, null, 2)}\n`);
const example = arithmeticProblem(LEVEL, seededRandom(7));
writeFileSync(
  join(OUT, 'README.md'),
  `# tiny-arith

The built-in model of webgrpo: a ${(gradients.params.reduce((a, p) => a + p.value.size, 0) / 1000).toFixed(0)}k-parameter Llama-architecture decoder
(${ARCH.numLayers} layers, hidden ${ARCH.hiddenSize}, ${ARCH.numHeads} heads / ${ARCH.numKvHeads} KV heads, SwiGLU ${ARCH.intermediateSize}, tied embeddings,
character-level tokenizer of ${tokenizer.vocabSize} tokens), trained from scratch by webgrpo's own WebGPU engine
(full-parameter SFT, AdamW, ${stepsRun} steps × ${BATCH} problems${stepsRun < STEPS ? `, stopped once pass@1 on a validation set reached ${(100 * TARGET_PASS1).toFixed(0)}%` : ''}) with \`npm run make:tiny-model\` (seed ${SEED}).

## Task and format
Arithmetic at level ${LEVEL} of \`src/data/arithmetic.ts\` (${LEVEL_DESCRIPTION[LEVEL]}), answered with a
short worked solution and a final \`\\boxed{}\` answer that the built-in math reward grades. The chat template renders a user turn as \`Q: …\\n\` and the generation
prompt as \`A: \`:

\`\`\`
Q: ${example.question}
A: ${example.solution}<|im_end|>
\`\`\`

## Accuracy (held out, measured by the script)
${evalProblems.length} held-out problems, ${SAMPLES} samples each at temperature ${TEMPERATURE} (the default in generation_config.json):

| pass@1 | pass@8 |
|---|---|
| ${(100 * pass1).toFixed(1)}% | ${(100 * pass8).toFixed(1)}% |

The model is deliberately left partly trained so that RL has room to improve it.

## Reproducing
\`npm run make:tiny-model\` on a 2-core CPU (SwiftShader WebGPU): training took ${(trainSeconds / 60).toFixed(1)} min and the
whole script ${(totalSeconds / 60).toFixed(1)} min on the machine that made this copy.
`,
);
rmSync(work, { recursive: true, force: true });
log(`wrote ${OUT}`);
gpu.destroy();
process.exit(0);
