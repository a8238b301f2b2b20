// A teaching instrument: shape the pretrained stories260K in the page. A story task (its stories
// earn 1 when they mention "ball") raises its reward over 20 steps; the smoothing slider changes the
// drawn reward series and not the stored metrics; a second run is overlaid on the charts.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Page } from 'playwright-core';
import { smoothSeries } from '../src/app/series.ts';
import { cli, openApp, reveal, tempDir, waitFor, type App, type PageHooks } from './harness.ts';
import { errorText, setKnob, startTraining, waitForPhase } from './flow.ts';

const STEPS = 20;
const SMOOTHING = 0.8;

type Metrics = { step: number; reward: number }[];

const storeRun = (page: Page) =>
  page.evaluate(() => {
    const run = (window as unknown as PageHooks).webgrpo.store.getState().run;
    return run ? { id: run.id, metrics: run.metrics.map((m) => ({ ...m })) as Metrics } : null;
  });

const numbers = (attr: string | null) => (attr ? attr.split(',').map(Number) : []);

async function chartSeries(page: Page, name: string): Promise<{ raw: number[]; drawn: number[]; series: number }> {
  const chart = page.getByTestId(`chart-${name}`);
  return {
    raw: numbers(await chart.getAttribute('data-raw')),
    drawn: numbers(await chart.getAttribute('data-drawn')),
    series: Number(await chart.getAttribute('data-series')),
  };
}

async function setSmoothing(page: Page, value: number): Promise<void> {
  await (await reveal(page.getByTestId('chart-smoothing'))).fill(String(value));
  assert.equal(await page.getByTestId('chart-smoothing-value').innerText(), value.toFixed(2));
}

/** The charts section at 1280×800, readable in the artifact. */
async function chartsScreenshot(app: App, name: string): Promise<void> {
  await app.page.setViewportSize({ width: 1280, height: 800 });
  await (await reveal(app.page.locator('section:has(#charts-heading)'))).screenshot({ path: `e2e/artifacts/${name}.png` });
  await app.page.setViewportSize({ width: 1280, height: 1000 });
}

async function storyRun(app: App, knobs: Record<string, number>): Promise<{ id: string; metrics: Metrics }> {
  const { page } = app;
  await (await reveal(page.getByTestId('preset-stories-word'))).click();
  assert.ok(await page.getByTestId('model-stories260k').isChecked(), 'the preset picks stories260K');
  assert.equal(await page.getByTestId('data-builtin').inputValue(), 'stories:mention_word:ball');
  for (const [field, value] of Object.entries(knobs)) await setKnob(page, field, value);
  await startTraining(page);
  await waitForPhase(app, ['done'], 900_000);
  const run = await storeRun(page);
  assert.ok(run, `a shown run: ${await errorText(page)}`);
  return run;
}

