// `webgrpo push RUN --repo owner/name` against a local Hub (test/helpers/hub-upload-server.ts):
// what arrives (files, bytes, LFS for the large ones, the model card's front matter and chart), an
// existing repository (uploaded into; refused with --new-repo), 401, 403 and a cut connection, each
// with a clear message, the token never printed and the run folder never touched.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawn } from 'node:child_process';
import { defaultRunConfig, runConfigToJson } from '../src/rl/run-config.ts';
import { modelCard, rewardChartSvg } from '../src/rl/model-card.ts';
import { startHubUploadServer, type HubUploadServer } from './helpers/hub-upload-server.ts';

const TOKEN = 'hf_writeTOKENsecret123';
const READ_TOKEN = 'hf_readONLYsecret456';
const root = mkdtempSync(join(tmpdir(), 'webgrpo-push-'));
const run = join(root, 'run');
let hub: HubUploadServer;

const bytes = (n: number, seed: number) => Uint8Array.from({ length: n }, (_, i) => (i * 31 + seed * 7) % 251);
const sha256 = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');

before(async () => {
  const cfg = { ...defaultRunConfig(), model: { kind: 'hub' as const, repo: 'Qwen/Qwen2.5-0.5B-Instruct' } };
  mkdirSync(join(run, 'adapter'), { recursive: true });
  writeFileSync(join(run, 'config.json'), `${JSON.stringify(runConfigToJson(cfg), null, 2)}\n`);
  writeFileSync(join(run, 'adapter', 'adapter_config.json'), '{"peft_type": "LORA", "r": 16}\n');
  writeFileSync(join(run, 'adapter', 'adapter_model.safetensors'), bytes(3000, 1));
  writeFileSync(join(run, 'model-q8_0.gguf'), bytes(5000, 2));
  const lines = Array.from({ length: 12 }, (_, i) => JSON.stringify({ step: i + 1, reward: 0.1 + i * 0.05, loss: 0.5 }));
  lines.push(JSON.stringify({ step: 12, 'eval/pass@k': { 1: 0.7 } }));
  writeFileSync(join(run, 'metrics.jsonl'), `${lines.join('\n')}\n`);
  writeFileSync(
    join(run, 'summary.json'),
    JSON.stringify({ before: { 'pass@1': 0.25, 'pass@8': 0.5 }, after: { 'pass@1': 0.625, 'pass@8': 0.875 }, steps: 12, seconds: 30 }),
  );
  writeFileSync(join(run, 'rollouts.jsonl'), '{}\n');
  hub = await startHubUploadServer({ writeTokens: [TOKEN], readTokens: [READ_TOKEN] });
});
after(async () => {
  await hub.close();
  rmSync(root, { recursive: true, force: true });
});

/** Every file of the run folder with its bytes' hash and mtime. */
function snapshot(dir: string): Record<string, string> {
  const out: Record<string, string> = {};
  const walk = (d: string, prefix: string) => {
    for (const name of readdirSync(d)) {
      const p = join(d, name);
      const st = statSync(p);
      if (st.isDirectory()) walk(p, `${prefix}${name}/`);
      else out[`${prefix}${name}`] = `${sha256(readFileSync(p))} ${st.mtimeMs}`;
    }
  };
  walk(dir, '');
  return out;
}

