// Defaults that run: a dataset file without eval_dataset holds out 5% when it has ≥ 200 rows (else
// evaluates on its first rows), each with a note; a model without a chat template trains on plain
// prompts with a notice; sft's old flag spellings still work with a deprecation note.

import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { defaultRunConfig, type RunConfig } from '../src/rl/run-config.ts';
import { HOLD_OUT_MIN_ROWS, openRunData, promptFormat, promptNotice } from '../src/rl/run.ts';

const root = mkdtempSync(join(tmpdir(), 'webgrpo-defaults-'));
after(() => rmSync(root, { recursive: true, force: true }));

function file(rows: number): string {
  const path = join(root, `sums-${rows}.jsonl`);
  writeFileSync(path, Array.from({ length: rows }, (_, i) => JSON.stringify({ question: `${i}+1`, answer: String(i + 1) })).join('\n'));
  return path;
}
const withData = (data: RunConfig['data'], more: Partial<RunConfig> = {}): RunConfig => ({ ...defaultRunConfig(), data, ...more });

test(`a file of ≥ ${HOLD_OUT_MIN_ROWS} rows holds out 5% (seeded, at most 64), left out of training, with a note`, async () => {
  const cfg = withData({ kind: 'upload', fileName: file(250) });
  const data = await openRunData(cfg);
  assert.equal(data.heldOut.length, 12, '5% of 250, rounded down');
  assert.equal(data.sources.length, 1);
  assert.equal(data.sources[0].size, 238);
  const train = new Set(data.sources[0].problems!.map((p) => p.question));
  assert.ok(
    data.heldOut.every((p) => !train.has(p.question)),
    'no held-out problem is trained on',
  );
  const order = data.heldOut.map((p) => Number(p.question.split('+')[0]));
  assert.deepEqual(
    order,
    [...order].sort((a, b) => a - b),
    'in file order',
  );
  assert.notDeepEqual(
    order,
    Array.from({ length: 12 }, (_, i) => i),
    'not simply the first rows',
  );
  assert.match(data.heldOutNote ?? '', /no held-out split given .*12 of the 250 rows .*5%, seeded.*left out of training/);
  // The same seed, the same split; another seed, another one.
  assert.deepEqual((await openRunData(cfg)).heldOut, data.heldOut);
  const other = await openRunData({ ...cfg, grpo: { ...cfg.grpo, seed: 1 } });
  assert.notDeepEqual(other.heldOut, data.heldOut);
  // Capped at 64 and at eval_problems.
  assert.equal((await openRunData(withData({ kind: 'upload', fileName: file(2000) }))).heldOut.length, 64);
  assert.equal((await openRunData(withData({ kind: 'upload', fileName: file(2000) }, { evalProblems: 8 }))).heldOut.length, 8);
});

test('a smaller file, a one-shot problem and an eval_dataset', async () => {
  const small = await openRunData(withData({ kind: 'upload', fileName: file(50) }));
  assert.equal(small.heldOut.length, 50);
  assert.equal(small.sources[0].size, 50, 'nothing left out');
  assert.match(small.heldOutNote ?? '', /no held-out split: pass@k is measured on the first 50 training rows .*50 rows, under 200/);
  const oneShot = await openRunData(withData({ kind: 'one-shot', question: '2+2', answer: '4' }));
  assert.match(oneShot.heldOutNote ?? '', /no held-out split.*one training problem/);
  const given = await openRunData(withData({ kind: 'upload', fileName: file(250) }, { evalDataset: file(30) }));
  assert.equal(given.heldOutNote, null);
  assert.equal(given.sources[0].size, 250);
  assert.equal(given.heldOut.length, 30);
});

test('a model without a chat template: plain prompts and a notice instead of an error', () => {
  const cfg = defaultRunConfig();
  assert.equal(promptFormat(cfg, { hasChatTemplate: false }).plain, true);
  assert.match(promptNotice(cfg, { hasChatTemplate: false }) ?? '', /no chat template.*plain text/);
  assert.equal(promptFormat(cfg, { hasChatTemplate: true }).plain, false);
  assert.equal(promptNotice(cfg, { hasChatTemplate: true }), null);
  assert.equal(promptNotice({ ...cfg, plainPrompt: true }, { hasChatTemplate: false }), null, 'asked for plain: nothing to say');
});

test('sft: --lr-scheduler and --grad-accum are old spellings of --lr-scheduler-type and --gradient-accumulation-steps', () => {
  const sft = (...flags: string[]) =>
    spawnSync(process.execPath, ['bin/webgrpo.mjs', 'sft', '--model', 'public/models/tiny-arith', '--data', file(3), '--out', join(root, 'sft'), ...flags], {
      encoding: 'utf8',
    });
  const old = sft('--lr-scheduler', 'bogus');
  assert.equal(old.status, 2);
  assert.match(old.stderr, /--lr-scheduler is deprecated, use --lr-scheduler-type/);
  assert.match(old.stderr, /--lr-scheduler-type must be one of .*got "bogus"/);
  const both = sft('--lr-scheduler', 'linear', '--lr-scheduler-type', 'cosine');
  assert.equal(both.status, 2);
  assert.match(both.stderr, /Give --lr-scheduler-type, not both/);
  const accum = sft('--grad-accum', '0');
  assert.match(accum.stderr, /--grad-accum is deprecated/);
  assert.match(accum.stderr, /--gradient-accumulation-steps must be an integer ≥ 1, got "0"/);
  const lr = sft('--learning-rate', '0');
  assert.match(lr.stderr, /--learning-rate must be a positive number/);
});
