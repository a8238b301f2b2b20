// The real pretrained checkpoint stories260K (Karpathy's TinyStories, Llama architecture,
// SentencePiece-style byte-fallback BPE) read from ../shared/models/stories260k: tokenization as
// transformers does it, the greedy continuation llama.cpp and llama2.c produce (its README), scores
// against the float64 reference, one SFT and one GRPO step, PEFT export and merge, and bad input.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { openSource } from '../src/io/source.ts';
import { ModelTokenizer } from '../src/io/tokenizer.ts';
import { parseSafetensors, toFloat32 } from '../src/io/safetensors.ts';
import { LanguageModel } from '../src/model/model.ts';
import { loadCpuWeights, loadModel, readModelConfig } from '../src/model/weights.ts';
import { referenceScore, type CpuAdapter } from '../src/model/reference.ts';
import { writeRandomModel } from '../src/model/random-model.ts';
import { LoraAdapter, parsePeftConfig, peftSites } from '../src/lora/adapter.ts';
import { loraScale } from '../src/lora/config.ts';
import { chatPromptIds } from '../src/rl/evaluate.ts';
import { testGpu } from './helpers/gpu.ts';

const MODEL = resolve('../shared/models/stories260k');
const missing = existsSync(join(MODEL, 'model.safetensors')) ? false : `the stories260k checkpoint is not at ${MODEL} (../shared/models/stories260k)`;
const tmp = (tag: string) => mkdtempSync(join(tmpdir(), `webgrpo-s260k-${tag}-`));

// The README's facts (measured with llama2.c and llama.cpp).
const ONCE = [1, 403, 407, 261, 378];
const GREEDY_40 = [
  432, 383, 286, 261, 376, 298, 315, 421, 395, 317, 426, 338, 401, 396, 267, 337, 410, 408, 419, 292, 411, 322, 265, 282, 295, 433, 426, 385, 328, 432, 358,
  394, 261, 370, 432, 352, 266, 268, 388, 426,
];
const GREEDY_TEXT = ', there was a little girl named Lily. She loved to play outside in the park. One day, she saw a big, red ball.';

/** The driver noise bin/webgrpo.mjs keeps off stderr (DESIGN.md §2). */
const NOISE = [/XDG_RUNTIME_DIR is invalid/, /shaderUniform\*ArrayDynamicIndexing/, /While initializing adapter/, /at InitializeImpl/];

function webgrpo(args: string[]) {
  const res = spawnSync(process.execPath, ['bin/webgrpo.mjs', ...args], { encoding: 'utf8' });
  return { status: res.status, stdout: res.stdout, stderr: res.stderr };
}
function ok(args: string[]) {
  const res = webgrpo(args);
  assert.equal(res.status, 0, `webgrpo ${args.join(' ')}\n${res.stderr}`);
  for (const re of NOISE) assert.doesNotMatch(res.stderr, re, `driver noise on stderr of webgrpo ${args[0]}`);
  return res;
}
const lastJson = (stdout: string) => JSON.parse(stdout.trim().split('\n').at(-1)!);
const maxDiff = (a: ArrayLike<number>, b: ArrayLike<number>) => {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
};

/** The adapter folder's LoRA sites for the float64 reference. */
function cpuAdapter(dir: string, config: Awaited<ReturnType<typeof loadCpuWeights>>['config']): CpuAdapter {
  const lora = parsePeftConfig(JSON.parse(readFileSync(join(dir, 'adapter_config.json'), 'utf8')));
  const out: CpuAdapter = new Map();
  const bytes = new Uint8Array(readFileSync(join(dir, 'adapter_model.safetensors')));
  for (const s of peftSites(config, lora, bytes, dir)) {
    out.set(`${s.layer}.${s.module}`, { A: toFloat32(s.A), B: toFloat32(s.B), r: lora.r, scale: loraScale(lora) });
  }
  return out;
}
function loraBNorm(dir: string): number {
  const { tensors } = parseSafetensors(new Uint8Array(readFileSync(join(dir, 'adapter_model.safetensors'))), dir);
  let s = 0;
  for (const [name, e] of tensors) if (name.includes('lora_B')) for (const x of toFloat32(e)) s += x * x;
  return Math.sqrt(s);
}

