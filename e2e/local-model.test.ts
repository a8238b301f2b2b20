// A model folder picked with the file picker: copied into OPFS, trained on, and its run resumable.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { cpSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { openApp, reveal, ROOT, tempDir } from './harness.ts';
import { FAST_KNOBS, setKnob, startTraining, waitForPhase } from './flow.ts';

test('a local model folder picked in the Model panel is copied into browser storage and trains', async (t) => {
  const dir = join(tempDir(t, 'webgrpo-local-'), 'my-tiny');
  cpSync(join(ROOT, 'public', 'models', 'tiny-arith'), dir, { recursive: true });
  const app = await openApp(t);
  const { page } = app;
  await page.getByTestId('device-adapter').waitFor({ state: 'visible', timeout: 60_000 });
  await (await reveal(page.getByTestId('preset-quick'))).click();
  await (await reveal(page.getByLabel('Model folder'))).setInputFiles(dir);
  await page.getByText('Local folder: my-tiny').waitFor({ timeout: 60_000 });

  // Every file of the folder is in OPFS under models/my-tiny/, byte for byte in size.
  const stored = await page.evaluate(async () => {
    const root = await navigator.storage.getDirectory();
    const folder = await (await root.getDirectoryHandle('models')).getDirectoryHandle('my-tiny');
    const sizes: Record<string, number> = {};
    for await (const [name, handle] of (folder as unknown as { entries(): AsyncIterable<[string, FileSystemFileHandle]> }).entries()) {
      sizes[name] = (await handle.getFile()).size;
    }
    return sizes;
  });
  assert.deepEqual(stored, Object.fromEntries(readdirSync(dir).map((f) => [f, statSync(join(dir, f)).size])));

  await (await reveal(page.getByTestId('data-builtin'))).selectOption('arithmetic:1');
  for (const [field, value] of Object.entries({ ...FAST_KNOBS, evalProblems: 4, maxSteps: 2 })) await setKnob(page, field, value);
  await startTraining(page);
  await waitForPhase(app, ['done'], 240_000);
  const runId = await page.locator('[data-testid="run-item"]').first().getAttribute('data-run-id');
  const config = await page.evaluate(async (id) => {
    const root = await navigator.storage.getDirectory();
    const run = await (await root.getDirectoryHandle('runs')).getDirectoryHandle(id!);
    return JSON.parse(await (await (await run.getFileHandle('config.json')).getFile()).text());
  }, runId);
  assert.equal(config.model, 'my-tiny', 'the run records the local model by name');
  await app.screenshot('local-model');
  app.assertNoPageErrors();
});
