// Past runs kept in browser storage (OPFS): show one, resume an interrupted one, delete one, or
// tick "compare" to overlay its metrics on the charts.

import { useCallback, useEffect, useState } from 'react';
import { deleteRun, listRuns, readMetrics, type StoredRun } from '../storage.ts';
import { appStore, useApp } from '../store.ts';
import { isActive, reportError, resumeStoredRun, showStoredRun } from './run-actions.ts';

/** Overlay a stored run's metrics on the charts, or take it off. */
async function setCompared(stored: StoredRun, on: boolean): Promise<void> {
  const { setCompare } = appStore.getState();
  if (!on) return setCompare(stored.id, null);
  setCompare(stored.id, { id: stored.id, settings: stored.settings, metrics: await readMetrics(stored.id) });
}

export function RunsPanel() {
  const run = useApp((s) => s.run);
  const compared = useApp((s) => s.compare);
  const [runs, setRuns] = useState<StoredRun[] | null>(null);
  // While a run trains, showing another would hide its live updates: browsing waits until it ends.
  const busy = isActive(run);

  const refresh = useCallback(async () => {
    try {
      setRuns(await listRuns());
    } catch (e) {
      reportError(e);
    }
  }, []);

  // Reload the list when a run starts, ends or changes status.
  const runId = run?.id;
  const runPhase = run?.phase;
  // biome-ignore lint/correctness/useExhaustiveDependencies: runId and runPhase are triggers, not inputs: the list is re-read from storage when they change
  useEffect(() => {
    void refresh();
  }, [refresh, runId, runPhase]);

  async function remove(stored: StoredRun) {
    if (!confirm(`Delete run ${stored.id} and its checkpoints?`)) return;
    try {
      await deleteRun(stored.id);
      appStore.getState().setCompare(stored.id, null);
      if (appStore.getState().run?.id === stored.id) appStore.getState().showRun(null);
      await refresh();
    } catch (e) {
      reportError(e);
    }
  }

  return (
    <section className="panel" aria-labelledby="runs-heading">
      <h2 id="runs-heading">Runs</h2>
      {runs === null ? (
        <p className="muted">Reading browser storage…</p>
      ) : runs.length === 0 ? (
        <p className="muted">No runs yet. Runs, their checkpoints and metrics stay in this browser.</p>
      ) : (
        <ul className="runs">
          {runs.map((stored) => {
            const shown = run?.id === stored.id;
            return (
              <li key={stored.id} data-testid="run-item" data-run-id={stored.id} data-status={stored.status} className={shown ? 'shown' : undefined}>
                <button type="button" className="link" disabled={busy || shown} onClick={() => showStoredRun(stored).catch(reportError)}>
                  {stored.id}
                </button>
                <span className={`status status-${stored.status}`}>{stored.status}</span>
                <label className="compare" title="Overlay this run's metrics on the charts">
                  <input
                    type="checkbox"
                    data-testid="run-compare"
                    checked={compared.some((c) => c.id === stored.id)}
                    onChange={(e) => setCompared(stored, e.target.checked).catch(reportError)}
                  />
                  compare
                </label>
                <span className="muted">
                  {stored.steps} / {stored.settings.grpo.maxSteps} steps · {new Date(stored.created).toLocaleString()}
                </span>
                {stored.status === 'running' && !(busy && shown) && (
                  <button
                    type="button"
                    className="small"
                    disabled={busy}
                    onClick={() => resumeStoredRun(stored).catch(reportError)}
                    title="Continue from its newest checkpoint"
                  >
                    Resume
                  </button>
                )}
                <button type="button" className="small" disabled={busy && shown} onClick={() => void remove(stored)} aria-label={`Delete ${stored.id}`}>
                  ✕
                </button>
              </li>
            );
          })}
        </ul>
      )}
    </section>
  );
}
