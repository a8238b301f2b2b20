// The pass@k explorer (DESIGN.md §9.3): n samples per held-out problem from the base model and from
// the shown run's adapter, the unbiased pass@k for every k = 1..n on a log-k chart with the point
// where the curves cross, and the problems by who solved them (click one for its samples). The
// worker runs comparePassAtK, the same computation as `webgrpo eval --compare-base`.

import { useState } from 'react';
import type { SolvedBy } from '../../rl/passk.ts';
import { comparisonCurvesCsv, comparisonProblemsCsv, explorerEstimate } from '../explorer.ts';
import { downloadText } from '../export.ts';
import type { PassAtKComparison } from '../protocol.ts';
import { appStore, sendToWorker, useApp, type ExplorerView, type RunView } from '../store.ts';
import { formatDuration, formatPercent } from './format.ts';
import { MetricChart, type ChartRow } from './MetricChart.tsx';
import { isActive } from './run-actions.ts';

/** The page's largest n (samples per problem and model). */
const MAX_SAMPLES = 256;

const CATEGORIES: { id: SolvedBy; title: string }[] = [
  { id: 'adapter-only', title: 'Solved only by the adapter' },
  { id: 'base-only', title: 'Solved only by the base model' },
  { id: 'both', title: 'Solved by both' },
  { id: 'neither', title: 'Solved by neither' },
];

const BASE_COLOR = '#0891b2';
const ADAPTER_COLOR = '#2563eb';

/** Log-axis ticks: the powers of 2 up to n, and n. */
function powerTicks(n: number): number[] {
  const ticks: number[] = [];
  for (let k = 1; k <= n; k *= 2) ticks.push(k);
  if (ticks.at(-1) !== n) ticks.push(n);
  return ticks;
}

function curveRows(result: PassAtKComparison): ChartRow[] {
  return result.curves.base.map((base, i) => ({ k: i + 1, base, adapter: result.curves.adapter[i] }));
}

/** The curves in words: pass@1 and pass@n of each, and the crossing. */
function curvesInWords(result: PassAtKComparison): string {
  const { base, adapter } = result.curves;
  const n = result.samples;
  const at = (curve: number[], k: number) => formatPercent(curve[k - 1]);
  const ends = `pass@1: base ${at(base, 1)}, adapter ${at(adapter, 1)}; pass@${n}: base ${at(base, n)}, adapter ${at(adapter, n)}.`;
  const { crossing } = result;
  if (!crossing) return `${ends} The curves do not cross.`;
  const after = crossing.leaderBefore === 'adapter' ? 'base model' : 'adapter';
  return `${ends} The curves cross at k ≈ ${crossing.at.toFixed(1)}: the ${crossing.leaderBefore === 'adapter' ? 'adapter' : 'base model'} leads below k = ${crossing.k}, the ${after} from there.`;
}

function NumberField({
  id,
  label,
  value,
  min,
  max,
  onChange,
}: {
  id: string;
  label: string;
  value: number;
  min: number;
  max: number;
  onChange: (v: number) => void;
}) {
  return (
    <label>
      {label}
      <input
        type="number"
        data-testid={`passk-${id}`}
        min={min}
        max={max}
        step={1}
        value={value}
        onChange={(e) => onChange(Math.min(max, Math.max(min, Math.round(Number(e.target.value) || min))))}
      />
    </label>
  );
}

function Samples({ result, index }: { result: PassAtKComparison; index: number }) {
  const problem = result.problems[index];
  return (
    <div className="passk-samples" data-testid="passk-problem-samples" data-problem={index + 1}>
      <h3>
        Problem {index + 1}: its {result.samples} samples from each model
      </h3>
      <pre className="tokens">{problem.question}</pre>
      <p className="muted">Gold answer: {problem.answer}</p>
      <div className="passk-columns">
        {(['base', 'adapter'] as const).map((which) => (
          <div key={which}>
            <h4>
              {which === 'base' ? 'Base model' : 'Adapter'}: {problem[which]} of {result.samples} correct
            </h4>
            {/* A scrolling box with no focusable element: focusable, so keyboard users can scroll it. */}
            {/* biome-ignore lint/a11y/noNoninteractiveTabindex: WCAG 2.1.1, a scrollable region must be reachable by keyboard */}
            <ol tabIndex={0} aria-label={`${which === 'base' ? 'Base model' : 'Adapter'} samples of problem ${index + 1}`}>
              {problem.samples[which].map((s, i) => (
                // The samples are fixed once drawn; their position is their identity.
                // biome-ignore lint/suspicious/noArrayIndexKey: see above
                <li key={i} data-testid={`passk-sample-${which}`} data-reward={s.grade}>
                  <span className={s.grade === 1 ? 'score good' : 'score'}>reward {s.grade}</span>
                  <pre className="tokens">{s.text}</pre>
                </li>
              ))}
            </ol>
          </div>
        ))}
      </div>
    </div>
  );
}

