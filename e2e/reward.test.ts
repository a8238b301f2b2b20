// What a person sees training the tiny model in the page: a reward curve that rises. The 1-shot RLVR
// recipe (one problem repeated in every batch) makes that visible in a dozen steps on SwiftShader.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Page } from 'playwright-core';
import { openApp, reveal, waitFor } from './harness.ts';
import { errorText, exportedTrlScript, setKnob, startTraining, waitForPhase } from './flow.ts';

const STEPS = 10;

test('1-shot RLVR: the pre-filled worked example works with the built-in model (preview renders its prompt)', async (t) => {
  const app = await openApp(t);
  const { page } = app;
  await page.getByTestId('device-adapter').waitFor({ state: 'visible', timeout: 60_000 });
  await (await reveal(page.getByTestId('model-builtin'))).check();
  await (await reveal(page.getByTestId('preset-one-shot'))).click();
  const question = await page.getByTestId('one-shot-question').inputValue();
  assert.ok(question.length > 0, 'a pre-filled problem');
  await (await reveal(page.getByTestId('preview-button'))).click();
  const prompt = page.getByTestId('preview-prompt');
  await waitFor(
    'the one-shot preview',
    async () => ((await prompt.count()) > 0 ? 'prompt' : await errorText(page)),
    (s) => s === 'prompt' || s.length > 0,
    60_000,
    app,
  );
  assert.equal(await prompt.count(), 1, `the preview of "${question}" failed: ${await errorText(page)}`);
  assert.ok((await prompt.innerText()).includes(question.trim()), 'the prompt holds the problem');
  app.assertNoPageErrors();
});

test(`1-shot RLVR on the built-in model: the reward rises over ${STEPS} steps`, async (t) => {
  const started = performance.now();
  const app = await openApp(t);
  const { page } = app;
  await page.getByTestId('device-adapter').waitFor({ state: 'visible', timeout: 60_000 });
  await (await reveal(page.getByTestId('model-builtin'))).check();
  await (await reveal(page.getByTestId('preset-one-shot'))).click();
  // A sum with two carries, in the tiny model's own format: it gets it right only part of the time.
  await (await reveal(page.getByTestId('one-shot-question'))).fill('68+57');
  await (await reveal(page.getByTestId('one-shot-answer'))).fill('125');
  for (const [field, value] of Object.entries({
    promptsPerStep: 2,
    maxCompletionLength: 48,
    temperature: 1,
    maxSteps: STEPS,
    evalProblems: 1,
    evalSamples: 8,
    evalEvery: 0,
    saveEvery: 4,
  })) {
    await setKnob(page, field, value);
  }
  await startTraining(page);
  await waitForPhase(app, ['done'], 420_000);

  // The reward of every step, as the page's own metrics export has it.
  const rewards = await rewardsFromCsv(page);
  console.log(`# rewards by step: ${rewards.map((r) => r.toFixed(2)).join(' ')} (${((performance.now() - started) / 1000).toFixed(0)} s)`);
  assert.equal(rewards.length, STEPS);
  const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
  const first = mean(rewards.slice(0, 3));
  const last = mean(rewards.slice(-3));
  assert.ok(last > first + 0.15, `reward rises: first 3 steps ${first.toFixed(3)}, last 3 ${last.toFixed(3)}`);
  await exportedTrlScript(app, t, /ONE_SHOT_PROBLEM = /);
  await app.screenshot('reward-rising');
  app.assertNoPageErrors();
});

/** The reward column of the page's metrics CSV export. */
async function rewardsFromCsv(page: Page): Promise<number[]> {
  const [download] = await Promise.all([page.waitForEvent('download'), reveal(page.getByTestId('export-metrics-csv')).then((button) => button.click())]);
  const stream = await download.createReadStream();
  const chunks: Buffer[] = [];
  for await (const c of stream) chunks.push(c as Buffer);
  const lines = Buffer.concat(chunks).toString('utf8').trim().split('\n');
  const header = lines[0].split(',');
  const col = header.indexOf('reward');
  assert.ok(col >= 0, `CSV header ${lines[0]}`);
  return lines.slice(1).map((l) => Number(l.split(',')[col]));
}
