// A run of each data kind (built-in generator, one-shot problem, a dataset file with its own column
// names, a Hub dataset) trained by `webgrpo train`: its config.json records the real data source,
// `--resume` reads it back, and `webgrpo export-trl` turns it into a TRL script that compiles.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawn, spawnSync } from 'node:child_process';
import { parquetWriteBuffer } from 'hyparquet-writer';
import { runConfigFromJson } from '../src/rl/run-config.ts';
import { startHubServer, type HubServer } from './helpers/hub-server.ts';
import { writeTinyArithmeticModel } from './helpers/tiny-model.ts';

const python = spawnSync('python3', ['--version']).status === 0;
const root = mkdtempSync(join(tmpdir(), 'webgrpo-run-kinds-'));
const modelDir = join(root, 'model');
let hub: HubServer;

before(async () => {
  writeTinyArithmeticModel(modelDir);
  const rows = [
    { question: '12+30', answer: '42' },
    { question: '5+7', answer: '12' },
    { question: '20+21', answer: '41' },
  ];
  const parquet = parquetWriteBuffer({
    columnData: [
      { name: 'question', data: rows.map((r) => r.question), type: 'STRING' },
      { name: 'answer', data: rows.map((r) => r.answer), type: 'STRING' },
    ],
  });
  const dataset = join(root, 'hub', 'default', 'train');
  mkdirSync(dataset, { recursive: true });
  writeFileSync(join(dataset, '0000.parquet'), new Uint8Array(parquet));
  writeFileSync(join(root, 'sums.jsonl'), rows.map((r) => JSON.stringify({ q: r.question, gold: r.answer })).join('\n'));
  hub = await startHubServer({ 'datasets/test/sums': join(root, 'hub') });
});
after(() => hub.close());

/** Run the CLI without blocking this process, which serves the local Hub. */
async function webgrpo(args: string[]): Promise<void> {
  const child = spawn(process.execPath, ['bin/webgrpo.mjs', ...args], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const code = await new Promise<number | null>((resolve) => child.on('exit', resolve));
  assert.equal(code, 0, `webgrpo ${args.join(' ')}:\n${stderr}`);
}

const KINDS: Record<string, { flags: string[]; data: unknown; script: RegExp }> = {
  builtin: { flags: ['--dataset', 'arithmetic:1'], data: { kind: 'builtin', spec: 'arithmetic:1' }, script: /arithmetic_problem\(1, rng\)/ },
  'one-shot': {
    flags: ['--one-shot-problem', '12+30', '--one-shot-answer', '42'],
    data: { kind: 'one-shot', question: '12+30', answer: '42' },
    script: /ONE_SHOT_PROBLEM = "12\+30"/,
  },
  file: {
    flags: ['--dataset', join(root, 'sums.jsonl'), '--question-field', 'q', '--answer-field', 'gold'],
    data: { kind: 'upload', fileName: join(root, 'sums.jsonl'), questionField: 'q', answerField: 'gold' },
    script: /raw = raw\.map\(lambda row: \{"question": row\["q"\], "answer": row\["gold"\]\}\)/,
  },
  hub: {
    flags: ['--dataset', 'hf:test/sums:default:train'],
    data: { kind: 'hub', spec: 'hf:test/sums:default:train' },
    script: /load_dataset\("test\/sums", split="train"\)/,
  },
};

for (const [kind, { flags, data, script }] of Object.entries(KINDS)) {
  test(`a ${kind} run records its data source, and its TRL export compiles`, async (t) => {
    const run = join(root, `run-${kind}`);
    await webgrpo([
      'train',
      '--model',
      modelDir,
      '--out',
      run,
      ...flags,
      '--hub-endpoint',
      hub.endpoint,
      '--cache-dir',
      join(root, 'cache'),
      '--steps',
      '1',
      '--prompts-per-step',
      '2',
      '--num-generations',
      '2',
      '--max-completion-length',
      '4',
      '--eval-problems',
      '2',
      '--eval-samples',
      '1',
      '--lora-r',
      '2',
      '--save-every',
      '1',
    ]);
    const json = JSON.parse(readFileSync(join(run, 'config.json'), 'utf8'));
    assert.deepEqual(json.data, data);
    assert.equal(json.max_steps, 1);
    assert.deepEqual(json.lora, {
      r: 2,
      lora_alpha: 32,
      lora_dropout: 0,
      use_rslora: false,
      target_modules: ['q_proj', 'k_proj', 'v_proj', 'o_proj', 'gate_proj', 'up_proj', 'down_proj'],
    });
    assert.deepEqual(runConfigFromJson(json).data, data, 'the config reads back as written');
    await webgrpo(['export-trl', run]);
    const exported = readFileSync(join(run, 'train_trl.py'), 'utf8');
    assert.match(exported, script);
    if (!python) return t.skip('python3 not found on PATH');
    const compiled = spawnSync('python3', ['-m', 'py_compile', join(run, 'train_trl.py')], {
      encoding: 'utf8',
      env: { ...process.env, PYTHONPYCACHEPREFIX: join(root, 'pycache') },
    });
    assert.equal(compiled.status, 0, compiled.stderr);
  });
}
