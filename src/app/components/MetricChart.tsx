// One live line chart: a title, an HTML legend, the recharts plot and a PNG download. Rows may lack
// any metric (e.g. `kl` when β = 0): missing values are simply not drawn. With smoothing, each
// series is drawn smoothed (a debiased EMA, series.ts) over its raw values drawn faint; the hover
// read-out gives both exactly. The rows passed in are never changed.

import { useContext, useId, useRef, useState } from 'react';
import { Area, CartesianGrid, ComposedChart, Line, ReferenceLine, ResponsiveContainer, Tooltip, XAxis, YAxis, type AxisDomain } from 'recharts';
import { chartPng, downloadBlob } from '../export.ts';
import { smoothedKey, withSmoothed, type ChartRow } from '../series.ts';
import { formatValue } from './format.ts';
import { reportError } from './run-actions.ts';
import { TabShown } from './Tabs.tsx';

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
  /** The x ticks (default: every x of a log axis, recharts' choice on a linear one). */
  xTicks?: number[];
  /** A vertical line at x with a label (e.g. where two curves cross). */
  markX?: { x: number; label: string };
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

/**
 * The chart's last values in words, its text alternative: "step 2: total 0.25, math 0.25 (2 points,
 * step 1 to 2)". Each series gives its newest value (with the smoothed one when smoothing is on).
 */
function chartSummary(rows: ChartRow[], series: Series[], xKey: string, xLabel: string, smooth: boolean): string {
  if (rows.length === 0) return '';
  const last = rows.at(-1) as ChartRow;
  const values = series.map((s) => {
    let at: ChartRow | undefined;
    for (let i = rows.length - 1; i >= 0 && !at; i--) if (numberAt(rows[i], s.key) !== null) at = rows[i];
    if (!at) return `${s.label} no value`;
    const v = exact(numberAt(at, s.key) as number);
    const smoothed = smooth ? numberAt(at, smoothedKey(s.key)) : null;
    const when = at === last ? '' : ` at ${xLabel} ${at[xKey]}`;
    return `${s.label} ${v}${smoothed !== null ? ` (smoothed ${exact(smoothed)})` : ''}${when}`;
  });
  const span = rows.length === 1 ? '1 point' : `${rows.length} points, ${xLabel} ${rows[0][xKey]} to ${last[xKey]}`;
  return `Last values, ${xLabel} ${last[xKey]}: ${values.join('; ')} (${span}).`;
}

/** The series as a table: one row per x, one column per series (raw values, exactly). */
function DataTable({
  id,
  testId,
  title,
  rows,
  series,
  xKey,
  xLabel,
}: {
  id: string;
  testId: string;
  title: string;
  rows: ChartRow[];
  series: Series[];
  xKey: string;
  xLabel: string;
}) {
  return (
    // A scrolling box once the table is long: focusable, so keyboard users can scroll it (WCAG 2.1.1).
    // biome-ignore lint/a11y/noNoninteractiveTabindex: a scrollable region must be reachable by keyboard
    <div className="chart-table" id={id} tabIndex={0}>
      <table data-testid={testId}>
        <caption>{title}: data</caption>
        <thead>
          <tr>
            <th scope="col">{xLabel}</th>
            {series.map((s) => (
              <th key={s.key} scope="col">
                {s.label}
              </th>
            ))}
          </tr>
        </thead>
        <tbody>
          {rows.map((row) => (
            <tr key={String(row[xKey])}>
              <th scope="row">{String(row[xKey])}</th>
              {series.map((s) => {
                const v = numberAt(row, s.key);
                return <td key={s.key}>{v === null ? '–' : exact(v)}</td>;
              })}
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}

export function MetricChart({
  name,
  title,
  rows,
  series,
  xKey,
  xLabel,
  emptyNote,
  fileStem,
  logX,
  xTicks,
  markX,
  yDomain,
  formatY = formatValue,
  smoothing = 0,
}: Props) {
  const plotRef = useRef<HTMLDivElement>(null);
  const ids = useId();
  const [showTable, setShowTable] = useState(false);
  const tabShown = useContext(TabShown);
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

  const summary = plotted.length === 0 ? emptyNote : chartSummary(plotted, series, xKey, xLabel, smooth);

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
      aria-labelledby={`${ids}-title`}
      aria-describedby={`${ids}-summary`}
    >
      <figcaption>
        <span className="chart-title" id={`${ids}-title`}>
          {title}
        </span>
        <button
          type="button"
          className="small"
          data-testid={`chart-table-toggle-${name}`}
          disabled={plotted.length === 0}
          aria-expanded={showTable}
          aria-controls={`${ids}-table`}
          onClick={() => setShowTable((shown) => !shown)}
          title={`Show “${title}” as a data table`}
        >
          {showTable ? 'Hide table' : 'Table'}
        </button>
        <button
          type="button"
          className="small"
          data-testid={`export-png-${name}`}
          disabled={plotted.length === 0}
          onClick={downloadPng}
          title={`Download “${title}” as PNG`}
          aria-label={`Download “${title}” as PNG`}
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
      <p className="sr-only" id={`${ids}-summary`} data-testid={`chart-summary-${name}`}>
        {summary}
      </p>
      <div ref={plotRef} className="plot">
        {plotted.length === 0 ? (
          <p className="empty">{emptyNote}</p>
        ) : !tabShown ? null : ( // a hidden tab has no size to draw in: the plot draws once its tab shows
          <ResponsiveContainer width="100%" height="100%">
            <ComposedChart data={plotted} title={title} desc={summary} margin={{ top: 6, right: 10, bottom: 2, left: 0 }}>
              <CartesianGrid stroke="#e5e7eb" strokeDasharray="3 3" />
              <XAxis
                dataKey={xKey}
                type="number"
                scale={logX ? 'log' : 'linear'}
                domain={['dataMin', 'dataMax']}
                ticks={xTicks ?? (logX ? plotted.map((r) => r[xKey] as number) : undefined)}
                allowDecimals={false}
                tick={{ fontSize: 11 }}
                label={{ value: xLabel, position: 'insideBottomRight', offset: 0, fontSize: 11 }}
                height={34}
              />
              <YAxis width={48} tick={{ fontSize: 11 }} tickFormatter={formatY} domain={yDomain ?? ['auto', 'auto']} />
              {markX && (
                <ReferenceLine x={markX.x} stroke="#6b7280" strokeDasharray="2 2" label={{ value: markX.label, position: 'insideTopLeft', fontSize: 11 }} />
              )}
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
      {showTable && plotted.length > 0 && (
        <DataTable id={`${ids}-table`} testId={`chart-table-${name}`} title={title} rows={plotted} series={series} xKey={xKey} xLabel={xLabel} />
      )}
    </figure>
  );
}
