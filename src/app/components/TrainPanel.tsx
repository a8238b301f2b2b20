// The Train step: how often to evaluate and checkpoint; start, pause, continue and stop, and what
// keeps Start greyed out. Where the run is: RunStatus.tsx.

import { sendToWorker, useApp } from '../store.ts';
import { KNOBS, settingsProblems, TRAIN_STEP_GROUP } from './knobs.ts';
import { KnobRow } from './RecipePanel.tsx';
import { isActive, startRun } from './run-actions.ts';

export function TrainPanel() {
  const run = useApp((s) => s.run);
  const settings = useApp((s) => s.settings);
  const problems = settingsProblems(settings);
  const active = isActive(run);
  const phase = run?.phase;

  return (
    <section className="panel" aria-labelledby="train-heading">
      <h2 id="train-heading">Train</h2>
      <div className="knobs">
        {KNOBS.filter((k) => k.group === TRAIN_STEP_GROUP).map((knob) => (
          <KnobRow key={knob.field.key} knob={knob} settings={settings} />
        ))}
      </div>
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
    </section>
  );
}
