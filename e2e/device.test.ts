// The device panel with WebGPU (SwiftShader here), and the explanation page without it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { openApp } from './harness.ts';
import { errorText, phase, setUpRun, startTraining, waitForPhase } from './flow.ts';

test('with WebGPU the page names the adapter it will train on', async (t) => {
  const app = await openApp(t, { webgpu: true });
  const adapter = app.page.getByTestId('device-adapter');
  await adapter.waitFor({ state: 'visible', timeout: 60_000 });
  const name = (await adapter.textContent())?.trim() ?? '';
  console.log(`# adapter: ${name}`);
  assert.ok(name.length > 0, 'an adapter name');
  assert.equal(await app.page.getByTestId('no-webgpu').count(), 0, 'no explanation page when WebGPU works');
  await app.screenshot('device');
  app.assertNoPageErrors();
});

test('without the WebGPU flag (no adapter) the page explains what works instead of crashing', async (t) => {
  const app = await openApp(t, { webgpu: false });
  // What this test checks is really the no-adapter case: Chromium on Linux exposes navigator.gpu
  // even without --enable-unsafe-webgpu (and with --disable-webgpu), but gives no adapter.
  const probe = await app.page.evaluate(async () => ({
    hasGpu: 'gpu' in navigator && !!navigator.gpu,
    adapter: navigator.gpu ? (await navigator.gpu.requestAdapter()) !== null : false,
  }));
  assert.equal(probe.adapter, false, `no adapter without the flag (${JSON.stringify(probe)})`);

  const explanation = app.page.getByTestId('no-webgpu');
  await explanation.waitFor({ state: 'visible', timeout: 60_000 });
  const text = (await explanation.innerText()).trim();
  assert.ok(text.length > 80, `an explanation, not a one-liner: ${JSON.stringify(text)}`);
  assert.match(text, /Chrome|Edge/, 'names browsers that work');
  assert.match(text, /WebGPU/);
  assert.equal(await app.page.getByTestId('device-adapter').count(), 0, 'no adapter shown');
  // Training cannot be started on this page.
  const start = app.page.getByTestId('train-start');
  if ((await start.count()) > 0) assert.equal(await start.isEnabled(), false, 'train-start is disabled without WebGPU');
  await app.screenshot('no-webgpu');
  app.assertNoPageErrors();
});

test('a browser without navigator.gpu at all (older browsers, WebGPU turned off) gets the explanation too', async (t) => {
  const app = await openApp(t, {
    webgpu: false,
    initScript: "Object.defineProperty(Navigator.prototype, 'gpu', { get: () => undefined, configurable: true });",
  });
  assert.equal(await app.page.evaluate(() => navigator.gpu), undefined);
  const explanation = app.page.getByTestId('no-webgpu');
  await explanation.waitFor({ state: 'visible', timeout: 60_000 });
  assert.match(await explanation.innerText(), /Chrome|Edge/);
  assert.equal(await app.page.getByTestId('device-adapter').count(), 0);
  await app.screenshot('no-navigator-gpu');
  app.assertNoPageErrors();
});

test('a run too big for the device limits stops before downloading, with a message naming the limit', async (t) => {
  const app = await openApp(t, { webgpu: true });
  // 128 prompts × 64 generations × ~220 tokens: one MLP activation alone is > 1 GiB, SwiftShader's binding limit.
  await setUpRun(app, 'arithmetic:2', { promptsPerStep: 128, numGenerations: 64, maxCompletionLength: 200, evalProblems: 0 });
  await startTraining(app.page);
  await waitForPhase(app, ['error'], 60_000).catch(() => {});
  assert.equal(await phase(app.page), 'error');
  const text = await errorText(app.page);
  assert.match(
    text,
    /does not fit this device: one layer's activations for 8192 sequences × \d+ tokens need [\d.]+ MiB in one buffer, but this device binds at most 1024\.0 MiB \(maxStorageBufferBindingSize\)/,
    text,
  );
  await app.screenshot('too-big');
  app.assertNoPageErrors();
});
