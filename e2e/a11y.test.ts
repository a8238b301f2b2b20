// Accessibility: axe-core finds no serious or critical violation on any view of the page (setup,
// a run in progress, its charts, completions and exports, the no-WebGPU page), the charts have text
// alternatives, and the main flow works by keyboard alone.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import AxeBuilder from '@axe-core/playwright';
import type { Page } from 'playwright-core';
import { openApp } from './harness.ts';
import { FAST_KNOBS, runStep, setUpRun, waitForPhase } from './flow.ts';

/** Run axe on the page as it is; returns the serious/critical violations, printing every one found. */
async function audit(page: Page, view: string): Promise<string[]> {
  const { violations } = await new AxeBuilder({ page }).analyze();
  const lines: string[] = [];
  for (const v of violations) {
    const targets = v.nodes.map((n) => n.target.join(' ')).slice(0, 8);
    const line = `[${view}] ${v.id} (${v.impact}): ${v.help} — ${targets.join(' | ')}${v.nodes.length > 8 ? ` (+${v.nodes.length - 8} more)` : ''}`;
    console.log(`# axe ${line}`);
    if (v.impact === 'serious' || v.impact === 'critical') lines.push(line);
  }
  console.log(`# axe [${view}]: ${violations.length} violation(s), ${lines.length} serious/critical`);
  return lines;
}

test('no serious or critical axe violation on the setup, training, results and export views', async (t) => {
  const app = await openApp(t);
  const { page } = app;
  const found: string[] = [];
  await page.getByTestId('device-adapter').waitFor({ state: 'visible', timeout: 60_000 });
  found.push(...(await audit(page, 'setup')));

  await setUpRun(app, 'arithmetic:2', { ...FAST_KNOBS, maxSteps: 2, evalEvery: 2 });
  // Every knob folded away under "More knobs", and the data preview.
  await page.locator('details:has([data-testid="knob-topP"]) > summary').click();
  await page.getByTestId('preview-button').click();
  await page.getByTestId('preview-prompt').waitFor({ state: 'visible', timeout: 30_000 });
  found.push(...(await audit(page, 'setup: all knobs, data preview')));

  await page.getByTestId('train-start').click();
  await waitForPhase(app, ['training'], 240_000);
  found.push(...(await audit(page, 'training')));

  await waitForPhase(app, ['done'], 300_000);
  assert.deepEqual(await runStep(page), { step: 2, maxSteps: 2 });
  await page.getByTestId('completion').first().waitFor({ state: 'visible' });
  await page.getByTestId('export-trl').waitFor({ state: 'visible' });
  found.push(...(await audit(page, 'done: charts, completions, export')));

  // Charts: a name, a summary of the last values, and a data table behind a toggle.
  const chart = page.getByTestId('chart-reward');
  assert.match((await chart.getAttribute('aria-label')) ?? (await chart.getAttribute('aria-labelledby')) ?? '', /\S/, 'the chart is named');
  const summary = (await page.getByTestId('chart-summary-reward').textContent()) ?? '';
  assert.match(summary, /step 2/, `the summary names the last step: ${summary}`);
  await page.getByTestId('chart-table-toggle-reward').click();
  const table = page.getByTestId('chart-table-reward');
  await table.waitFor({ state: 'visible' });
  assert.equal(await table.locator('tbody tr').count(), 2, 'one row per step');
  await page.getByTestId('chart-table-toggle-passk').click();
  // Colour is not the only carrier of a token's entropy: each completion says it in words.
  // (Completions with advantage 0 are not trained on, so they carry no entropies.)
  if ((await page.getByTestId('completion-entropy').count()) > 0) {
    assert.match((await page.getByTestId('completion-entropy').first().textContent()) ?? '', /entropy mean \d/);
  }
  found.push(...(await audit(page, 'done: chart data tables')));
  await app.screenshot('a11y-done');

  assert.deepEqual(found, [], `serious/critical accessibility violations:\n${found.join('\n')}`);
  app.assertNoPageErrors();
});

test('no serious or critical axe violation on the no-WebGPU page', async (t) => {
  const app = await openApp(t, { webgpu: false });
  await app.page.getByTestId('no-webgpu').waitFor({ state: 'visible', timeout: 60_000 });
  const found = await audit(app.page, 'no WebGPU');
  assert.deepEqual(found, [], `serious/critical accessibility violations:\n${found.join('\n')}`);
  app.assertNoPageErrors();
});

/** Press Tab until the element with this test id has the focus (fails after `max` presses). */
async function tabTo(page: Page, testId: string, max = 250): Promise<void> {
  for (let i = 0; i < max; i++) {
    await page.keyboard.press('Tab');
    if ((await page.evaluate(() => document.activeElement?.getAttribute('data-testid'))) === testId) return;
  }
  assert.fail(`${testId} not reached by Tab in ${max} presses`);
}

test('the main flow by keyboard alone: the quick preset, a few knobs, a 2-step run', async (t) => {
  const app = await openApp(t);
  const { page } = app;
  await page.getByTestId('device-adapter').waitFor({ state: 'visible', timeout: 60_000 });
  await tabTo(page, 'preset-quick');
  await page.keyboard.press('Enter');
  assert.equal(await page.getByTestId('preset-quick').getAttribute('aria-pressed'), 'true');
  const knobs: Record<string, number> = { ...FAST_KNOBS, maxSteps: 2, evalEvery: 2 };
  // In the order of the page, so each one is reached by going forward.
  for (const field of ['maxSteps', 'promptsPerStep', 'numGenerations', 'maxCompletionLength', 'evalProblems', 'evalSamples', 'evalEvery', 'saveEvery']) {
    await tabTo(page, `knob-${field}`);
    await page.keyboard.press('ControlOrMeta+A');
    await page.keyboard.type(String(knobs[field]));
    assert.equal(await page.getByTestId(`knob-${field}`).inputValue(), String(knobs[field]), `knob-${field} typed`);
  }
  await tabTo(page, 'train-start');
  await page.keyboard.press('Space');
  await waitForPhase(app, ['done'], 300_000);
  assert.deepEqual(await runStep(page), { step: 2, maxSteps: 2 });
  // The chart's data table opens by keyboard too.
  await tabTo(page, 'chart-table-toggle-reward');
  await page.keyboard.press('Enter');
  await page.getByTestId('chart-table-reward').waitFor({ state: 'visible' });
  app.assertNoPageErrors();
});
