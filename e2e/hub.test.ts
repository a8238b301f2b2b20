// Hub models in the page: a tiny random model served by a local stand-in for the Hub
// (test/helpers/hub-server.ts). The browser's requests to https://huggingface.co/… are routed to it
// by Playwright (context.route also sees the dedicated training worker's fetches in Chromium), so the
// app runs unchanged: the same URLs, redirect and CORS as on the real Hub.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { BrowserContext, Page } from 'playwright-core';
import { writeTinyArithmeticModel } from '../test/helpers/tiny-model.ts';
import { startHubServer, type HubServer } from '../test/helpers/hub-server.ts';
import { openApp, reveal, tempDir, waitFor, type App, type PageHooks } from './harness.ts';
import { errorText, phase, runStep, setKnob, startTraining, waitForPhase } from './flow.ts';

const HUB = 'https://huggingface.co';
const REPO = 'webgrpo-test/tiny-llama-arith';
const BAD_REPO = 'webgrpo-test/tiny-gpt2';
const STEPS = 2;
const KNOBS = { promptsPerStep: 2, numGenerations: 4, maxCompletionLength: 24, maxSteps: STEPS, evalProblems: 2, evalSamples: 2, evalEvery: 0, saveEvery: 1 };

const root = mkdtempSync(join(tmpdir(), 'webgrpo-e2e-hub-'));
const goodDir = join(root, 'good');
const badDir = join(root, 'bad');
let hub: HubServer;

before(async () => {
  // A random Llama (F32, hidden 32, one layer) with the arithmetic character tokenizer and chat template.
  for (const dir of [goodDir, badDir]) {
    writeTinyArithmeticModel(dir, 5);
  }
  // The same files, but a config.json of an architecture webgrpo does not implement.
  const config = JSON.parse(readFileSync(join(badDir, 'config.json'), 'utf8'));
  writeFileSync(join(badDir, 'config.json'), JSON.stringify({ ...config, model_type: 'gpt2', architectures: ['GPT2LMHeadModel'] }, null, 2));
  copyFileSync(join(goodDir, 'model.safetensors'), join(badDir, 'model.safetensors'));
  hub = await startHubServer({ [REPO]: goodDir, [BAD_REPO]: badDir });
});
after(async () => {
  await hub?.close();
  rmSync(root, { recursive: true, force: true });
});

/** What the browser asked https://huggingface.co for, in order (only the training worker loads models). */
type Routed = { path: string; range: string | null }[];

/**
 * Route every https://huggingface.co request of the context to the local Hub, with the CORS headers
 * the real Hub sends. The Hub's 302 to its CDN is followed here: Chromium does not route the request
 * that follows a fulfilled redirect (it would go to the real network), so the browser gets the bytes.
 */
function routeHub(routed: Routed): (context: BrowserContext) => Promise<void> {
  return async (context) => {
    await context.route(`${HUB}/**`, async (route) => {
      const request = route.request();
      const url = new URL(request.url());
      const range = (await request.headerValue('range')) ?? null;
      routed.push({ path: url.pathname, range });
      const res = await fetch(`${hub.endpoint}${url.pathname}${url.search}`, { headers: range ? { range } : {}, redirect: 'follow' });
      const headers: Record<string, string> = {
        'access-control-allow-origin': '*',
        'access-control-expose-headers': 'content-length, content-range, accept-ranges, etag',
      };
      for (const name of ['content-type', 'content-length', 'content-range', 'accept-ranges']) {
        const v = res.headers.get(name);
        if (v !== null) headers[name] = v;
      }
      const body = Buffer.from(await res.arrayBuffer());
      // The tiny weights arrive in a blink: hold them a moment, as a real download takes a while, so
      // the page's download bar is on screen long enough to be seen.
      if (url.pathname.endsWith('/model.safetensors') && !range) await new Promise((r) => setTimeout(r, 1500));
      await route.fulfill({ status: res.status, headers, body });
    });
  };
}

