// webgrpo tokenize: the ids of a text (or of it as a chat turn) under the model's tokenizer.

import { ModelTokenizer } from '../../io/tokenizer.ts';
import { MODEL_OPTIONS, output, UsageError, type Command } from '../flags.ts';
import { modelSource, promptIds } from '../model.ts';

export const tokenize: Command = {
  usage: 'tokenize  --model <dir|hf:repo> --text "…" [--chat] [--json]',
  options: { ...MODEL_OPTIONS, text: { type: 'string' }, chat: { type: 'boolean', default: false } },
  async run(values) {
    const src = modelSource(values);
    if (typeof values.text !== 'string') throw new UsageError('tokenize needs --text.');
    const ids = promptIds(await ModelTokenizer.load(src), values.text, values.chat === true);
    output(values, { ids }, ids.join(' '));
  },
};
