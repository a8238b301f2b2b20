// The page's layout: at 1280×800 every set-up step of the quick demo fits the screen with the run's
// status in view; the steps and results are WAI-ARIA tabs (arrow keys, Home, End); long preset
// labels stay inside their buttons; at 768 px wide nothing overflows sideways and the main flow runs.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Page } from 'playwright-core';
import { openApp, reveal } from './harness.ts';
import { FAST_KNOBS, runStep, setUpRun, startTraining, waitForPhase } from './flow.ts';

const SETUP_STEPS = ['model', 'data', 'recipe', 'train'];
const RESULT_VIEWS = ['charts', 'completions', 'passk', 'export', 'runs'];
/** Rounding of fractional layout sizes. */
const SLACK_PX = 2;

interface Fit {
  pageHeight: number;
  pageWidth: number;
  viewport: { width: number; height: number };
  /** The shown panel's content height and its box (they differ when it scrolls on its own). */
  panel: { scrollHeight: number; clientHeight: number } | null;
  /** The run status bar's top and bottom on screen. */
  status: { top: number; bottom: number };
}

async function fit(page: Page, tablist: string): Promise<Fit> {
  return page.evaluate((name) => {
    const doc = document.scrollingElement ?? document.documentElement;
    const panel = document.querySelector<HTMLElement>(`[id^="${name}-panel-"]:not([hidden])`);
    const status = document.querySelector('[aria-label="Run status"]')!.getBoundingClientRect();
    return {
      pageHeight: doc.scrollHeight,
      pageWidth: doc.scrollWidth,
      viewport: { width: innerWidth, height: innerHeight },
      panel: panel && { scrollHeight: panel.scrollHeight, clientHeight: panel.clientHeight },
      status: { top: status.top, bottom: status.bottom },
    };
  }, tablist);
}

async function selectTab(page: Page, tablist: string, id: string): Promise<void> {
  const tab = page.getByTestId(`tab-${tablist}-${id}`);
  await tab.click();
  assert.equal(await tab.getAttribute('aria-selected'), 'true', `${tablist} tab ${id} selected`);
}

/** No element of the page is wider than the viewport: the page does not scroll sideways. */
async function assertNoSidewaysScroll(page: Page, where: string): Promise<void> {
  const f = await fit(page, 'setup');
  assert.ok(f.pageWidth <= f.viewport.width, `${where}: the page is ${f.pageWidth} px wide in a ${f.viewport.width} px viewport`);
}

test('at 1280×800 each set-up step of the quick demo fits the screen with the run status in view; tabs follow the WAI-ARIA pattern', async (t) => {
  const app = await openApp(t);
  const { page } = app;
  await page.setViewportSize({ width: 1280, height: 800 });
  await page.getByTestId('device-adapter').waitFor({ state: 'visible', timeout: 60_000 });
  await (await reveal(page.getByTestId('preset-quick'))).click();

  for (const step of SETUP_STEPS) {
    await selectTab(page, 'setup', step);
    await page.screenshot({ path: `e2e/artifacts/layout-1280x800-${step}.png` });
    const f = await fit(page, 'setup');
    console.log(`# ${step}: page ${f.pageHeight} px, panel ${f.panel?.scrollHeight} px in ${f.panel?.clientHeight} px`);
    assert.ok(f.pageHeight <= f.viewport.height + SLACK_PX, `${step}: the page is ${f.pageHeight} px tall at ${f.viewport.height} px`);
    assert.ok(f.panel, `${step}: one panel shown`);
    assert.ok(
      f.panel.scrollHeight <= f.panel.clientHeight + SLACK_PX,
      `${step}: the step's panel holds ${f.panel.scrollHeight} px in ${f.panel.clientHeight} px`,
    );
    assert.ok(f.status.top >= 0 && f.status.bottom <= f.viewport.height, `${step}: the run status is on screen (${f.status.top}–${f.status.bottom})`);
    assert.equal(await page.locator('[id^="setup-panel-"]:not([hidden])').count(), 1, `${step}: only its panel shows`);
  }

  // Keys on a focused tab: → and ← move and select (wrapping), Home and End jump; focus follows.
  await page.getByTestId('tab-setup-train').focus();
  const focusedTab = () => page.evaluate(() => document.activeElement?.getAttribute('data-testid'));
  const expectSelected = async (id: string, key: string) => {
    assert.equal(await focusedTab(), `tab-setup-${id}`, `after ${key} the ${id} tab has the focus`);
    assert.equal(await page.getByTestId(`tab-setup-${id}`).getAttribute('aria-selected'), 'true', `after ${key} the ${id} tab is selected`);
    assert.equal(await page.getByTestId(`tab-setup-${id}`).getAttribute('tabindex'), '0', 'the selected tab is the one tab stop');
    assert.ok(await page.locator(`#setup-panel-${id}`).isVisible(), `after ${key} the ${id} panel shows`);
  };
  for (const [key, id] of [
    ['ArrowRight', 'model'],
    ['ArrowRight', 'data'],
    ['ArrowLeft', 'model'],
    ['ArrowLeft', 'train'],
    ['Home', 'model'],
    ['End', 'train'],
  ] as const) {
    await page.keyboard.press(key);
    await expectSelected(id, key);
  }
  assert.equal(await page.locator('[role="tablist"][aria-label="Set-up steps"] [role="tab"][tabindex="0"]').count(), 1, 'one tab stop in the list');
  assert.equal(await page.locator('#setup-panel-train').getAttribute('aria-labelledby'), 'setup-tab-train');
  app.assertNoPageErrors();
});

