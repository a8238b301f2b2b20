// The `webgrpo` command line. With --json the last line of stdout is one JSON object; progress
// and diagnostics go to stderr.

import { parseArgs, type ParseArgsConfig } from 'node:util';
import { acquireGpu } from '../gpu/device.ts';
import type { Gpu } from '../gpu/runtime.ts';
import { LanguageModel } from '../model/model.ts';
import { generate } from '../model/generate.ts';
import { openSource, type ModelSource } from '../io/source.ts';
import { loadModel } from '../model/weights.ts';
import { ModelTokenizer } from '../io/tokenizer.ts';
import { ALL_TARGETS, type LoraConfig, type TargetModule } from '../lora/config.ts';
import { LoraAdapter } from '../lora/adapter.ts';
import { tokenizeSftRows, trainSft, type SftConfig } from '../train/sft.ts';
import { SCHEDULER_TYPES } from '../train/schedule.ts';
import { mergeAdapter } from '../lora/merge.ts';
import { ModelGradients } from '../model/backward.ts';
import { saveWeights } from '../model/save.ts';
import { GRPO_DEFAULTS, GrpoTrainer, type GrpoConfig } from '../rl/grpo.ts';
import { accuracyReward, builtinRewards, heldOutPassAtK, heldOutProblems, problemReward, runConfigJson, type NamedReward } from '../rl/run.ts';
import { evaluatePassAtK, type PromptFormat } from '../rl/evaluate.ts';
import { latestCheckpoint, loadCheckpoint, saveCheckpoint } from './checkpoint-dir.ts';
import { trlScript } from '../rl/export-trl.ts';
import { combineRewards, type RewardFn } from '../rl/rewards/index.ts';
import { pathToFileURL } from 'node:url';
import { loadDataset, oneShotDataset, type Problem } from '../data/dataset.ts';
import { UcbCurriculum } from '../rl/curriculum.ts';
import type { GroupFilter } from '../rl/filter.ts';
import { parseJsonl } from '../io/jsonl.ts';
import { TINY_ARITH_LEVEL } from '../data/arithmetic.ts';
import { trainingMemory, type TrainingShape } from '../train/memory.ts';
import { appendFileSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parameterCount, parseConfig, withGenerationConfig } from '../model/config.ts';

export class UsageError extends Error {}

const USAGE = `webgrpo — GRPO on WebGPU

Commands:
  score     --model <dir|hf:repo[@rev]> [--adapter <dir|hf:repo>] (--ids 1,2,3 | --text "…")
            [--temperature T] [--json]
  tokenize  --model <dir|hf:repo> --text "…" [--chat] [--json]
  generate  --model <dir|hf:repo> [--adapter <dir|hf:repo>] --prompt "…" [--chat] [--max-new-tokens N] [--temperature T]
            [--top-p P] [--top-k K] [--min-p M] [--seed S] [--n N] [--json]
  info      --model <dir|hf:repo> [--batch-size 8] [--seq-len 384] [--lora-r 16] [--full]
            [--no-gradient-checkpointing] [--json]   (memory a training step needs)
  train     [--model public/models/tiny-arith] [--dataset arithmetic:2|countdown|file|hf:repo:config:split]
            [--one-shot-problem "…" --one-shot-answer "…"] [--eval-dataset SPEC] [--out RUN]
            [--reward math,format,countdown,cosine,overlong] [--reward-module f.mjs]
            [--filter-accuracy 0.2,0.8] [--dynamic-sampling] [--skip-bad-rows]
            [--system-prompt "…"] [--plain-prompt]   (several --dataset specs, comma-separated, are mixed by the DUMP UCB curriculum)
            [--save-every N] | --resume RUN   (Ctrl-C saves a checkpoint)
            [--steps 90] [--prompts-per-step 16] [--num-generations 4] [--max-completion-length 64]
            [--temperature 1] [--top-p] [--top-k] [--min-p] [--learning-rate|--lr 3e-3]
            [--lr-scheduler-type linear|cosine|constant|constant_with_warmup] [--warmup-ratio 0.1]
            [--loss-type grpo|bnpo|dr_grpo|dapo] [--scale-rewards group|batch|none] [--beta 0]
            [--epsilon 0.2] [--epsilon-high] [--entropy-coef 0] [--top-entropy-quantile 1]
            [--mask-truncated-completions] [--num-iterations 1] [--gradient-accumulation-steps 1]
            [--optimizer adamw|sgd] [--max-grad-norm 1] [--init-adapter DIR] [LoRA flags of sft]
            [--eval-problems 64] [--eval-samples 8] [--eval-every N] [--seed S]
            With no options: the quick demo on the built-in tiny model (held-out pass@k before/after).
  export-trl RUN [--out train_trl.py]   (the run as a TRL GRPOConfig + PEFT LoraConfig script)
  eval      --model M [--adapter DIR] --dataset SPEC [--samples 8] [--k 1,2,4,8] [--temperature 1]
            [--max-new-tokens 256] [--problems N] [--reward math] [--compare-base] [--out counts.jsonl]
  reward    --completion "…" --answer "…" [--reward math,format,…] [--json]  |  --input pairs.jsonl
  merge     --model M --adapter DIR --out DIR [--dtype bf16|f16|f32] [--overwrite]
  sft       --model M --data file.jsonl --out RUN [--chat] [--init-adapter DIR] [--lora-r 16]
            [--lora-alpha 32] [--lora-dropout 0] [--target-modules q_proj,v_proj,…] [--use-rslora] [--full]
            [--optimizer adamw|sgd] [--lr 1e-4] [--weight-decay 0] [--steps N | --epochs E]
            [--batch-size 4] [--grad-accum 1] [--max-grad-norm 1 (0 = off)]
            [--lr-scheduler linear|cosine|constant|constant_with_warmup] [--warmup-ratio 0]
            [--gradient-checkpointing] [--seed S]

Common: --hub-endpoint URL (default $HF_ENDPOINT or https://huggingface.co), --cache-dir DIR.`;

const common = {
  model: { type: 'string' },
  json: { type: 'boolean', default: false },
  'hub-endpoint': { type: 'string' },
  'cache-dir': { type: 'string' },
  adapter: { type: 'string' },
  help: { type: 'boolean', short: 'h', default: false },
} as const;

/** LoRA options shared by sft and train. */
const loraOptions = {
  'init-adapter': { type: 'string' },
  'lora-r': { type: 'string' },
  'lora-alpha': { type: 'string' },
  'lora-dropout': { type: 'string' },
  'target-modules': { type: 'string' },
  'use-rslora': { type: 'boolean', default: false },
} as const;

