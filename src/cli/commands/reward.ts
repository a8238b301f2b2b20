// webgrpo reward: the rewards of a completion against a gold answer (or of each line of a JSONL file).

import { readFileSync } from 'node:fs';
import { parseJsonl } from '../../io/jsonl.ts';
import { combineRewards } from '../../rl/rewards/index.ts';
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
  usage: 'reward    --completion "…" --answer "…" [--reward math,format,…] [--json]  |  --input pairs.jsonl',
  options: {
    json: { type: 'boolean', default: false },
    completion: { type: 'string' },
    answer: { type: 'string' },
    input: { type: 'string' },
    reward: { type: 'string' },
    help: { type: 'boolean', short: 'h', default: false },
  },
  async run(values) {
    const fns = rewardFunctions(values, ['math']);
    const score = async (completion: string, answer: string) => combineRewards(completion, { answer }, fns);
    if (typeof values.input === 'string') {
      if (values.completion !== undefined || values.answer !== undefined) throw new UsageError('Give --input or --completion/--answer, not both.');
      const rows = parseJsonl(readFileSync(values.input, 'utf8'), values.input);
      for (const { line, value } of rows) {
        const row = value as { completion?: unknown; answer?: unknown };
        if (typeof row?.completion !== 'string' || typeof row.answer !== 'string')
          throw new UsageError(`${values.input}: line ${line} needs string fields "completion" and "answer".`);
        const r = await score(row.completion, row.answer);
        process.stdout.write(`${JSON.stringify({ line, reward: r.total, rewards: r.perFunction })}\n`);
      }
      return;
    }
    if (typeof values.completion !== 'string' || typeof values.answer !== 'string')
      throw new UsageError('reward needs --completion and --answer (or --input pairs.jsonl).');
    const r = await score(values.completion, values.answer);
    output(
      values,
      { reward: r.total, rewards: r.perFunction },
      `${r.total}\t${Object.entries(r.perFunction)
        .map(([k, v]) => `${k}=${v}`)
        .join(' ')}`,
    );
  },
};
