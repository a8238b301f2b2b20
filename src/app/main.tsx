// The web app's entry: starts the training worker, connects it to the store, and resumes a run that
// was interrupted by a tab reload. Without WebGPU it shows the explanation page and starts nothing.

import { StrictMode } from 'react';
import { createRoot } from 'react-dom/client';
import { App } from './App.tsx';
import { reportError, resumeStoredRun } from './components/run-actions.ts';
import { listRuns } from './storage.ts';
import { appStore, connectWorker, sendToWorker } from './store.ts';
import './styles.css';

function startWorker(): void {
  const worker = new Worker(new URL('./worker.ts', import.meta.url), { type: 'module' });
  worker.onmessage = (e) => appStore.getState().apply(e.data);
  worker.onerror = (e) => reportError(`The training worker failed: ${e.message}`);
  connectWorker((msg) => worker.postMessage(msg));
  sendToWorker({ type: 'hello' });
  // For the browser console and the e2e tests: the state, and the worker's messages (e.g. lose-device).
  Object.assign(window, { webgrpo: { store: appStore, send: sendToWorker } });
}

/** The newest run still marked running was cut off by a reload: continue it from its checkpoint. */
async function resumeInterruptedRun(): Promise<void> {
  const [newest] = await listRuns();
  if (newest?.status === 'running') await resumeStoredRun(newest);
}

if (!navigator.gpu) {
  // No need to ask the worker: without navigator.gpu here it has none either.
  const reason = window.isSecureContext
    ? 'This browser does not offer WebGPU (navigator.gpu is missing): it is too old, or WebGPU is turned off.'
    : 'This page was not loaded over https:// or from localhost, and browsers offer WebGPU only to secure pages.';
  appStore.getState().apply({ type: 'no-webgpu', message: reason });
} else {
  startWorker();
  resumeInterruptedRun().catch(reportError);
}

createRoot(document.getElementById('root')!).render(
  <StrictMode>
    <App />
  </StrictMode>,
);