/** Device ready → quick preset → "Other Hub model" with `repo` → arithmetic level 2 → small knobs. */
async function chooseHubModel(app: App, repo: string): Promise<void> {
  const { page } = app;
  await page.getByTestId('device-adapter').waitFor({ state: 'visible', timeout: 60_000 });
  await (await reveal(page.getByTestId('preset-quick'))).click();
  await page.getByTestId('tab-setup-model').click();
  await page.getByRole('textbox', { name: 'Hub repo id' }).fill(repo);
  const radio = page.getByRole('radio', { name: 'Other Hub model' });
  await radio.check();
  assert.ok(await radio.isChecked(), 'the Other Hub model choice is selected');
  const model = await page.evaluate(() => (window as unknown as StoreHook).webgrpo.store.getState().settings.model);
  assert.deepEqual(model, { kind: 'hub', repo });
  await (await reveal(page.getByTestId('data-builtin'))).selectOption('arithmetic:2');
  for (const [field, value] of Object.entries(KNOBS)) await setKnob(page, field, value);
}

type StoreHook = PageHooks & {
  downloads: { file: string; loaded: number; total: number | null; phase: string }[];
};

/** Record every download progress state the page's store holds from now on. */
async function recordDownloads(page: Page): Promise<void> {
  await page.evaluate(() => {
    const w = window as unknown as StoreHook;
    w.downloads = [];
    w.webgrpo.store.subscribe((s) => {
      const run = s.run;
      const d = run?.download;
      const last = w.downloads.at(-1);
      if (run && d && (!last || last.file !== d.file || last.loaded !== d.loaded || last.total !== d.total)) w.downloads.push({ ...d, phase: run.phase });
    });
  });
}

const downloads = (page: Page) => page.evaluate(() => (window as unknown as StoreHook).downloads);

test('a Hub model in the page: downloaded with progress through the Hub URLs, trained, then loaded again from the Cache API', async (t) => {
  const started = performance.now();
  const routed: Routed = [];
  const app = await openApp(t, { beforeOpen: routeHub(routed) });
  const { page } = app;
  await chooseHubModel(app, REPO);
  await recordDownloads(page);
  hub.reset();

  await startTraining(page);
  // The download bar is on screen while the model loads (the files are small: look for it at once).
  const shownBar = await page.waitForFunction(
    () => {
      const bar = document.querySelector('.download');
      const progress = bar?.querySelector('progress');
      return bar && progress ? { text: bar.textContent ?? '', label: progress.getAttribute('aria-label') ?? '' } : null;
    },
    undefined,
    { timeout: 60_000, polling: 50 },
  );
  const bar = (await shownBar.jsonValue())!;
  assert.match(bar.text, /^Downloading [\w.]+: \d/, `the download line: ${bar.text}`);
  assert.match(bar.label, /^Download of [\w.]+$/, `the progress bar's label: ${bar.label}`);
  await waitForPhase(app, ['done'], 240_000);
  console.log(`# first Hub run done after ${((performance.now() - started) / 1000).toFixed(0)} s`);
  assert.deepEqual(await runStep(page), { step: STEPS, maxSteps: STEPS });
  await app.screenshot('hub-done');

  // The worker asked https://huggingface.co/{repo}/resolve/main/{file}; the local Hub redirected
  // to its CDN path and served the files.
  const size = statSync(join(goodDir, 'model.safetensors')).size;
  const paths = routed.map((r) => r.path);
  for (const file of ['config.json', 'tokenizer.json', 'tokenizer_config.json', 'model.safetensors']) {
    assert.ok(paths.includes(`/${REPO}/resolve/main/${file}`), `the browser requested ${file} by its Hub URL: ${paths.join(', ')}`);
    assert.ok(
      hub.requests.some((r) => r.path === `/${REPO}/resolve/main/${file}` && r.status === 302),
      `the Hub redirected ${file}`,
    );
    assert.ok(
      hub.requests.some((r) => r.path === `/cdn/${REPO}/main/${file}` && r.status === 200),
      `the Hub's CDN served ${file}`,
    );
  }

  // Progress: the store held the weights' download up to their full size while loading.
  const seen = await downloads(page);
  const weights = seen.filter((d) => d.file === 'model.safetensors');
  assert.ok(weights.length > 0, `download progress of model.safetensors: ${JSON.stringify(seen)}`);
  assert.ok(
    weights.every((d) => d.phase === 'loading' && d.total === size),
    `progress with the known total ${size}: ${JSON.stringify(weights)}`,
  );
  assert.equal(weights.at(-1)!.loaded, size, 'the progress reached the full size');

  // The run is kept with the Hub model's name (run config and the TRL script).
  const runId = await page.locator('[data-testid="run-item"][data-status="done"]').first().getAttribute('data-run-id', { timeout: 10_000 });
  assert.ok(runId, 'the finished run is listed');
  const config = await page.evaluate(async (id) => {
    const root = await navigator.storage.getDirectory();
    const dir = await (await root.getDirectoryHandle('runs')).getDirectoryHandle(id);
    return JSON.parse(await (await (await dir.getFileHandle('config.json')).getFile()).text());
  }, runId);
  assert.equal(config.model, `hf:${REPO}`, 'the run config names the Hub repo');
  const trl = readFileSync(await app.download('export-trl', tempDir(t, 'webgrpo-e2e-hub-trl-')), 'utf8');
  assert.match(trl, new RegExp(`MODEL = "${REPO}"`), 'the TRL script loads the same Hub repo');

  // A second run with the same model: the weights come from the Cache API, not the network.
  const before = routed.length;
  hub.reset();
  await recordDownloads(page);
  await startTraining(page);
  await waitFor(
    'the second run to start',
    () => page.evaluate(() => (window as unknown as StoreHook).webgrpo.store.getState().run?.id),
    (id) => id !== runId,
    10_000,
    app,
  );
  await waitForPhase(app, ['done'], 240_000);
  const again = routed.slice(before).map((r) => r.path);
  assert.ok(!again.some((p) => p.endsWith('/model.safetensors')), `no request for model.safetensors on the second run: ${again.join(', ')}`);
  assert.ok(!hub.requests.some((r) => r.path.endsWith('/model.safetensors')), 'the local Hub got no request for the weights');
  assert.deepEqual(again, [], 'the second run made no Hub request at all');
  const cached = await page.evaluate(async (url) => {
    const hit = await (await caches.open('webgrpo-models')).match(url);
    return hit ? (await hit.arrayBuffer()).byteLength : -1;
  }, `${HUB}/${REPO}/resolve/main/model.safetensors`);
  assert.equal(cached, size, 'the weights are in the Cache API under their Hub URL');
  await waitFor(
    'both runs kept as done',
    () => page.locator('[data-testid="run-item"][data-status="done"]').count(),
    (n) => n === 2,
    10_000,
    app,
  );
  console.log(`# both Hub runs done after ${((performance.now() - started) / 1000).toFixed(0)} s`);
  app.assertNoPageErrors();
});

