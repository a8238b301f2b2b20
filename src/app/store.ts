// The page's state (zustand). Worker messages go through one pure reducer, `applyMessage`, so what
// the page shows for any sequence of messages can be unit-tested without a browser.

import { createStore } from 'zustand/vanilla';
import { useStore } from 'zustand';
import type { StepMetrics } from '../rl/grpo.ts';
import type { CompletionView, DataSource, DeviceInfo, FromWorker, PassAtK, PassAtKComparison, RunPhase, RunConfig, ToWorker } from './protocol.ts';
import { csvText } from './export.ts';
import { defaultSettings } from './recipe.ts';
import { MAX_SMOOTHING } from './series.ts';

export interface RunView {
  id: string;
  settings: RunConfig;
  phase: RunPhase;
  message: string | null;
  /** Every step's metrics, in step order (a resumed run starts from the checkpoint's history). */
  metrics: StepMetrics[];
  /** The newest step's completions. */
  completions: CompletionView[];
  basePassAtK: PassAtK | null;
  /** pass@k of the adapter, by step. */
  passAtK: { step: number; passAtK: PassAtK }[];
  download: { file: string; loaded: number; total: number | null } | null;
  lastCheckpoint: number | null;
}

export interface AppData {
  device: DeviceInfo | null;
  /** Why WebGPU is unavailable, when it is. */
  noWebGpu: string | null;
  settings: RunConfig;
  preset: string;
  preview: Omit<Extract<FromWorker, { type: 'preview' }>, 'type'> | null;
  run: RunView | null;
  error: string | null;
  /** A one-off message for the user, e.g. that a run resumed from its checkpoint after a reload. */
  notice: string | null;
  /** The charts' smoothing weight w in [0, 0.99] (a debiased EMA of the drawn series; 0 = raw). */
  smoothing: number;
  /** Stored runs overlaid on the charts (picked in the Runs panel), with their metrics. */
  compare: CompareRun[];
  /** The pass@k explorer's newest comparison (of one run): in progress, done, or stopped. */
  explorer: ExplorerView | null;
}

export interface ExplorerView {
  runId: string;
  status: 'running' | 'done' | 'stopped';
  /** Sequences sampled so far (base model and adapter), of how many (0 until the first batch). */
  done: number;
  total: number;
  result: PassAtKComparison | null;
  /** Why it stopped. */
  message: string | null;
}

/** A stored run drawn on the charts beside the shown one. */
export interface CompareRun {
  id: string;
  settings: RunConfig;
  metrics: StepMetrics[];
}

export function initialData(): AppData {
  return {
    device: null,
    noWebGpu: null,
    settings: defaultSettings(),
    preset: 'quick',
    preview: null,
    run: null,
    error: null,
    notice: null,
    smoothing: 0,
    compare: [],
    explorer: null,
  };
}

export function newRun(id: string, settings: RunConfig, history: Partial<RunView> = {}): RunView {
  return {
    id,
    settings,
    phase: 'loading',
    message: null,
    metrics: [],
    completions: [],
    basePassAtK: null,
    passAtK: [],
    download: null,
    lastCheckpoint: null,
    ...history,
  };
}

/** The state after one worker message. Messages about another run than the shown one are ignored. */
export function applyMessage(state: AppData, msg: FromWorker): AppData {
  switch (msg.type) {
    case 'device':
      return { ...state, device: msg.info, noWebGpu: null };
    case 'no-webgpu':
      return { ...state, noWebGpu: msg.message };
    case 'preview':
      return { ...state, preview: { rows: msg.rows, size: msg.size, prompt: msg.prompt } };
    case 'error':
      if (msg.runId && state.run?.id === msg.runId) {
        return { ...state, error: msg.message, run: { ...state.run, phase: 'error', message: msg.message } };
      }
      return { ...state, error: msg.message };
    case 'explore-progress':
    case 'explore-result':
    case 'explore-stopped':
      return state.explorer?.runId === msg.runId ? { ...state, explorer: explorerAfter(state.explorer, msg) } : state;
  }
  const run = state.run;
  if (!run || run.id !== msg.runId) return state;
  switch (msg.type) {
    case 'progress':
      return { ...state, run: { ...run, download: { file: msg.file, loaded: msg.loaded, total: msg.total } } };
    case 'phase':
      return { ...state, run: { ...run, phase: msg.phase, message: msg.message ?? null, download: msg.phase === 'loading' ? run.download : null } };
    case 'step': {
      // A step the run already has (re-sent after a resume) replaces the old one.
      const metrics = [...run.metrics.filter((m) => m.step < msg.metrics.step), msg.metrics];
      return { ...state, run: { ...run, metrics, completions: msg.completions } };
    }
    case 'passk':
      if (msg.which === 'base') return { ...state, run: { ...run, basePassAtK: msg.passAtK } };
      return {
        ...state,
        run: { ...run, passAtK: [...run.passAtK.filter((p) => p.step !== msg.step), { step: msg.step, passAtK: msg.passAtK }].sort((a, b) => a.step - b.step) },
      };
    case 'checkpoint':
      return { ...state, run: { ...run, lastCheckpoint: msg.step } };
  }
}

