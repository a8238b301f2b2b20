// webgrpo reward: the rewards of a completion against a gold answer (or of each line of a JSONL file).

import { readFileSync } from 'node:fs';
import { parseJsonl } from '../../io/jsonl.ts';
import { combineRewards, explainMath, type Explanation } from '../../rl/rewards/index.ts';
import { builtinRewards, type NamedReward } from '../../rl/run.ts';
import { output, UsageError, type Command, type Values } from '../flags.ts';

/** Built-in reward functions named by --reward (default: math), each with weight 1. */
export function rewardFunctions(values: Values, fallback: string[]): NamedReward[] {
  const names = typeof values.reward === 'string' ? values.reward.split(',').map((r) => r.trim()) : fallback;
  try {
    return builtinRewards(names);
  } catch (e) {
    throw new UsageError(`--reward: ${(e as Error).message}`);
  }
}

export const reward: Command = {
  usage: 'reward    --completion "…" --answer "…" [--reward math,boxed_math,format,…] [--explain] [--json]  |  --input pairs.jsonl',
  options: {
    json: { type: 'boolean', default: false },
    completion: { type: 'string' },
    answer: { type: 'string' },
    input: { type: 'string' },
    reward: { type: 'string' },
    explain: { type: 'boolean', default: false },
    help: { type: 'boolean', short: 'h', default: false },
  },
  async run(values) {
    const fns = rewardFunctions(values, ['math']);
    const score = async (completion: string, answer: string) => combineRewards(completion, { answer }, fns);
    // --explain: how the math rewards read both sides (boxed_math when it is the only math reward named)
    const names = fns.map((f) => f.name);
    const boxedOnly = names.includes('boxed_math') && !names.includes('math');
    const explain = (completion: string, answer: string) => (values.explain === true ? explainMath(completion, answer, boxedOnly) : null);
    if (typeof values.input === 'string') {
      if (values.completion !== undefined || values.answer !== undefined) throw new UsageError('Give --input or --completion/--answer, not both.');
      const rows = parseJsonl(readFileSync(values.input, 'utf8'), values.input);
      for (const { line, value } of rows) {
        const row = value as { completion?: unknown; answer?: unknown };
        if (typeof row?.completion !== 'string' || typeof row.answer !== 'string')
          throw new UsageError(`${values.input}: line ${line} needs string fields "completion" and "answer".`);
        const r = await score(row.completion, row.answer);
        const why = explain(row.completion, row.answer);
        process.stdout.write(`${JSON.stringify({ line, reward: r.total, rewards: r.perFunction, ...(why ? { explain: why } : {}) })}\n`);
      }
      return;
    }
    if (typeof values.completion !== 'string' || typeof values.answer !== 'string')
      throw new UsageError('reward needs --completion and --answer (or --input pairs.jsonl).');
    const r = await score(values.completion, values.answer);
    const why = explain(values.completion, values.answer);
    const line = `${r.total}\t${Object.entries(r.perFunction)
      .map(([k, v]) => `${k}=${v}`)
      .join(' ')}`;
    output(values, { reward: r.total, rewards: r.perFunction, ...(why ? { explain: why } : {}) }, why ? `${line}\n${explanationText(why)}` : line);
  },
};

/** The --explain lines: both extracted answers, after normalisation, and the reason for the verdict. */
function explanationText(e: Explanation): string {
  return [
    `answer:  ${e.answer === null ? '(none)' : JSON.stringify(e.answer)}${e.answerSource ? `  [from ${e.answerSource}]` : ''}`,
    `gold:    ${e.gold === null ? '(none)' : JSON.stringify(e.gold)}${e.goldSource ? `  [from ${e.goldSource}]` : ''}`,
    `verdict: ${e.reward === null ? 'not applicable' : e.reward === 1 ? 'equal' : 'not equal'}: ${e.why}`,
  ].join('\n');
}
