// `node --import ./scripts/register.mjs scripts/sampling-mismatch.ts`: the sampler/trainer log-prob
// gap (DESIGN.md §8.12) measured by real `webgrpo train` steps on the built-in tiny model and on a
// Qwen2.5-shaped random model (qwen2 architecture with q/k/v biases, Qwen2.5-0.5B's hidden size,
// heads, head dim and MLP width, 2 layers and a small character vocabulary so it runs on a CPU).

import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { writeTinyArithmeticModel } from '../test/helpers/tiny-model.ts';

const WORK = join('.cache', 'sampling-mismatch');
const STEPS = 2;
rmSync(WORK, { recursive: true, force: true });
mkdirSync(WORK, { recursive: true });

function qwen25Shaped(dir: string): void {
  writeTinyArithmeticModel(dir, 5, {
    architecture: 'qwen2',
    dtype: 'BF16',
    hiddenSize: 896,
    numLayers: 2,
    numHeads: 14,
    numKvHeads: 2,
    intermediateSize: 4864,
    ropeTheta: 1_000_000,
    rmsNormEps: 1e-6,
  });
}

const KEYS = [
  'sampling/sampling_logp_difference/mean',
  'sampling/sampling_logp_difference/max',
  'sampling/importance_sampling_ratio/min',
  'sampling/importance_sampling_ratio/max',
] as const;

function measure(name: string, model: string, flags: string[]): void {
  const out = join(WORK, 'runs', name);
  execFileSync(process.execPath, ['bin/webgrpo.mjs', 'train', '--model', model, '--out', out, '--steps', String(STEPS), '--eval-problems', '0', ...flags], {
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  const lines = readFileSync(join(out, 'metrics.jsonl'), 'utf8')
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as Record<string, number>)
    .filter((m) => m[KEYS[0]] !== undefined);
  // The ratios sit at 1 ± rounding: shown as their distance from 1.
  const shown = (k: string, v: number) =>
    k.includes('ratio') ? `${k.replace('sampling/', '')} − 1 ${(v - 1).toExponential(3)}` : `${k.replace('sampling/', '')} ${v.toExponential(3)}`;
  for (const m of lines) console.log(`${name} step ${m.step}: ${KEYS.map((k) => shown(k, m[k])).join(', ')}`);
}

measure('tiny-arith', 'public/models/tiny-arith', []);
const qwen = join(WORK, 'qwen2.5-shaped');
qwen25Shaped(qwen);
const spaces = join(WORK, 'spaces.mjs');
writeFileSync(spaces, "export default (completion) => [...completion].filter((c) => c === ' ').length;\n");
measure('qwen2.5-shaped', qwen, ['--reward-module', spaces, '--prompts-per-step', '4', '--num-generations', '4', '--max-completion-length', '32']);