function explorerAfter(view: ExplorerView, msg: Extract<FromWorker, { type: `explore-${string}` }>): ExplorerView {
  switch (msg.type) {
    case 'explore-progress':
      return { ...view, done: msg.done, total: msg.total };
    case 'explore-result':
      return { ...view, status: 'done', done: view.total, result: msg.result };
    case 'explore-stopped':
      return { ...view, status: 'stopped', message: msg.message };
  }
}

/** Progress of the shown run: steps done, of how many, seconds per step and the estimated time left. */
export function runProgress(run: RunView): {
  step: number;
  maxSteps: number;
  secondsPerStep: number | null;
  etaSeconds: number | null;
  tokensPerSecond: number | null;
} {
  const maxSteps = run.settings.grpo.maxSteps;
  const last = run.metrics.at(-1);
  const step = last?.step ?? 0;
  const recent = run.metrics.slice(-5);
  const secondsPerStep = recent.length ? recent.reduce((a, m) => a + (m.step_time ?? 0), 0) / recent.length : null;
  let tokensPerSecond: number | null = null;
  if (recent.length >= 2) {
    const tokens = recent.at(-1)!.num_tokens - recent[0].num_tokens;
    const seconds = recent.slice(1).reduce((a, m) => a + (m.step_time ?? 0), 0);
    tokensPerSecond = seconds > 0 ? tokens / seconds : null;
  }
  return { step, maxSteps, secondsPerStep, etaSeconds: secondsPerStep === null ? null : secondsPerStep * (maxSteps - step), tokensPerSecond };
}

/** The metrics of a run as CSV: one row per step, one column per metric name seen in any step. */
export function metricsCsv(metrics: StepMetrics[]): string {
  const columns = ['step', ...new Set(metrics.flatMap((m) => Object.keys(m)).filter((k) => k !== 'step'))];
  const cell = (v: number | undefined) => (v === undefined || Number.isNaN(v) ? '' : v);
  return csvText([columns, ...metrics.map((m) => columns.map((c) => cell(m[c])))]);
}

interface AppActions {
  apply: (msg: FromWorker) => void;
  setSettings: (update: (s: RunConfig) => RunConfig) => void;
  setPreset: (id: string, settings: RunConfig) => void;
  setData: (data: DataSource) => void;
  /** Show a run (new, or restored from storage) before the worker reports on it. */
  showRun: (run: RunView | null) => void;
  clearError: () => void;
  setNotice: (notice: string | null) => void;
  setSmoothing: (weight: number) => void;
  /** Overlay a stored run on the charts (replacing an earlier copy of it), or remove it (null metrics). */
  setCompare: (id: string, run: CompareRun | null) => void;
  /** The explorer has been asked to compare the run's base model and adapter. */
  startExplorer: (runId: string) => void;
}

export type AppState = AppData & AppActions;

export function createAppStore(initial: AppData = initialData()) {
  return createStore<AppState>()((set) => ({
    ...initial,
    apply: (msg) => set((s) => applyMessage(s, msg)),
    setSettings: (update) => set((s) => ({ settings: update(s.settings) })),
    setPreset: (preset, settings) => set({ preset, settings }),
    setData: (data) => set((s) => ({ settings: { ...s.settings, data }, preview: null })),
    showRun: (run) => set({ run }),
    clearError: () => set({ error: null }),
    setNotice: (notice) => set({ notice }),
    setSmoothing: (smoothing) => set({ smoothing: Math.min(Math.max(smoothing, 0), MAX_SMOOTHING) }),
    setCompare: (id, run) => set((s) => ({ compare: [...s.compare.filter((c) => c.id !== id), ...(run ? [run] : [])] })),
    startExplorer: (runId) => set({ explorer: { runId, status: 'running', done: 0, total: 0, result: null, message: null } }),
  }));
}

/** The page's store and its worker. */
export const appStore = createAppStore();

export function useApp<T>(select: (s: AppState) => T): T {
  return useStore(appStore, select);
}

/** Post a message to the training worker (set by main.tsx once the worker exists). */
export let sendToWorker: (msg: ToWorker) => void = () => {
  throw new Error('The training worker has not started yet.');
};

export function connectWorker(send: (msg: ToWorker) => void): void {
  sendToWorker = send;
}
