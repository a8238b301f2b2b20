// The guided tour: a first visit shows the offer; "No thanks" is remembered across a reload; taking
// the tour starts the quick demo and its dialog (focus on it, Escape closes it, no serious axe
// violation) advances to the charts once the first step has filled them in.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import AxeBuilder from '@axe-core/playwright';
import { openApp } from './harness.ts';
import { FAST_KNOBS, chartPoints, setKnob, waitForPhase } from './flow.ts';
import { waitFor } from './harness.ts';

test('guided tour: the offer, a remembered dismissal, the tour starting the quick demo and pointing at the charts', async (t) => {
  const app = await openApp(t);
  const { page } = app;
  await page.getByTestId('device-adapter').waitFor({ state: 'visible', timeout: 60_000 });

  // First visit: the offer. Declining is remembered after a reload.
  await page.getByTestId('tour-offer').waitFor({ state: 'visible' });
  await page.setViewportSize({ width: 1280, height: 800 });
  await page.screenshot({ path: 'e2e/artifacts/tour-offer.png' });
  await page.getByTestId('tour-dismiss').click();
  assert.equal(await page.getByTestId('tour-offer').count(), 0);
  assert.equal(await page.evaluate(() => document.activeElement?.tagName), 'H1', 'focus goes to the page title, not to <body>');
  await page.reload();
  await page.getByTestId('device-adapter').waitFor({ state: 'visible', timeout: 60_000 });
  assert.equal(await page.getByTestId('tour-offer').count(), 0, 'the dismissal is remembered');
  assert.equal(await page.evaluate(() => localStorage.getItem('webgrpo.tour')), 'dismissed');

  // A first visit again (storage cleared): take the tour. Small knobs so the first step comes soon.
  await page.evaluate(() => localStorage.clear());
  await page.reload();
  await page.getByTestId('device-adapter').waitFor({ state: 'visible', timeout: 60_000 });
  await page.getByTestId('tour-offer').waitFor({ state: 'visible' });
  assert.equal(await page.getByTestId('preset-quick').getAttribute('aria-pressed'), 'true', 'the quick demo is the preset of a first visit');
  for (const [field, value] of Object.entries({ ...FAST_KNOBS, maxSteps: 2 })) await setKnob(page, field, value);
  await page.getByTestId('tour-take').click();
  const tour = page.getByTestId('tour');
  await tour.waitFor({ state: 'visible' });
  assert.equal(await tour.getAttribute('data-step'), 'train');
  assert.equal(await page.evaluate(() => document.activeElement?.id), 'tour-title', 'focus moves into the tour');
  await waitForPhase(app, ['loading', 'evaluating', 'training'], 60_000);

  const { violations } = await new AxeBuilder({ page }).analyze();
  const serious = violations
    .filter((v) => v.impact === 'serious' || v.impact === 'critical')
    .map((v) => `${v.id}: ${v.nodes.map((n) => n.target.join(' ')).join(' | ')}`);
  assert.deepEqual(serious, [], 'no serious/critical axe violation with the tour open');

  // Next: the charts, outlined; the step waits until the first training step has drawn a point.
  await page.getByTestId('tour-next').click();
  assert.equal(await tour.getAttribute('data-step'), 'charts');
  assert.equal(await page.locator('section.tour-target:has(#charts-heading)').count(), 1, 'the charts are pointed at');
  await waitFor(
    'the first step on the charts',
    () => chartPoints(page, 'reward'),
    (n) => n >= 1,
    600_000,
    app,
  );
  await page.getByTestId('tour-waiting').waitFor({ state: 'detached' });
  await page.setViewportSize({ width: 1280, height: 800 });
  await page.screenshot({ path: 'e2e/artifacts/tour-charts.png' });

  // Escape closes the tour; focus goes back to the page.
  await page.keyboard.press('Escape');
  assert.equal(await tour.count(), 0);
  assert.equal(await page.evaluate(() => document.activeElement?.tagName), 'H1');
  assert.equal(await page.evaluate(() => localStorage.getItem('webgrpo.tour')), 'taken');
  await waitForPhase(app, ['done'], 600_000);
  app.assertNoPageErrors();
});
