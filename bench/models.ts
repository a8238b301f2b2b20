// The model the decode and GRPO benches run: a random BF16 model of Qwen2.5-0.5B's shape (its real
// config), or a small one with `--small` (so every part of the bench runs on a CPU adapter), with
// a character tokenizer so that `webgrpo train` can use it too.

import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { charTokenizerFiles } from '../src/io/char-tokenizer.ts';
import { writeRandomModel } from '../src/model/random-model.ts';

const QWEN25_05B = { hiddenSize: 896, numLayers: 24, numHeads: 14, numKvHeads: 2, intermediateSize: 4864, vocabSize: 151936 };
const SMALL = { hiddenSize: 128, numLayers: 4, numHeads: 4, numKvHeads: 2, intermediateSize: 384, vocabSize: 8192 };

/** What the prompts of the GRPO bench are written in (each character is one token). */
export const PROMPT_ALPHABET = '0123456789+-*=,. abcdefghijklmnopqrstuvwxyz?\n';

export function benchModelName(small: boolean): string {
  return small ? 'small-qwen2-shape' : 'qwen2.5-0.5b-shape';
}

/**
 * Write the bench model into `dir`; returns its layer count. The tokenizer has one token per
 * character of a large alphabet, so that a random model rarely samples its eos token and
 * completions run to their length limit, as in a timed GRPO step.
 */
export function writeBenchModel(dir: string, small: boolean): number {
  const shape = small ? SMALL : QWEN25_05B;
  let alphabet = PROMPT_ALPHABET;
  // CJK ideographs: one code point each, none in the prompt alphabet.
  for (let c = 0x4e00; alphabet.length < shape.vocabSize / 4; c++) alphabet += String.fromCodePoint(c);
  const { tokenizerJson, tokenizerConfig } = charTokenizerFiles(alphabet);
  writeRandomModel(dir, {
    architecture: 'qwen2',
    dtype: 'BF16',
    tied: true,
    ...shape,
    maxPositionEmbeddings: 4096,
    eosTokenId: alphabet.length + 2, // <|im_end|>, the tokenizer's eos
    distribution: 'uniform',
    seed: 1,
  });
  writeFileSync(join(dir, 'tokenizer.json'), JSON.stringify(tokenizerJson));
  writeFileSync(join(dir, 'tokenizer_config.json'), JSON.stringify(tokenizerConfig));
  return shape.numLayers;
}
