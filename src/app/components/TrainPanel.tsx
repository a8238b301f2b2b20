// Start, pause, continue and stop; where the shown run is (phase, step, ETA, tokens/s, downloads).

import { runProgress, sendToWorker, useApp, type RunView } from '../store.ts';
import { formatBytes, formatDuration } from './format.ts';
import { settingsProblems } from './knobs.ts';
import { isActive, startRun } from './run-actions.ts';

function DownloadProgress({ download }: { download: NonNullable<RunView['download']> }) {
  const { file, loaded, total } = download;
  return (
    <div className="download">
      <span>
        Downloading {file}: {formatBytes(loaded)}
        {total ? ` of ${formatBytes(total)}` : ''}
      </span>
      <progress value={total ? loaded : undefined} max={total ?? undefined} aria-label={`Download of ${file}`} />
    </div>
  );
}

function RunStatus({ run }: { run: RunView }) {
  const { step, maxSteps, etaSeconds, tokensPerSecond } = runProgress(run);
  return (
    <div className="run-status">
      <div className="status-line">
        <span>
          <strong>{run.id}</strong> ·{' '}
          <span className={`phase phase-${run.phase}`} data-testid="run-phase">
            {run.phase}
          </span>
        </span>
        <span>
          step <span data-testid="run-step">{`${step} / ${maxSteps}`}</span>
        </span>
        {etaSeconds !== null && run.phase === 'training' && <span>ETA {formatDuration(etaSeconds)}</span>}
        {tokensPerSecond !== null && <span>{Math.round(tokensPerSecond)} tokens/s</span>}
        {run.lastCheckpoint !== null && <span className="muted">checkpoint at step {run.lastCheckpoint}</span>}
      </div>
      <progress className="steps" value={step} max={maxSteps} aria-label="Training progress" />
      {run.message && <p className={run.phase === 'error' ? 'error-text' : 'muted'}>{run.message}</p>}
      {run.download && run.phase === 'loading' && <DownloadProgress download={run.download} />}
    </div>
  );
}

export function TrainPanel() {
  const run = useApp((s) => s.run);
  const settings = useApp((s) => s.settings);
  const notice = useApp((s) => s.notice);
  const problems = settingsProblems(settings);
  const active = isActive(run);
  const phase = run?.phase;

  return (
    <section className="panel" aria-labelledby="train-heading">
      <h2 id="train-heading">Train</h2>
      <div className="buttons">
        <button type="button" className="primary" data-testid="train-start" disabled={active || problems.length > 0} onClick={() => startRun(settings)}>
          Start
        </button>
        <button type="button" data-testid="train-pause" disabled={phase !== 'training'} onClick={() => sendToWorker({ type: 'pause' })}>
          Pause
        </button>
        <button type="button" data-testid="train-continue" disabled={phase !== 'paused'} onClick={() => sendToWorker({ type: 'continue' })}>
          Continue
        </button>
        <button
          type="button"
          data-testid="train-stop"
          disabled={phase !== 'training' && phase !== 'paused'}
          onClick={() => sendToWorker({ type: 'stop' })}
          title="Finish after the current step: save the adapter and evaluate it"
        >
          Stop
        </button>
      </div>
      {problems.length > 0 && (
        <ul className="problems">
          {problems.map((p) => (
            <li key={p}>{p}</li>
          ))}
        </ul>
      )}
      {notice && (
        <p className="notice" data-testid="run-notice" role="status">
          {notice}
        </p>
      )}
      {run ? <RunStatus run={run} /> : <p className="muted">Pick a model, data and a recipe, then press Start.</p>}
    </section>
  );
}
