// The shown run's live charts: training metrics by step (TRL names, DESIGN.md §8.9) and held-out pass@k.
// A smoothing slider draws the step charts smoothed (raw values faint behind); stored runs picked in
// the Runs panel are overlaid on the step charts, each named with its key settings.

import type { PassAtK } from '../protocol.ts';
import { overlayRuns, runKey, runSettingsLabel, MAX_SMOOTHING } from '../series.ts';
import { appStore, useApp, type CompareRun, type RunView } from '../store.ts';
import { formatPercent } from './format.ts';
import { MetricChart, type ChartRow, type Series } from './MetricChart.tsx';

/** Colours of overlaid runs (apart from the shown run's series colours). */
const RUN_COLORS = ['#f59e0b', '#db2777', '#65a30d', '#7c3aed', '#0d9488', '#78716c'];

/** The step chart's series plus, for each compared run, its first series under the run's key. */
function withCompared(series: Series[], compared: CompareRun[], shown: RunView): Series[] {
  if (compared.length === 0 || series.length === 0) return series;
  const [head, ...rest] = series;
  return [
    { ...head, label: `${head.label}: ${shown.id} (${runSettingsLabel(shown.settings)})` },
    ...rest,
    ...compared.map((c, i) => ({ key: runKey(c.id, head.key), label: `${c.id} (${runSettingsLabel(c.settings)})`, color: RUN_COLORS[i % RUN_COLORS.length] })),
  ];
}

function SmoothingSlider({ value }: { value: number }) {
  return (
    <label className="smoothing">
      Smoothing{' '}
      <input
        type="range"
        data-testid="chart-smoothing"
        min={0}
        max={MAX_SMOOTHING}
        step={0.01}
        value={value}
        onChange={(e) => appStore.getState().setSmoothing(Number(e.target.value))}
        aria-label="Chart smoothing weight"
      />{' '}
      <output data-testid="chart-smoothing-value">{value.toFixed(2)}</output>
      <span className="muted"> (debiased moving average; the stored metrics stay raw)</span>
    </label>
  );
}

const COLORS = ['#2563eb', '#dc2626', '#16a34a', '#9333ea', '#ea580c', '#0891b2'];

/** The parts of a step's seconds (timing/* metrics, DESIGN.md §8.9), stacked under the total. */
const STEP_PARTS: Series[] = [
  ['generate', 'generation', '#60a5fa'],
  ['logprobs', 'log-prob passes', '#a78bfa'],
  ['backward', 'forward + backward', '#f87171'],
  ['optimizer', 'optimizer', '#fbbf24'],
  ['reward', 'rewards', '#34d399'],
  ['eval', 'held-out evaluation', '#9ca3af'],
].map(([part, label, color]) => ({ key: `timing/${part}`, label, color, stacked: true }));
const ACCURACY_KEY = 'rewards/math/mean';

/** The reward functions a run logged, from its `rewards/{fn}/mean` metric names. */
function rewardFunctions(rows: ChartRow[]): string[] {
  const names = new Set<string>();
  for (const row of rows) {
    for (const key of Object.keys(row)) {
      const match = /^rewards\/(.+)\/mean$/.exec(key);
      if (match) names.add(match[1]);
    }
  }
  return [...names];
}

/** pass@k of the base model and of the newest adapter, one row per k. */
function passAtKRows(base: PassAtK | null, adapter: PassAtK | undefined): ChartRow[] {
  const ks = [...new Set([...Object.keys(base ?? {}), ...Object.keys(adapter ?? {})].map(Number))].sort((a, b) => a - b);
  return ks.map((k) => ({ k, base: base?.[k], adapter: adapter?.[k] }));
}

/** Held-out pass@1 by step; the base model counts as step 0. */
function passAt1Rows(run: RunView): ChartRow[] {
  const rows: ChartRow[] = run.basePassAtK ? [{ step: 0, pass1: run.basePassAtK[1] }] : [];
  return [...rows, ...run.passAtK.map((p) => ({ step: p.step, pass1: p.passAtK[1] }))];
}

