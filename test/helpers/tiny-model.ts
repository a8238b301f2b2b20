// A tiny random Llama model with the built-in arithmetic task's character tokenizer and chat
// template, written as a Hugging Face folder: small enough that `webgrpo train` runs in seconds.
// `shape` overrides the random model's options (more layers, another architecture or size).

import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ARITHMETIC_ALPHABET, TINY_ARITH_CHAT_TEMPLATE } from '../../src/data/arithmetic.ts';
import { charTokenizerFiles } from '../../src/io/char-tokenizer.ts';
import type { ModelConfig } from '../../src/model/types.ts';
import { type RandomModelOptions, writeRandomModel } from '../../src/model/random-model.ts';

export function writeTinyArithmeticModel(dir: string, seed = 2, shape: Partial<RandomModelOptions> = {}): ModelConfig {
  mkdirSync(dir, { recursive: true });
  const { tokenizerJson, tokenizerConfig } = charTokenizerFiles(ARITHMETIC_ALPHABET);
  Object.assign(tokenizerConfig, { chat_template: TINY_ARITH_CHAT_TEMPLATE });
  const config = writeRandomModel(dir, {
    architecture: 'llama',
    dtype: 'F32',
    tied: true,
    hiddenSize: 32,
    numLayers: 1,
    numHeads: 4,
    numKvHeads: 2,
    intermediateSize: 48,
    vocabSize: ARITHMETIC_ALPHABET.length + 3,
    eosTokenId: ARITHMETIC_ALPHABET.length + 2,
    seed,
    ...shape,
  });
  writeFileSync(join(dir, 'tokenizer.json'), JSON.stringify(tokenizerJson));
  writeFileSync(join(dir, 'tokenizer_config.json'), JSON.stringify(tokenizerConfig));
  return config;
}
