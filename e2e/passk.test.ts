// The pass@k explorer: after a short run of the tiny model, sample its held-out problems n times from
// the base model and the adapter in the page, check both curves up to k = n, the problems by
// category and their samples, the exports and axe, then run `webgrpo eval --compare-base` on the
// same problems, downloaded adapter and seed and find the same counts.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import AxeBuilder from '@axe-core/playwright';
import type { ExplorerView } from '../src/app/store.ts';
import { cli, openApp, reveal, ROOT, tempDir, waitFor, type PageHooks } from './harness.ts';
import { FAST_KNOBS, setUpRun, startTraining, waitForPhase } from './flow.ts';

const SAMPLES = 8;
const PROBLEMS = 4;
const SEED = 1;
const CATEGORIES = ['base-only', 'adapter-only', 'both', 'neither'] as const;

test(`the pass@k explorer compares base and adapter with n = ${SAMPLES} and agrees with webgrpo eval --compare-base`, async (t) => {
  const started = performance.now();
  const app = await openApp(t);
  const { page } = app;
  // A learning rate above the default (3e-3), so three steps move some of the adapter's samples away from the base model's.
  await setUpRun(app, 'arithmetic:2', { ...FAST_KNOBS, maxSteps: 3, evalEvery: 3, learningRate: 0.008 });
  await startTraining(page);
  await waitForPhase(app, ['done'], 300_000);
  console.log(`# trained after ${((performance.now() - started) / 1000).toFixed(0)} s`);

  const explorer = page.getByTestId('passk-explorer');
  await reveal(explorer);
  await explorer.scrollIntoViewIfNeeded();
  for (const [field, value] of [
    ['problems', PROBLEMS],
    ['samples', SAMPLES],
    ['seed', SEED],
  ] as const) {
    await page.getByTestId(`passk-${field}`).fill(String(value));
    assert.equal(await page.getByTestId(`passk-${field}`).inputValue(), String(value));
  }
  // The time it will take, before starting: from the run's measured generation speed.
  const estimate = (await page.getByTestId('passk-estimate').textContent()) ?? '';
  assert.match(estimate, /^Takes about \d+ (s|min)/, estimate);
  assert.match(estimate, /tokens\/s/);

  // Cancel works: start, cancel, the explorer says so and can start again.
  await page.getByTestId('passk-start').click();
  await page.getByTestId('passk-cancel').click();
  await page.getByTestId('passk-stopped').waitFor({ state: 'visible', timeout: 60_000 });
  assert.equal(await page.getByTestId('passk-stopped').textContent(), 'Cancelled.');

  // Started by keyboard.
  await page.getByTestId('passk-start').focus();
  await page.keyboard.press('Enter');
  const view = await waitFor(
    'the explorer result',
    () => page.evaluate(() => (window as unknown as PageHooks).webgrpo.store.getState().explorer),
    (v: ExplorerView | null) => v?.status !== 'running',
    240_000,
    app,
  );
  assert.equal(view?.status, 'done', `explorer: ${view?.message}`);
  const result = view.result!;
  console.log(`# explored after ${((performance.now() - started) / 1000).toFixed(0)} s: solved by ${JSON.stringify(result.sizes)}`);
  assert.equal(result.problems.length, PROBLEMS);
  // The adapter is applied: with the same seed, some of its samples differ from the base model's.
  const differ = result.problems.reduce((a, p) => a + p.samples.adapter.filter((s, i) => s.text !== p.samples.base[i].text).length, 0);
  console.log(`# ${differ} of ${PROBLEMS * SAMPLES} adapter samples differ from the base model's`);
  assert.ok(differ > 0, 'the adapter changes some samples');

  // Both curves, k = 1..n on the log axis.
  const chart = page.getByTestId('chart-passk-explore');
  assert.equal(await chart.getAttribute('data-points'), String(SAMPLES));
  assert.equal(await chart.locator('path.recharts-line-curve').count(), 2, 'a base and an adapter curve');
  const ticks = (await chart.locator('.recharts-xAxis-tick-labels .recharts-cartesian-axis-tick-value').allTextContents()).map(Number);
  assert.deepEqual(ticks, [1, 2, 4, 8]);
  assert.equal(result.curves.base.length, SAMPLES);
  assert.equal(result.curves.adapter.length, SAMPLES);
  await page.getByTestId('chart-table-toggle-passk-explore').click();
  assert.equal(await page.getByTestId('chart-table-passk-explore').locator('tbody tr').count(), SAMPLES);
  const words = (await page.getByTestId('passk-curves-text').textContent()) ?? '';
  assert.match(words, new RegExp(`pass@${SAMPLES}: base \\d`));
  assert.match(words, result.crossing ? /The curves cross at k ≈/ : /The curves do not cross/);

  // The problems by category, with their counts.
  let listed = 0;
  for (const category of CATEGORIES) {
    const group = page.getByTestId(`passk-category-${category}`);
    assert.equal(Number(await group.getAttribute('data-count')), result.sizes[category], category);
    const items = await group
      .getByTestId('passk-problem')
      .evaluateAll((els) => els.map((el) => [Number(el.getAttribute('data-base')), Number(el.getAttribute('data-adapter'))]));
    for (const [base, adapter] of items) {
      const want = base > 0 ? (adapter > 0 ? 'both' : 'base-only') : adapter > 0 ? 'adapter-only' : 'neither';
      assert.equal(want, category, `base ${base}, adapter ${adapter} listed under ${category}`);
    }
    listed += items.length;
  }
  assert.equal(listed, PROBLEMS);

  // A problem's samples, opened by keyboard: n from each model with their rewards.
  await page.getByTestId('passk-problem').first().focus();
  await page.keyboard.press('Enter');
  const samples = page.getByTestId('passk-problem-samples');
  await samples.waitFor({ state: 'visible' });
  const index = Number(await samples.getAttribute('data-problem')) - 1;
  for (const which of ['base', 'adapter'] as const) {
    const rewards = (await samples.getByTestId(`passk-sample-${which}`).evaluateAll((els) => els.map((el) => el.getAttribute('data-reward')))).map(Number);
    assert.equal(rewards.length, SAMPLES);
    assert.equal(rewards.filter((r) => r === 1).length, result.problems[index][which], `${which}: correct samples = its count`);
  }

  const { violations } = await new AxeBuilder({ page }).include('[data-testid="passk-explorer"]').analyze();
  const serious = violations
    .filter((v) => v.impact === 'serious' || v.impact === 'critical')
    .map((v) => `${v.id}: ${v.help} — ${v.nodes.map((n) => n.target.join(' ')).join(' | ')}`);
  assert.deepEqual(serious, [], 'no serious/critical axe violation in the explorer');

  const downloads = tempDir(t, 'webgrpo-e2e-passk-');
  const problemsCsv = readFileSync(await app.download('passk-export-problems', downloads), 'utf8')
    .trim()
    .split('\n');
  assert.equal(problemsCsv[0], 'problem,question,answer,samples,correct_base,correct_adapter,category');
  const curvesCsv = readFileSync(await app.download('passk-export-curves', downloads), 'utf8')
    .trim()
    .split('\n');
  assert.equal(curvesCsv.length, SAMPLES + 1);
  assert.deepEqual(curvesCsv[1].split(',').map(Number), [1, result.curves.base[0], result.curves.adapter[0]]);
  const png = readFileSync(await app.download('export-png-passk-explore', downloads));
  assert.ok(png.subarray(0, 4).equals(Buffer.from([0x89, 0x50, 0x4e, 0x47])), 'a PNG');

  await page.setViewportSize({ width: 1280, height: 800 });
  await page.getByTestId('chart-table-toggle-passk-explore').click();
  mkdirSync(join(ROOT, 'e2e', 'artifacts'), { recursive: true });
  await explorer.screenshot({ path: join(ROOT, 'e2e', 'artifacts', 'passk-explorer.png') });

  // The same comparison from the CLI: the downloaded adapter, the same problems, seed and sampling.
  const adapterDir = join(downloads, 'adapter');
  mkdirSync(adapterDir);
  for (const id of ['export-adapter-config', 'export-adapter-weights']) {
    const path = await app.download(id, downloads);
    copyFileSync(path, join(adapterDir, path.split('/').pop()!));
  }
  const { settings } = await page.evaluate(() => (window as unknown as PageHooks).webgrpo.store.getState().run!);
  app.assertNoPageErrors();
  await app.browser.close(); // frees the cores for the CLI

  const problemsFile = join(downloads, 'problems.jsonl');
  writeFileSync(problemsFile, result.problems.map((p) => JSON.stringify({ question: p.question, answer: p.answer })).join('\n'));
  const counts = join(downloads, 'counts.jsonl');
  const r = cli<{ solvedBy: Record<string, number> }>([
    'eval',
    '--model',
    'public/models/tiny-arith',
    '--adapter',
    adapterDir,
    '--dataset',
    problemsFile,
    '--compare-base',
    '--samples',
    String(SAMPLES),
    '--seed',
    String(SEED),
    '--temperature',
    String(settings.grpo.temperature),
    '--max-new-tokens',
    String(settings.grpo.maxCompletionLength),
    '--out',
    counts,
    '--json',
  ]);
  assert.equal(r.status, 0, r.stderr);
  const rows = readFileSync(counts, 'utf8')
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l));
  assert.deepEqual(
    rows.map((row) => [row.correct_base, row.correct_adapter, row.category]),
    result.problems.map((p) => [p.base, p.adapter, p.solvedBy]),
    'the CLI counts match the page',
  );
  assert.deepEqual(r.json?.solvedBy, result.sizes);
  console.log(`# pass@k explorer test took ${((performance.now() - started) / 1000).toFixed(0)} s`);
});
