// Where the shown run is (phase, step, reward, ETA, tokens/s, downloads, notices): a bar that stays on screen
// whichever set-up step or results view is open.

import { runProgress, useApp, type RunView } from '../store.ts';
import { formatBytes, formatDuration } from './format.ts';

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

/** A one-off message about the run, e.g. that it resumed from its checkpoint after a reload. */
function Notice() {
  const notice = useApp((s) => s.notice);
  return (
    notice && (
      <p className="notice" data-testid="run-notice" role="status">
        {notice}
      </p>
    )
  );
}

export function RunStatus() {
  const run = useApp((s) => s.run);
  if (!run) {
    return (
      <section className="run-status" aria-label="Run status">
        <p className="muted">No run yet: pick a model, data and a recipe, then press Start in the Train step.</p>
        <Notice />
      </section>
    );
  }
  const { step, maxSteps, etaSeconds, tokensPerSecond } = runProgress(run);
  const reward = run.metrics.at(-1)?.reward;
  return (
    <section className="run-status" aria-label="Run status">
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
        {reward !== undefined && Number.isFinite(reward) && <span data-testid="run-reward">reward {reward.toFixed(3)}</span>}
        {etaSeconds !== null && run.phase === 'training' && <span>ETA {formatDuration(etaSeconds)}</span>}
        {tokensPerSecond !== null && <span>{Math.round(tokensPerSecond)} tokens/s</span>}
        {run.lastCheckpoint !== null && <span className="muted">checkpoint at step {run.lastCheckpoint}</span>}
      </div>
      <progress className="steps" value={step} max={maxSteps} aria-label="Training progress" />
      {run.message && <p className={run.phase === 'error' ? 'error-text' : 'muted'}>{run.message}</p>}
      {run.download && run.phase === 'loading' && <DownloadProgress download={run.download} />}
      <Notice />
    </section>
  );
}