const commands = {
  score: { ...common, ids: { type: 'string' }, text: { type: 'string' }, temperature: { type: 'string' } },
  tokenize: { ...common, text: { type: 'string' }, chat: { type: 'boolean', default: false } },
  generate: {
    ...common,
    prompt: { type: 'string' },
    chat: { type: 'boolean', default: false },
    'max-new-tokens': { type: 'string' },
    temperature: { type: 'string' },
    'top-p': { type: 'string' },
    'top-k': { type: 'string' },
    'min-p': { type: 'string' },
    seed: { type: 'string' },
    n: { type: 'string' },
  },
  info: {
    ...common,
    'batch-size': { type: 'string' },
    'seq-len': { type: 'string' },
    'lora-r': { type: 'string' },
    full: { type: 'boolean', default: false },
    'no-gradient-checkpointing': { type: 'boolean', default: false },
  },
  train: {
    ...common,
    dataset: { type: 'string' },
    out: { type: 'string' },
    reward: { type: 'string' },
    'reward-module': { type: 'string' },
    ...loraOptions,
    steps: { type: 'string' },
    'prompts-per-step': { type: 'string' },
    'num-generations': { type: 'string' },
    'max-completion-length': { type: 'string' },
    temperature: { type: 'string' },
    'top-p': { type: 'string' },
    'top-k': { type: 'string' },
    'min-p': { type: 'string' },
    'learning-rate': { type: 'string' },
    lr: { type: 'string' },
    'lr-scheduler-type': { type: 'string' },
    'warmup-ratio': { type: 'string' },
    optimizer: { type: 'string' },
    'weight-decay': { type: 'string' },
    'max-grad-norm': { type: 'string' },
    'loss-type': { type: 'string' },
    'scale-rewards': { type: 'string' },
    beta: { type: 'string' },
    epsilon: { type: 'string' },
    'epsilon-high': { type: 'string' },
    'entropy-coef': { type: 'string' },
    'top-entropy-quantile': { type: 'string' },
    'mask-truncated-completions': { type: 'boolean', default: false },
    'num-iterations': { type: 'string' },
    'gradient-accumulation-steps': { type: 'string' },
    'eval-samples': { type: 'string' },
    'eval-dataset': { type: 'string' },
    'eval-every': { type: 'string' },
    'system-prompt': { type: 'string' },
    'plain-prompt': { type: 'boolean', default: false },
    'one-shot-problem': { type: 'string' },
    'one-shot-answer': { type: 'string' },
    'filter-accuracy': { type: 'string' },
    'dynamic-sampling': { type: 'boolean', default: false },
    'skip-bad-rows': { type: 'boolean', default: false },
    'save-every': { type: 'string' },
    resume: { type: 'string' },
    'eval-problems': { type: 'string' },
    seed: { type: 'string' },
  },
  eval: {
    ...common,
    dataset: { type: 'string' },
    samples: { type: 'string' },
    k: { type: 'string' },
    temperature: { type: 'string' },
    'max-new-tokens': { type: 'string' },
    problems: { type: 'string' },
    reward: { type: 'string' },
    'compare-base': { type: 'boolean', default: false },
    out: { type: 'string' },
    seed: { type: 'string' },
  },
  reward: {
    json: { type: 'boolean', default: false },
    completion: { type: 'string' },
    answer: { type: 'string' },
    input: { type: 'string' },
    reward: { type: 'string' },
    help: { type: 'boolean', short: 'h', default: false },
  },
  'export-trl': { out: { type: 'string' }, help: { type: 'boolean', short: 'h', default: false } },
  merge: { ...common, out: { type: 'string' }, dtype: { type: 'string' }, overwrite: { type: 'boolean', default: false } },
  sft: {
    ...common,
    data: { type: 'string' },
    out: { type: 'string' },
    chat: { type: 'boolean', default: false },
    ...loraOptions,
    full: { type: 'boolean', default: false },
    optimizer: { type: 'string' },
    lr: { type: 'string' },
    'weight-decay': { type: 'string' },
    steps: { type: 'string' },
    epochs: { type: 'string' },
    'batch-size': { type: 'string' },
    'grad-accum': { type: 'string' },
    'max-grad-norm': { type: 'string' },
    'lr-scheduler': { type: 'string' },
    'warmup-ratio': { type: 'string' },
    'gradient-checkpointing': { type: 'boolean', default: false },
    seed: { type: 'string' },
  },
} satisfies Record<string, ParseArgsConfig['options']>;

type Values = Record<string, string | boolean | undefined>;

function log(message: string): void {
  process.stderr.write(`${message}\n`);
}

/** A numeric flag, checked against its allowed range. */
function numberFlag(values: Values, name: string, fallback: number, check: (x: number) => boolean, rule: string): number {
  const raw = values[name];
  if (raw === undefined) return fallback;
  const x = Number(raw);
  if (typeof raw !== 'string' || raw.trim() === '' || !Number.isFinite(x) || !check(x)) {
    throw new UsageError(`--${name} must be ${rule}, got "${raw}".`);
  }
  return x;
}

function requireModel(values: Values): string {
  if (typeof values.model !== 'string') throw new UsageError('--model is required (a folder or hf:owner/repo[@revision]).');
  return values.model;
}

function source(values: Values): ModelSource {
  let lastShown = 0;
  const spec = requireModel(values);
  return openSource(spec, {
    endpoint: values['hub-endpoint'] as string | undefined,
    cacheDir: values['cache-dir'] as string | undefined,
    onProgress: (loaded, total, file) => {
      if (!spec.startsWith('hf:')) return;
      const now = Date.now();
      if (now - lastShown < 500 && loaded !== total) return;
      lastShown = now;
      const mb = (x: number) => (x / 1e6).toFixed(1);
      log(`downloading ${file}: ${mb(loaded)}${total ? ` / ${mb(total)}` : ''} MB`);
    },
  });
}

/** Load the model (and the --adapter, when given) on a fresh device, run, and free the device. */
async function withModel<T>(
  values: Values,
  src: ModelSource,
  run: (model: LanguageModel, gpu: Gpu) => Promise<T>,
  opts: { f32Weights?: boolean } = {},
): Promise<T> {
  const gpu = await acquireGpu();
  try {
    const { config, weights } = await loadModel(src, gpu, opts.f32Weights ? { weightDtype: 'f32' } : {});
    const model = new LanguageModel(gpu, config, weights);
    if (typeof values.adapter === 'string') {
      const adapterSource = openSource(values.adapter, {
        endpoint: values['hub-endpoint'] as string | undefined,
        cacheDir: values['cache-dir'] as string | undefined,
      });
      model.adapter = await LoraAdapter.load(adapterSource, gpu, config);
    }
    return await run(model, gpu);
  } finally {
    gpu.destroy();
  }
}

function output(values: Values, json: object, text: string): void {
  if (values.json) process.stdout.write(`${JSON.stringify(json)}\n`);
  else process.stdout.write(`${text}\n`);
}

