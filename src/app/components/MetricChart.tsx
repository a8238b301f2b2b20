// One live line chart: a title, an HTML legend, the recharts plot and a PNG download. Rows may lack
// any metric (e.g. `kl` when β = 0): missing values are simply not drawn. With smoothing, each
// series is drawn smoothed (a debiased EMA, series.ts) over its raw values drawn faint; the hover
// read-out gives both exactly. The rows passed in are never changed.

import { useRef } from 'react';
import { Area, CartesianGrid, ComposedChart, Line, ResponsiveContainer, Tooltip, XAxis, YAxis, type AxisDomain } from 'recharts';
import { chartPng, downloadBlob } from '../export.ts';
import { smoothedKey, withSmoothed, type ChartRow } from '../series.ts';
import { formatValue } from './format.ts';
import { reportError } from './run-actions.ts';

export type { ChartRow };

export interface Series {
  key: string;
  label: string;
  color: string;
  dashed?: boolean;
  /** Drawn as an area stacked on the other stacked series (parts of a total), never smoothed. */
  stacked?: boolean;
}

interface Props {
  /** Names the test id (chart-<name>) and the PNG file. */
  name: string;
  title: string;
  rows: ChartRow[];
  series: Series[];
  xKey: string;
  xLabel: string;
  /** Shown instead of the plot while no row has a value. */
  emptyNote: string;
  /** File names of downloads start with this (the run id). */
  fileStem: string;
  logX?: boolean;
  yDomain?: AxisDomain;
  formatY?: (v: number) => string;
  /** Smoothing weight w in [0, 1) (0: the raw series only). */
  smoothing?: number;
}

/** A value as the hover read-out gives it: 6 significant digits, not the axis's rounding. */
const exact = (v: number) => (Number.isFinite(v) ? String(Number(v.toPrecision(6))) : String(v));

function numberAt(row: ChartRow, key: string): number | null {
  const v = row[key];
  return typeof v === 'number' && Number.isFinite(v) ? v : null;
}

export function MetricChart({ name, title, rows, series, xKey, xLabel, emptyNote, fileStem, logX, yDomain, formatY = formatValue, smoothing = 0 }: Props) {
  const plotRef = useRef<HTMLDivElement>(null);
  const smooth = smoothing > 0;
  const raw = rows.filter((row) => series.some((s) => numberAt(row, s.key) !== null));
  const plotted = smooth
    ? withSmoothed(
        raw,
        series.map((s) => s.key),
        smoothing,
      )
    : raw;
  // The first series as drawn, for tests and readers of the DOM: its raw and its drawn (smoothed) values.
  const first = series[0]?.key;
  const drawnKey = first && smooth ? smoothedKey(first) : first;
  const valuesOf = (key: string | undefined) => (key ? plotted.map((r) => numberAt(r, key)).filter((v) => v !== null) : []);

  async function downloadPng() {
    const svg = plotRef.current?.querySelector<SVGSVGElement>('svg.recharts-surface');
    if (!svg) return;
    try {
      downloadBlob(`${fileStem}-${name}.png`, await chartPng(svg, title, series));
    } catch (e) {
      reportError(e);
    }
  }

  return (
    <figure
      className="chart"
      data-testid={`chart-${name}`}
      data-points={plotted.length}
      data-series={series.length}
      data-raw={valuesOf(first).join(',')}
      data-drawn={valuesOf(drawnKey).join(',')}
    >
      <figcaption>
        <span className="chart-title">{title}</span>
        <button
          type="button"
          className="small"
          data-testid={`export-png-${name}`}
          disabled={plotted.length === 0}
          onClick={downloadPng}
          title={`Download “${title}” as PNG`}
        >
          PNG
        </button>
      </figcaption>
      <ul className="legend">
        {series.map((s) => (
          <li key={s.key}>
            <span className={s.dashed ? 'swatch dashed' : 'swatch'} style={{ borderColor: s.color }} />
            {s.label}
          </li>
        ))}
      </ul>
      <div ref={plotRef} className="plot">
        {plotted.length === 0 ? (
          <p className="empty">{emptyNote}</p>
        ) : (
          <ResponsiveContainer width="100%" height="100%">
            <ComposedChart data={plotted} margin={{ top: 6, right: 10, bottom: 2, left: 0 }}>
              <CartesianGrid stroke="#e5e7eb" strokeDasharray="3 3" />
              <XAxis
                dataKey={xKey}
                type="number"
                scale={logX ? 'log' : 'linear'}
                domain={['dataMin', 'dataMax']}
                ticks={logX ? plotted.map((r) => r[xKey] as number) : undefined}
                allowDecimals={false}
                tick={{ fontSize: 11 }}
                label={{ value: xLabel, position: 'insideBottomRight', offset: 0, fontSize: 11 }}
                height={34}
              />
              <YAxis width={48} tick={{ fontSize: 11 }} tickFormatter={formatY} domain={yDomain ?? ['auto', 'auto']} />
              <Tooltip formatter={(v) => (typeof v === 'number' ? exact(v) : String(v))} labelFormatter={(x) => `${xLabel} ${x}`} />
              {series
                .filter((s) => s.stacked)
                .map((s) => (
                  <Area
                    key={s.key}
                    name={s.label}
                    dataKey={(row: ChartRow) => numberAt(row, s.key) ?? 0}
                    stackId="parts"
                    stroke={s.color}
                    fill={s.color}
                    fillOpacity={0.35}
                    isAnimationActive={false}
                  />
                ))}
              {series
                .filter((s) => !s.stacked)
                .map((s) => (
                  <Line
                    key={s.key}
                    name={smooth ? `${s.label} (raw)` : s.label}
                    dataKey={(row: ChartRow) => numberAt(row, s.key)}
                    stroke={s.color}
                    strokeOpacity={smooth ? 0.25 : 1}
                    strokeWidth={s.dashed || smooth ? 1 : 2}
                    strokeDasharray={s.dashed ? '4 3' : undefined}
                    dot={!smooth && plotted.length <= 12}
                    connectNulls
                    isAnimationActive={false}
                  />
                ))}
              {smooth &&
                series
                  .filter((s) => !s.stacked)
                  .map((s) => (
                    <Line
                      key={smoothedKey(s.key)}
                      name={`${s.label} (smoothed)`}
                      dataKey={(row: ChartRow) => numberAt(row, smoothedKey(s.key))}
                      stroke={s.color}
                      strokeWidth={s.dashed ? 1.5 : 2}
                      strokeDasharray={s.dashed ? '4 3' : undefined}
                      dot={false}
                      connectNulls
                      isAnimationActive={false}
                    />
                  ))}
            </ComposedChart>
          </ResponsiveContainer>
        )}
      </div>
    </figure>
  );
}