test('tokenization as transformers does it: BOS from the post-processor, byte fallback, the README examples', { skip: missing }, async () => {
  const tok = await ModelTokenizer.load(openSource(MODEL));
  assert.deepEqual(tok.promptIds('Once upon a time'), ONCE);
  assert.deepEqual(tok.promptIds('Once upon a time', { addSpecialTokens: false }), ONCE.slice(1));
  assert.deepEqual(tok.encode('Once upon a time'), ONCE.slice(1), 'encode alone adds nothing');
  assert.deepEqual(chatPromptIds(tok, 'Once upon a time', { plain: true }), ONCE, 'plain prompts of train/eval get the BOS');
  assert.deepEqual(tok.promptIds(''), [1]);
  // 中 is not a piece: ▁ then its UTF-8 bytes E4 B8 AD as <0xE4> <0xB8> <0xAD> (ids 3 + byte).
  assert.deepEqual(tok.promptIds('中'), [1, 410, 3 + 0xe4, 3 + 0xb8, 3 + 0xad]);
  assert.equal(tok.decode(tok.promptIds('Lily 中 😀'), { skipSpecialTokens: true }), 'Lily 中 😀');
  assert.deepEqual(tok.eosTokenIds, [2]);
  assert.equal(tok.hasChatTemplate, false);
  assert.equal(tok.decode(GREEDY_40), GREEDY_TEXT);

  assert.equal(ok(['tokenize', '--model', MODEL, '--text', 'Once upon a time']).stdout.trim(), ONCE.join(' '));
  assert.equal(ok(['tokenize', '--model', MODEL, '--text', 'Once upon a time', '--no-special-tokens']).stdout.trim(), ONCE.slice(1).join(' '));
});

test('webgrpo generate: the greedy continuation of "Once upon a time" is exactly llama.cpp\'s and llama2.c\'s', { skip: missing }, () => {
  const res = ok(['generate', '--model', MODEL, '--prompt', 'Once upon a time', '--temperature', '0', '--max-new-tokens', '40', '--json']);
  const out = lastJson(res.stdout);
  assert.deepEqual(out.prompt_ids, ONCE);
  assert.deepEqual(out.completions[0].ids, GREEDY_40);
  assert.equal(out.completions[0].text, GREEDY_TEXT);
  assert.equal(ok(['generate', '--model', MODEL, '--prompt', 'Once upon a time', '--temperature', '0', '--max-new-tokens', '40']).stdout.trim(), GREEDY_TEXT);
});

test('scores match the float64 reference (engine and webgrpo score)', { skip: missing }, async () => {
  const gpu = await testGpu();
  const { config, weights } = await loadModel(openSource(MODEL), gpu);
  const cpu = await loadCpuWeights(openSource(MODEL));
  const model = new LanguageModel(gpu, config, weights);
  const ids = [...ONCE, ...GREEDY_40];
  let worst = 0;
  for (const temperature of [1, 0.7]) {
    const got = await model.score(ids, temperature);
    const want = referenceScore(cpu.config, cpu.tensors, ids, temperature);
    const d = Math.max(maxDiff(got.logprobs, want.logprobs), maxDiff(got.entropies, want.entropies));
    worst = Math.max(worst, d);
    assert.ok(d <= 2e-3, `T=${temperature}: max |Δ| ${d} > 2e-3`);
  }
  console.log(`stories260k: max |logprob/entropy diff| vs the float64 reference over ${ids.length} tokens: ${worst.toExponential(2)}`);
  const cli = lastJson(ok(['score', '--model', MODEL, '--text', 'Once upon a time', '--json']).stdout);
  const want = referenceScore(cpu.config, cpu.tensors, ONCE);
  assert.equal(cli.logprobs.length, 4, 'scored with the BOS first');
  assert.ok(maxDiff(cli.logprobs, want.logprobs) <= 2e-3);
});

