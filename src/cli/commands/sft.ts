// webgrpo sft: supervised fine-tuning of a LoRA adapter (or, with --full, every weight of a small f32 model).

import { appendFileSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { LoraAdapter } from '../../lora/adapter.ts';
import { ModelGradients } from '../../model/backward.ts';
import type { LanguageModel } from '../../model/model.ts';
import { saveWeights } from '../../model/save.ts';
import { openSource, type ModelSource } from '../../io/source.ts';
import { defaultRunConfig } from '../../rl/run-config.ts';
import { ModelTokenizer } from '../../io/tokenizer.ts';
import { SCHEDULER_TYPES } from '../../train/schedule.ts';
import { tokenizeSftRows, trainSft, type SftConfig } from '../../train/sft.ts';
import {
  choice,
  log,
  renamedFlag,
  MODEL_OPTIONS,
  numberFlag,
  output,
  positiveInt,
  progressBar,
  readSettings,
  settingOptions,
  UsageError,
  type Command,
} from '../flags.ts';
import { modelSource, withModel } from '../model.ts';

export const sft: Command = {
  usage: `sft       --model M --data file.jsonl --out RUN [--chat] [--init-adapter DIR] [--lora-r 16]
            [--lora-alpha 32] [--lora-dropout 0] [--target-modules q_proj,v_proj,…] [--use-rslora] [--full]
            [--optimizer adamw|sgd] [--learning-rate|--lr 1e-4] [--weight-decay 0] [--steps N | --epochs E]
            [--batch-size 4] [--gradient-accumulation-steps 1] [--max-grad-norm 1 (0 = off)]
            [--lr-scheduler-type linear|cosine|constant|constant_with_warmup] [--warmup-ratio 0]
            [--gradient-checkpointing] [--seed S]`,
  options: {
    ...MODEL_OPTIONS,
    data: { type: 'string' },
    out: { type: 'string' },
    chat: { type: 'boolean', default: false },
    'init-adapter': { type: 'string' },
    ...settingOptions(['lora']),
    full: { type: 'boolean', default: false },
    optimizer: { type: 'string' },
    'learning-rate': { type: 'string' },
    lr: { type: 'string' },
    'weight-decay': { type: 'string' },
    steps: { type: 'string' },
    epochs: { type: 'string' },
    'batch-size': { type: 'string' },
    'gradient-accumulation-steps': { type: 'string' },
    /** Old spellings (deprecated): --grad-accum, --lr-scheduler. */
    'grad-accum': { type: 'string' },
    'max-grad-norm': { type: 'string' },
    'lr-scheduler-type': { type: 'string' },
    'lr-scheduler': { type: 'string' },
    'warmup-ratio': { type: 'string' },
    'gradient-checkpointing': { type: 'boolean', default: false },
    seed: { type: 'string' },
  },
  async run(values) {
    const src = modelSource(values);
    if (typeof values.data !== 'string') throw new UsageError('sft needs --data file.jsonl.');
    if (typeof values.out !== 'string') throw new UsageError('sft needs --out RUN_DIR.');
    const full = values.full === true;
    if (full && (values['init-adapter'] !== undefined || values.adapter !== undefined))
      throw new UsageError('--full trains every weight; it cannot start from an adapter.');
    if (values.steps !== undefined && values.epochs !== undefined) throw new UsageError('Give --steps or --epochs, not both.');
    renamedFlag(values, 'lr-scheduler', 'lr-scheduler-type');
    renamedFlag(values, 'grad-accum', 'gradient-accumulation-steps');
    if (values.lr !== undefined && values['learning-rate'] !== undefined) throw new UsageError('Give --learning-rate or its alias --lr, not both.');
    const lrFlag = values['learning-rate'] !== undefined ? 'learning-rate' : 'lr';
    const lora = readSettings(values, defaultRunConfig(), ['lora']).lora;
    const cfg: SftConfig = {
      optimizer: choice(values, 'optimizer', ['adamw', 'sgd'] as const, 'adamw'),
      learningRate: numberFlag(values, lrFlag, 1e-4, (x) => x > 0, 'a positive number'),
      weightDecay: numberFlag(values, 'weight-decay', 0, (x) => x >= 0, 'a number ≥ 0'),
      adamBeta1: 0.9,
      adamBeta2: 0.999,
      adamEpsilon: 1e-8,
      maxGradNorm: numberFlag(values, 'max-grad-norm', 1, (x) => x >= 0, 'a number ≥ 0 (0 = off)'),
      lrSchedulerType: choice(values, 'lr-scheduler-type', SCHEDULER_TYPES, 'linear'),
      warmupRatio: numberFlag(values, 'warmup-ratio', 0, (x) => x >= 0 && x < 1, 'in [0, 1)'),
      perDeviceTrainBatchSize: numberFlag(values, 'batch-size', 4, positiveInt, 'an integer ≥ 1'),
      gradientAccumulationSteps: numberFlag(values, 'gradient-accumulation-steps', 1, positiveInt, 'an integer ≥ 1'),
      maxSteps: 0,
      seed: numberFlag(values, 'seed', 0, (x) => Number.isInteger(x) && x >= 0, 'an integer ≥ 0'),
      gradientCheckpointing: values['gradient-checkpointing'] === true,
    };
    const tokenizer = await ModelTokenizer.load(src);
    const examples = tokenizeSftRows(readFileSync(values.data, 'utf8'), values.data, tokenizer, values.chat === true);
    const perStep = cfg.perDeviceTrainBatchSize * cfg.gradientAccumulationSteps;
    cfg.maxSteps =
      values.epochs !== undefined
        ? Math.ceil((numberFlag(values, 'epochs', 1, (x) => x > 0, 'a positive number') * examples.length) / perStep)
        : numberFlag(values, 'steps', Math.ceil(examples.length / perStep), positiveInt, 'an integer ≥ 1');
    const out = values.out;
    mkdirSync(out, { recursive: true });
    await withModel(
      values,
      src,
      async (model, gpu) => {
        const gradients = full ? ModelGradients.create(model) : undefined;
        const adapter = full
          ? null
          : typeof values['init-adapter'] === 'string'
            ? await LoraAdapter.load(openSource(values['init-adapter'], { folderKind: 'adapter' }), gpu, model.config)
            : LoraAdapter.init(gpu, model.config, lora, { seed: cfg.seed, baseModel: values.model as string });
        model.adapter = adapter;
        writeFileSync(
          join(out, 'config.json'),
          JSON.stringify({ model: values.model, data: values.data, examples: examples.length, lora: adapter?.config ?? null, full, ...cfg }, null, 2),
        );
        const metrics = join(out, 'metrics.jsonl');
        writeFileSync(metrics, '');
        const start = performance.now();
        await trainSft(
          model,
          examples,
          cfg,
          (m) => {
            appendFileSync(metrics, `${JSON.stringify(m)}\n`);
            const elapsed = (performance.now() - start) / 1000;
            const eta = (elapsed / m.step) * (cfg.maxSteps - m.step);
            log(
              `${progressBar(m.step, cfg.maxSteps)} step ${m.step}/${cfg.maxSteps} loss ${m.loss.toFixed(4)} grad_norm ${m.grad_norm.toFixed(3)} lr ${m.learning_rate.toExponential(2)} ETA ${eta.toFixed(0)} s`,
            );
          },
          { gradients },
        );
        if (full) await saveFullModel(model, src, join(out, 'model'));
        else await adapter!.save(join(out, 'adapter'));
      },
      { f32Weights: full },
    );
    const written = full ? `${join(out, 'model')} (full model, F32)` : `${join(out, 'adapter')} (PEFT)`;
    output(values, { out, steps: cfg.maxSteps }, `wrote ${written}, ${join(out, 'metrics.jsonl')}`);
  },
};

async function saveFullModel(model: LanguageModel, src: ModelSource, dir: string): Promise<void> {
  mkdirSync(dir, { recursive: true });
  await saveWeights(model, dir);
  const config = (await src.readJson('config.json')) as Record<string, unknown>;
  writeFileSync(join(dir, 'config.json'), JSON.stringify({ ...config, torch_dtype: 'float32' }, null, 2));
  for (const file of ['generation_config.json', 'tokenizer.json', 'tokenizer_config.json', 'special_tokens_map.json', 'chat_template.json']) {
    if (await src.has(file)) writeFileSync(join(dir, file), await src.read(file));
  }
}
