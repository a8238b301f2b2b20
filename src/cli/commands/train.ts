// webgrpo train: a GRPO run in a run folder (GrpoSession over the folder on disk). Without options:
// the quick demo on the built-in tiny model, with held-out pass@k before and after.

import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { RewardFn } from '../../rl/rewards/index.ts';
import { builtinRewards, openRunData, promptNotice } from '../../rl/run.ts';
import { configProblems, dataSourceFromSpec, defaultRunConfig, modelSpec, parseModelSpec, runConfigFromJson, type RunConfig } from '../../rl/run-config.ts';
import { GrpoSession } from '../../rl/session.ts';
import { ModelTokenizer } from '../../io/tokenizer.ts';
import { log, MODEL_OPTIONS, output, progressBar, readSettings, settingOptions, settingsHelp, UsageError, type Command, type Values } from '../flags.ts';
import { openFlagSource, withModel } from '../model.ts';
import { runFolder } from '../run-folder.ts';
import { passAtKNames } from './eval.ts';

const SECTIONS = ['grpo', 'lora', 'run'] as const;
/** Flags a resumed run still takes: where the Hub and the cache are (not part of the run). */
const ENVIRONMENT_FLAGS = ['--hub-endpoint', '--cache-dir'];

/** The run config of the flags: defaults, then --model, the data flags and every setting given. */
function configFromFlags(values: Values): RunConfig {
  let cfg = defaultRunConfig();
  if (typeof values.model === 'string') cfg.model = parseModelSpec(values.model);
  const question = values['one-shot-problem'];
  if ((question === undefined) !== (values['one-shot-answer'] === undefined)) throw new UsageError('--one-shot-problem and --one-shot-answer go together.');
  if (question !== undefined && values.dataset !== undefined) throw new UsageError('Give --dataset or the one-shot problem, not both.');
  if (typeof question === 'string') cfg.data = { kind: 'one-shot', question, answer: values['one-shot-answer'] as string };
  else if (typeof values.dataset === 'string') {
    cfg.data = dataSourceFromSpec(values.dataset, { skipBadRows: values['skip-bad-rows'] === true });
    const fields = { questionField: values['question-field'], answerField: values['answer-field'] };
    if (fields.questionField !== undefined || fields.answerField !== undefined) {
      if (cfg.data.kind !== 'upload') throw new UsageError('--question-field and --answer-field name the columns of a dataset file.');
      cfg.data = { ...cfg.data, ...(fields as { questionField?: string; answerField?: string }) };
    }
  }
  // A reward module replaces the default reward unless --reward also names built-ins.
  if (values['reward-module'] !== undefined && values.reward === undefined) cfg.rewards = [];
  cfg = readSettings(values, cfg, SECTIONS);
  if (values['epsilon-high'] === undefined) cfg.grpo.epsilonHigh = cfg.grpo.epsilon;
  if (cfg.evalEvery > 0 && cfg.evalProblems === 0) throw new UsageError('--eval-every needs held-out problems (--eval-problems > 0).');
  const problems = configProblems(cfg);
  if (problems.length) throw new UsageError(problems.join(' '));
  return cfg;
}

/** `--reward-module file.mjs`: its default export is (completion, row) => number | null (or a Promise of it). */
async function loadRewardModule(path: string): Promise<RewardFn> {
  let mod: { default?: unknown };
  try {
    mod = await import(pathToFileURL(resolve(path)).href);
  } catch (e) {
    throw new UsageError(`--reward-module ${path}: cannot load it (${(e as Error).message}).`);
  }
  if (typeof mod.default !== 'function')
    throw new UsageError(`--reward-module ${path}: its default export must be a function (completion, row) => number | null.`);
  const fn = mod.default as RewardFn;
  return async (completion, row) => {
    const value = await fn(completion, row);
    if (value !== null && (typeof value !== 'number' || !Number.isFinite(value))) {
      throw new Error(`--reward-module ${path} returned ${String(value)} for a completion; it must return a finite number or null.`);
    }
    return value;
  };
}

/** Where a step's seconds went: "gen 4.1 lp 0.0 bwd 2.0 opt 0.1 rwd 0.0 eval 0.0 s". */
function stepTiming(metrics: Record<string, number>): string {
  const parts = [
    ['gen', 'generate'],
    ['lp', 'logprobs'],
    ['bwd', 'backward'],
    ['opt', 'optimizer'],
    ['rwd', 'reward'],
    ['eval', 'eval'],
  ];
  return `${parts.map(([short, name]) => `${short} ${(metrics[`timing/${name}`] ?? 0).toFixed(1)}`).join(' ')} s`;
}

const fmt = (p: Record<number, number>) =>
  Object.entries(p)
    .map(([k, v]) => `pass@${k} ${(100 * v).toFixed(1)}%`)
    .join(', ');

