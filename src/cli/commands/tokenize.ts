// webgrpo tokenize: the ids of a text (with the tokenizer's special tokens, as transformers'
// tokenizer(text)) or of it as a chat turn, under the model's tokenizer.

import { ModelTokenizer } from '../../io/tokenizer.ts';
import { MODEL_OPTIONS, output, UsageError, type Command } from '../flags.ts';
import { modelSource, promptIds } from '../model.ts';

export const tokenize: Command = {
  usage: 'tokenize  --model <dir|hf:repo> --text "…" [--chat | --no-special-tokens] [--json]',
  options: { ...MODEL_OPTIONS, text: { type: 'string' }, chat: { type: 'boolean', default: false }, 'special-tokens': { type: 'boolean', default: true } },
  async run(values) {
    const src = modelSource(values);
    if (typeof values.text !== 'string') throw new UsageError('tokenize needs --text.');
    const noSpecial = values['special-tokens'] === false;
    if (noSpecial && values.chat === true) throw new UsageError('--no-special-tokens is for plain text; a --chat render holds its special tokens already.');
    const ids = promptIds(await ModelTokenizer.load(src), values.text, values.chat === true, { addSpecialTokens: !noSpecial });
    output(values, { ids }, ids.join(' '));
  },
};
