// Reads the JSON that `bench/run.ts --json` printed (from the file named on the command line) and
// prints it as tables, after checking which adapter ran it: bench/device.sh's last step. Exits 1
// when a CPU rasteriser (SwiftShader, llvmpipe, lavapipe) ran it, unless --allow-cpu.

import { readFileSync } from 'node:fs';

interface Figures {
  adapter?: { vendor: string; architecture: string; description: string };
  matmul?: { shape: string; m: number; ours_f32: number | null; ours_f16: number | null; tfjs_f32: number | null }[];
  decode?: Decode;
  decode_batch1?: Decode;
  decode_lora_r16?: Decode;
  prefill?: { tokens: number; tokens_per_s: number };
  grpo_step?: { completions: number; completion_tokens: number; mean_completion_length: number; step_seconds: number; timing: Record<string, number> };
  reward_pairs_per_s?: number;
}

interface Decode {
  model: string;
  layers: number;
  batch: number;
  tokens_per_s: number;
  per_token: Record<string, number>;
  lora?: { r: number };
}

const [file, ...flags] = process.argv.slice(2);
if (!file) {
  console.error('usage: report.ts FIGURES.json [--allow-cpu]');
  process.exit(2);
}
const figures = JSON.parse(readFileSync(file, 'utf8')) as Figures;

function table(rows: (string | number | null)[][]): void {
  const cells = rows.map((r) => r.map((c) => (c === null ? '-' : String(c))));
  const widths = cells[0].map((_, i) => Math.max(...cells.map((r) => r[i].length)));
  for (const [i, r] of cells.entries()) {
    console.log(r.map((c, j) => (j === 0 ? c.padEnd(widths[j]) : c.padStart(widths[j]))).join('  '));
    if (i === 0) console.log(widths.map((w) => '-'.repeat(w)).join('  '));
  }
  console.log('');
}

const a = figures.adapter;
const name = a ? [a.vendor, a.architecture, a.description].filter(Boolean).join(' ') : 'unknown';
const cpu = !a || /swiftshader|llvmpipe|lavapipe/i.test(name);
console.log(cpu ? `Adapter: ${name}: a CPU rasteriser, NOT a GPU.` : `Adapter: ${name}: a GPU (not SwiftShader).`);
console.log('');

if (figures.matmul?.length) {
  console.log('matmul GFLOP/s');
  const ratio = (r: { ours_f32: number | null; tfjs_f32: number | null }) => (r.ours_f32 && r.tfjs_f32 ? `${(r.ours_f32 / r.tfjs_f32).toFixed(2)}x` : null);
  table([
    ['shape', 'M', 'ours f32', 'ours f16', 'tfjs f32', 'ours/tfjs'],
    ...figures.matmul.map((r) => [r.shape, r.m, r.ours_f32, r.ours_f16, r.tfjs_f32, ratio(r)]),
  ]);
}
const decodes = [figures.decode_batch1, figures.decode, figures.decode_lora_r16].filter((d): d is Decode => d !== undefined);
if (decodes.length) {
  console.log(`decode (${decodes[0].model}, ${decodes[0].layers} layers), per decode step`);
  const keys = Object.keys(decodes[0].per_token);
  table([
    ['batch', 'tokens/s', ...keys],
    ...decodes.map((d) => [d.lora ? `${d.batch} +LoRA r${d.lora.r}` : d.batch, d.tokens_per_s, ...keys.map((k) => d.per_token[k])]),
  ]);
}
if (figures.prefill) console.log(`prefill: ${figures.prefill.tokens} tokens at ${figures.prefill.tokens_per_s} tokens/s\n`);
const g = figures.grpo_step;
if (g) {
  console.log(`GRPO step: ${g.completions} completions of up to ${g.completion_tokens} tokens (mean ${g.mean_completion_length}), ${g.step_seconds} s`);
  table([['phase', 'seconds'], ...Object.entries(g.timing)]);
}
if (figures.reward_pairs_per_s !== undefined) console.log(`math reward: ${Math.round(figures.reward_pairs_per_s)} pairs/s`);
if (cpu && !flags.includes('--allow-cpu')) {
  console.error('These figures are from a CPU adapter: no Vulkan GPU was found (see bench/device.sh).');
  process.exit(1);
}
