// webgrpo generate: sample completions of a prompt on the GPU (seeded).

import { generate as generateIds } from '../../model/generate.ts';
import { ModelTokenizer } from '../../io/tokenizer.ts';
import { log, MODEL_OPTIONS, numberFlag, output, positiveInt, UsageError, type Command } from '../flags.ts';
import { modelSource, promptIds, withModel } from '../model.ts';

export const generate: Command = {
  usage: `generate  --model <dir|hf:repo> [--adapter <dir|hf:repo>] --prompt "…" [--chat] [--max-new-tokens N] [--temperature T]
            [--top-p P] [--top-k K] [--min-p M] [--seed S] [--n N] [--json]`,
  options: {
    ...MODEL_OPTIONS,
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
  async run(values) {
    const src = modelSource(values);
    if (typeof values.prompt !== 'string') throw new UsageError('generate needs --prompt.');
    const maxNewTokens = numberFlag(values, 'max-new-tokens', 64, positiveInt, 'an integer ≥ 1');
    const temperature = numberFlag(values, 'temperature', 0.7, (x) => x >= 0, 'a number ≥ 0 (0 = greedy)');
    const topP = numberFlag(values, 'top-p', 1, (x) => x > 0 && x <= 1, 'in (0, 1]');
    const topK = numberFlag(values, 'top-k', 0, (x) => Number.isInteger(x) && x >= 0, 'an integer ≥ 0 (0 = off)');
    const minP = numberFlag(values, 'min-p', 0, (x) => x >= 0 && x < 1, 'in [0, 1)');
    const seed = numberFlag(values, 'seed', 0, (x) => Number.isInteger(x) && x >= 0 && x < 2 ** 32, 'an integer in [0, 2^32)');
    const n = numberFlag(values, 'n', 1, positiveInt, 'an integer ≥ 1');
    const tokenizer = await ModelTokenizer.load(src);
    const ids = promptIds(tokenizer, values.prompt, values.chat === true);
    const completions = await withModel(values, src, async (model) => {
      const eosTokenIds = [...new Set([...model.config.eosTokenIds, ...tokenizer.eosTokenIds])];
      const validVocab = Math.min(model.config.vocabSize, tokenizer.vocabSize);
      const start = performance.now();
      const result = await generateIds(model, [ids], { maxNewTokens, temperature, topP, topK, minP, seed, n, eosTokenIds, validVocab });
      const seconds = (performance.now() - start) / 1000;
      const tokens = result.reduce((a, c) => a + c.ids.length, 0);
      log(`${tokens} tokens in ${seconds.toFixed(2)} s (${(tokens / seconds).toFixed(1)} tokens/s)`);
      return result;
    });
    const rows = completions.map((c) => ({ text: tokenizer.decode(c.ids, { skipSpecialTokens: true }), ids: c.ids, finish_reason: c.finishReason }));
    output(values, { prompt_ids: ids, completions: rows }, rows.map((r) => r.text).join('\n---\n'));
  },
};