function parseIds(raw: string): number[] {
  const ids = raw.split(',').map((s) => s.trim());
  if (ids.some((s) => !/^\d+$/.test(s))) throw new UsageError(`--ids must be comma-separated non-negative integers, got "${raw}".`);
  return ids.map(Number);
}

async function promptIds(tokenizer: ModelTokenizer, text: string, chat: boolean): Promise<number[]> {
  if (!chat) return tokenizer.encode(text);
  const rendered = tokenizer.applyChatTemplate([{ role: 'user', content: text }], { addGenerationPrompt: true });
  return tokenizer.encode(rendered, { addSpecialTokens: false });
}

async function score(values: Values): Promise<void> {
  const src = source(values);
  const temperature = numberFlag(values, 'temperature', 1, (x) => x > 0, 'a positive number');
  if ((values.ids === undefined) === (values.text === undefined)) throw new UsageError('score needs exactly one of --ids or --text.');
  const ids = typeof values.ids === 'string' ? parseIds(values.ids) : (await ModelTokenizer.load(src)).encode(values.text as string);
  const result = await withModel(values, src, (model) => model.score(ids, temperature));
  const table = result.logprobs.map((lp, i) => `${ids[i + 1]}\t${lp.toFixed(6)}\t${result.entropies[i].toFixed(6)}`);
  output(values, result, ['next_id\tlogprob\tentropy', ...table].join('\n'));
}

async function tokenize(values: Values): Promise<void> {
  const src = source(values);
  if (typeof values.text !== 'string') throw new UsageError('tokenize needs --text.');
  const ids = await promptIds(await ModelTokenizer.load(src), values.text, values.chat === true);
  output(values, { ids }, ids.join(' '));
}

async function generateCommand(values: Values): Promise<void> {
  const src = source(values);
  if (typeof values.prompt !== 'string') throw new UsageError('generate needs --prompt.');
  const maxNewTokens = numberFlag(values, 'max-new-tokens', 64, (x) => Number.isInteger(x) && x >= 1, 'an integer ≥ 1');
  const temperature = numberFlag(values, 'temperature', 0.7, (x) => x >= 0, 'a number ≥ 0 (0 = greedy)');
  const topP = numberFlag(values, 'top-p', 1, (x) => x > 0 && x <= 1, 'in (0, 1]');
  const topK = numberFlag(values, 'top-k', 0, (x) => Number.isInteger(x) && x >= 0, 'an integer ≥ 0 (0 = off)');
  const minP = numberFlag(values, 'min-p', 0, (x) => x >= 0 && x < 1, 'in [0, 1)');
  const seed = numberFlag(values, 'seed', 0, (x) => Number.isInteger(x) && x >= 0 && x < 2 ** 32, 'an integer in [0, 2^32)');
  const n = numberFlag(values, 'n', 1, (x) => Number.isInteger(x) && x >= 1, 'an integer ≥ 1');
  const tokenizer = await ModelTokenizer.load(src);
  const ids = await promptIds(tokenizer, values.prompt, values.chat === true);
  const completions = await withModel(values, src, async (model) => {
    const eosTokenIds = [...new Set([...model.config.eosTokenIds, ...tokenizer.eosTokenIds])];
    const validVocab = Math.min(model.config.vocabSize, tokenizer.vocabSize);
    const start = performance.now();
    const result = await generate(model, [ids], { maxNewTokens, temperature, topP, topK, minP, seed, n, eosTokenIds, validVocab });
    const seconds = (performance.now() - start) / 1000;
    const tokens = result.reduce((a, c) => a + c.ids.length, 0);
    log(`${tokens} tokens in ${seconds.toFixed(2)} s (${(tokens / seconds).toFixed(1)} tokens/s)`);
    return result;
  });
  const rows = completions.map((c) => ({
    text: tokenizer.decode(c.ids, { skipSpecialTokens: true }),
    ids: c.ids,
    finish_reason: c.finishReason,
  }));
  output(values, { prompt_ids: ids, completions: rows }, rows.map((r) => r.text).join('\n---\n'));
}

async function info(values: Values): Promise<void> {
  const src = source(values);
  const config = withGenerationConfig(
    parseConfig(await src.readJson('config.json'), 'config.json'),
    (await src.has('generation_config.json')) ? await src.readJson('generation_config.json') : {},
  );
  const raw = (await src.readJson('config.json')) as { torch_dtype?: string };
  const bytesPerParam = raw.torch_dtype === 'float32' ? 4 : 2;
  const params = parameterCount(config);
  const kvBytesPerToken = config.numLayers * 2 * config.numKvHeads * config.headDim * 4;
  const positiveInt = (x: number) => Number.isInteger(x) && x >= 1;
  const shape: TrainingShape = {
    batch: numberFlag(values, 'batch-size', 8, positiveInt, 'an integer ≥ 1'),
    tokens: numberFlag(values, 'seq-len', 384, positiveInt, 'an integer ≥ 1'),
    loraRank: numberFlag(values, 'lora-r', 16, positiveInt, 'an integer ≥ 1'),
    full: values.full === true,
    checkpoint: values['no-gradient-checkpointing'] !== true,
    weightBytes: bytesPerParam,
  };
  const training = trainingMemory(config, shape);
  const gpu = await acquireGpu();
  const limits = gpu.limits;
  const result = {
    architecture: config.architecture,
    model_type: config.modelType,
    parameters: params,
    layers: config.numLayers,
    hidden_size: config.hiddenSize,
    heads: config.numHeads,
    kv_heads: config.numKvHeads,
    head_dim: config.headDim,
    vocab_size: config.vocabSize,
    weight_bytes: params * bytesPerParam,
    kv_cache_bytes_per_token: kvBytesPerToken,
    training: { ...shape, bytes: training },
    device: gpu.adapter,
    features: { 'shader-f16': gpu.hasF16, subgroups: gpu.hasSubgroups },
    limits: {
      maxBufferSize: limits.maxBufferSize,
      maxStorageBufferBindingSize: limits.maxStorageBufferBindingSize,
      maxComputeWorkgroupStorageSize: limits.maxComputeWorkgroupStorageSize,
      maxComputeInvocationsPerWorkgroup: limits.maxComputeInvocationsPerWorkgroup,
    },
  };
  gpu.destroy();
  const mb = (x: number) => `${(x / 2 ** 20).toFixed(1)} MiB`;
  output(
    values,
    result,
    [
      `model         ${src.id} (${config.architecture}, ${(params / 1e6).toFixed(2)}M parameters)`,
      `shape         ${config.numLayers} layers, hidden ${config.hiddenSize}, heads ${config.numHeads}/${config.numKvHeads}, head_dim ${config.headDim}, vocab ${config.vocabSize}`,
      `memory        weights ${mb(result.weight_bytes)}, KV cache ${mb(kvBytesPerToken * 1024)} per 1k tokens of context`,
      `training      ${mb(training.total)} for ${shape.batch} × ${shape.tokens} tokens, ${shape.full ? 'full-parameter' : `LoRA r=${shape.loraRank}`}${shape.checkpoint ? ', checkpointing' : ''} ` +
        `(weights ${mb(training.weights)}, optimizer ${mb(training.optimizer)}, activations ${mb(training.activations)}, KV ${mb(training.kvCache)}, logits ${mb(training.logits)})`,
      `device        ${gpu.adapter.description || gpu.adapter.architecture} (${gpu.adapter.vendor}, ${gpu.adapter.backend})`,
      `features      shader-f16 ${gpu.hasF16 ? 'yes' : 'no'}, subgroups ${gpu.hasSubgroups ? 'yes' : 'no'}`,
      `limits        buffer ${mb(result.limits.maxBufferSize)}, storage binding ${mb(result.limits.maxStorageBufferBindingSize)}, workgroup memory ${result.limits.maxComputeWorkgroupStorageSize} B`,
    ].join('\n'),
  );
}

