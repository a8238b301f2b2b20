// Accessibility: axe-core finds no serious or critical violation on any view of the page (every
// set-up step and results view, before, during and after a run; the Hub model and dataset choices,
// an upload with its field mapping, the error banner, the publish panel with its token and an error;
// the no-WebGPU page), colour is never the only carrier of meaning, the charts have text
// alternatives, and the main flow works by keyboard alone.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import AxeBuilder from '@axe-core/playwright';
import type { Page } from 'playwright-core';
import { openApp, reveal, tempDir } from './harness.ts';
import { errorText, FAST_KNOBS, runStep, setUpRun, startTraining, waitForPhase } from './flow.ts';

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

/** Audit every tab of a tablist (`setup` steps or `results` views), then select the one shown before. */
async function auditTabs(page: Page, tablist: string, view: string): Promise<string[]> {
  const tabs = page.locator(`[data-testid^="tab-${tablist}-"]`);
  const ids = await tabs.evaluateAll((els) => els.map((el) => el.getAttribute('data-testid')!));
  assert.ok(ids.length >= 4, `the ${tablist} tabs: ${ids.join(', ')}`);
  const before = await page.locator(`[data-testid^="tab-${tablist}-"][aria-selected="true"]`).getAttribute('data-testid');
  const found: string[] = [];
  for (const id of ids) {
    await page.getByTestId(id).click();
    found.push(...(await audit(page, `${view}: ${id}`)));
  }
  await page.getByTestId(before!).click();
  return found;
}

const assertNone = (found: string[]) => assert.deepEqual(found, [], `serious/critical accessibility violations:\n${found.join('\n')}`);

test('no serious or critical axe violation on every set-up step and results view, before, during and after a run', async (t) => {
  const app = await openApp(t);
  const { page } = app;
  const found: string[] = [];
  await page.getByTestId('device-adapter').waitFor({ state: 'visible', timeout: 60_000 });
  found.push(...(await auditTabs(page, 'setup', 'setup')));
  found.push(...(await auditTabs(page, 'results', 'no run yet')));

  await setUpRun(app, 'arithmetic:2', { ...FAST_KNOBS, maxSteps: 2, evalEvery: 2 });
  // Every knob folded away under "More knobs", and the data preview.
  await (await reveal(page.locator('details:has([data-testid="knob-topP"]) > summary'))).click();
  found.push(...(await audit(page, 'setup: all knobs')));
  await (await reveal(page.getByTestId('preview-button'))).click();
  await page.getByTestId('preview-prompt').waitFor({ state: 'visible', timeout: 30_000 });
  found.push(...(await audit(page, 'setup: data preview')));

  await startTraining(page);
  await waitForPhase(app, ['training'], 240_000);
  found.push(...(await auditTabs(page, 'results', 'training')));

  await waitForPhase(app, ['done'], 300_000);
  assert.deepEqual(await runStep(page), { step: 2, maxSteps: 2 });
  await (await reveal(page.getByTestId('completion').first())).waitFor({ state: 'visible' });
  await (await reveal(page.getByTestId('export-trl'))).waitFor({ state: 'visible' });
  found.push(...(await auditTabs(page, 'results', 'done')));
  found.push(...(await auditTabs(page, 'setup', 'done')));

  // The publish panel with a token typed and its Hub pointed at a closed port: the error it shows.
  await (await reveal(page.getByTestId('publish-repo'))).fill('someone/tiny-grpo');
  await page.getByTestId('publish-token').fill('hf_not_a_real_token');
  await page.locator('[data-testid="publish"] details > summary').click();
  await page.getByTestId('publish-endpoint').fill('http://127.0.0.1:9');
  found.push(...(await audit(page, 'export: publish with a token')));
  await page.getByTestId('publish-button').click();
  await page.getByTestId('publish-error').waitFor({ state: 'visible', timeout: 60_000 });
  found.push(...(await audit(page, 'export: publish error')));

  // Charts: a name, a summary of the last values, a legend naming each line, and a data table behind a toggle.
  const chart = page.getByTestId('chart-reward');
  await reveal(chart);
  assert.match((await chart.getAttribute('aria-label')) ?? (await chart.getAttribute('aria-labelledby')) ?? '', /\S/, 'the chart is named');
  const summary = (await page.getByTestId('chart-summary-reward').textContent()) ?? '';
  assert.match(summary, /step 2/, `the summary names the last step: ${summary}`);
  assert.match(await chart.locator('.legend').innerText(), /\w/, "the chart's legend names its lines in words");
  await page.getByTestId('chart-table-toggle-reward').click();
  const table = page.getByTestId('chart-table-reward');
  await table.waitFor({ state: 'visible' });
  assert.equal(await table.locator('tbody tr').count(), 2, 'one row per step');
  await page.getByTestId('chart-table-toggle-passk').click();
  found.push(...(await audit(page, 'done: chart data tables')));

  // Colour is not the only carrier of a token's entropy: a legend in words, each completion's entropy
  // in words, each shaded token's value in its tooltip. (Completions with advantage 0 are not trained
  // on, so they carry no entropies.)
  await reveal(page.getByTestId('completion').first());
  assert.match(await page.getByRole('note', { name: 'Token colour: entropy' }).innerText(), /entropy 0[\s\S]*nats/);
  if ((await page.getByTestId('completion-entropy').count()) > 0) {
    assert.match((await page.getByTestId('completion-entropy').first().textContent()) ?? '', /entropy mean \d/);
    const titles = await page.locator('[data-entropy]').evaluateAll((spans) => spans.map((s) => s.getAttribute('title') ?? ''));
    assert.ok(titles.length > 0 && titles.every((title) => /^entropy \d+\.\d{3} nats$/.test(title)), `token tooltips: ${titles.slice(0, 3).join(' | ')}`);
  }
  await app.screenshot('a11y-done');

  assertNone(found);
  app.assertNoPageErrors();
});