/** Run the CLI without blocking this process, which serves the local Hub. */
async function webgrpo(args: string[], env: Record<string, string | undefined> = { HF_TOKEN: TOKEN }) {
  const child = spawn(process.execPath, ['bin/webgrpo.mjs', ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, HF_TOKEN: undefined, ...env },
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
  child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
  const code = await new Promise<number | null>((resolve) => child.on('exit', resolve));
  for (const secret of [TOKEN, READ_TOKEN]) assert.ok(!`${stdout}${stderr}`.includes(secret), 'the token must never be printed');
  return { code, stdout, stderr };
}

test('push uploads the adapter, GGUF, run files and a model card into a new private repository', async () => {
  const before = snapshot(run);
  const r = await webgrpo(['push', run, '--repo', 'me/tiny-grpo', '--private', '--hub-endpoint', hub.endpoint, '--json']);
  assert.equal(r.code, 0, r.stderr);
  const result = JSON.parse(r.stdout.trim().split('\n').pop()!);
  assert.equal(result.url, `${hub.endpoint}/me/tiny-grpo`);
  assert.equal(result.created, true);
  assert.match(r.stderr, /created private repository/);
  const repo = hub.repos.get('me/tiny-grpo')!;
  assert.equal(repo.private, true);
  assert.equal(repo.commits.length, 1, 'one commit');
  const file = (p: string) => {
    const b = repo.files.get(p);
    assert.ok(b, `${p} arrived; got ${[...repo.files.keys()].join(', ')}`);
    return b;
  };
  const text = (p: string) => new TextDecoder().decode(file(p));
  // Bytes as in the run folder.
  assert.deepEqual(file('adapter_model.safetensors'), new Uint8Array(readFileSync(join(run, 'adapter', 'adapter_model.safetensors'))));
  assert.deepEqual(file('adapter_config.json'), new Uint8Array(readFileSync(join(run, 'adapter', 'adapter_config.json'))));
  assert.deepEqual(file('model-q8_0.gguf'), new Uint8Array(readFileSync(join(run, 'model-q8_0.gguf'))));
  for (const name of ['config.json', 'metrics.jsonl', 'summary.json']) assert.deepEqual(file(`run/${name}`), new Uint8Array(readFileSync(join(run, name))));
  assert.ok(!repo.files.has('run/rollouts.jsonl') && !repo.files.has('config.json'), 'no rollouts, no root config.json');
  // The large files went through LFS, the small ones inline.
  assert.deepEqual(new Set(hub.lfsUploads), new Set([sha256(file('adapter_model.safetensors')), sha256(file('model-q8_0.gguf'))]));
  // The model card: PEFT front matter, pass@k before/after, the chart referenced and uploaded.
  const card = text('README.md');
  const front = /^---\n([\s\S]*?)\n---\n/.exec(card)?.[1] ?? '';
  assert.match(front, /^base_model: "Qwen\/Qwen2.5-0.5B-Instruct"$/m);
  assert.match(front, /^library_name: peft$/m);
  assert.match(front, /^tags:\n(- .*\n)*- "grpo"\n- "webgrpo"/m);
  assert.match(card, /\| pass@1 \| 0\.250 \| 0\.625 \|/);
  assert.match(card, /\| pass@8 \| 0\.500 \| 0\.875 \|/);
  assert.match(card, /!\[Mean reward per step\]\(run\/reward\.svg\)/);
  assert.match(card, /\| learning_rate \| `0.003` \|/);
  const svg = text('run/reward.svg');
  assert.match(svg, /^<svg xmlns="http:\/\/www.w3.org\/2000\/svg"/);
  assert.equal((svg.match(/<path d="M/g) ?? []).length, 2, 'reward and its moving average');
  assert.match(text('run/train_trl.py'), /GRPOConfig\(/);
  assert.deepEqual(snapshot(run), before, 'the run folder is untouched');
});

test('an existing repository is uploaded into; --new-repo refuses it', async () => {
  const r = await webgrpo(['push', run, '--repo', 'me/tiny-grpo', '--hub-endpoint', hub.endpoint]);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stderr, /me\/tiny-grpo exists: uploading into it/);
  assert.equal(hub.repos.get('me/tiny-grpo')!.commits.length, 2);
  const refused = await webgrpo(['push', run, '--repo', 'me/tiny-grpo', '--new-repo', '--hub-endpoint', hub.endpoint]);
  assert.equal(refused.code, 1);
  assert.match(refused.stderr, /me\/tiny-grpo already exists .*409/);
  assert.equal(hub.repos.get('me/tiny-grpo')!.commits.length, 2, 'no commit');
});

test('401, 403, a missing token and a cut connection each say what happened and leave the run as it was', async () => {
  const before = snapshot(run);
  const bad = await webgrpo(['push', run, '--repo', 'me/other', '--hub-endpoint', hub.endpoint], { HF_TOKEN: 'hf_wrong' });
  assert.equal(bad.code, 1);
  assert.match(bad.stderr, /refused the token \(401 Unauthorized\).*\$HF_TOKEN.*unchanged/);
  const readOnly = await webgrpo(['push', run, '--repo', 'me/other', '--token-env', 'MY_TOKEN', '--hub-endpoint', hub.endpoint], { MY_TOKEN: READ_TOKEN });
  assert.equal(readOnly.code, 1);
  assert.match(readOnly.stderr, /may not write to me\/other \(403 Forbidden\)/);
  const none = await webgrpo(['push', run, '--repo', 'me/other', '--hub-endpoint', hub.endpoint], {});
  assert.equal(none.code, 2);
  assert.match(none.stderr, /\$HF_TOKEN is not set/);
  assert.equal(hub.repos.has('me/other'), false);

  hub.cutNext('lfs', 4);
  const cut = await webgrpo(['push', run, '--repo', 'me/cut', '--hub-endpoint', hub.endpoint]);
  assert.equal(cut.code, 1, cut.stderr);
  assert.match(cut.stderr, /connection to .* \(uploading the large files\) failed .*nothing was committed.*unchanged/);
  assert.equal(hub.repos.get('me/cut')!.commits.length, 0);
  hub.cutNext('lfs', 0);
  hub.cutNext('commit');
  const cutCommit = await webgrpo(['push', run, '--repo', 'me/cut', '--hub-endpoint', hub.endpoint]);
  assert.equal(cutCommit.code, 1, cutCommit.stderr + JSON.stringify(hub.requests.slice(-6)));
  assert.match(cutCommit.stderr, /\(committing\) failed .*the commit may not have been made/);
  assert.deepEqual(snapshot(run), before);
  // And it goes through once the connection holds.
  assert.equal((await webgrpo(['push', run, '--repo', 'me/cut', '--hub-endpoint', hub.endpoint])).code, 0);
  assert.equal(hub.repos.get('me/cut')!.commits.length, 1);
});

test('model card of a local model has no base_model; the chart of an empty log says so', () => {
  const card = modelCard({ repo: 'me/x', config: defaultRunConfig(), summary: null, metrics: [], files: ['README.md'] });
  assert.doesNotMatch(card, /base_model/);
  assert.match(card, /library_name: peft/);
  assert.match(card, /No held-out evaluation was recorded/);
  assert.match(rewardChartSvg([]), /no steps logged/);
});