export function Charts({ run }: { run: RunView }) {
  const smoothing = useApp((s) => s.smoothing);
  const compared = useApp((s) => s.compare).filter((c) => c.id !== run.id);
  const own: ChartRow[] = run.metrics;
  const waiting = 'Appears after the first training step.';
  const rewardSeries: Series[] = [
    { key: 'reward', label: 'total', color: COLORS[0] },
    ...rewardFunctions(own).map((fn, i) => ({ key: `rewards/${fn}/mean`, label: fn, color: COLORS[(i + 1) % COLORS.length], dashed: true })),
  ];
  const firstKeys = [
    rewardSeries[0].key,
    ACCURACY_KEY,
    'entropy',
    'entropy_coef',
    'kl',
    'completions/mean_length',
    'clip_ratio/region_mean',
    'sampling/sampling_logp_difference/mean',
    'sampling/importance_sampling_ratio/mean',
    'grad_norm',
    'step_time',
  ];
  const rows = overlayRuns(
    own,
    compared.map((c) => ({ id: c.id, rows: c.metrics })),
    firstKeys,
  );
  const byStep = { rows, xKey: 'step', xLabel: 'step', fileStem: run.id, smoothing };
  const over = (series: Series[]) => withCompared(series, compared, run);
  const hasAccuracy = own.some((r) => r[ACCURACY_KEY] !== undefined);
  const latest = run.passAtK.at(-1);
  const percent = { yDomain: [0, 1] as const, formatY: formatPercent };
  // Keep 0 and 1 (a correct answer) in view, so a flat reward reads as flat rather than zoomed noise.
  const rewardDomain = [(min: number) => Math.min(0, min), (max: number) => Math.max(1, max)] as const;
  // Clip ratios are fractions that often stay at 0: start at 0 and keep a little headroom.
  const fractionDomain = [0, (max: number) => Math.max(0.01, max)] as const;

  return (
    <>
      <SmoothingSlider value={smoothing} />
      <div className="charts">
        <MetricChart name="reward" title="Reward" series={over(rewardSeries)} emptyNote={waiting} yDomain={rewardDomain} {...byStep} />
        <MetricChart
          name="accuracy"
          title="Accuracy (math reward)"
          series={over([{ key: ACCURACY_KEY, label: 'correct answers', color: COLORS[2] }])}
          emptyNote={hasAccuracy || own.length === 0 ? waiting : 'This run does not use the math reward, which measures accuracy.'}
          {...byStep}
          {...percent}
        />
        <MetricChart
          name="entropy"
          title="Entropy (nats per token)"
          series={over([{ key: 'entropy', label: 'mean token entropy', color: COLORS[3] }])}
          emptyNote={waiting}
          {...byStep}
        />
        <MetricChart
          name="entropy-coef"
          title="Entropy bonus coefficient"
          series={over([{ key: 'entropy_coef', label: 'entropy_coef', color: COLORS[3] }])}
          emptyNote={own.length === 0 ? waiting : 'Logged when an entropy bonus is on (entropy_coef > 0 or adaptive entropy).'}
          {...byStep}
        />
        <MetricChart
          name="kl"
          title="KL to the base model"
          series={over([{ key: 'kl', label: 'kl', color: COLORS[4] }])}
          emptyNote={own.length === 0 ? waiting : 'KL is measured only when β > 0.'}
          {...byStep}
        />
        <MetricChart
          name="length"
          title="Completion length (tokens)"
          series={over([
            { key: 'completions/mean_length', label: 'mean', color: COLORS[0] },
            { key: 'completions/min_length', label: 'min', color: COLORS[5], dashed: true },
            { key: 'completions/max_length', label: 'max', color: COLORS[1], dashed: true },
          ])}
          emptyNote={waiting}
          {...byStep}
        />
        <MetricChart
          name="clip"
          title="Clip ratio"
          series={over([
            { key: 'clip_ratio/region_mean', label: 'clipped', color: COLORS[0] },
            { key: 'clip_ratio/low_mean', label: 'low', color: COLORS[1], dashed: true },
            { key: 'clip_ratio/high_mean', label: 'high', color: COLORS[2], dashed: true },
          ])}
          emptyNote={waiting}
          yDomain={fractionDomain}
          {...byStep}
        />
        <MetricChart
          name="logp-gap"
          title="Sampler vs trainer log-prob gap"
          series={over([
            { key: 'sampling/sampling_logp_difference/mean', label: 'mean |Δ log p|', color: COLORS[0] },
            { key: 'sampling/sampling_logp_difference/max', label: 'max', color: COLORS[1], dashed: true },
          ])}
          emptyNote={waiting}
          {...byStep}
        />
        <MetricChart
          name="is-ratio"
          title="Sampler correction ratio"
          series={over([
            { key: 'sampling/importance_sampling_ratio/mean', label: 'mean', color: COLORS[0] },
            { key: 'sampling/importance_sampling_ratio/min', label: 'min', color: COLORS[5], dashed: true },
            { key: 'sampling/importance_sampling_ratio/max', label: 'max', color: COLORS[1], dashed: true },
          ])}
          emptyNote={waiting}
          {...byStep}
        />
        <MetricChart
          name="grad-norm"
          title="Gradient norm"
          series={over([{ key: 'grad_norm', label: 'before clipping', color: COLORS[3] }])}
          emptyNote={waiting}
          {...byStep}
        />
        <MetricChart
          name="step-time"
          title="Step time (s): where it goes"
          series={over([{ key: 'step_time', label: 'total', color: COLORS[5] }, ...STEP_PARTS])}
          emptyNote={waiting}
          {...byStep}
        />
        <MetricChart
          name="passk"
          title="Held-out pass@k (log k)"
          rows={passAtKRows(run.basePassAtK, latest?.passAtK)}
          xKey="k"
          xLabel="k"
          logX
          series={[
            { key: 'base', label: 'base model', color: COLORS[5], dashed: true },
            { key: 'adapter', label: latest ? `adapter (step ${latest.step})` : 'adapter', color: COLORS[0] },
          ]}
          emptyNote="Appears after the held-out evaluation of the base model."
          fileStem={run.id}
          {...percent}
        />
        <MetricChart
          name="passk-steps"
          title="Held-out pass@1 by step"
          rows={passAt1Rows(run)}
          xKey="step"
          xLabel="step"
          series={[{ key: 'pass1', label: 'pass@1 (step 0 = base model)', color: COLORS[2] }]}
          emptyNote="Appears after the held-out evaluation of the base model."
          fileStem={run.id}
          {...percent}
        />
      </div>
    </>
  );
}