test('long preset labels (the stories260K story presets) stay inside their buttons and clear of the text', async (t) => {
  const app = await openApp(t);
  const { page } = app;
  await page.setViewportSize({ width: 1280, height: 800 });
  await (await reveal(page.getByTestId('preset-stories-happy'))).click();
  for (const width of [1280, 768]) {
    await page.setViewportSize({ width, height: 800 });
    const boxes = await page.locator('[data-testid^="preset-"]').evaluateAll((els) =>
      els.map((el) => {
        const r = el.getBoundingClientRect();
        return { id: el.getAttribute('data-testid'), left: r.left, right: r.right, top: r.top, bottom: r.bottom, fits: el.scrollWidth <= el.clientWidth };
      }),
    );
    const about = boxes.find((b) => b.id === 'preset-about');
    const buttons = boxes.filter((b) => b.id !== 'preset-about');
    assert.ok(about && buttons.length >= 10, `the presets and the chosen one's line: ${boxes.map((b) => b.id).join(', ')}`);
    const overlap = (a: (typeof boxes)[number], b: (typeof boxes)[number]) =>
      a.left < b.right - 0.5 && b.left < a.right - 0.5 && a.top < b.bottom - 0.5 && b.top < a.bottom - 0.5;
    for (const b of buttons) {
      assert.ok(b.fits, `${width} px: ${b.id}'s label fits its button`);
      assert.ok(!overlap(b, about), `${width} px: ${b.id} clear of the preset's line`);
      for (const other of buttons) if (other !== b) assert.ok(!overlap(b, other), `${width} px: ${b.id} clear of ${other.id}`);
    }
    assert.match((await page.getByTestId('preset-about').textContent()) ?? '', /^Stories: happy endings: stories260K learns/);
    await page.screenshot({ path: `e2e/artifacts/layout-presets-${width}.png` });
  }
  app.assertNoPageErrors();
});

test('at 768 px wide nothing overflows sideways, the run status stays on screen, and a 2-step run works; then at 1280×800 its results fit one screen', async (t) => {
  const app = await openApp(t);
  const { page } = app;
  await page.setViewportSize({ width: 768, height: 1000 });
  await setUpRun(app, 'arithmetic:2', { ...FAST_KNOBS, maxSteps: 2, evalEvery: 2 });
  await (await reveal(page.locator('details:has([data-testid="knob-topP"]) > summary'))).click();
  for (const step of SETUP_STEPS) {
    await selectTab(page, 'setup', step);
    await assertNoSidewaysScroll(page, `set-up step ${step}`);
  }
  await startTraining(page);
  await waitForPhase(app, ['done'], 300_000);
  assert.deepEqual(await runStep(page), { step: 2, maxSteps: 2 });
  await page.getByTestId('completion').first().waitFor({ state: 'attached' });
  for (const view of RESULT_VIEWS) {
    await selectTab(page, 'results', view);
    await assertNoSidewaysScroll(page, `results view ${view}`);
    await page.screenshot({ path: `e2e/artifacts/layout-768-${view}.png`, fullPage: true });
  }
  // Scrolled to the bottom of a long view, the status bar is still at the top of the screen.
  await selectTab(page, 'results', 'charts');
  await page.evaluate(() => window.scrollTo(0, document.documentElement.scrollHeight));
  const f = await fit(page, 'results');
  assert.ok(f.pageHeight > f.viewport.height, 'the charts make the page scroll at this width');
  assert.ok(f.status.top >= 0 && f.status.top <= SLACK_PX, `the run status sticks to the top (at ${f.status.top} px)`);
  assert.match((await page.locator('[aria-label="Run status"]').innerText()) ?? '', /done[\s\S]*step 2 \/ 2[\s\S]*reward -?\d/);
  await page.screenshot({ path: 'e2e/artifacts/layout-768-scrolled.png' });

  // Back at 1280×800 with the run's results: still one screen, each results view scrolling on its own.
  await page.setViewportSize({ width: 1280, height: 800 });
  for (const view of RESULT_VIEWS) {
    await selectTab(page, 'results', view);
    const wide = await fit(page, 'results');
    assert.ok(wide.pageHeight <= wide.viewport.height + SLACK_PX, `1280×800, ${view}: the page is ${wide.pageHeight} px tall`);
    assert.ok(wide.pageWidth <= wide.viewport.width, `1280×800, ${view}: the page is ${wide.pageWidth} px wide`);
  }
  await selectTab(page, 'results', 'charts');
  await page.screenshot({ path: 'e2e/artifacts/layout-1280x800-charts.png' });
  app.assertNoPageErrors();
});
