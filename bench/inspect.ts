// What the step inspector costs (DESIGN.md §8.11): quick-demo steps of `webgrpo train` inspecting
// every step; with β = 0 and one iteration the only log-prob pass is the inspector's re-score, so
// timing/logprobs over step_time is its share of a step, and that share over the CLI's inspect_every
// the slowdown of `npx webgrpo train`.

import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { defaultRunConfig } from '../src/rl/run-config.ts';

export async function benchInspect(args: string[]): Promise<Record<string, number>> {
  const steps = args.includes('--full') ? 10 : 4;
  const dir = mkdtempSync(join(tmpdir(), 'webgrpo-bench-inspect-'));
  const run = spawnSync(
    process.execPath,
    ['bin/webgrpo.mjs', 'train', '--steps', String(steps), '--eval-problems', '0', '--inspect-every', '1', '--out', dir],
    {
      encoding: 'utf8',
    },
  );
  if (run.status !== 0) throw new Error(`webgrpo train failed: ${run.stderr}`);
  const metrics = readFileSync(join(dir, 'metrics.jsonl'), 'utf8')
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as Record<string, number>);
  rmSync(dir, { recursive: true, force: true });
  const total = (key: string) => metrics.reduce((a, m) => a + (m[key] ?? 0), 0);
  const share = total('timing/logprobs') / total('step_time');
  const every = defaultRunConfig().inspectEvery;
  console.log(`quick demo, ${steps} steps inspected: ${(total('step_time') / steps).toFixed(1)} s per step, re-score ${(100 * share).toFixed(1)}% of it`);
  console.log(`webgrpo train inspects every ${every}th step: ~${((100 * share) / every).toFixed(1)}% slower`);
  return { 'inspect/rescore_share': share, 'inspect/cli_slowdown': share / every };
}
