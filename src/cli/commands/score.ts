// webgrpo score: per-token log-probs and entropies of a text or id sequence under the model.

import { ModelTokenizer } from '../../io/tokenizer.ts';
import { MODEL_OPTIONS, numberFlag, output, UsageError, type Command } from '../flags.ts';
import { modelSource, withModel } from '../model.ts';

function parseIds(raw: string): number[] {
  const ids = raw.split(',').map((s) => s.trim());
  if (ids.some((s) => !/^\d+$/.test(s))) throw new UsageError(`--ids must be comma-separated non-negative integers, got "${raw}".`);
  return ids.map(Number);
}

export const score: Command = {
  usage: `score     --model <dir|hf:repo[@rev]> [--adapter <dir|hf:repo>] (--ids 1,2,3 | --text "…")
            [--temperature T] [--json]`,
  options: { ...MODEL_OPTIONS, ids: { type: 'string' }, text: { type: 'string' }, temperature: { type: 'string' } },
  async run(values) {
    const src = modelSource(values);
    const temperature = numberFlag(values, 'temperature', 1, (x) => x > 0, 'a positive number');
    if ((values.ids === undefined) === (values.text === undefined)) throw new UsageError('score needs exactly one of --ids or --text.');
    const ids = typeof values.ids === 'string' ? parseIds(values.ids) : (await ModelTokenizer.load(src)).promptIds(values.text as string);
    const result = await withModel(values, src, (model) => model.score(ids, temperature));
    const table = result.logprobs.map((lp, i) => `${ids[i + 1]}\t${lp.toFixed(6)}\t${result.entropies[i].toFixed(6)}`);
    output(values, result, ['next_id\tlogprob\tentropy', ...table].join('\n'));
  },
};
