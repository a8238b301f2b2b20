// The `webgrpo` command line. With --json the last line of stdout is one JSON object; progress
// and diagnostics go to stderr.

import { parseArgs, type ParseArgsConfig } from 'node:util';
import { acquireGpu } from '../gpu/device.ts';
import type { Gpu } from '../gpu/runtime.ts';
import { LanguageModel } from '../model/forward.ts';
import { generate } from '../model/generate.ts';
import { openSource, type ModelSource } from '../model/source.ts';
import { loadModel } from '../model/weights.ts';
import { ModelTokenizer } from '../tokenizer/index.ts';
import { LoraAdapter } from '../lora/index.ts';
import { parameterCount, parseConfig, withGenerationConfig } from '../model/config.ts';

export class UsageError extends Error {}

const USAGE = `webgrpo — GRPO on WebGPU

Commands:
  score     --model <dir|hf:repo[@rev]> [--adapter <dir|hf:repo>] (--ids 1,2,3 | --text "…")
            [--temperature T] [--json]
  tokenize  --model <dir|hf:repo> --text "…" [--chat] [--json]
  generate  --model <dir|hf:repo> [--adapter <dir|hf:repo>] --prompt "…" [--chat] [--max-new-tokens N] [--temperature T]
            [--top-p P] [--top-k K] [--min-p M] [--seed S] [--n N] [--json]
  info      --model <dir|hf:repo> [--json]

Common: --hub-endpoint URL (default $HF_ENDPOINT or https://huggingface.co), --cache-dir DIR.`;

const common = {
  model: { type: 'string' },
  json: { type: 'boolean', default: false },
  'hub-endpoint': { type: 'string' },
  'cache-dir': { type: 'string' },
  adapter: { type: 'string' },
  help: { type: 'boolean', short: 'h', default: false },
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
  info: { ...common },
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

async function loadTokenizer(src: ModelSource): Promise<ModelTokenizer> {
  return ModelTokenizer.load((f) => src.readJson(f), (f) => src.has(f));
}

/** Load the model (and the --adapter, when given) on a fresh device, run, and free the device. */
async function withModel<T>(values: Values, src: ModelSource, run: (model: LanguageModel, gpu: Gpu) => Promise<T>): Promise<T> {
  const gpu = await acquireGpu();
  try {
    const { config, weights } = await loadModel(src, gpu);
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
  const ids = typeof values.ids === 'string' ? parseIds(values.ids) : (await loadTokenizer(src)).encode(values.text as string);
  const result = await withModel(values, src, (model) => model.score(ids, temperature));
  const table = result.logprobs.map((lp, i) => `${ids[i + 1]}\t${lp.toFixed(6)}\t${result.entropies[i].toFixed(6)}`);
  output(values, result, ['next_id\tlogprob\tentropy', ...table].join('\n'));
}

async function tokenize(values: Values): Promise<void> {
  const src = source(values);
  if (typeof values.text !== 'string') throw new UsageError('tokenize needs --text.');
  const ids = await promptIds(await loadTokenizer(src), values.text, values.chat === true);
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
  const tokenizer = await loadTokenizer(src);
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
      `device        ${gpu.adapter.description || gpu.adapter.architecture} (${gpu.adapter.vendor}, ${gpu.adapter.backend})`,
      `features      shader-f16 ${gpu.hasF16 ? 'yes' : 'no'}, subgroups ${gpu.hasSubgroups ? 'yes' : 'no'}`,
      `limits        buffer ${mb(result.limits.maxBufferSize)}, storage binding ${mb(result.limits.maxStorageBufferBindingSize)}, workgroup memory ${result.limits.maxComputeWorkgroupStorageSize} B`,
    ].join('\n'),
  );
}

const handlers: Record<keyof typeof commands, (values: Values) => Promise<void>> = {
  score,
  tokenize,
  generate: generateCommand,
  info,
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
        values = parseArgs({ args: rest, options: commands[name], strict: true, allowPositionals: false }).values as Values;
      } catch (e) {
        throw new UsageError(`${(e as Error).message}\n\n${USAGE}`);
      }
      if (values.help) process.stdout.write(`${USAGE}\n`);
      else await handlers[name](values);
    }
  } catch (e) {
    code = e instanceof UsageError ? 2 : 1;
    process.stderr.write(`webgrpo: ${(e as Error).message}\n`);
    if (process.env.WEBGRPO_DEBUG && e instanceof Error) process.stderr.write(`${e.stack}\n`);
  }
  // Dawn keeps the event loop alive while its instance exists: exit explicitly.
  process.exit(code);
}
