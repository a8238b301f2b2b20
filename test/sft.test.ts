// `webgrpo sft`: one SGD step moves every LoRA tensor by −lr × the true gradient of the mean
// completion-token NLL (checked against central finite differences of the float64 reference),
// and bad datasets fail by line number.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import { referenceScore, type CpuAdapter } from '../src/model/reference.ts';
import { openSource } from '../src/io/source.ts';
import { loadCpuWeights } from '../src/model/weights.ts';
import { writeRandomModel } from '../src/model/random-model.ts';
import { parseSafetensors, toFloat32 } from '../src/io/safetensors.ts';
import { charTokenizerFiles, ModelTokenizer } from '../src/io/tokenizer.ts';
import { peftKey, writePeftAdapter } from './helpers/peft.ts';
import { partialDerivative } from './helpers/finite-diff.ts';

const alphabet = '0123456789+=? abcdefghijklmnopqrstuvwxyz\n';
const modules = ['q_proj', 'v_proj', 'down_proj'] as const;
const r = 2,
  alpha = 4,
  lr = 0.05;

function webgrpo(args: string[]) {
  return spawnSync(process.execPath, ['bin/webgrpo.mjs', ...args], { encoding: 'utf8' });
}

function makeModel(root: string) {
  const modelDir = join(root, 'model');
  mkdirSync(modelDir);
  const { tokenizerJson, tokenizerConfig } = charTokenizerFiles(alphabet);
  const config = writeRandomModel(modelDir, {
    architecture: 'qwen2',
    dtype: 'F32',
    tied: true,
    hiddenSize: 32,
    numLayers: 2,
    numHeads: 4,
    numKvHeads: 2,
    intermediateSize: 48,
    vocabSize: alphabet.length + 3,
    seed: 5,
  });
  writeFileSync(join(modelDir, 'tokenizer.json'), JSON.stringify(tokenizerJson));
  writeFileSync(join(modelDir, 'tokenizer_config.json'), JSON.stringify(tokenizerConfig));
  return { modelDir, config, tokenizer: ModelTokenizer.fromJson(tokenizerJson, tokenizerConfig) };
}

test('one SGD step of webgrpo sft moves the adapter by −lr × the true gradient', async () => {
  const root = mkdtempSync(join(tmpdir(), 'webgrpo-sft-'));
  const { modelDir, config, tokenizer } = makeModel(root);
  // An initial adapter with non-zero B, written in PEFT format by hand.
  const adapterDir = join(root, 'init-adapter');
  writePeftAdapter(adapterDir, { layers: config.numLayers, dims: { q_proj: [32, 32], v_proj: [32, 16], down_proj: [48, 32] }, r, alpha, seed: 1 });
  const rows = [
    { prompt: 'what is 12+7? ', completion: '19' },
    { prompt: 'what is 3+4? ', completion: 'it is 7' },
    { prompt: '5+5=', completion: '10' },
  ];
  const data = join(root, 'data.jsonl');
  writeFileSync(data, `${rows.map((x) => JSON.stringify(x)).join('\n')}\n`);
  const run = join(root, 'run');
  const result = webgrpo([
    'sft',
    '--model',
    modelDir,
    '--data',
    data,
    '--out',
    run,
    '--optimizer',
    'sgd',
    '--lr',
    String(lr),
    '--max-grad-norm',
    '0',
    '--steps',
    '1',
    '--batch-size',
    '3',
    '--init-adapter',
    adapterDir,
    '--lr-scheduler-type',
    'constant',
  ]);
  assert.equal(result.status, 0, result.stderr);
  const metrics = readFileSync(join(run, 'metrics.jsonl'), 'utf8')
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l));
  assert.equal(metrics.length, 1);

  const before = parseSafetensors(readFileSync(join(adapterDir, 'adapter_model.safetensors')), 'init').tensors;
  const after = parseSafetensors(readFileSync(join(run, 'adapter', 'adapter_model.safetensors')), 'trained').tensors;
  const names = [...before.keys()].sort();
  assert.deepEqual([...after.keys()].sort(), names);
  const step = names.map((n) => {
    const a = toFloat32(before.get(n)!),
      b = toFloat32(after.get(n)!);
    return Float64Array.from(a, (v, i) => (v - b[i]) / lr);
  });

  // Independent check: the float64 reference loss and central finite differences.
  const cpu = await loadCpuWeights(openSource(modelDir));
  const examples = rows.map((row) => {
    const p = tokenizer.encode(row.prompt),
      c = tokenizer.encode(row.completion);
    return { ids: [...p, ...c], first: p.length };
  });
  const totalTokens = examples.reduce((a, e) => a + e.ids.length - e.first, 0);
  const values = names.map((n) => Float64Array.from(toFloat32(before.get(n)!)));
  const loss = (): number => {
    const adapter: CpuAdapter = new Map();
    for (let layer = 0; layer < config.numLayers; layer++) {
      for (const module of modules) {
        const key = peftKey(layer, module);
        adapter.set(`${layer}.${module}`, {
          A: values[names.indexOf(`${key}.lora_A.weight`)],
          B: values[names.indexOf(`${key}.lora_B.weight`)],
          r,
          scale: alpha / r,
        });
      }
    }
    let nll = 0;
    for (const e of examples) {
      const { logprobs } = referenceScore(cpu.config, cpu.tensors, e.ids, 1, adapter);
      for (let t = e.first - 1; t < logprobs.length; t++) nll -= logprobs[t];
    }
    return nll / totalTokens;
  };
  const eps = 1e-5;
  let diff2 = 0,
    norm2 = 0;
  values.forEach((tensor, k) => {
    for (let j = 0; j < tensor.length; j++) {
      const fd = partialDerivative(loss, tensor, j, eps);
      diff2 += (step[k][j] - fd) ** 2;
      norm2 += fd ** 2;
    }
  });
  const relative = Math.sqrt(diff2 / norm2);
  assert.ok(norm2 > 1e-4, 'the gradient is not trivially small');
  assert.ok(relative <= 1e-3, `relative error of the update vs −lr·∇L: ${relative}`);
  assert.ok(Math.abs(metrics[0].loss - loss()) < 1e-4, `logged loss ${metrics[0].loss} vs reference ${loss()}`);

  // webgrpo merge: the merged f32 model scores like the base model with the trained adapter.
  const merged = join(root, 'merged');
  const m = webgrpo(['merge', '--model', modelDir, '--adapter', join(run, 'adapter'), '--out', merged, '--dtype', 'f32']);
  assert.equal(m.status, 0, m.stderr);
  const text = 'what is 2+2? 4';
  const scoreOf = (args: string[]) => {
    const res = webgrpo(['score', '--text', text, '--json', ...args]);
    assert.equal(res.status, 0, res.stderr);
    return JSON.parse(res.stdout.trim().split('\n').pop()!).logprobs as number[];
  };
  const withAdapter = scoreOf(['--model', modelDir, '--adapter', join(run, 'adapter')]);
  const mergedScores = scoreOf(['--model', merged]);
  withAdapter.forEach((lp, t) => assert.ok(Math.abs(lp - mergedScores[t]) < 1e-4, `position ${t}: ${lp} vs merged ${mergedScores[t]}`));
});

