// The model card (README.md) and reward chart of a run pushed to the Hugging Face Hub
// (`webgrpo push`, the page's Publish part; DESIGN.md §13.4): PEFT-style front matter, the recipe
// from config.json, the held-out pass@k before/after from summary.json and the reward per step from
// metrics.jsonl as an SVG drawn here (no browser, no canvas).

import { describeData, modelSpec, runConfigToJson, type RunConfig } from './run-config.ts';

/** Where the pushed repository keeps the run's own files (a root config.json would read as a transformers model config). */
export const RUN_FILES_DIR = 'run';
export const REWARD_CHART = `${RUN_FILES_DIR}/reward.svg`;

/** summary.json as the session writes it (§13.1); every field optional for unfinished runs. */
export interface RunSummary {
  before?: Record<string, number>;
  after?: Record<string, number>;
  steps?: number;
  seconds?: number;
}

export interface ModelCardInput {
  /** owner/name of the repository the card is for. */
  repo: string;
  config: RunConfig;
  summary: RunSummary | null;
  /** metrics.jsonl's lines, parsed (eval lines included; they are skipped). */
  metrics: Record<string, unknown>[];
  /** Files uploaded next to the card, for its file list. */
  files: string[];
}

/** YAML scalar: JSON's double-quoted strings are valid YAML. */
const yaml = (s: string) => JSON.stringify(s);

/** The base model's Hub id, or null when the run used a local folder or the built-in model. */
function baseModelId(cfg: RunConfig): string | null {
  return cfg.model.kind === 'hub' ? cfg.model.repo : null;
}

/** The steps' mean rewards from metrics.jsonl (lines without a numeric `reward` are evaluations). */
function rewardSeries(metrics: Record<string, unknown>[]): { step: number; reward: number }[] {
  return metrics.flatMap((m) =>
    typeof m.step === 'number' && typeof m.reward === 'number' && Number.isFinite(m.reward) ? [{ step: m.step, reward: m.reward }] : [],
  );
}

const fmt = (x: number) => String(Number(x.toFixed(3)));

/** The mean reward per step as a standalone SVG line chart (plus a 10-step moving average). */
export function rewardChartSvg(metrics: Record<string, unknown>[]): string {
  const points = rewardSeries(metrics);
  const [w, h, left, right, top, bottom] = [640, 320, 56, 16, 28, 40];
  const head = `<svg xmlns="http://www.w3.org/2000/svg" width="${w}" height="${h}" viewBox="0 0 ${w} ${h}" font-family="sans-serif" font-size="12">`;
  const title = `<text x="${left}" y="18" font-size="14">Mean reward per step</text><text x="${w - right}" y="18" text-anchor="end" fill="#08519c">— 10-step moving average</text>`;
  if (points.length === 0) return `${head}<rect width="${w}" height="${h}" fill="white"/>${title}<text x="${left}" y="${h / 2}">no steps logged</text></svg>\n`;
  const steps = points.map((p) => p.step);
  const rewards = points.map((p) => p.reward);
  const [x0, x1] = [Math.min(...steps), Math.max(...steps)];
  let [y0, y1] = [Math.min(0, ...rewards), Math.max(...rewards)];
  if (y1 - y0 < 1e-9) y1 = y0 + 1;
  const px = (s: number) => left + ((s - x0) / Math.max(1, x1 - x0)) * (w - left - right);
  const py = (r: number) => top + (1 - (r - y0) / (y1 - y0)) * (h - top - bottom);
  const path = (ys: number[]) => ys.map((y, i) => `${i === 0 ? 'M' : 'L'}${px(steps[i]).toFixed(1)},${py(y).toFixed(1)}`).join(' ');
  const smooth = rewards.map((_, i) => {
    const window = rewards.slice(Math.max(0, i - 9), i + 1);
    return window.reduce((a, b) => a + b, 0) / window.length;
  });
  const [bx, by] = [left, h - bottom];
  const ticks = [y0, (y0 + y1) / 2, y1]
    .map(
      (y) =>
        `<line x1="${bx}" x2="${w - right}" y1="${py(y).toFixed(1)}" y2="${py(y).toFixed(1)}" stroke="#ddd"/><text x="${bx - 6}" y="${(py(y) + 4).toFixed(1)}" text-anchor="end">${fmt(y)}</text>`,
    )
    .join('');
  return [
    head,
    `<rect width="${w}" height="${h}" fill="white"/>`,
    title,
    ticks,
    `<line x1="${bx}" y1="${by}" x2="${w - right}" y2="${by}" stroke="#333"/>`,
    `<text x="${bx}" y="${by + 16}" text-anchor="middle">${x0}</text><text x="${w - right}" y="${by + 16}" text-anchor="end">${x1}</text>`,
    `<text x="${(bx + w - right) / 2}" y="${h - 8}" text-anchor="middle">step</text>`,
    `<path d="${path(rewards)}" fill="none" stroke="#9ecae1" stroke-width="1.5"/>`,
    `<path d="${path(smooth)}" fill="none" stroke="#08519c" stroke-width="2.5"/>`,
    '</svg>\n',
  ].join('');
}

