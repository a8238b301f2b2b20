// Pause and Continue: a paused run stops after its current step and stays put; Continue trains on
// to the end, in the same run, with one metrics row per step.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { openApp, reveal, waitFor } from './harness.ts';
import { chartPoints, phase, runStep, setUpRun, startTraining, waitForPhase } from './flow.ts';

const STEPS = 6;
const HOLD_MS = 4_000;

test('pause a run after its current step, hold it still, then continue it to the end', async (t) => {
  const started = performance.now();
  const app = await openApp(t);
  const { page } = app;
  await setUpRun(app, 'arithmetic:1', { promptsPerStep: 2, numGenerations: 4, maxCompletionLength: 24, maxSteps: STEPS, evalProblems: 0, saveEvery: 1 });
  await startTraining(page);
  // Pause as soon as the first step is under way (the button is enabled while training): a step of
  // this size takes about a second here, so the run is still far from its end.
  await (await reveal(page.getByTestId('train-pause'))).click({ timeout: 120_000 });
  const runId = await page.locator('[data-testid="run-item"][data-status="running"]').getAttribute('data-run-id', { timeout: 10_000 });
  await waitForPhase(app, ['paused'], 60_000);
  const pausedAt = await runStep(page);
  assert.ok(pausedAt.step >= 1 && pausedAt.step < STEPS, `paused mid-run at step ${pausedAt.step}`);
  assert.ok(await page.getByTestId('train-continue').isEnabled(), 'Continue is offered');
  assert.ok(await page.getByTestId('train-pause').isDisabled(), 'Pause is not');
  // Held: no step, no phase change, for a few seconds (a step here takes about one).
  await new Promise((r) => setTimeout(r, HOLD_MS));
  assert.deepEqual(await runStep(page), pausedAt, `no step while paused (${HOLD_MS / 1000} s)`);
  assert.equal(await phase(page), 'paused');
  assert.equal(await chartPoints(page, 'reward'), pausedAt.step);
  await app.screenshot('pause-paused');

  await (await reveal(page.getByTestId('train-continue'))).click();
  await waitFor(
    'training again',
    async () => ({ phase: await phase(page), step: (await runStep(page)).step }),
    (s) => s.phase !== 'paused' || s.step > pausedAt.step,
    30_000,
    app,
  );
  await waitForPhase(app, ['done'], 180_000);
  assert.deepEqual(await runStep(page), { step: STEPS, maxSteps: STEPS });
  assert.equal(await chartPoints(page, 'reward'), STEPS, 'one reward point per step: none lost or doubled by the pause');
  await waitFor(
    'the run listed as done',
    () => page.locator(`[data-testid="run-item"][data-run-id="${runId}"]`).getAttribute('data-status'),
    (s) => s === 'done',
    10_000,
    app,
  );
  assert.equal(await page.getByTestId('run-item').count(), 1, 'the same run continued');
  console.log(`# paused at step ${pausedAt.step}, done after ${((performance.now() - started) / 1000).toFixed(0)} s`);
  app.assertNoPageErrors();
});