function choice<T extends string>(values: Values, name: string, options: readonly T[], fallback: T): T {
  const raw = values[name];
  if (raw === undefined) return fallback;
  if (!options.includes(raw as T)) throw new UsageError(`--${name} must be one of ${options.join(', ')}, got "${raw}".`);
  return raw as T;
}

/** --lora-r, --lora-alpha, --lora-dropout, --use-rslora, --target-modules (shared by sft and train). */
function loraFlags(values: Values): LoraConfig {
  const targets = (typeof values['target-modules'] === 'string' ? values['target-modules'] : ALL_TARGETS.join(','))
    .split(',')
    .map((t) => t.trim()) as TargetModule[];
  for (const t of targets) if (!ALL_TARGETS.includes(t)) throw new UsageError(`--target-modules: unknown module "${t}"; choose from ${ALL_TARGETS.join(', ')}.`);
  return {
    r: numberFlag(values, 'lora-r', 16, (x) => Number.isInteger(x) && x >= 1, 'an integer ≥ 1'),
    alpha: numberFlag(values, 'lora-alpha', 32, (x) => x > 0, 'a positive number'),
    dropout: numberFlag(values, 'lora-dropout', 0, (x) => x >= 0 && x < 1, 'in [0, 1)'),
    useRslora: values['use-rslora'] === true,
    targetModules: targets,
  };
}

async function sft(values: Values): Promise<void> {
  const src = source(values);
  if (typeof values.data !== 'string') throw new UsageError('sft needs --data file.jsonl.');
  if (typeof values.out !== 'string') throw new UsageError('sft needs --out RUN_DIR.');
  const full = values.full === true;
  if (full && (values['init-adapter'] !== undefined || values.adapter !== undefined)) throw new UsageError('--full trains every weight; it cannot start from an adapter.');
  if (values.steps !== undefined && values.epochs !== undefined) throw new UsageError('Give --steps or --epochs, not both.');
  const positiveInt = (x: number) => Number.isInteger(x) && x >= 1;
  const lora = loraFlags(values);
  const cfg: SftConfig = {
    optimizer: choice(values, 'optimizer', ['adamw', 'sgd'] as const, 'adamw'),
    learningRate: numberFlag(values, 'lr', 1e-4, (x) => x > 0, 'a positive number'),
    weightDecay: numberFlag(values, 'weight-decay', 0, (x) => x >= 0, 'a number ≥ 0'),
    adamBeta1: 0.9,
    adamBeta2: 0.999,
    adamEpsilon: 1e-8,
    maxGradNorm: numberFlag(values, 'max-grad-norm', 1, (x) => x >= 0, 'a number ≥ 0 (0 = off)'),
    lrSchedulerType: choice(values, 'lr-scheduler', SCHEDULER_TYPES, 'linear'),
    warmupRatio: numberFlag(values, 'warmup-ratio', 0, (x) => x >= 0 && x < 1, 'in [0, 1)'),
    perDeviceTrainBatchSize: numberFlag(values, 'batch-size', 4, positiveInt, 'an integer ≥ 1'),
    gradientAccumulationSteps: numberFlag(values, 'grad-accum', 1, positiveInt, 'an integer ≥ 1'),
    maxSteps: 0,
    seed: numberFlag(values, 'seed', 0, (x) => Number.isInteger(x) && x >= 0, 'an integer ≥ 0'),
    gradientCheckpointing: values['gradient-checkpointing'] === true,
  };
  const tokenizer = await ModelTokenizer.load(src);
  const examples = tokenizeSftRows(readFileSync(values.data, 'utf8'), values.data, tokenizer, values.chat === true);
  const perStep = cfg.perDeviceTrainBatchSize * cfg.gradientAccumulationSteps;
  cfg.maxSteps = values.epochs !== undefined
    ? Math.ceil((numberFlag(values, 'epochs', 1, (x) => x > 0, 'a positive number') * examples.length) / perStep)
    : numberFlag(values, 'steps', Math.ceil(examples.length / perStep), positiveInt, 'an integer ≥ 1');
  const out = values.out;
  mkdirSync(out, { recursive: true });
  await withModel(values, src, async (model, gpu) => {
    const gradients = full ? ModelGradients.create(model) : undefined;
    let adapter: LoraAdapter | null = null;
    if (!full) {
      model.adapter = adapter = typeof values['init-adapter'] === 'string'
        ? await LoraAdapter.load(openSource(values['init-adapter']), gpu, model.config)
        : LoraAdapter.init(gpu, model.config, lora, { seed: cfg.seed, baseModel: values.model as string });
    }
    writeFileSync(join(out, 'config.json'), JSON.stringify({ model: values.model, data: values.data, examples: examples.length, lora: model.adapter?.config ?? null, full, ...cfg }, null, 2));
    const metrics = join(out, 'metrics.jsonl');
    writeFileSync(metrics, '');
    const start = performance.now();
    await trainSft(model, examples, cfg, (m) => {
      appendFileSync(metrics, `${JSON.stringify(m)}\n`);
      const elapsed = (performance.now() - start) / 1000;
      const eta = (elapsed / m.step) * (cfg.maxSteps - m.step);
      log(`${progressBar(m.step, cfg.maxSteps)} step ${m.step}/${cfg.maxSteps} loss ${m.loss.toFixed(4)} grad_norm ${m.grad_norm.toFixed(3)} lr ${m.learning_rate.toExponential(2)} ETA ${eta.toFixed(0)} s`);
    }, { gradients });
    if (full) await saveFullModel(model, src, join(out, 'model'));
    else await adapter!.save(join(out, 'adapter'));
  }, { f32Weights: full });
  const written = full ? `${join(out, 'model')} (full model, F32)` : `${join(out, 'adapter')} (PEFT)`;
  output(values, { out, steps: cfg.maxSteps }, `wrote ${written}, ${join(out, 'metrics.jsonl')}`);
}