function Result({ run, result }: { run: RunView; result: PassAtKComparison }) {
  const [selected, setSelected] = useState<number | null>(null);
  const n = result.samples;
  const { crossing } = result;
  return (
    <>
      <p data-testid="passk-curves-text">{curvesInWords(result)}</p>
      <MetricChart
        name="passk-explore"
        title={`pass@k for k = 1..${n} (log k): base model vs adapter`}
        rows={curveRows(result)}
        xKey="k"
        xLabel="k"
        logX
        xTicks={powerTicks(n)}
        markX={crossing ? { x: crossing.at, label: `cross k≈${crossing.at.toFixed(1)}` } : undefined}
        series={[
          { key: 'base', label: 'base model', color: BASE_COLOR, dashed: true },
          { key: 'adapter', label: `adapter (${run.id})`, color: ADAPTER_COLOR },
        ]}
        emptyNote="No curves yet."
        fileStem={run.id}
        yDomain={[0, 1]}
        formatY={formatPercent}
      />
      <div className="export-row">
        <span className="label">Export</span>
        <button
          type="button"
          data-testid="passk-export-problems"
          onClick={() => downloadText(`${run.id}-passk-problems.csv`, comparisonProblemsCsv(result), 'text/csv')}
        >
          Problems CSV
        </button>
        <button
          type="button"
          data-testid="passk-export-curves"
          onClick={() => downloadText(`${run.id}-passk-curves.csv`, comparisonCurvesCsv(result), 'text/csv')}
        >
          Curves CSV
        </button>
      </div>
      <p className="help">A model solves a problem when at least one of its {n} samples is correct. Pick a problem to read its samples and their rewards.</p>
      <div className="passk-categories">
        {CATEGORIES.map(({ id, title }) => {
          const problems = result.problems.map((p, i) => ({ ...p, index: i })).filter((p) => p.solvedBy === id);
          return (
            <div key={id} className="passk-category" data-testid={`passk-category-${id}`} data-count={problems.length}>
              <h3>
                {title} ({problems.length})
              </h3>
              {problems.length === 0 ? (
                <p className="muted">None.</p>
              ) : (
                <ul>
                  {problems.map((p) => (
                    <li key={p.index}>
                      <button
                        type="button"
                        className="passk-problem"
                        data-testid="passk-problem"
                        data-index={p.index + 1}
                        data-base={p.base}
                        data-adapter={p.adapter}
                        aria-pressed={selected === p.index}
                        onClick={() => setSelected(selected === p.index ? null : p.index)}
                      >
                        <span className="passk-question">
                          #{p.index + 1} {p.question.replace(/\s+/g, ' ').slice(0, 60)}
                        </span>
                        <span className="score">
                          base {p.base}/{n} · adapter {p.adapter}/{n}
                        </span>
                      </button>
                    </li>
                  ))}
                </ul>
              )}
            </div>
          );
        })}
      </div>
      {selected !== null && <Samples result={result} index={selected} />}
    </>
  );
}

function Progress({ view }: { view: ExplorerView }) {
  return (
    <div className="download" data-testid="passk-progress">
      <span>
        Sampling: {view.done} of {view.total || '…'} completions
      </span>
      <progress value={view.total ? view.done : undefined} max={view.total || undefined} aria-label="pass@k explorer progress" />
    </div>
  );
}

export function PassKExplorer({ run }: { run: RunView }) {
  const explorer = useApp((s) => s.explorer);
  const heldOut = run.settings.evalProblems;
  const [problems, setProblems] = useState(Math.min(heldOut, 8));
  const [samples, setSamples] = useState(16);
  const [seed, setSeed] = useState(0);
  const view = explorer?.runId === run.id ? explorer : null;
  const running = explorer?.status === 'running';
  const hasAdapter = run.phase === 'done' || run.phase === 'stopped';
  const estimate = explorerEstimate(run.metrics, run.settings, problems, samples);
  const why = isActive(run)
    ? 'Available when the run has finished or been stopped (the GPU is training).'
    : !hasAdapter
      ? 'This run has no final adapter to compare.'
      : heldOut === 0
        ? 'This run has no held-out problems (eval_problems is 0).'
        : null;

  function start() {
    appStore.getState().startExplorer(run.id);
    sendToWorker({ type: 'explore', runId: run.id, problems, samples, seed });
  }

  return (
    <section className="panel" aria-labelledby="passk-heading" data-testid="passk-explorer">
      <h2 id="passk-heading">pass@k explorer</h2>
      <p className="help">
        Does RL teach new answers or only make known ones likelier? Sample each held-out problem n times from the base model and from the adapter: pass@k is the
        chance that at least one of k samples is correct (unbiased estimate from the n).
      </p>
      <div className="row">
        <NumberField id="problems" label={`Held-out problems (of ${heldOut})`} value={problems} min={1} max={Math.max(1, heldOut)} onChange={setProblems} />
        <NumberField id="samples" label={`Samples n (up to ${MAX_SAMPLES})`} value={samples} min={1} max={MAX_SAMPLES} onChange={setSamples} />
        <NumberField id="seed" label="Seed" value={seed} min={0} max={2 ** 31 - 1} onChange={setSeed} />
      </div>
      <p data-testid="passk-estimate">
        {estimate
          ? `Takes about ${formatDuration(estimate.seconds)}: ${Math.round(estimate.tokens).toLocaleString('en')} tokens (both models) at this run's generation speed of ${Math.round(estimate.tokensPerSecond)} tokens/s.`
          : 'No estimate: the run has no timed steps yet.'}
      </p>
      <div className="buttons">
        <button type="button" className="primary" data-testid="passk-start" disabled={why !== null || running} onClick={start}>
          Sample and compare
        </button>
        <button type="button" data-testid="passk-cancel" disabled={!running} onClick={() => sendToWorker({ type: 'explore-cancel' })}>
          Cancel
        </button>
      </div>
      {why && <p className="muted">{why}</p>}
      {view?.status === 'running' && <Progress view={view} />}
      {view?.status === 'stopped' && (
        <p className="muted" data-testid="passk-stopped" role="status">
          {view.message}
        </p>
      )}
      {view?.result && <Result key={`${view.result.samples}-${view.result.seed}`} run={run} result={view.result} />}
    </section>
  );
}
