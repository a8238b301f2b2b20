// `npm run demo`: the quick start's main job until GRPO lands. Makes a small random Qwen2-style
// model with a character tokenizer in exact Hugging Face layout, then runs the real CLI on it:
// info, chat generation (sampled on the GPU, seeded), and scoring against the float64 reference.

import { execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadCpuWeights } from '../src/model/weights.ts';
import { openSource } from '../src/model/source.ts';
import { referenceScore } from '../src/model/reference.ts';
import { writeRandomModel } from '../src/model/random.ts';
import { charTokenizerFiles } from '../src/tokenizer/index.ts';

const dir = join('.cache', 'demo-model');
mkdirSync(dir, { recursive: true });
const alphabet = ' \n0123456789+-*/=.,?abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ';
const { tokenizerJson, tokenizerConfig } = charTokenizerFiles(alphabet);
const vocabSize = alphabet.length + 3;
writeRandomModel(dir, {
  architecture: 'qwen2', dtype: 'BF16', tied: true, hiddenSize: 128, numLayers: 2, numHeads: 4, numKvHeads: 2,
  intermediateSize: 256, vocabSize, seed: 7, eosTokenId: alphabet.length + 2,
});
writeFileSync(join(dir, 'tokenizer.json'), JSON.stringify(tokenizerJson));
writeFileSync(join(dir, 'tokenizer_config.json'), JSON.stringify(tokenizerConfig));

const cli = (...args: string[]) => {
  console.log(`\n$ npx webgrpo ${args.join(' ')}`);
  const out = execFileSync(process.execPath, ['bin/webgrpo.mjs', ...args], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] });
  process.stdout.write(out);
  return out;
};

cli('info', '--model', dir);
cli('generate', '--model', dir, '--prompt', 'What is 12+7?', '--chat', '--max-new-tokens', '24', '--n', '2', '--seed', '1');
const text = 'what is 2+2? 4.';
const scored = JSON.parse(cli('score', '--model', dir, '--text', text, '--json').trim().split('\n').pop()!);
const cpu = await loadCpuWeights(openSource(dir));
const ids = text.split('').map((c) => alphabet.indexOf(c));
const want = referenceScore(cpu.config, cpu.tensors, ids);
const worst = Math.max(...want.logprobs.map((lp, i) => Math.abs(lp - scored.logprobs[i])));
console.log(`\nWebGPU vs float64 reference: max |Δ logprob| = ${worst.toExponential(2)} over ${ids.length - 1} positions`);
console.log('(The model is random: its text is noise. GRPO training of the built-in tiny model comes next.)');