function writeJsonl(dir: string, name: string, rows: object[]): string {
  const path = join(dir, name);
  writeFileSync(path, `${rows.map((r) => JSON.stringify(r)).join('\n')}\n`);
  return path;
}

test('no serious or critical axe violation on the Hub model and dataset choices, an upload with its field mapping, and the error banner', async (t) => {
  const app = await openApp(t);
  const { page } = app;
  const found: string[] = [];
  await page.getByTestId('device-adapter').waitFor({ state: 'visible', timeout: 60_000 });

  await page.getByTestId('tab-setup-model').click();
  await page.getByRole('textbox', { name: 'Hub repo id' }).fill('someone/tiny-model');
  await page.getByRole('radio', { name: 'Other Hub model' }).check();
  found.push(...(await audit(page, 'model: other Hub model')));

  await page.getByTestId('tab-setup-data').click();
  const hubDataset = page.getByRole('textbox', { name: 'Hub dataset id' });
  await hubDataset.fill('someone/sums');
  assert.equal(await hubDataset.getAttribute('aria-invalid'), 'true', 'an id without hf: and a split is refused');
  found.push(...(await audit(page, 'data: a Hub dataset id refused')));
  await hubDataset.fill('hf:someone/sums:default:train');
  await page.getByRole('radio', { name: 'Hub dataset' }).check();
  found.push(...(await audit(page, 'data: Hub dataset')));

  // An upload under field names the loader does not guess, mapped by hand; then a row without its answer.
  const dir = tempDir(t, 'webgrpo-e2e-a11y-');
  const rows = [{ q: '12+30', gold: '42' }, { q: '40+2' }];
  await page.getByLabel('Dataset file').setInputFiles(writeJsonl(dir, 'sums.jsonl', rows));
  await page.getByRole('radio', { name: 'File: sums.jsonl' }).waitFor({ state: 'visible', timeout: 30_000 });
  await page.getByRole('textbox', { name: 'Question field' }).fill('q');
  await page.getByRole('textbox', { name: 'Answer field' }).fill('gold');
  found.push(...(await audit(page, 'data: upload with field mapping')));
  // The preview tokenizes with the chosen model: the built-in one (the Hub one is not reachable here).
  await (await reveal(page.getByTestId('model-builtin'))).check();
  await (await reveal(page.getByTestId('preview-button'))).click();
  await page.locator('.error-banner').waitFor({ state: 'visible', timeout: 60_000 });
  assert.match(await errorText(page), /sums\.jsonl.*line 2/s, 'the banner names the file and the line');
  found.push(...(await audit(page, 'error banner')));
  await app.screenshot('a11y-error-banner');

  assertNone(found);
  app.assertNoPageErrors();
});