function passAtKTable(summary: RunSummary | null): string {
  const before = summary?.before ?? {};
  const after = summary?.after ?? {};
  const ks = [...new Set([...Object.keys(before), ...Object.keys(after)])].sort((a, b) => Number(a.replace(/\D/g, '')) - Number(b.replace(/\D/g, '')));
  if (ks.length === 0) return 'No held-out evaluation was recorded for this run (no `summary.json`, or `eval_problems` 0).';
  const cell = (v: number | undefined) => (v === undefined ? '–' : v.toFixed(3));
  return ['| metric | base model | with adapter |', '| --- | --- | --- |', ...ks.map((k) => `| ${k} | ${cell(before[k])} | ${cell(after[k])} |`)].join('\n');
}

/** README.md for the pushed repository. */
export function modelCard({ repo, config, summary, metrics, files }: ModelCardInput): string {
  const base = baseModelId(config);
  const front = [
    '---',
    ...(base ? [`base_model: ${yaml(base)}`] : []),
    'library_name: peft',
    'pipeline_tag: text-generation',
    'tags:',
    ...['grpo', 'webgrpo', 'lora', ...(base ? [`base_model:adapter:${base}`] : [])].map((t) => `- ${yaml(t)}`),
    '---',
  ];
  const json = runConfigToJson(config);
  const g = config.grpo;
  const series = rewardSeries(metrics);
  const name = repo.split('/').pop() ?? repo;
  const baseText = base ? `[${base}](https://huggingface.co/${base})` : `\`${modelSpec(config.model)}\` (not a Hub model)`;
  const recipe = [
    `- data: \`${describeData(config.data)}\``,
    `- rewards: ${[...config.rewards, ...(config.rewardModule ? [`module ${config.rewardModule}`] : [])].join(', ')}`,
    `- steps: ${summary?.steps ?? series.length} of ${g.maxSteps}, ${g.promptsPerStep} prompts × ${g.numGenerations} generations per step`,
    `- loss: \`${g.lossType}\`, learning rate ${g.learningRate} (${g.lrSchedulerType}), β ${g.beta}`,
    `- LoRA: r ${config.lora.r}, α ${config.lora.alpha}, targets ${config.lora.targetModules.join(', ')}`,
  ];
  const settings = Object.entries(json)
    .filter(([k]) => k !== 'model' && k !== 'data' && k !== 'lora')
    .map(([k, v]) => `| ${k} | \`${JSON.stringify(v)}\` |`);
  const lora = Object.entries(json.lora as Record<string, unknown>).map(([k, v]) => `| lora.${k} | \`${JSON.stringify(v)}\` |`);
  const usage = base
    ? [
        '```python',
        'from peft import PeftModel',
        'from transformers import AutoModelForCausalLM, AutoTokenizer',
        '',
        `model = AutoModelForCausalLM.from_pretrained(${yaml(base)})`,
        `model = PeftModel.from_pretrained(model, ${yaml(repo)})`,
        `tokenizer = AutoTokenizer.from_pretrained(${yaml(base)})`,
        '```',
      ]
    : ['Load the adapter with PEFT on top of the same base model it was trained on.'];
  return [
    ...front,
    '',
    `# ${name}`,
    '',
    `A LoRA adapter for ${baseText}, trained with GRPO by webgrpo (WebGPU).`,
    '',
    '## Held-out pass@k',
    '',
    passAtKTable(summary),
    '',
    '## Reward',
    '',
    `![Mean reward per step](${REWARD_CHART})`,
    '',
    series.length > 0
      ? `Mean reward: ${fmt(series[0].reward)} at step ${series[0].step}, ${fmt(series[series.length - 1].reward)} at step ${series[series.length - 1].step}.`
      : 'No steps were logged.',
    '',
    '## Recipe',
    '',
    ...recipe,
    '',
    '<details><summary>Every setting (TRL GRPOConfig / PEFT LoraConfig names)</summary>',
    '',
    '| setting | value |',
    '| --- | --- |',
    ...settings,
    ...lora,
    '',
    '</details>',
    '',
    '## Usage',
    '',
    ...usage,
    '',
    '## Files',
    '',
    ...files.map((f) => `- \`${f}\``),
    '',
  ].join('\n');
}