test('one SFT step and one GRPO step on the real checkpoint; PEFT export then merge scores like base + adapter', { skip: missing }, async () => {
  const root = tmp('train');
  const data = join(root, 'sft.jsonl');
  writeFileSync(
    data,
    `${JSON.stringify({ prompt: 'Once upon a time', completion: ' there was a big dog named Max.' })}\n${JSON.stringify({ prompt: 'Lily saw a cat.', completion: ' The cat was happy.' })}\n`,
  );
  const sft = join(root, 'sft');
  ok(['sft', '--model', MODEL, '--data', data, '--out', sft, '--steps', '2', '--batch-size', '2', '--lr', '1e-2', '--json']);
  const sftMetrics = readFileSync(join(sft, 'metrics.jsonl'), 'utf8')
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l));
  assert.equal(sftMetrics.length, 2);
  for (const m of sftMetrics) assert.ok(Number.isFinite(m.loss) && Number.isFinite(m.grad_norm) && m.loss > 0, JSON.stringify(m));
  assert.ok(loraBNorm(join(sft, 'adapter')) > 0, 'SFT moved the adapter (lora_B starts at zero)');

  const rl = join(root, 'rl.jsonl');
  writeFileSync(rl, `${JSON.stringify({ question: 'Once upon a time', answer: 'Lily' })}\n${JSON.stringify({ question: 'One day, a boy', answer: 'ball' })}\n`);
  const reward = join(root, 'reward.mjs');
  writeFileSync(reward, 'export default (completion) => completion.length / 100;\n');
  const grpo = join(root, 'grpo');
  ok([
    'train',
    '--model',
    MODEL,
    '--dataset',
    rl,
    '--plain-prompt',
    '--reward-module',
    reward,
    '--steps',
    '1',
    '--prompts-per-step',
    '2',
    '--num-generations',
    '4',
    '--max-completion-length',
    '12',
    '--eval-problems',
    '0',
    '--learning-rate',
    '1e-2',
    '--warmup-ratio',
    '0',
    '--out',
    grpo,
    '--json',
  ]);
  const step = JSON.parse(readFileSync(join(grpo, 'metrics.jsonl'), 'utf8').trim().split('\n')[0]);
  for (const k of ['reward', 'loss', 'grad_norm', 'entropy', 'learning_rate']) assert.ok(Number.isFinite(step[k]), `${k} ${step[k]}`);
  assert.ok(step.learning_rate > 0 && step.grad_norm > 0, JSON.stringify(step));
  assert.ok(loraBNorm(join(grpo, 'adapter')) > 0, 'GRPO moved the adapter');
  const rollout = JSON.parse(readFileSync(join(grpo, 'rollouts.jsonl'), 'utf8').split('\n')[0]);
  assert.equal(rollout.prompt_ids[0], 1, 'plain GRPO prompts start with the BOS');
  assert.match(rollout.prompt, /^<s> /);

  // Merge the SFT adapter: the merged model alone scores like base + adapter.
  const merged = join(root, 'merged');
  ok(['merge', '--model', MODEL, '--adapter', join(sft, 'adapter'), '--out', merged, '--dtype', 'f32']);
  const base = await loadCpuWeights(openSource(MODEL));
  const m = await loadCpuWeights(openSource(merged));
  const adapter = cpuAdapter(join(sft, 'adapter'), base.config);
  const ids = [...ONCE, ...GREEDY_40.slice(0, 12)];
  const withAdapter = referenceScore(base.config, base.tensors, ids, 1, adapter);
  const plain = referenceScore(base.config, base.tensors, ids, 1);
  const fromMerged = referenceScore(m.config, m.tensors, ids, 1);
  assert.ok(maxDiff(withAdapter.logprobs, plain.logprobs) > 0.01, 'the adapter changes the scores (test not vacuous)');
  const d = maxDiff(fromMerged.logprobs, withAdapter.logprobs);
  assert.ok(d <= 1e-5, `merged vs base + adapter: max |Δ logprob| ${d}`);
  // And the engine with the adapter agrees with the reference.
  const cli = lastJson(ok(['score', '--model', MODEL, '--adapter', join(sft, 'adapter'), '--ids', ids.join(','), '--json']).stdout);
  assert.ok(maxDiff(cli.logprobs, withAdapter.logprobs) <= 2e-3);
  console.log(`stories260k: merged vs base+adapter max |Δ logprob| ${d.toExponential(2)}`);
});

