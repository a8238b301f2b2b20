// webgrpo eval: pass@k of a model (and adapter, or both with --compare-base) on a dataset.

import { writeFileSync } from 'node:fs';
import { loadDataset, type Problem } from '../../data/dataset.ts';
import { evaluatePassAtK } from '../../rl/evaluate.ts';
import { combineRewards } from '../../rl/rewards/index.ts';
import { ModelTokenizer } from '../../io/tokenizer.ts';
import { log, MODEL_OPTIONS, numberFlag, output, positiveInt, UsageError, type Command } from '../flags.ts';
import { modelSource, withModel } from '../model.ts';
import { rewardFunctions } from './reward.ts';

export function passAtKNames(passAtK: Record<number, number>): Record<string, number> {
  return Object.fromEntries(Object.entries(passAtK).map(([k, v]) => [`pass@${k}`, v]));
}

export const evaluate: Command = {
  usage: `eval      --model M [--adapter DIR] --dataset SPEC [--samples 8] [--k 1,2,4,8] [--temperature 1]
            [--max-new-tokens 256] [--problems N] [--reward math] [--compare-base] [--out counts.jsonl]`,
  options: {
    ...MODEL_OPTIONS,
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
  async run(values) {
    if (typeof values.dataset !== 'string') throw new UsageError('eval needs --dataset (arithmetic[:level], countdown, a file, or hf:repo:config:split).');
    const src = modelSource(values);
    const samples = numberFlag(values, 'samples', 8, positiveInt, 'an integer ≥ 1');
    const ks = (typeof values.k === 'string' ? values.k : [1, 2, 4, 8, 16, 32, 64, 128].filter((k) => k <= samples).join(',')).split(',').map(Number);
    for (const k of ks)
      if (!(Number.isInteger(k) && k >= 1 && k <= samples)) throw new UsageError(`--k values must be integers in 1..${samples} (--samples), got ${k}.`);
    const temperature = numberFlag(values, 'temperature', 1, (x) => x > 0, 'a positive number');
    const maxNewTokens = numberFlag(values, 'max-new-tokens', 256, positiveInt, 'an integer ≥ 1');
    const seed = numberFlag(values, 'seed', 0, (x) => Number.isInteger(x) && x >= 0, 'an integer ≥ 0');
    const dataset = await loadDataset(values.dataset, {
      endpoint: values['hub-endpoint'] as string | undefined,
      cacheDir: values['cache-dir'] as string | undefined,
      seed,
      shuffle: false,
    });
    const count = numberFlag(values, 'problems', dataset.size ?? 100, positiveInt, 'an integer ≥ 1');
    const problems = dataset.problems?.slice(0, count) ?? Array.from({ length: count }, () => dataset.next());
    const fns = rewardFunctions(values, ['math']);
    const grade = async (completion: string, problem: Problem) =>
      (await combineRewards(completion, { ...problem.row, answer: problem.answer }, fns)).total >= 1 ? 1 : 0;
    const tokenizer = await ModelTokenizer.load(src);
    const results = await withModel(values, src, async (model) => {
      const runs: { label: string; result: Awaited<ReturnType<typeof evaluatePassAtK>> }[] = [];
      const adapter = model.adapter;
      for (const [label, active] of values['compare-base'] && adapter
        ? ([
            ['base', null],
            ['adapter', adapter],
          ] as const)
        : ([[adapter ? 'adapter' : 'model', adapter]] as const)) {
        model.adapter = active;
        log(`evaluating ${label}: ${problems.length} problems × ${samples} samples at T=${temperature}`);
        runs.push({ label, result: await evaluatePassAtK(model, tokenizer, problems, { samples, ks, temperature, maxNewTokens, seed, grade }) });
      }
      return runs;
    });
    if (typeof values.out === 'string') {
      writeFileSync(
        values.out,
        `${problems.map((p, i) => JSON.stringify({ question: p.question, answer: p.answer, samples, ...Object.fromEntries(results.map((r) => [`correct_${r.label}`, r.result.correct[i]])) })).join('\n')}\n`,
      );
    }
    const json = Object.fromEntries(results.map((r) => [r.label, passAtKNames(r.result.passAtK)]));
    const text = results
      .map(
        (r) =>
          `${r.label.padEnd(8)} ${Object.entries(r.result.passAtK)
            .map(([k, v]) => `pass@${k} ${(100 * v).toFixed(1)}%`)
            .join('  ')}`,
      )
      .join('\n');
    output(values, { problems: problems.length, samples, temperature, ...json }, text);
  },
};
