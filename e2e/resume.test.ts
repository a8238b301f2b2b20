// A tab reload mid-run: the run resumes by itself from its newest OPFS checkpoint, keeps the
// history it had, and trains on past the step it was at; then a lost GPU device, recovered the same way.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { openApp, reveal, waitFor } from './harness.ts';
import { chartPoints, FAST_KNOBS, opfsCheckpoints, phase, runStep, setUpRun, startTraining, waitForPhase, waitForStep } from './flow.ts';

const MAX_STEPS = 30;

test('reloading the tab mid-run, then losing the GPU device: the run resumes from its last checkpoint with its history', async (t) => {
  const started = performance.now();
  const app = await openApp(t);
  const { page } = app;
  // No held-out evaluation: this test is about the checkpoint, not pass@k.
  await setUpRun(app, 'arithmetic:1', { ...FAST_KNOBS, evalProblems: 0, maxSteps: MAX_STEPS });
  await startTraining(page);

  await waitForStep(app, 2, 240_000);
  const runId = await page.locator('[data-testid="run-item"][data-status="running"]').getAttribute('data-run-id', { timeout: 10_000 });
  assert.ok(runId, 'the running run is listed');
  const saved = await waitFor(
    'a checkpoint after step 1',
    () => opfsCheckpoints(page),
    (c) => (c[runId]?.at(-1) ?? 0) >= 1,
    60_000,
    app,
  );
  const before = await runStep(page);
  const rewardPoints = await chartPoints(page, 'reward');
  assert.ok(rewardPoints >= 2, `reward chart before the reload: ${rewardPoints} points`);
  const checkpoint = (await opfsCheckpoints(page))[runId].at(-1)!;
  console.log(
    `# reload at step ${before.step}, checkpoints ${saved[runId].join(',')} → ${checkpoint}, after ${((performance.now() - started) / 1000).toFixed(0)} s`,
  );
  await app.screenshot('resume-before-reload');

  await page.reload();
  const notice = page.getByTestId('run-notice');
  await notice.waitFor({ state: 'visible', timeout: 60_000 });
  const noticeText = await notice.innerText();
  assert.match(noticeText, new RegExp(runId), `the notice names the run: ${noticeText}`);
  // Right away the page shows the stored history up to the checkpoint (at least).
  const restored = await waitFor(
    'the restored history',
    () => chartPoints(page, 'reward'),
    (n) => n >= checkpoint,
    30_000,
    app,
  );
  assert.ok(restored >= checkpoint, `reward chart after the reload: ${restored} points, checkpoint at ${checkpoint}`);

  // It trains on past where it was, in the same run.
  const target = Math.max(before.step, checkpoint) + 2;
  await waitForStep(app, target, 240_000);
  assert.equal(await phase(page), 'training');
  const after = await runStep(page);
  assert.equal(after.maxSteps, MAX_STEPS);
  const points = await chartPoints(page, 'reward');
  assert.equal(points, after.step, 'one reward point per step: earlier points kept, none doubled');
  assert.equal(await page.locator(`[data-testid="run-item"][data-run-id="${runId}"][data-status="running"]`).count(), 1, 'the same run continues');
  assert.equal(await page.getByTestId('run-item').count(), 1, 'no second run was started');
  const newer = (await opfsCheckpoints(page))[runId].at(-1)!;
  assert.ok(newer > checkpoint, `new checkpoints after the resume (${newer} > ${checkpoint})`);
  await app.screenshot('resume-after-reload');
  console.log(`# resumed to step ${after.step} after ${((performance.now() - started) / 1000).toFixed(0)} s`);

  // A lost GPU device (as after a driver reset): the worker gets a new device and resumes from the
  // newest checkpoint by itself, in the same tab.
  const atLoss = after.step;
  type Hook = {
    webgrpo: { send: (m: { type: string }) => void; store: { subscribe: (f: (s: { run: { phase: string; message: string | null } | null }) => void) => void } };
    seen: string[];
  };
  await page.evaluate(() => {
    const w = window as unknown as Hook;
    w.seen = [];
    // Every phase/message the page shows from here on, to see the recovery happen.
    w.webgrpo.store.subscribe((s) => {
      const line = `${s.run?.phase}: ${s.run?.message ?? ''}`;
      if (w.seen.at(-1) !== line) w.seen.push(line);
    });
    w.webgrpo.send({ type: 'lose-device' });
  });
  await waitForStep(app, atLoss + 2, 240_000);
  const seen = await page.evaluate(() => (window as unknown as Hook).seen);
  assert.ok(
    seen.some((l) => l.startsWith('loading') && /lost/i.test(l)),
    `the page said the device was lost and it is resuming: ${JSON.stringify(seen)}`,
  );
  assert.equal(await phase(page), 'training');
  const afterLoss = await runStep(page);
  assert.equal(await chartPoints(page, 'reward'), afterLoss.step, 'one reward point per step after the device loss');
  assert.equal(await page.locator(`[data-testid="run-item"][data-run-id="${runId}"][data-status="running"]`).count(), 1, 'the same run continues');
  console.log(`# device lost at step ${atLoss}, trained on to ${afterLoss.step}`);
  app.assertNoPageErrors();

  // Stop: the run ends after the current step as "stopped".
  await (await reveal(page.getByTestId('train-stop'))).click();
  await waitForPhase(app, ['stopped'], 120_000);
  await waitFor(
    'the stopped run in the list',
    () => page.locator(`[data-testid="run-item"][data-run-id="${runId}"]`).getAttribute('data-status'),
    (s) => s === 'stopped',
    10_000,
    app,
  );
  app.assertNoPageErrors();
});
