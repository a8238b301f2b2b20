// The page: set up a run on the left (device, model, data, recipe); train, watch, keep and export
// it on the right. Without WebGPU the whole page explains how to get it instead.

import { Charts } from './components/Charts.tsx';
import { Completions } from './components/Completions.tsx';
import { DataPanel } from './components/DataPanel.tsx';
import { DevicePanel } from './components/DevicePanel.tsx';
import { ExportPanel } from './components/ExportPanel.tsx';
import { ModelPanel } from './components/ModelPanel.tsx';
import { NoWebGpuPage } from './components/NoWebGpuPage.tsx';
import { PassKExplorer } from './components/PassKExplorer.tsx';
import { RecipePanel } from './components/RecipePanel.tsx';
import { RunsPanel } from './components/RunsPanel.tsx';
import { StepInspector } from './components/StepInspector.tsx';
import { Tour } from './components/Tour.tsx';
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

function RunResults() {
  const run = useApp((s) => s.run);
  if (!run) return null;
  const newestStep = run.completions[0]?.step;
  return (
    <>
      <section className="panel" aria-labelledby="charts-heading">
        <h2 id="charts-heading">Charts</h2>
        <Charts run={run} />
      </section>
      <section className="panel" aria-labelledby="completions-heading">
        <h2 id="completions-heading">Recent completions{newestStep !== undefined && ` (step ${newestStep})`}</h2>
        <Completions completions={run.completions} />
      </section>
      <PassKExplorer run={run} />
      <section className="panel" aria-labelledby="inspector-heading">
        <h2 id="inspector-heading">Step inspector</h2>
        <StepInspector run={run} />
      </section>
    </>
  );
}

export function App() {
  const noWebGpu = useApp((s) => s.noWebGpu);
  if (noWebGpu !== null) return <NoWebGpuPage reason={noWebGpu} />;
  return (
    <>
      <header className="top">
        <h1>webgrpo</h1>
        <p>Train a small language model to reason with reinforcement learning (GRPO), on your GPU, in this tab.</p>
      </header>
      <ErrorBanner />
      <Tour />
      <main className="layout">
        <div className="column setup">
          <DevicePanel />
          <ModelPanel />
          <DataPanel />
          <RecipePanel />
        </div>
        <div className="column results">
          <TrainPanel />
          <RunResults />
          <ExportPanel />
          <RunsPanel />
        </div>
      </main>
    </>
  );
}
