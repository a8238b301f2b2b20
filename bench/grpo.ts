// One GRPO step through `webgrpo train`, and where its seconds went (the timing/* fields of its
// metrics.jsonl line, docs/DESIGN.md §8.9). Quick: the built-in tiny model, 8 completions of up to
// 64 tokens. --device: the bench model (bench/models.ts), 8 completions × 256 tokens after a
// 128-token prompt, LoRA r16, gradient checkpointing (--small shrinks that model, not the step's shape).

import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PROMPT_ALPHABET, writeBenchModel } from './models.ts';

const COMPLETIONS = 8;

export async function benchGrpo(args: string[]): Promise<Record<string, unknown>> {
  const device = args.includes('--device');
  const dir = mkdtempSync(join(tmpdir(), 'webgrpo-bench-grpo-'));
  const completionTokens = device ? 256 : 64;
  const flags = ['--steps', '1', '--prompts-per-step', '1', '--num-generations', String(COMPLETIONS), '--max-completion-length', String(completionTokens)];
  flags.push('--eval-problems', '0', '--lora-r', '16', '--out', join(dir, 'run'));
  if (device) {
    const model = join(dir, 'model');
    writeBenchModel(model, args.includes('--small'));
    // 128 characters of the prompt alphabet: 128 prompt tokens with the bench model's tokenizer.
    const question = Array.from({ length: 128 }, (_, i) => PROMPT_ALPHABET[(i * 7) % (PROMPT_ALPHABET.length - 1)]).join('');
    // Issue 13's step names checkpointing; said explicitly so a change of default does not change the bench.
    flags.push('--model', model, '--plain-prompt', '--one-shot-problem', question, '--one-shot-answer', '42', '--gradient-checkpointing');
  }
  const start = performance.now();
  const run = spawnSync(process.execPath, ['bin/webgrpo.mjs', 'train', ...flags], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  const wall = (performance.now() - start) / 1000;
  if (run.status !== 0) throw new Error(`grpo bench: webgrpo train failed (exit ${run.status}):\n${run.stderr.slice(-2000)}`);
  const lines = readFileSync(join(dir, 'run', 'metrics.jsonl'), 'utf8')
    .trim()
    .split('\n');
  const metrics = JSON.parse(lines[lines.length - 1]) as Record<string, number>;
  rmSync(dir, { recursive: true, force: true });
  const timing: Record<string, number> = {};
  for (const [k, v] of Object.entries(metrics)) if (k.startsWith('timing/')) timing[k.slice('timing/'.length)] = Math.round(v * 1000) / 1000;
  const step = Math.round(metrics.step_time * 1000) / 1000;
  console.log(
    `grpo step (${device ? 'device' : 'quick'}): ${COMPLETIONS} completions of up to ${completionTokens} tokens (mean ${metrics['completions/mean_length']}), ` +
      `step ${step} s (process ${wall.toFixed(1)} s): ${Object.entries(timing)
        .map(([k, v]) => `${k} ${v}`)
        .join(', ')}`,
  );
  return {
    grpo_step: {
      completions: COMPLETIONS,
      completion_tokens: completionTokens,
      mean_completion_length: metrics['completions/mean_length'],
      step_seconds: step,
      timing,
    },
  };
}
