// Pure chart-data helpers: TensorBoard-style smoothing and overlaying several runs' metrics. The
// charts draw from what these return; the stored metrics are never changed.

/** A chart row: numbers by key (a missing or non-finite value is simply not drawn). */
export type ChartRow = Record<string, number | undefined>;

/** The largest smoothing weight the slider offers (0.99 still follows a long run). */
export const MAX_SMOOTHING = 0.99;

/**
 * Debiased exponential moving average, as TensorBoard smooths scalars: ema_t = w·ema_{t−1} +
 * (1−w)·x_t from ema_0 = 0, divided by 1 − w^t (t counts the finite values so far), so the first
 * point equals its value instead of being pulled toward 0. Missing or non-finite values stay
 * missing and do not advance t. w = 0 returns the values as they are.
 */
export function smoothSeries(values: readonly (number | undefined)[], weight: number): (number | undefined)[] {
  if (!(weight >= 0 && weight < 1)) throw new Error(`smoothSeries: weight must be in [0, 1), got ${weight}`);
  let ema = 0;
  let t = 0;
  return values.map((x) => {
    if (typeof x !== 'number' || !Number.isFinite(x)) return undefined;
    if (weight === 0) return x;
    t++;
    ema = weight * ema + (1 - weight) * x;
    return ema / (1 - weight ** t);
  });
}

/** The key a series' smoothed values are drawn under. */
export const smoothedKey = (key: string) => `${key}~smoothed`;

/**
 * The rows with each of `keys` smoothed under smoothedKey(key), in new row objects (the given rows
 * are left as they are).
 */
export function withSmoothed(rows: readonly ChartRow[], keys: readonly string[], weight: number): ChartRow[] {
  const out = rows.map((r) => ({ ...r }));
  for (const key of keys) {
    const smoothed = smoothSeries(
      rows.map((r) => r[key]),
      weight,
    );
    smoothed.forEach((v, i) => {
      if (v !== undefined) out[i][smoothedKey(key)] = v;
    });
  }
  return out;
}

/** The key a compared run's metric is drawn under. */
export const runKey = (runId: string, key: string) => `${runId}::${key}`;

/**
 * Several runs' rows merged into one row per x value (sorted ascending): each run's value of each
 * of `keys` under runKey(run id, key). Rows without a finite x are left out.
 */
export function mergeRuns(runs: readonly { id: string; rows: readonly ChartRow[] }[], keys: readonly string[], xKey = 'step'): ChartRow[] {
  const byX = new Map<number, ChartRow>();
  for (const run of runs) {
    for (const row of run.rows) {
      const x = row[xKey];
      if (typeof x !== 'number' || !Number.isFinite(x)) continue;
      const merged = byX.get(x) ?? { [xKey]: x };
      byX.set(x, merged);
      for (const key of keys) {
        const v = row[key];
        if (typeof v === 'number' && Number.isFinite(v)) merged[runKey(run.id, key)] = v;
      }
    }
  }
  return [...byX.values()].sort((a, b) => (a[xKey] as number) - (b[xKey] as number));
}

/** A run's key settings for a chart legend, e.g. "dr_grpo · lr 0.003 · G 8". */
export function runSettingsLabel(settings: { grpo: { lossType: string; learningRate: number; numGenerations: number } }): string {
  const { lossType, learningRate, numGenerations } = settings.grpo;
  return `${lossType} · lr ${learningRate} · G ${numGenerations}`;
}

/**
 * The shown run's rows with other runs overlaid: each other run's `keys` under runKey(run id, key),
 * merged by x into new rows (sorted ascending); the shown run's own keys keep their names.
 */
export function overlayRuns(
  base: readonly ChartRow[],
  others: readonly { id: string; rows: readonly ChartRow[] }[],
  keys: readonly string[],
  xKey = 'step',
): ChartRow[] {
  if (others.length === 0) return base.map((r) => ({ ...r }));
  const byX = new Map<number, ChartRow>();
  for (const row of mergeRuns(others, keys, xKey)) byX.set(row[xKey] as number, row);
  for (const row of base) {
    const x = row[xKey];
    if (typeof x !== 'number' || !Number.isFinite(x)) continue;
    byX.set(x, { ...byX.get(x), ...row });
  }
  return [...byX.values()].sort((a, b) => (a[xKey] as number) - (b[xKey] as number));
}