test('a Hub model of an unsupported architecture: the page names the problem and stays usable', async (t) => {
  const routed: Routed = [];
  const app = await openApp(t, { beforeOpen: routeHub(routed) });
  const { page } = app;
  await chooseHubModel(app, BAD_REPO);
  await startTraining(page);
  await waitFor(
    'the run to fail',
    () => phase(page),
    (p) => p === 'error' || p === 'done',
    120_000,
    app,
  );
  assert.equal(await phase(page), 'error');
  const shown = await errorText(page);
  assert.match(shown, /unsupported model_type 'gpt2'/, `the error names the architecture: ${shown}`);
  assert.ok(shown.includes(`${BAD_REPO}@main/config.json`), `the error names the repo and file: ${shown}`);
  assert.match(shown, /llama/, `the error lists what is supported: ${shown}`);
  assert.ok(
    routed.some((r) => r.path === `/${BAD_REPO}/resolve/main/config.json`),
    'the config came from the Hub URL',
  );
  assert.ok(!routed.some((r) => r.path.endsWith('/model.safetensors') && r.range === null), 'the weights were not downloaded');
  await app.screenshot('hub-bad-architecture');
  // Nothing crashed: the run is listed as failed, and the built-in model still trains afterwards.
  await waitFor(
    'the failed run in the list',
    () => page.locator('[data-testid="run-item"]').first().getAttribute('data-status'),
    (s) => s === 'error',
    10_000,
    app,
  );
  assert.ok(await page.getByTestId('train-start').isEnabled(), 'Start is enabled again');
  app.assertNoPageErrors();
});