/** A fully trained model folder: F32 weights plus the source's config, generation and tokenizer files. */
async function saveFullModel(model: LanguageModel, src: ModelSource, dir: string): Promise<void> {
  mkdirSync(dir, { recursive: true });
  await saveWeights(model, dir);
  const config = (await src.readJson('config.json')) as Record<string, unknown>;
  writeFileSync(join(dir, 'config.json'), JSON.stringify({ ...config, torch_dtype: 'float32' }, null, 2));
  for (const file of ['generation_config.json', 'tokenizer.json', 'tokenizer_config.json', 'special_tokens_map.json', 'chat_template.json']) {
    if (await src.has(file)) writeFileSync(join(dir, file), await src.read(file));
  }
}

function progressBar(done: number, total: number): string {
  const width = 20;
  const filled = Math.round((done / total) * width);
  return `[${'#'.repeat(filled)}${'.'.repeat(width - filled)}]`;
}

/** The quick demo's defaults: the built-in tiny model on the built-in arithmetic set. */
const TINY_MODEL = 'public/models/tiny-arith';

async function train(values: Values, argv: string[]): Promise<void> {
  // --resume RUN: the run's own flags, continued from its newest checkpoint.
  let resumeFrom: string | null = null;
  if (typeof values.resume === 'string') {
    const run = values.resume;
    if (argv.filter((a) => a.startsWith('--')).length > 1) throw new UsageError('--resume takes no other options: the run continues with its own.');
    const saved = JSON.parse(readFileSync(join(run, 'config.json'), 'utf8')) as { argv?: string[] };
    if (!Array.isArray(saved.argv)) throw new UsageError(`${join(run, 'config.json')} does not record the run's options; it cannot be resumed.`);
    resumeFrom = latestCheckpoint(run);
    if (!resumeFrom) throw new UsageError(`${run} has no checkpoint to resume from (train with --save-every N).`);
    argv = saved.argv;
    values = parseArgs({ args: argv, options: commands.train, strict: true, allowPositionals: false }).values as Values;
    values.out = run;
  }
  if (values.model === undefined) values.model = TINY_MODEL;
  const src = source(values);
  const out = typeof values.out === 'string' ? values.out : join('runs', `grpo-${new Date().toISOString().replace(/[:.]/g, '-')}`);
  const oneShot = values['one-shot-problem'];
  if ((oneShot === undefined) !== (values['one-shot-answer'] === undefined)) throw new UsageError('--one-shot-problem and --one-shot-answer go together.');
  if (oneShot !== undefined && values.dataset !== undefined) throw new UsageError('Give --dataset or the one-shot problem, not both.');
  const datasetSpec = typeof values.dataset === 'string' ? values.dataset : `arithmetic:${TINY_ARITH_LEVEL}`;
  const positiveInt = (x: number) => Number.isInteger(x) && x >= 1;
  const prob = (x: number) => x >= 0 && x <= 1;
  if (values.lr !== undefined && values['learning-rate'] !== undefined) throw new UsageError('Give --learning-rate or its alias --lr, not both.');
  if (values.lr !== undefined) values['learning-rate'] = values.lr;
  const cfg: GrpoConfig = {
    numGenerations: numberFlag(values, 'num-generations', GRPO_DEFAULTS.numGenerations, (x) => Number.isInteger(x) && x >= 2, 'an integer ≥ 2'),
    promptsPerStep: numberFlag(values, 'prompts-per-step', GRPO_DEFAULTS.promptsPerStep, positiveInt, 'an integer ≥ 1'),
    maxCompletionLength: numberFlag(values, 'max-completion-length', GRPO_DEFAULTS.maxCompletionLength, positiveInt, 'an integer ≥ 1'),
    temperature: numberFlag(values, 'temperature', GRPO_DEFAULTS.temperature, (x) => x > 0, 'a positive number'),
    topP: numberFlag(values, 'top-p', GRPO_DEFAULTS.topP, (x) => x > 0 && x <= 1, 'in (0, 1]'),
    topK: numberFlag(values, 'top-k', GRPO_DEFAULTS.topK, (x) => Number.isInteger(x) && x >= 0, 'an integer ≥ 0 (0 = off)'),
    minP: numberFlag(values, 'min-p', GRPO_DEFAULTS.minP, (x) => x >= 0 && x < 1, 'in [0, 1)'),
    learningRate: numberFlag(values, 'learning-rate', GRPO_DEFAULTS.learningRate, (x) => x > 0, 'a positive number'),
    lrSchedulerType: choice(values, 'lr-scheduler-type', SCHEDULER_TYPES, GRPO_DEFAULTS.lrSchedulerType),
    warmupRatio: numberFlag(values, 'warmup-ratio', GRPO_DEFAULTS.warmupRatio, (x) => x >= 0 && x < 1, 'in [0, 1)'),
    optimizer: choice(values, 'optimizer', ['adamw', 'sgd'] as const, GRPO_DEFAULTS.optimizer),
    adamBeta1: GRPO_DEFAULTS.adamBeta1,
    adamBeta2: GRPO_DEFAULTS.adamBeta2,
    adamEpsilon: GRPO_DEFAULTS.adamEpsilon,
    weightDecay: numberFlag(values, 'weight-decay', GRPO_DEFAULTS.weightDecay, (x) => x >= 0, 'a number ≥ 0'),
    maxGradNorm: numberFlag(values, 'max-grad-norm', GRPO_DEFAULTS.maxGradNorm, (x) => x >= 0, 'a number ≥ 0 (0 = off)'),
    lossType: choice(values, 'loss-type', ['grpo', 'bnpo', 'dr_grpo', 'dapo'] as const, GRPO_DEFAULTS.lossType),
    scaleRewards: choice(values, 'scale-rewards', ['group', 'batch', 'none'] as const, GRPO_DEFAULTS.scaleRewards),
    beta: numberFlag(values, 'beta', GRPO_DEFAULTS.beta, (x) => x >= 0, 'a number ≥ 0'),
    epsilon: numberFlag(values, 'epsilon', GRPO_DEFAULTS.epsilon, (x) => x >= 0 && x < 1, 'in [0, 1)'),
    epsilonHigh: 0,
    entropyCoef: numberFlag(values, 'entropy-coef', GRPO_DEFAULTS.entropyCoef, (x) => x >= 0, 'a number ≥ 0'),
    topEntropyQuantile: numberFlag(values, 'top-entropy-quantile', GRPO_DEFAULTS.topEntropyQuantile, prob, 'in [0, 1]'),
    maskTruncatedCompletions: values['mask-truncated-completions'] === true,
    numIterations: numberFlag(values, 'num-iterations', GRPO_DEFAULTS.numIterations, positiveInt, 'an integer ≥ 1'),
    gradientAccumulationSteps: numberFlag(values, 'gradient-accumulation-steps', GRPO_DEFAULTS.gradientAccumulationSteps, positiveInt, 'an integer ≥ 1'),
    maxSteps: numberFlag(values, 'steps', GRPO_DEFAULTS.maxSteps, positiveInt, 'an integer ≥ 1'),
    seed: numberFlag(values, 'seed', GRPO_DEFAULTS.seed, (x) => Number.isInteger(x) && x >= 0, 'an integer ≥ 0'),
  };
  cfg.epsilonHigh = numberFlag(values, 'epsilon-high', cfg.epsilon, (x) => x >= 0, 'a number ≥ 0');
  // A user reward module replaces the default reward unless --reward also names built-ins.
  const rewardFns = rewardFunctions(values, values['reward-module'] ? [] : ['math']);
  const rewardNames = rewardFns.map((f) => f.name);
  // Held-out accuracy: the task's own verifier (Countdown's equation check, else math equivalence).
  const accuracyFn = accuracyReward(datasetSpec);
  if (typeof values['reward-module'] === 'string') rewardFns.push({ name: 'reward_module', fn: await loadRewardModule(values['reward-module']), weight: 1 });
  const lora = loraFlags(values);
  const evalSamples = numberFlag(values, 'eval-samples', 8, positiveInt, 'an integer ≥ 1');
  const evalProblems = numberFlag(values, 'eval-problems', 64, (x) => Number.isInteger(x) && x >= 0, 'an integer ≥ 0');
  const datasetOpts = {
    endpoint: values['hub-endpoint'] as string | undefined,
    cacheDir: values['cache-dir'] as string | undefined,
    onBadRows: values['skip-bad-rows'] ? ('skip' as const) : ('error' as const),
  };
  // Several comma-separated datasets are mixed by the DUMP UCB curriculum over their mean |advantage|.
  const specs = typeof oneShot === 'string' ? [] : datasetSpec.split(',').map((d) => d.trim());
  const sources = typeof oneShot === 'string'
    ? [oneShotDataset(oneShot, values['one-shot-answer'] as string)]
    : await Promise.all(specs.map((spec, i) => loadDataset(spec, { ...datasetOpts, seed: cfg.seed + i })));
  const curriculum = sources.length > 1 ? new UcbCurriculum(specs, cfg.seed) : null;
  const dataset = sources[0];
  const origin = new WeakMap<object, number>(); // problem → index of the dataset it came from
  // Held-out problems: --eval-dataset, else fresh problems from the same generator under another seed.
  const evalSpec = typeof values['eval-dataset'] === 'string' ? values['eval-dataset'] : sources.length === 1 && dataset.size === null ? datasetSpec : null;
  if (evalProblems > 0 && evalSpec === null) throw new UsageError('A file or one-shot dataset has no held-out split: give --eval-dataset, or --eval-problems 0.');
  const heldOut = evalProblems > 0 && evalSpec ? await heldOutProblems(evalSpec, evalProblems, cfg.seed, datasetOpts) : [];
  const filter = parseAccuracyFilter(values['filter-accuracy'], values['dynamic-sampling'] === true);
  const promptFormat: PromptFormat = {
    systemPrompt: typeof values['system-prompt'] === 'string' ? values['system-prompt'] : undefined,
    plain: values['plain-prompt'] === true,
  };
  const tokenizer = await ModelTokenizer.load(src);
  mkdirSync(out, { recursive: true });

  await withModel(values, src, async (model, gpu) => {
    const adapterFrom = resumeFrom ? join(resumeFrom, 'adapter') : values['init-adapter'];
    const adapter = typeof adapterFrom === 'string'
      ? await LoraAdapter.load(openSource(adapterFrom), gpu, model.config)
      : LoraAdapter.init(gpu, model.config, lora, { seed: cfg.seed, baseModel: values.model as string });
    model.adapter = adapter;
    writeFileSync(join(out, 'config.json'), JSON.stringify(runConfigJson({
      extra: { argv },
      model: values.model as string,
      dataset: typeof oneShot === 'string' ? { one_shot_problem: oneShot, one_shot_answer: values['one-shot-answer'] as string } : datasetSpec,
      rewardNames, rewardModule: values['reward-module'] as string | undefined, filterAccuracy: filter.accuracy ?? null,
      dynamicSampling: filter.dropZeroStd === true, grpo: cfg, lora: adapter.config,
    }), null, 2));
    const evaluate = () =>
      heldOutPassAtK(model, tokenizer, heldOut, { samples: evalSamples, temperature: cfg.temperature, maxNewTokens: cfg.maxCompletionLength, promptFormat, accuracy: accuracyFn });
    const fmt = (p: Record<number, number>) => Object.entries(p).map(([k, v]) => `pass@${k} ${(100 * v).toFixed(1)}%`).join(', ');
    let before: Record<number, number> = {};
    const beforeFile = join(out, 'eval_before.json');
    if (resumeFrom && existsSync(beforeFile)) {
      before = JSON.parse(readFileSync(beforeFile, 'utf8'));
    } else if (evalProblems > 0) {
      model.adapter = null;
      before = await evaluate();
      model.adapter = adapter;
      writeFileSync(beforeFile, JSON.stringify(before));
      log(`held-out before: ${fmt(before)} (${evalProblems} problems × ${evalSamples} samples)`);
    }
    const trainer = new GrpoTrainer(
      model,
      tokenizer,
      { ...cfg, groupFilter: filter, promptFormat },
      () => {
        const source = curriculum ? curriculum.pick() : 0;
        const problem = sources[source].next();
        origin.set(problem, source);
        return problem;
      },
      problemReward(rewardFns, tokenizer, cfg.maxCompletionLength),
      curriculum ? (prompt, meanAbs) => curriculum.update(origin.get(prompt)!, meanAbs) : undefined,
    );
    const saveEvery = numberFlag(values, 'save-every', 0, (x) => Number.isInteger(x) && x >= 0, 'an integer ≥ 0 (0 = only on Ctrl-C)');
    const evalEvery = numberFlag(values, 'eval-every', 0, (x) => Number.isInteger(x) && x >= 0, 'an integer ≥ 0 (0 = only before and after)');
    if (evalEvery > 0 && evalProblems === 0) throw new UsageError('--eval-every needs held-out problems (--eval-problems > 0).');
    const checkpoint = async () =>
      saveCheckpoint(out, {
        step: trainer.step,
        adapter: await adapter.toPeft(),
        optimizer: await trainer.optimizerState(),
        trainer: { step: trainer.step, tokensSeen: trainer.tokensSeen, dataCursor: dataset.cursor() },
      });
    if (resumeFrom) {
      const state = loadCheckpoint(resumeFrom);
      trainer.loadOptimizerState(state.optimizer);
      trainer.step = state.trainer.step;
      trainer.tokensSeen = state.trainer.tokensSeen;
      dataset.restore(state.trainer.dataCursor);
      // Logs continue from the checkpoint: drop lines of steps it does not include.
      for (const file of ['metrics.jsonl', 'rollouts.jsonl']) {
        const kept = readFileSync(join(out, file), 'utf8').split('\n').filter((l) => l && (JSON.parse(l) as { step: number }).step <= trainer.step);
        writeFileSync(join(out, file), kept.map((l) => `${l}\n`).join(''));
      }
      log(`resuming ${out} from ${resumeFrom} (step ${trainer.step})`);
    } else {
      writeFileSync(join(out, 'metrics.jsonl'), '');
      writeFileSync(join(out, 'rollouts.jsonl'), '');
    }
    let interrupted = false;
    const onInterrupt = () => {
      if (interrupted) process.exit(130);
      interrupted = true;
      log('interrupt: saving a checkpoint after this step (Ctrl-C again to quit now)');
    };
    process.on('SIGINT', onInterrupt);
    const start = performance.now();
    const firstStep = trainer.step;
    while (trainer.step < cfg.maxSteps) {
      const { metrics, rollouts } = await trainer.trainStep();
      appendFileSync(join(out, 'metrics.jsonl'), `${JSON.stringify(metrics)}\n`);
      appendFileSync(join(out, 'rollouts.jsonl'), rollouts.map((r) => JSON.stringify(r)).join('\n') + '\n');
      const done = trainer.step - firstStep;
      const elapsed = (performance.now() - start) / 1000;
      log(`${progressBar(trainer.step, cfg.maxSteps)} step ${trainer.step}/${cfg.maxSteps} reward ${metrics.reward.toFixed(3)} entropy ${(metrics.entropy ?? 0).toFixed(3)} ` +
        `len ${metrics['completions/mean_length'].toFixed(1)} ETA ${((elapsed / done) * (cfg.maxSteps - trainer.step)).toFixed(0)} s`);
      if (evalEvery > 0 && trainer.step % evalEvery === 0 && trainer.step < cfg.maxSteps) {
        const during = await evaluate();
        appendFileSync(join(out, 'metrics.jsonl'), `${JSON.stringify({ step: trainer.step, ...Object.fromEntries(Object.entries(during).map(([k, v]) => [`eval/pass@${k}`, v])) })}\n`);
        log(`held-out at step ${trainer.step}: ${fmt(during)}`);
      }
      if ((saveEvery > 0 && trainer.step % saveEvery === 0) || interrupted) {
        const dir = await checkpoint();
        if (interrupted) {
          log(`saved ${dir}; continue with: webgrpo train --resume ${out}`);
          process.exit(130);
        }
      }
    }
    process.off('SIGINT', onInterrupt);
    await adapter.save(join(out, 'adapter'));
    let after: Record<number, number> = {};
    if (evalProblems > 0) {
      after = await evaluate();
      log(`held-out after:  ${fmt(after)}`);
    }
    writeFileSync(join(out, 'summary.json'), JSON.stringify({ before: mapKeys(before), after: mapKeys(after), steps: cfg.maxSteps, seconds: (performance.now() - start) / 1000 }, null, 2));
    output(values, { out, before: mapKeys(before), after: mapKeys(after) },
      evalProblems > 0 ? `pass@1 before ${(100 * before[1]).toFixed(1)}% → after ${(100 * after[1]).toFixed(1)}%; run in ${out}` : `run in ${out}`);
  });
}

