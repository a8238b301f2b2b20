// `webgrpo train --resume` continues a run exactly as if it had not stopped.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawn, spawnSync } from 'node:child_process';
import { writeTinyArithmeticModel } from './helpers/tiny-model.ts';

function webgrpo(args: string[]) {
  const res = spawnSync(process.execPath, ['bin/webgrpo.mjs', ...args], { encoding: 'utf8' });
  assert.equal(res.status, 0, res.stderr);
  return res;
}

/** A tiny random arithmetic model, a reward module, and the flags of a short deterministic run. */
function setup(prefix: string) {
  const root = mkdtempSync(join(tmpdir(), prefix));
  const modelDir = join(root, 'model');
  writeTinyArithmeticModel(modelDir);
  const reward = join(root, 'spaces.mjs');
  writeFileSync(reward, "export default (completion) => [...completion].filter((c) => c === ' ').length;\n");
  const flags = (out: string) => [
    'train',
    '--model',
    modelDir,
    '--out',
    out,
    '--reward-module',
    reward,
    '--steps',
    '3',
    '--save-every',
    '1',
    '--prompts-per-step',
    '2',
    '--num-generations',
    '2',
    '--max-completion-length',
    '8',
    '--eval-problems',
    '2',
    '--eval-samples',
    '2',
    '--eval-every',
    '2',
    '--lora-r',
    '2',
    '--seed',
    '3',
    // The adaptive entropy controller's state must survive too: with a target above any entropy of
    // this model its coefficient rises 0.005 per step and is applied from step 2 on.
    '--use-adaptive-entropy',
    '--entropy-target',
    '100',
  ];
  return { root, flags };
}

const adapterBytes = (run: string) => readFileSync(join(run, 'adapter', 'adapter_model.safetensors'));

test('resume from a checkpoint equals the uninterrupted run (adapter, optimizer, data cursor, adaptive entropy, logs)', () => {
  const { root, flags } = setup('webgrpo-resume-');
  const straight = join(root, 'straight');
  webgrpo(flags(straight));
  const resumed = join(root, 'resumed');
  webgrpo(flags(resumed));
  // Pretend the second run stopped right after its first checkpoint.
  for (const name of ['checkpoint-2', 'checkpoint-3', 'adapter']) rmSync(join(resumed, name), { recursive: true, force: true });
  const out = webgrpo(['train', '--resume', resumed]);
  assert.match(out.stderr, /resuming .* from .*checkpoint-1 \(step 1\)/);
  assert.ok(adapterBytes(straight).equals(adapterBytes(resumed)), 'final adapters are identical');
  const lines = (run: string, file: string) =>
    readFileSync(join(run, file), 'utf8')
      .trim()
      .split('\n')
      .map((l) => {
        // Wall-clock seconds differ from run to run: step_time and the timing/* breakdown.
        const { step_time: _, ...rest } = JSON.parse(l);
        return Object.fromEntries(Object.entries(rest).filter(([k]) => !k.startsWith('timing/'))) as Record<string, number>;
      });
  assert.deepEqual(lines(resumed, 'metrics.jsonl'), lines(straight, 'metrics.jsonl'));
  const coefs = lines(straight, 'metrics.jsonl')
    .filter((m) => m.entropy_coef !== undefined)
    .map((m) => m.entropy_coef);
  assert.equal(coefs.length, 3);
  coefs.forEach((c, i) => assert.ok(Math.abs(c - 0.005 * (i + 1)) < 1e-12, `entropy_coef after step ${i + 1}: ${c}`));
  assert.deepEqual(JSON.parse(readFileSync(join(resumed, 'checkpoint-1', 'trainer_state.json'), 'utf8')).adaptiveEntropy.coef, 0.005);
  assert.deepEqual(lines(resumed, 'rollouts.jsonl'), lines(straight, 'rollouts.jsonl'));
  // Three step lines and one held-out evaluation line (after step 2).
  assert.equal(lines(straight, 'metrics.jsonl').length, 4);
  assert.deepEqual(Object.keys(lines(straight, 'metrics.jsonl')[2]), ['step', 'eval/pass@1', 'eval/pass@2']);
  assert.ok(
    lines(straight, 'metrics.jsonl').some((m) => m.grad_norm > 0),
    'the adapter actually trains',
  );
  assert.ok(
    JSON.parse(readFileSync(join(resumed, 'summary.json'), 'utf8')).before['pass@1'] !== undefined,
    'the resumed run keeps its before-training evaluation',
  );
});

test('--resume refuses other options and runs without checkpoints', () => {
  const root = mkdtempSync(join(tmpdir(), 'webgrpo-resume-bad-'));
  const a = spawnSync(process.execPath, ['bin/webgrpo.mjs', 'train', '--resume', root, '--steps', '5'], { encoding: 'utf8' });
  assert.equal(a.status, 2);
  assert.match(a.stderr, /--resume takes no other options/);
  writeFileSync(join(root, 'config.json'), JSON.stringify({ argv: ['--steps', '1'] }));
  const b = spawnSync(process.execPath, ['bin/webgrpo.mjs', 'train', '--resume', root], { encoding: 'utf8' });
  assert.equal(b.status, 2);
  assert.match(b.stderr, /has no checkpoint to resume from/);
});

test('Ctrl-C saves a checkpoint after the current step; --resume then finishes as the uninterrupted run', async () => {
  const { root, flags } = setup('webgrpo-sigint-');
  const straight = join(root, 'straight');
  webgrpo(flags(straight));
  const run = join(root, 'interrupted');
  const args = flags(run).filter((a, i, all) => a !== '--save-every' && all[i - 1] !== '--save-every');
  const child = spawn(process.execPath, ['bin/webgrpo.mjs', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  child.stderr.on('data', (chunk: Buffer) => {
    const before = stderr;
    stderr += chunk.toString();
    // Interrupt once the first step is logged: the checkpoint comes after the step in flight.
    if (!/step 1\/3/.test(before) && /step 1\/3/.test(stderr)) child.kill('SIGINT');
  });
  assert.equal(await exited, 130, stderr);
  assert.match(stderr, /interrupt: saving a checkpoint after this step/);
  const saved = /saved (.*checkpoint-(\d+)); continue with: webgrpo train --resume /.exec(stderr);
  assert.ok(saved, stderr);
  assert.ok([2, 3].includes(Number(saved[2])), `a checkpoint after the step in flight, got ${saved[2]}`);
  const out = webgrpo(['train', '--resume', run]);
  assert.match(out.stderr, new RegExp(`resuming .* \\(step ${saved[2]}\\)`));
  assert.ok(adapterBytes(straight).equals(adapterBytes(run)), 'the interrupted and resumed run ends with the same adapter');
});
