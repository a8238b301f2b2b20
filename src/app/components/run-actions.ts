// What the page does to start, show and resume runs: shared by the Train and Keep panels and by the
// start-up code that resumes a run after a tab reload.

import type { RunPhase, RunConfig } from '../protocol.ts';
import { loadRunHistory, type StoredRun } from '../storage.ts';
import { appStore, newRun, sendToWorker, type RunView } from '../store.ts';
import { runIdFor } from './format.ts';

/** Phases in which the worker is busy with the shown run. */
const ACTIVE_PHASES: ReadonlySet<RunPhase> = new Set(['loading', 'evaluating', 'training', 'paused']);

export function isActive(run: RunView | null): boolean {
  return run !== null && ACTIVE_PHASES.has(run.phase);
}

/** Put an error in the page's error banner. */
export function reportError(e: unknown): void {
  appStore.setState({ error: e instanceof Error ? e.message : String(e) });
}

export function startRun(settings: RunConfig): void {
  const runId = runIdFor(new Date());
  const { showRun, setNotice } = appStore.getState();
  setNotice(null);
  showRun(newRun(runId, settings));
  sendToWorker({ type: 'start', runId, settings });
}

/** How a stored run that the worker is not running looks: finished, or interrupted mid-run. */
function storedPhase(status: StoredRun['status']): { phase: RunPhase; message: string | null } {
  if (status === 'running') return { phase: 'stopped', message: 'Interrupted: resume it to continue from its last checkpoint.' };
  return { phase: status, message: null };
}

/** Show a past run with its stored history (metrics, pass@k, completions). */
export async function showStoredRun(stored: StoredRun): Promise<void> {
  const history = await loadRunHistory(stored.id);
  appStore.getState().setNotice(null);
  appStore.getState().showRun(newRun(stored.id, stored.settings, { ...history, ...storedPhase(stored.status) }));
}

/** Continue an interrupted run from its newest checkpoint in the worker. */
export async function resumeStoredRun(stored: StoredRun): Promise<void> {
  const history = await loadRunHistory(stored.id);
  const { showRun, setNotice, setPreset } = appStore.getState();
  // The form shows the resumed run's settings, so a later Start repeats it rather than the defaults.
  setPreset('', stored.settings);
  showRun(newRun(stored.id, stored.settings, { ...history, phase: 'loading', message: null }));
  setNotice(`Resumed run ${stored.id} from its checkpoint at step ${history.lastCheckpoint ?? 0}`);
  sendToWorker({ type: 'resume', runId: stored.id });
}