/** Built-in reward functions named by --reward (default: math), each with weight 1. */
function rewardFunctions(values: Values, fallback: string[]): NamedReward[] {
  const names = typeof values.reward === 'string' ? values.reward.split(',').map((r) => r.trim()) : fallback;
  try {
    return builtinRewards(names);
  } catch (e) {
    throw new UsageError(`--reward: ${(e as Error).message}`);
  }
}

async function evalCommand(values: Values): Promise<void> {
  if (typeof values.dataset !== 'string') throw new UsageError('eval needs --dataset (arithmetic[:level], countdown, a file, or hf:repo:config:split).');
  const src = source(values);
  const positiveInt = (x: number) => Number.isInteger(x) && x >= 1;
  const samples = numberFlag(values, 'samples', 8, positiveInt, 'an integer ≥ 1');
  const ks = (typeof values.k === 'string' ? values.k : [1, 2, 4, 8, 16, 32, 64, 128].filter((k) => k <= samples).join(',')).split(',').map(Number);
  for (const k of ks) if (!(Number.isInteger(k) && k >= 1 && k <= samples)) throw new UsageError(`--k values must be integers in 1..${samples} (--samples), got ${k}.`);
  const temperature = numberFlag(values, 'temperature', 1, (x) => x > 0, 'a positive number');
  const maxNewTokens = numberFlag(values, 'max-new-tokens', 256, positiveInt, 'an integer ≥ 1');
  const seed = numberFlag(values, 'seed', 0, (x) => Number.isInteger(x) && x >= 0, 'an integer ≥ 0');
  const dataset = await loadDataset(values.dataset, { endpoint: values['hub-endpoint'] as string | undefined, cacheDir: values['cache-dir'] as string | undefined, seed, shuffle: false });
  const count = numberFlag(values, 'problems', dataset.size ?? 100, positiveInt, 'an integer ≥ 1');
  const problems = dataset.problems?.slice(0, count) ?? Array.from({ length: count }, () => dataset.next());
  const fns = rewardFunctions(values, ['math']);
  const grade = async (completion: string, problem: Problem) => ((await combineRewards(completion, { ...problem.row, answer: problem.answer }, fns)).total >= 1 ? 1 : 0);
  const tokenizer = await ModelTokenizer.load(src);
  const results = await withModel(values, src, async (model) => {
    const runs: { label: string; result: Awaited<ReturnType<typeof evaluatePassAtK>> }[] = [];
    const adapter = model.adapter;
    for (const [label, active] of values['compare-base'] && adapter ? ([['base', null], ['adapter', adapter]] as const) : ([[adapter ? 'adapter' : 'model', adapter]] as const)) {
      model.adapter = active;
      log(`evaluating ${label}: ${problems.length} problems × ${samples} samples at T=${temperature}`);
      runs.push({ label, result: await evaluatePassAtK(model, tokenizer, problems, { samples, ks, temperature, maxNewTokens, seed, grade }) });
    }
    return runs;
  });
  if (typeof values.out === 'string') {
    writeFileSync(values.out, problems.map((p, i) => JSON.stringify({ question: p.question, answer: p.answer, samples, ...Object.fromEntries(results.map((r) => [`correct_${r.label}`, r.result.correct[i]])) })).join('\n') + '\n');
  }
  const json = Object.fromEntries(results.map((r) => [r.label, mapKeys(r.result.passAtK)]));
  const text = results.map((r) => `${r.label.padEnd(8)} ${Object.entries(r.result.passAtK).map(([k, v]) => `pass@${k} ${(100 * v).toFixed(1)}%`).join('  ')}`).join('\n');
  output(values, { problems: problems.length, samples, temperature, ...json }, text);
}

