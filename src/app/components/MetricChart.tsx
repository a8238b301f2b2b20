// One live line chart: a title, an HTML legend, the recharts plot and a PNG download. Rows may lack
// any metric (e.g. `kl` when β = 0): missing values are simply not drawn.

import { useRef } from 'react';
import { CartesianGrid, Line, LineChart, ResponsiveContainer, Tooltip, XAxis, YAxis, type AxisDomain } from 'recharts';
import { chartPng, downloadBlob } from '../export.ts';
import { formatValue } from './format.ts';
import { reportError } from './run-actions.ts';

export type ChartRow = Record<string, number | undefined>;

export interface Series {
  key: string;
  label: string;
  color: string;
  dashed?: boolean;
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
}

function numberAt(row: ChartRow, key: string): number | null {
  const v = row[key];
  return typeof v === 'number' && Number.isFinite(v) ? v : null;
}

export function MetricChart({ name, title, rows, series, xKey, xLabel, emptyNote, fileStem, logX, yDomain, formatY = formatValue }: Props) {
  const plotRef = useRef<HTMLDivElement>(null);
  const plotted = rows.filter((row) => series.some((s) => numberAt(row, s.key) !== null));

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
    <figure className="chart" data-testid={`chart-${name}`} data-points={plotted.length}>
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
            <LineChart data={plotted} margin={{ top: 6, right: 10, bottom: 2, left: 0 }}>
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
              <Tooltip formatter={(v) => (typeof v === 'number' ? formatY(v) : String(v))} labelFormatter={(x) => `${xLabel} ${x}`} />
              {series.map((s) => (
                <Line
                  key={s.key}
                  name={s.label}
                  dataKey={(row: ChartRow) => numberAt(row, s.key)}
                  stroke={s.color}
                  strokeWidth={s.dashed ? 1 : 2}
                  strokeDasharray={s.dashed ? '4 3' : undefined}
                  dot={plotted.length <= 12}
                  connectNulls
                  isAnimationActive={false}
                />
              ))}
            </LineChart>
          </ResponsiveContainer>
        )}
      </div>
    </figure>
  );
}