test('no serious or critical axe violation on the no-WebGPU page', async (t) => {
  const app = await openApp(t, { webgpu: false });
  await app.page.getByTestId('no-webgpu').waitFor({ state: 'visible', timeout: 60_000 });
  assertNone(await audit(app.page, 'no WebGPU'));
  app.assertNoPageErrors();
});

const focusedTestId = (page: Page) => page.evaluate(() => document.activeElement?.getAttribute('data-testid'));

/** Press Tab (Shift+Tab `back`) until the element with this test id has the focus (fails after `max` presses). */
async function tabTo(page: Page, testId: string, { back = false, max = 250 } = {}): Promise<void> {
  for (let i = 0; i < max; i++) {
    await page.keyboard.press(back ? 'Shift+Tab' : 'Tab');
    if ((await focusedTestId(page)) === testId) return;
  }
  assert.fail(`${testId} not reached by ${back ? 'Shift+' : ''}Tab in ${max} presses`);
}

/** From a focused tab, arrow right to the tab `testId`: it is selected and its panel shown. */
async function arrowTo(page: Page, testId: string, max = 8): Promise<void> {
  for (let i = 0; i < max && (await focusedTestId(page)) !== testId; i++) await page.keyboard.press('ArrowRight');
  assert.equal(await focusedTestId(page), testId, `${testId} reached by the arrow keys`);
  assert.equal(await page.getByTestId(testId).getAttribute('aria-selected'), 'true');
}

test('the main flow by keyboard alone: the Recipe step, the quick preset, a few knobs, the Train step, a 2-step run', async (t) => {
  const app = await openApp(t);
  const { page } = app;
  await page.getByTestId('device-adapter').waitFor({ state: 'visible', timeout: 60_000 });
  await tabTo(page, 'tab-setup-model');
  await arrowTo(page, 'tab-setup-recipe');
  await tabTo(page, 'preset-quick');
  await page.keyboard.press('Enter');
  assert.equal(await page.getByTestId('preset-quick').getAttribute('aria-pressed'), 'true');
  const knobs: Record<string, number> = { ...FAST_KNOBS, maxSteps: 2, evalEvery: 2 };
  /** Type the knobs' values, in the order of the page, so each one is reached by going forward. */
  const typeKnobs = async (fields: string[]) => {
    for (const field of fields) {
      await tabTo(page, `knob-${field}`);
      await page.keyboard.press('ControlOrMeta+A');
      await page.keyboard.type(String(knobs[field]));
      assert.equal(await page.getByTestId(`knob-${field}`).inputValue(), String(knobs[field]), `knob-${field} typed`);
    }
  };
  await typeKnobs(['maxSteps', 'promptsPerStep', 'numGenerations', 'maxCompletionLength']);
  // Back up to the steps, on to Train: its evaluation and checkpoint knobs, then Start.
  await tabTo(page, 'tab-setup-recipe', { back: true });
  await arrowTo(page, 'tab-setup-train');
  await typeKnobs(['evalProblems', 'evalSamples', 'evalEvery', 'saveEvery']);
  await tabTo(page, 'train-start');
  await page.keyboard.press('Space');
  await waitForPhase(app, ['done'], 300_000);
  assert.deepEqual(await runStep(page), { step: 2, maxSteps: 2 });
  // The chart's data table opens by keyboard too (Charts is the results view shown first).
  await tabTo(page, 'chart-table-toggle-reward');
  await page.keyboard.press('Enter');
  await page.getByTestId('chart-table-reward').waitFor({ state: 'visible' });
  app.assertNoPageErrors();
});