async function rewardCommand(values: Values): Promise<void> {
  const fns = rewardFunctions(values, ['math']);
  const score = async (completion: string, answer: string) => combineRewards(completion, { answer }, fns);
  if (typeof values.input === 'string') {
    if (values.completion !== undefined || values.answer !== undefined) throw new UsageError('Give --input or --completion/--answer, not both.');
    const rows = parseJsonl(readFileSync(values.input, 'utf8'), values.input);
    for (const { line, value } of rows) {
      const row = value as { completion?: unknown; answer?: unknown };
      if (typeof row?.completion !== 'string' || typeof row.answer !== 'string') throw new UsageError(`${values.input}: line ${line} needs string fields "completion" and "answer".`);
      const r = await score(row.completion, row.answer);
      process.stdout.write(`${JSON.stringify({ line, reward: r.total, rewards: r.perFunction })}\n`);
    }
    return;
  }
  if (typeof values.completion !== 'string' || typeof values.answer !== 'string') throw new UsageError('reward needs --completion and --answer (or --input pairs.jsonl).');
  const r = await score(values.completion, values.answer);
  output(values, { reward: r.total, rewards: r.perFunction }, `${r.total}\t${Object.entries(r.perFunction).map(([k, v]) => `${k}=${v}`).join(' ')}`);
}