test(`stories260K in the page: mention_word raises its reward over ${STEPS} steps; smoothing; two runs overlaid`, async (t) => {
  const started = performance.now();
  const app = await openApp(t);
  const { page } = app;
  await page.getByTestId('device-adapter').waitFor({ state: 'visible', timeout: 60_000 });

  // Preview: a plain story opening with the row's word (stories260K has no chat template).
  await (await reveal(page.getByTestId('preset-stories-word'))).click();
  await (await reveal(page.getByTestId('preview-button'))).click();
  const prompt = page.getByTestId('preview-prompt');
  await prompt.waitFor({ state: 'visible', timeout: 60_000 });
  assert.match(await prompt.innerText(), /Once upon a time|One day|There was|Lily and Ben/);

  // 1. The story task: the reward rises (seed 0, G 8, 4 prompts, 48 tokens, lr 3e-3).
  const first = await storyRun(app, { maxSteps: STEPS, learningRate: 0.003, evalProblems: 0, seed: 0 });
  const rewards = first.metrics.map((m) => m.reward);
  console.log(`# rewards by step: ${rewards.map((r) => r.toFixed(2)).join(' ')} (${((performance.now() - started) / 1000).toFixed(0)} s)`);
  assert.equal(rewards.length, STEPS);
  const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
  const early = mean(rewards.slice(0, 5));
  const late = mean(rewards.slice(-5));
  assert.ok(late > early + 0.2, `reward rises: first 5 steps ${early.toFixed(3)}, last 5 ${late.toFixed(3)}`);
  await chartsScreenshot(app, 'story-reward-raw');

  // GGUF from the page (the model with the adapter merged, f32, and the adapter alone): byte for byte
  // what `webgrpo export-gguf` writes from the same PEFT adapter, downloaded from the page.
  const downloads = tempDir(t, 'webgrpo-e2e-story-gguf-');
  const adapterDir = join(downloads, 'adapter');
  mkdirSync(adapterDir);
  copyFileSync(await app.download('export-adapter-config', downloads), join(adapterDir, 'adapter_config.json'));
  copyFileSync(await app.download('export-adapter-weights', downloads), join(adapterDir, 'adapter_model.safetensors'));
  await (await reveal(page.getByTestId('export-gguf-dtype'))).selectOption('f32');
  const fromPage = {
    merged: readFileSync(await app.download('export-gguf-merged', downloads)),
    lora: readFileSync(await app.download('export-gguf-lora', downloads)),
  };
  for (const [kind, flags] of [
    ['merged', ['--dtype', 'f32']],
    ['lora', ['--lora']],
  ] as const) {
    const out = join(downloads, `cli-${kind}.gguf`);
    const r = cli(['export-gguf', '--model', 'public/models/stories260k', '--adapter', adapterDir, ...flags, '--out', out]);
    assert.equal(r.status, 0, r.stderr);
    assert.ok(fromPage[kind].equals(readFileSync(out)), `the page's ${kind} GGUF (${fromPage[kind].length} bytes) equals webgrpo export-gguf's`);
  }

  // 2. Smoothing: the drawn series changes to the debiased EMA; the stored metrics do not.
  const before = await chartSeries(page, 'reward');
  assert.deepEqual(before.raw, rewards, 'the chart draws the stored rewards');
  assert.deepEqual(before.drawn, rewards, 'without smoothing the raw series is drawn');
  await setSmoothing(page, SMOOTHING);
  const after = await chartSeries(page, 'reward');
  assert.deepEqual(after.raw, rewards, 'the raw series is still drawn (faint)');
  const expected = smoothSeries(rewards, SMOOTHING) as number[];
  assert.equal(after.drawn.length, expected.length);
  after.drawn.forEach((v, i) => assert.ok(Math.abs(v - expected[i]) < 1e-9, `smoothed step ${i + 1}: ${v} vs ${expected[i]}`));
  assert.notDeepEqual(after.drawn, rewards, 'smoothing changes the drawn series');
  assert.deepEqual((await storeRun(page))?.metrics, first.metrics, 'the stored metrics are unchanged');
  // The hover read-out names raw and smoothed values.
  const plot = page.getByTestId('chart-reward').locator('.plot');
  await plot.scrollIntoViewIfNeeded();
  const box = await plot.boundingBox();
  assert.ok(box);
  await page.mouse.move(box.x + box.width * 0.6, box.y + box.height * 0.5);
  const tooltip = page.getByTestId('chart-reward').locator('.recharts-tooltip-wrapper');
  await waitFor(
    'the hover read-out',
    () => tooltip.innerText().catch(() => ''),
    (s) => s.includes('(smoothed)'),
    10_000,
    app,
  );
  assert.match(await tooltip.innerText(), /total \(raw\)[^\n]*\d/);
  await chartsScreenshot(app, 'story-reward-smoothed');

  // 3. A second run, with another learning rate, and the first overlaid on its charts.
  const second = await storyRun(app, { maxSteps: 4, learningRate: 0.001, evalProblems: 0, seed: 1 });
  assert.notEqual(second.id, first.id);
  const item = page.locator(`[data-testid="run-item"][data-run-id="${first.id}"]`);
  await (await reveal(item.getByTestId('run-compare'))).click(); // controlled: it shows checked once the metrics are read
  await waitFor(
    'the overlaid run',
    () => chartSeries(page, 'reward'),
    (s) => s.series >= 3,
    30_000,
    app,
  );
  const legend = await page.getByTestId('chart-reward').locator('.legend').innerText();
  assert.ok(legend.includes(first.id) && legend.includes('lr 0.003') && legend.includes('G 8'), `legend names the compared run: ${legend}`);
  assert.ok(legend.includes(second.id) && legend.includes('lr 0.001'), `legend names the shown run: ${legend}`);
  assert.ok(Number(await page.getByTestId('chart-reward').getAttribute('data-points')) >= STEPS, 'the rows span the longer run');
  await chartsScreenshot(app, 'story-two-runs');
  await (await reveal(item.getByTestId('run-compare'))).click();
  await waitFor(
    'the overlay removed',
    () => chartSeries(page, 'reward'),
    (s) => s.series === 2,
    30_000,
    app,
  );
  app.assertNoPageErrors();
});