test('sft reports malformed rows by line number and refuses an empty dataset', () => {
  const root = mkdtempSync(join(tmpdir(), 'webgrpo-sft-bad-'));
  const { modelDir } = makeModel(root);
  const bad = join(root, 'bad.jsonl');
  writeFileSync(bad, '{"prompt": "1+1=", "completion": "2"}\n{"prompt": "x"}\nnot json\n');
  const r1 = webgrpo(['sft', '--model', modelDir, '--data', bad, '--out', join(root, 'r1')]);
  assert.notEqual(r1.status, 0);
  assert.match(r1.stderr, /line 3/);
  writeFileSync(bad, '{"prompt": "1+1=", "completion": "2"}\n{"prompt": "x"}\n');
  const r2 = webgrpo(['sft', '--model', modelDir, '--data', bad, '--out', join(root, 'r2')]);
  assert.notEqual(r2.status, 0);
  assert.match(r2.stderr, /line 2: needs string fields "prompt" and "completion"/);
  const empty = join(root, 'empty.jsonl');
  writeFileSync(empty, '\n');
  const r3 = webgrpo(['sft', '--model', modelDir, '--data', empty, '--out', join(root, 'r3')]);
  assert.notEqual(r3.status, 0);
  assert.match(r3.stderr, /the dataset is empty/);
});

test('webgrpo sft --full moves every kind of weight by −lr × the true gradient and writes a loadable model', async () => {
  const root = mkdtempSync(join(tmpdir(), 'webgrpo-sft-full-'));
  const { modelDir, tokenizer } = makeModel(root);
  const rows = [
    { prompt: 'what is 1+2? ', completion: '3' },
    { prompt: '4+4=', completion: 'it is 8' },
  ];
  const data = join(root, 'data.jsonl');
  writeFileSync(data, rows.map((x) => JSON.stringify(x)).join('\n'));
  const run = join(root, 'run');
  const result = webgrpo([
    'sft',
    '--full',
    '--model',
    modelDir,
    '--data',
    data,
    '--out',
    run,
    '--optimizer',
    'sgd',
    '--lr',
    String(lr),
    '--max-grad-norm',
    '0',
    '--steps',
    '1',
    '--batch-size',
    '2',
    '--lr-scheduler-type',
    'constant',
  ]);
  assert.equal(result.status, 0, result.stderr);
  const before = await loadCpuWeights(openSource(modelDir));
  const after = await loadCpuWeights(openSource(join(run, 'model')));
  assert.ok(readFileSync(join(run, 'model', 'tokenizer.json'), 'utf8').length > 0, 'tokenizer copied');
  const tensors = new Map([...before.tensors].map(([k, t]) => [k, { shape: t.shape, data: Float64Array.from(t.data) }]));
  const examples = rows.map((row) => {
    const p = tokenizer.encode(row.prompt),
      c = tokenizer.encode(row.completion);
    return { ids: [...p, ...c], first: p.length };
  });
  const totalTokens = examples.reduce((a, e) => a + e.ids.length - e.first, 0);
  const loss = () => {
    let nll = 0;
    for (const e of examples) {
      const { logprobs } = referenceScore(before.config, tensors, e.ids, 1);
      for (let t = e.first - 1; t < logprobs.length; t++) nll -= logprobs[t];
    }
    return nll / totalTokens;
  };
  const eps = 1e-4;
  let worst = 0,
    scale = 0;
  for (const name of [
    'model.embed_tokens.weight',
    'model.norm.weight',
    'model.layers.0.self_attn.q_proj.bias',
    'model.layers.1.mlp.down_proj.weight',
    'model.layers.0.input_layernorm.weight',
  ]) {
    const values = tensors.get(name)!.data;
    const moved = after.tensors.get(name)!.data;
    for (const j of [0, Math.floor(values.length / 3), values.length - 1]) {
      const v = values[j];
      const fd = partialDerivative(loss, values, j, eps);
      worst = Math.max(worst, Math.abs((v - moved[j]) / lr - fd));
      scale = Math.max(scale, Math.abs(fd));
    }
  }
  assert.ok(scale > 1e-3, `gradients are informative (${scale})`);
  assert.ok(worst <= 1e-3 * Math.max(scale, 1e-2), `worst error ${worst} at scale ${scale}`);
});
