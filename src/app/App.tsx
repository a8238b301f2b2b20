// The page: the run's status bar on top; on the left, the set-up steps as tabs (Model → Data →
// Recipe → Train); on the right, the results views as tabs (DESIGN.md §16). Without WebGPU the
// whole page explains how to get it instead.

import { useState } from 'react';
import { Charts } from './components/Charts.tsx';
import { Completions } from './components/Completions.tsx';
import { DataPanel } from './components/DataPanel.tsx';
import { DevicePanel } from './components/DevicePanel.tsx';
import { ExportPanel } from './components/ExportPanel.tsx';
import { ModelPanel } from './components/ModelPanel.tsx';
import { NoWebGpuPage } from './components/NoWebGpuPage.tsx';
import { PassKExplorer } from './components/PassKExplorer.tsx';
import { RecipePanel } from './components/RecipePanel.tsx';
import { RunStatus } from './components/RunStatus.tsx';
import { RunsPanel } from './components/RunsPanel.tsx';
import { StepInspector } from './components/StepInspector.tsx';
import { Tour } from './components/Tour.tsx';
import { type TabView, Tabs } from './components/Tabs.tsx';
import { TrainPanel } from './components/TrainPanel.tsx';
import { useApp } from './store.ts';

function ErrorBanner() {
  const error = useApp((s) => s.error);
  const clearError = useApp((s) => s.clearError);
  if (!error) return null;
  return (
    <div className="error-banner" role="alert">
      <span>{error}</span>
      <button type="button" className="small" onClick={clearError} aria-label="Dismiss the error">
        ✕
      </button>
    </div>
  );
}

/** What a results view shows before any run is shown: `what` (“Charts appear”) and when. */
function NoRunYet({ what }: { what: string }) {
  return <p className="muted">{what} once a run starts or one is picked under Runs.</p>;
}

function ChartsView() {
  const run = useApp((s) => s.run);
  return (
    <section className="panel" aria-labelledby="charts-heading">
      <h2 id="charts-heading">Charts</h2>
      {run ? <Charts run={run} /> : <NoRunYet what="Charts appear" />}
    </section>
  );
}

function CompletionsView() {
  const run = useApp((s) => s.run);
  const newestStep = run?.completions[0]?.step;
  return (
    <section className="panel" aria-labelledby="completions-heading">
      <h2 id="completions-heading">Recent completions{newestStep !== undefined && ` (step ${newestStep})`}</h2>
      {run ? <Completions completions={run.completions} /> : <NoRunYet what="Completions appear" />}
    </section>
  );
}

function ExportView() {
  const run = useApp((s) => s.run);
  return run ? <ExportPanel /> : <NoRunYet what="Exports of the adapter, metrics and TRL script appear" />;
}

function InspectorView() {
  const run = useApp((s) => s.run);
  return (
    <section className="panel" aria-labelledby="inspector-heading">
      <h2 id="inspector-heading">Step inspector</h2>
      {run ? <StepInspector run={run} /> : <NoRunYet what="The step inspector opens" />}
    </section>
  );
}

function PassKView() {
  const run = useApp((s) => s.run);
  return run ? <PassKExplorer run={run} /> : <NoRunYet what="The pass@k explorer opens" />;
}

/** The set-up steps, in the order a new user takes them. */
const SETUP_STEPS: TabView[] = [
  {
    id: 'model',
    label: '1 · Model',
    content: (
      <>
        <DevicePanel />
        <ModelPanel />
      </>
    ),
  },
  { id: 'data', label: '2 · Data', content: <DataPanel /> },
  { id: 'recipe', label: '3 · Recipe', content: <RecipePanel /> },
  { id: 'train', label: '4 · Train', content: <TrainPanel /> },
];

/** The views of the shown run: a new view is one more entry. */
const RESULT_VIEWS: TabView[] = [
  { id: 'charts', label: 'Charts', content: <ChartsView /> },
  { id: 'completions', label: 'Completions', content: <CompletionsView /> },
  { id: 'inspector', label: 'Step inspector', content: <InspectorView /> },
  { id: 'passk', label: 'pass@k explorer', content: <PassKView /> },
  { id: 'export', label: 'Export', content: <ExportView /> },
  { id: 'runs', label: 'Runs', content: <RunsPanel /> },
];

export function App() {
  const noWebGpu = useApp((s) => s.noWebGpu);
  const [step, setStep] = useState(SETUP_STEPS[0].id);
  const [view, setView] = useState(RESULT_VIEWS[0].id);
  if (noWebGpu !== null) return <NoWebGpuPage reason={noWebGpu} />;
  return (
    <div className="app">
      <header className="top">
        <h1>webgrpo</h1>
        <p>Train a small language model to reason with reinforcement learning (GRPO), on your GPU, in this tab.</p>
      </header>
      <ErrorBanner />
      <Tour />
      <RunStatus />
      <main className="layout">
        <div className="column setup">
          <Tabs name="setup" label="Set-up steps" views={SETUP_STEPS} selected={step} onSelect={setStep} />
        </div>
        <div className="column results">
          <Tabs name="results" label="Results" views={RESULT_VIEWS} selected={view} onSelect={setView} />
        </div>
      </main>
    </div>
  );
}
