// webgrpo eval: pass@k of a model (and adapter, or both with --compare-base) on a dataset.

import { writeFileSync } from 'node:fs';
import { loadDataset, type Problem } from '../../data/dataset.ts';
import { comparePassAtK, evaluatePassAtK, type PassAtKComparison } from '../../rl/evaluate.ts';
import { SOLVED_BY } from '../../rl/passk.ts';
import { combineRewards } from '../../rl/rewards/index.ts';
import { ModelTokenizer } from '../../io/tokenizer.ts';
import { log, MODEL_OPTIONS, numberFlag, output, positiveInt, UsageError, type Command, type Values } from '../flags.ts';
import { modelSource, withModel } from '../model.ts';
import { rewardFunctions } from './reward.ts';

export function passAtKNames(passAtK: Record<number, number>): Record<string, number> {
  return Object.fromEntries(Object.entries(passAtK).map(([k, v]) => [`pass@${k}`, v]));
}

function passAtKLine(passAtK: Record<number, number>): string {
  return Object.entries(passAtK)
    .map(([k, v]) => `pass@${k} ${(100 * v).toFixed(1)}%`)
    .join('  ');
}

/** --compare-base: per-problem counts and categories to --out, the curves at --k, the category sizes and the crossing. */
function reportComparison(values: Values, result: PassAtKComparison, ks: number[], temperature: number): void {
  if (typeof values.out === 'string') {
    const rows = result.problems.map((p) =>
      JSON.stringify({
        question: p.question,
        answer: p.answer,
        samples: result.samples,
        correct_base: p.base,
        correct_adapter: p.adapter,
        category: p.solvedBy,
      }),
    );
    writeFileSync(values.out, `${rows.join('\n')}\n`);
  }
  const at = (curve: number[]) => Object.fromEntries(ks.map((k) => [k, curve[k - 1]]));
  const { crossing } = result;
  const crossingText = crossing
    ? `the curves cross at k ≈ ${crossing.at.toFixed(1)} (the ${crossing.leaderBefore} leads below k = ${crossing.k})`
    : 'the curves do not cross';
  const text = [
    `base     ${passAtKLine(at(result.curves.base))}`,
    `adapter  ${passAtKLine(at(result.curves.adapter))}`,
    `solved by: ${SOLVED_BY.map((c) => `${c} ${result.sizes[c]}`).join(', ')} (of ${result.problems.length})`,
    crossingText,
  ].join('\n');
  output(
    values,
    {
      problems: result.problems.length,
      samples: result.samples,
      temperature,
      base: passAtKNames(at(result.curves.base)),
      adapter: passAtKNames(at(result.curves.adapter)),
      solvedBy: result.sizes,
      crossing,
    },
    text,
  );
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
    const opts = { samples, temperature, maxNewTokens, seed, grade };
    if (values['compare-base']) {
      if (typeof values.adapter !== 'string') throw new UsageError('--compare-base needs --adapter (the adapter to compare with its base model).');
      const result = await withModel(values, src, (model) => {
        log(`evaluating base and adapter: ${problems.length} problems × ${samples} samples at T=${temperature}`);
        return comparePassAtK(model, tokenizer, problems, opts);
      });
      reportComparison(values, result, ks, temperature);
      return;
    }
    const result = await withModel(values, src, async (model) => {
      log(`evaluating: ${problems.length} problems × ${samples} samples at T=${temperature}`);
      return evaluatePassAtK(model, tokenizer, problems, { ...opts, ks });
    });
    const label = typeof values.adapter === 'string' ? 'adapter' : 'model';
    if (typeof values.out === 'string') {
      writeFileSync(
        values.out,
        `${problems.map((p, i) => JSON.stringify({ question: p.question, answer: p.answer, samples, [`correct_${label}`]: result.correct[i] })).join('\n')}\n`,
      );
    }
    output(
      values,
      { problems: problems.length, samples, temperature, [label]: passAtKNames(result.passAtK) },
      `${label.padEnd(8)} ${passAtKLine(result.passAtK)}`,
    );
  },
};
