// The step inspector in the page (DESIGN.md §8.13): for steps of the quick demo it shows the
// advantages logged in rollouts.jsonl, before/after log-probs that move the way the advantage points
// for most trained completions, per-token values, and it works by keyboard (slider, completion rows).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Page } from 'playwright-core';
import { openApp, reveal, type PageHooks } from './harness.ts';
import { errorText, FAST_KNOBS, setUpRun, startTraining, waitForPhase } from './flow.ts';

const STEPS = 3;

/** rollouts.jsonl of the shown run, from OPFS: the logged advantages of each step. */
async function loggedAdvantages(page: Page): Promise<Record<number, number[]>> {
  return page.evaluate(async () => {
    const id = (window as unknown as PageHooks).webgrpo.store.getState().run!.id;
    const root = await navigator.storage.getDirectory();
    const dir = await (await root.getDirectoryHandle('runs')).getDirectoryHandle(id);
    const text = await (await (await dir.getFileHandle('rollouts.jsonl')).getFile()).text();
    const out: Record<number, number[]> = {};
    for (const line of text.trim().split('\n')) {
      const r = JSON.parse(line) as { step: number; advantage: number };
      out[r.step] = [...(out[r.step] ?? []), r.advantage];
    }
    return out;
  });
}

async function shownRows(page: Page): Promise<{ advantage: number; before: number | null; after: number | null }[]> {
  return page.getByTestId('inspect-completion').evaluateAll((rows) =>
    // (no named helper inside: the page gets the function's source, without the test's helpers)
    rows.map((tr) => ({
      advantage: Number(tr.getAttribute('data-advantage')),
      before: tr.getAttribute('data-before') === '' ? null : Number(tr.getAttribute('data-before')),
      after: tr.getAttribute('data-after') === '' ? null : Number(tr.getAttribute('data-after')),
    })),
  );
}

const shownStep = async (page: Page) => Number(await page.getByTestId('inspect-step-value').innerText());

test(`the step inspector on ${STEPS} quick-demo steps: logged advantages, log-probs move with the advantage, keyboard`, async (t) => {
  const started = performance.now();
  const app = await openApp(t);
  const { page } = app;
  // No warm-up, so the first step's update already moves the adapter (lr 3e-3 decaying linearly).
  await setUpRun(app, 'arithmetic:2', { ...FAST_KNOBS, maxSteps: STEPS, warmupRatio: 0 });
  await startTraining(page);
  await waitForPhase(app, ['done'], 600_000);
  const logged = await loggedAdvantages(page);
  assert.deepEqual(Object.keys(logged).map(Number), [1, 2, 3], `rollouts of every step: ${await errorText(page)}`);

  // The newest step by default.
  const inspector = page.getByTestId('inspector');
  await inspector.waitFor({ state: 'attached', timeout: 30_000 });
  await reveal(inspector);
  await inspector.waitFor({ state: 'visible', timeout: 30_000 });
  await page.getByTestId('inspect-summary').waitFor({ state: 'visible', timeout: 30_000 });
  assert.equal(await shownStep(page), STEPS);

  // Keyboard: Home goes to the first stored step, End to the newest, arrows one step.
  const slider = page.getByTestId('inspect-step');
  await slider.focus();
  await page.keyboard.press('Home');
  assert.equal(await shownStep(page), 1);
  await page.keyboard.press('ArrowRight');
  assert.equal(await shownStep(page), 2);
  await page.keyboard.press('End');
  assert.equal(await shownStep(page), STEPS);
  await page.keyboard.press('Home');
  await page.getByTestId('inspect-summary').filter({ hasText: 'Step 1:' }).waitFor();

  let moved = 0,
    withAdvantage = 0,
    weighted = 0;
  for (let step = 1; step <= STEPS; step++) {
    if (step > 1) await page.keyboard.press('ArrowRight');
    await page
      .getByTestId('inspect-summary')
      .filter({ hasText: `Step ${step}:` })
      .waitFor();
    const rows = await shownRows(page);
    // The advantages shown are the logged ones, completion by completion.
    assert.deepEqual(
      rows.map((r) => r.advantage),
      logged[step],
      `step ${step}: the inspector's advantages are rollouts.jsonl's`,
    );
    for (const r of rows) {
      if (r.advantage === 0 || r.before === null || r.after === null) continue;
      withAdvantage++;
      weighted += r.advantage * (r.after - r.before);
      if (Math.sign(r.after - r.before) === Math.sign(r.advantage)) moved++;
    }
    await slider.focus();
  }
  console.log(`# ${moved} of ${withAdvantage} completions with |A| > 0 moved with their advantage (${((performance.now() - started) / 1000).toFixed(0)} s)`);
  assert.ok(withAdvantage >= 4, `enough trained completions (${withAdvantage})`);
  assert.ok(moved > withAdvantage / 2, `most completions move the way their advantage points: ${moved} of ${withAdvantage}`);
  assert.ok(weighted > 0, `Σ A·(after − before) > 0: ${weighted}`);

  // Completion rows are focusable; arrows move between them and the token table follows the focus.
  const rows = page.getByTestId('inspect-completion');
  await rows.first().focus();
  await page.keyboard.press('ArrowDown');
  assert.equal(await rows.nth(1).evaluate((el) => el === document.activeElement), true, 'ArrowDown focuses the next completion');
  await page.keyboard.press('PageDown');
  const G = FAST_KNOBS.numGenerations;
  assert.equal(await rows.nth(G).evaluate((el) => el === document.activeElement), true, 'PageDown focuses the next group');
  await page.keyboard.press('End');
  assert.equal(await rows.last().evaluate((el) => el === document.activeElement), true, 'End focuses the last completion');
  const trainedIndex = (await shownRows(page)).findIndex((r) => r.before !== null);
  await rows.nth(trainedIndex).focus();
  const tokens = page.getByTestId('inspect-tokens');
  await tokens.waitFor({ state: 'visible' });
  assert.ok((await tokens.locator('tbody tr').count()) > 0, 'per-token values of the focused completion');
  assert.match(await tokens.locator('thead').innerText(), /log-prob[\s\S]*ratio[\s\S]*clipped[\s\S]*share of the loss[\s\S]*entropy/);

  // A reload reads the stored steps back from OPFS.
  await page.reload();
  await page.getByTestId('run-item').first().waitFor({ state: 'attached', timeout: 60_000 });
  if ((await page.getByTestId('inspector').count()) === 0) await (await reveal(page.getByTestId('run-item').first().locator('button.link'))).click();
  await page.getByTestId('inspector').waitFor({ state: 'attached', timeout: 30_000 });
  await reveal(page.getByTestId('inspector'));
  await page
    .getByTestId('inspect-summary')
    .filter({ hasText: `Step ${STEPS}:` })
    .waitFor({ timeout: 30_000 });

  // The inspector at the top of a 1280×800 window, a completion with per-token values picked.
  await page.getByTestId('inspect-completion').nth(trainedIndex).click();
  await page.setViewportSize({ width: 1280, height: 800 });
  await page.locator('#inspector-heading').evaluate((h) => h.scrollIntoView({ block: 'start' }));
  await page.screenshot({ path: 'e2e/artifacts/inspector.png' });
  app.assertNoPageErrors();
});