/** --filter-accuracy lo,hi (keep groups whose accuracy is strictly inside) and --dynamic-sampling. */
function parseAccuracyFilter(raw: string | boolean | undefined, dynamic?: boolean): GroupFilter {
  const filter: GroupFilter = { dropZeroStd: dynamic === true };
  if (raw === undefined) return filter;
  const bounds = String(raw).split(',').map(Number);
  if (bounds.length !== 2 || bounds.some((b) => !(b >= 0 && b <= 1)) || bounds[0] >= bounds[1]) {
    throw new UsageError(`--filter-accuracy must be "lo,hi" with 0 ≤ lo < hi ≤ 1, got "${raw}".`);
  }
  filter.accuracy = [bounds[0], bounds[1]];
  return filter;
}

/** `--reward-module file.mjs`: its default export is (completion, row) => number | null (or a Promise of it). */
async function loadRewardModule(path: string): Promise<RewardFn> {
  let mod: { default?: unknown };
  try {
    mod = await import(pathToFileURL(resolve(path)).href);
  } catch (e) {
    throw new UsageError(`--reward-module ${path}: cannot load it (${(e as Error).message}).`);
  }
  if (typeof mod.default !== 'function') throw new UsageError(`--reward-module ${path}: its default export must be a function (completion, row) => number | null.`);
  const fn = mod.default as RewardFn;
  return async (completion, row) => {
    const value = await fn(completion, row);
    if (value !== null && (typeof value !== 'number' || !Number.isFinite(value))) {
      throw new Error(`--reward-module ${path} returned ${String(value)} for a completion; it must return a finite number or null.`);
    }
    return value;
  };
}

function mapKeys(passAtK: Record<number, number>): Record<string, number> {
  return Object.fromEntries(Object.entries(passAtK).map(([k, v]) => [`pass@${k}`, v]));
}

/** TRL GRPOConfig spelling (snake_case) of our camelCase config, for config.json. */
/** webgrpo export-trl RUN [--out file.py]: the run as a TRL GRPOConfig + PEFT LoraConfig script. */
async function exportTrl(values: Values, argv: string[]): Promise<void> {
  const positional = argv.filter((a, i) => !a.startsWith('--') && argv[i - 1] !== '--out');
  if (positional.length !== 1) throw new UsageError('export-trl takes one run folder: webgrpo export-trl RUN [--out train_trl.py]');
  const file = join(positional[0], 'config.json');
  if (!existsSync(file)) throw new UsageError(`${file} not found: is ${positional[0]} a webgrpo train run?`);
  const script = trlScript(JSON.parse(readFileSync(file, 'utf8')));
  const out = typeof values.out === 'string' ? values.out : join(positional[0], 'train_trl.py');
  writeFileSync(out, script);
  process.stdout.write(`wrote ${out}\n`);
}

async function merge(values: Values): Promise<void> {
  const src = source(values);
  if (typeof values.adapter !== 'string') throw new UsageError('merge needs --adapter DIR.');
  if (typeof values.out !== 'string') throw new UsageError('merge needs --out DIR.');
  const dtype = values.dtype === undefined ? undefined : choice(values, 'dtype', ['bf16', 'f16', 'f32'] as const, 'bf16');
  const files = await mergeAdapter(src, openSource(values.adapter), values.out, {
    dtype,
    overwrite: values.overwrite === true,
    onProgress: (done, total) => process.stderr.write(`\r${progressBar(done, total)} ${done}/${total} tensors`),
  });
  process.stderr.write('\n');
  output(values, { out: values.out, files }, `wrote ${files.length} files to ${values.out}`);
}

const handlers: Record<keyof typeof commands, (values: Values, argv: string[]) => Promise<void>> = {
  train,
  'export-trl': exportTrl,
  eval: evalCommand,
  reward: rewardCommand,
  merge,
  score,
  tokenize,
  generate: generateCommand,
  info,
  sft,
};

export async function main(argv: string[]): Promise<void> {
  const [command, ...rest] = argv;
  let code = 0;
  try {
    if (!command || command === '--help' || command === '-h' || command === 'help') {
      process.stdout.write(`${USAGE}\n`);
    } else if (!(command in commands)) {
      throw new UsageError(`Unknown command "${command}".\n\n${USAGE}`);
    } else {
      const name = command as keyof typeof commands;
      let values: Values;
      try {
        values = parseArgs({ args: rest, options: commands[name], strict: true, allowPositionals: name === 'export-trl' }).values as Values;
      } catch (e) {
        throw new UsageError(`${(e as Error).message}\n\n${USAGE}`);
      }
      if (values.help) process.stdout.write(`${USAGE}\n`);
      else await handlers[name](values, rest);
    }
  } catch (e) {
    code = e instanceof UsageError ? 2 : 1;
    process.stderr.write(`webgrpo: ${(e as Error).message}\n`);
    if (process.env.WEBGRPO_DEBUG && e instanceof Error) process.stderr.write(`${e.stack}\n`);
  }
  // Dawn keeps the event loop alive while its instance exists: exit explicitly.
  process.exit(code);
}