export const train: Command = {
  usage: `train     [--model public/models/tiny-arith] [--dataset arithmetic:2|countdown|file|hf:repo:config:split]
            [--one-shot-problem "…" --one-shot-answer "…"] [--question-field F] [--answer-field F] [--skip-bad-rows]
            [--out RUN] [settings below]
            (several --dataset specs, comma-separated, are mixed by the DUMP UCB curriculum)
            | --resume RUN   (continue from its newest checkpoint; Ctrl-C saves one)
            With no options: the quick demo on the built-in tiny model (held-out pass@k before/after).`,
  help: () => `Settings (TRL GRPOConfig / PEFT LoraConfig names in kebab-case):\n${settingsHelp(SECTIONS, defaultRunConfig())}`,
  options: {
    ...MODEL_OPTIONS,
    dataset: { type: 'string' },
    out: { type: 'string' },
    'one-shot-problem': { type: 'string' },
    'one-shot-answer': { type: 'string' },
    'skip-bad-rows': { type: 'boolean', default: false },
    'question-field': { type: 'string' },
    'answer-field': { type: 'string' },
    resume: { type: 'string' },
    ...settingOptions(SECTIONS),
  },
  async run(values, argv) {
    let cfg: RunConfig;
    let out: string;
    const resume = typeof values.resume === 'string';
    if (typeof values.resume === 'string') {
      out = values.resume;
      if (argv.filter((a) => a.startsWith('--') && !ENVIRONMENT_FLAGS.includes(a)).length > 1)
        throw new UsageError('--resume takes no other options: the run continues with its own.');
      if (!(await runFolder(out).newestCheckpoint())) throw new UsageError(`${out} has no checkpoint to resume from (train with --save-every N).`);
      const file = join(out, 'config.json');
      try {
        cfg = runConfigFromJson(JSON.parse(readFileSync(file, 'utf8')), file);
      } catch (e) {
        throw new UsageError(`${file} cannot be resumed: ${(e as Error).message}`);
      }
    } else {
      cfg = configFromFlags(values);
      out = typeof values.out === 'string' ? values.out : join('runs', `grpo-${new Date().toISOString().replace(/[:.]/g, '-')}`);
    }
    const rewards = builtinRewards(cfg.rewards);
    if (cfg.rewardModule) rewards.push({ name: 'reward_module', fn: await loadRewardModule(cfg.rewardModule), weight: 1 });
    const src = openFlagSource(values, modelSpec(cfg.model));
    const tokenizer = await ModelTokenizer.load(src);
    const notice = promptNotice(cfg, tokenizer);
    if (notice) log(`note: ${notice}`);
    const data = await openRunData(cfg, { endpoint: values['hub-endpoint'] as string | undefined, cacheDir: values['cache-dir'] as string | undefined });
    const maxSteps = cfg.grpo.maxSteps;
    let noteShown = false;
    const result = await withModel({ ...values, adapter: undefined }, src, async (model, gpu) => {
      const session = await GrpoSession.open(
        {
          gpu,
          model,
          tokenizer,
          config: cfg,
          data,
          rewards,
          storage: runFolder(out),
          initAdapter: cfg.initAdapter ? openFlagSource(values, cfg.initAdapter, 'adapter') : undefined,
        },
        {
          resume,
          events: {
            restored: (checkpoint) => log(`resuming ${out} from ${checkpoint.where} (step ${checkpoint.step})`),
            phase: (phase, note) => {
              if (phase === 'evaluating' && note && !noteShown) log(`note: ${note}`);
              noteShown ||= phase === 'evaluating' && note !== undefined;
            },
            passAtK: (step, which, passAtK) =>
              log(
                which === 'base'
                  ? `held-out before: ${fmt(passAtK)} (${data.heldOut.length} problems × ${cfg.evalSamples} samples)`
                  : step < maxSteps
                    ? `held-out at step ${step}: ${fmt(passAtK)}`
                    : `held-out after:  ${fmt(passAtK)}`,
              ),
            step: ({ metrics, etaSeconds }) =>
              log(
                `${progressBar(metrics.step, maxSteps)} step ${metrics.step}/${maxSteps} reward ${metrics.reward.toFixed(3)} entropy ${(metrics.entropy ?? 0).toFixed(3)} ` +
                  `len ${metrics['completions/mean_length'].toFixed(1)} ETA ${etaSeconds.toFixed(0)} s | ${stepTiming(metrics)}`,
              ),
          },
        },
      );
      let interrupted = false;
      const onInterrupt = () => {
        if (interrupted) process.exit(130);
        interrupted = true;
        log('interrupt: saving a checkpoint after this step (Ctrl-C again to quit now)');
        session.interrupt();
      };
      process.on('SIGINT', onInterrupt);
      try {
        return await session.run();
      } finally {
        process.off('SIGINT', onInterrupt);
        session.destroy();
      }
    });
    if (result.outcome === 'interrupted') {
      log(`saved ${result.checkpoint}; continue with: webgrpo train --resume ${out}`);
      process.exit(130);
    }
    const { before, after } = result;
    output(
      values,
      { out, before: passAtKNames(before), after: passAtKNames(after) },
      before[1] !== undefined ? `pass@1 before ${(100 * before[1]).toFixed(1)}% → after ${(100 * after[1]).toFixed(1)}%; run in ${out}` : `run in ${out}`,
    );
  },
};