test('bad input: NaN/Inf weights name the tensor; a missing folder; an adapter for other shapes', { skip: missing }, async () => {
  const gpu = await testGpu();
  for (const [value, name, word] of [
    [Number.NaN, 'model.layers.2.mlp.up_proj.weight', 'NaN'],
    [Number.NEGATIVE_INFINITY, 'model.norm.weight', '-Inf'],
  ] as const) {
    const dir = tmp('bad');
    for (const f of ['config.json', 'generation_config.json', 'tokenizer.json', 'tokenizer_config.json']) copyFileSync(join(MODEL, f), join(dir, f));
    const bytes = new Uint8Array(readFileSync(join(MODEL, 'model.safetensors')));
    const entry = parseSafetensors(bytes, 'model.safetensors').tensors.get(name)!;
    new DataView(bytes.buffer, entry.data.byteOffset + 4 * 7, 4).setFloat32(0, value, true);
    writeFileSync(join(dir, 'model.safetensors'), bytes);
    const re = new RegExp(`tensor '${name.replaceAll('.', '\\.')}' holds ${word} at \\[`);
    await assert.rejects(loadModel(openSource(dir), gpu), re);
    await assert.rejects(loadCpuWeights(openSource(dir)), re);
    const res = webgrpo(['score', '--model', dir, '--text', 'hi']);
    assert.equal(res.status, 1);
    assert.match(res.stderr, re);
  }

  const nowhere = join(tmp('none'), 'no-such-model');
  for (const args of [
    ['tokenize', '--model', nowhere, '--text', 'hi'],
    ['score', '--model', nowhere, '--text', 'hi'],
  ]) {
    const res = webgrpo(args);
    assert.equal(res.status, 1, res.stderr);
    assert.match(res.stderr, new RegExp(`no such model folder: ${nowhere.replaceAll('/', '\\/')} \\(use hf:owner/repo for the Hub\\)`));
  }

  // An adapter trained on stories260k (hidden 64) against a model of hidden 32.
  const root = tmp('adapter');
  const data = join(root, 'sft.jsonl');
  writeFileSync(data, `${JSON.stringify({ prompt: 'Once', completion: ' upon a time' })}\n`);
  ok(['sft', '--model', MODEL, '--data', data, '--out', join(root, 'sft'), '--steps', '1', '--batch-size', '1']);
  const other = join(root, 'other');
  writeRandomModel(other, {
    architecture: 'llama',
    dtype: 'F32',
    tied: true,
    hiddenSize: 32,
    numLayers: 5,
    numHeads: 4,
    numKvHeads: 2,
    intermediateSize: 48,
    vocabSize: 512,
    seed: 3,
  });
  const config = await readModelConfig(openSource(other));
  await assert.rejects(
    LoraAdapter.load(openSource(join(root, 'sft', 'adapter')), gpu, config),
    /tensor 'base_model\.model\.model\.layers\.0\.[\w.]+\.lora_[AB]\.weight' has shape \[.*\] but this model needs/,
  );
  const res = webgrpo(['score', '--model', other, '--adapter', join(root, 'sft', 'adapter'), '--ids', '1,2,3']);
  assert.equal(res.status, 1);
  assert.match(res.stderr, /lora_[AB]\.weight' has shape .* is the adapter for a different base model\?/);
});
