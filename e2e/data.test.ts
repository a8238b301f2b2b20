// Uploaded data in the page: a JSONL file with its own field names, mapped in the Data panel,
// previewed (rows and the exact rendered prompt), trained on; and a broken file, refused with the
// file and line named.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Page } from 'playwright-core';
import { openApp, reveal, tempDir, waitFor, type App, type PageHooks } from './harness.ts';
import { errorText, exportedTrlScript, phase, runStep, setKnob, startTraining, waitForPhase } from './flow.ts';

const STEPS = 2;
const KNOBS = { promptsPerStep: 2, numGenerations: 4, maxCompletionLength: 32, maxSteps: STEPS, evalProblems: 2, evalSamples: 2, evalEvery: 0, saveEvery: 1 };
/** Two-digit sums, under field names the loader does not guess ("q" and "gold"). */
const ROWS = [
  { q: '12+30', gold: '42' },
  { q: '25+17', gold: '42' },
  { q: '33+21', gold: '54' },
  { q: '48+19', gold: '67' },
  { q: '56+27', gold: '83' },
  { q: '61+14', gold: '75' },
];

function writeJsonl(dir: string, name: string, rows: object[]): string {
  const path = join(dir, name);
  writeFileSync(path, `${rows.map((r) => JSON.stringify(r)).join('\n')}\n`);
  return path;
}

/** Device ready → quick preset → built-in model → upload `file` → map the fields. */
async function uploadFile(app: App, file: string, fields: { question: string; answer: string }): Promise<void> {
  const { page } = app;
  await page.getByTestId('device-adapter').waitFor({ state: 'visible', timeout: 60_000 });
  await (await reveal(page.getByTestId('preset-quick'))).click();
  await (await reveal(page.getByTestId('model-builtin'))).check();
  await (await reveal(page.getByLabel('Dataset file'))).setInputFiles(file);
  const name = file.split('/').pop()!;
  // Saved into OPFS, then chosen: the File option names it and the field inputs open up.
  await page.getByRole('radio', { name: `File: ${name}` }).waitFor({ state: 'visible', timeout: 30_000 });
  assert.ok(await page.getByRole('radio', { name: `File: ${name}` }).isChecked(), 'the uploaded file is the chosen data');
  await page.getByRole('textbox', { name: 'Question field' }).fill(fields.question);
  await page.getByRole('textbox', { name: 'Answer field' }).fill(fields.answer);
  const data = await page.evaluate(() => (window as unknown as PageHooks).webgrpo.store.getState().settings.data);
  assert.deepEqual(data, { kind: 'upload', fileName: name, questionField: fields.question, answerField: fields.answer, skipBadRows: false });
}

/** Click Preview and wait for the rendered prompt or an error. */
async function preview(app: App): Promise<'prompt' | string> {
  const { page } = app;
  await (await reveal(page.getByTestId('preview-button'))).click();
  return waitFor(
    'the preview',
    async () => ((await page.getByTestId('preview-prompt').count()) > 0 ? 'prompt' : await errorText(page)),
    (s) => s.length > 0,
    60_000,
    app,
  );
}

/** The question and answer cells of the preview's rows. */
async function previewRows(page: Page): Promise<string[][]> {
  return page
    .locator('.preview tbody tr')
    .evaluateAll((rows) => rows.map((tr) => [...tr.querySelectorAll('td')].slice(0, 2).map((td) => td.textContent ?? '')));
}

test('upload a JSONL file with its own field names: map them, preview the rows and the exact prompt, train on it', async (t) => {
  const started = performance.now();
  const file = writeJsonl(tempDir(t, 'webgrpo-e2e-data-'), 'sums.jsonl', ROWS);
  const app = await openApp(t);
  const { page } = app;
  await uploadFile(app, file, { question: 'q', answer: 'gold' });

  assert.equal(await preview(app), 'prompt', `the preview failed: ${await errorText(page)}`);
  const shown = await previewRows(page);
  assert.deepEqual(
    shown,
    ROWS.slice(0, 5).map((r) => [r.q, r.gold]),
    'the first rows, in file order, with the mapped fields',
  );
  assert.deepEqual(
    await page.getByTestId('preview-gold').allTextContents(),
    ROWS.slice(0, 5).map((r) => r.gold),
    'each gold as the math reward parses it',
  );
  assert.match(await page.locator('.preview').innerText(), new RegExp(`${ROWS.length} problems`));
  // The built-in model's chat template: "Q: <question>\n" then the generation prompt "A: ".
  const prompt = await page.getByTestId('preview-prompt').textContent();
  assert.equal(prompt, 'Q: 12+30\nA: ', 'the exact prompt the model sees');
  await app.screenshot('data-upload-preview');

  for (const [field, value] of Object.entries(KNOBS)) await setKnob(page, field, value);
  await startTraining(page);
  await waitForPhase(app, ['done'], 180_000);
  assert.deepEqual(await runStep(page), { step: STEPS, maxSteps: STEPS });
  // The completions were generated for the file's questions.
  const prompts = await page.getByTestId('completion').allInnerTexts();
  assert.ok(prompts.length > 0, 'completions are shown');
  const questions = new Set(ROWS.map((r) => r.q));
  const asked = await page.evaluate(() => (window as unknown as PageHooks).webgrpo.store.getState().run?.completions.map((c) => c.prompt) ?? []);
  assert.ok(
    asked.length > 0 && asked.every((p: string) => [...questions].some((q) => p.includes(q))),
    `completions answer the file's questions: ${JSON.stringify(asked)}`,
  );
  // The TRL export reads the same file with the same field mapping.
  await exportedTrlScript(app, t, /data_files="[^"]*\.jsonl"[\s\S]*raw = raw\.map\(lambda row: \{"question": row\["/);
  await app.screenshot('data-upload-done');
  console.log(`# trained ${STEPS} steps on the upload after ${((performance.now() - started) / 1000).toFixed(0)} s`);
  app.assertNoPageErrors();
});

test('an uploaded file with a row missing its answer: the preview and the run name the file and the line', async (t) => {
  const rows: object[] = [...ROWS.slice(0, 2), { q: '40+2' }, ...ROWS.slice(2)];
  const file = writeJsonl(tempDir(t, 'webgrpo-e2e-data-bad-'), 'broken.jsonl', rows);
  const app = await openApp(t);
  const { page } = app;
  await uploadFile(app, file, { question: 'q', answer: 'gold' });

  const shown = await preview(app);
  assert.notEqual(shown, 'prompt', 'no preview of a broken file');
  assert.match(shown, /broken\.jsonl/, `the error names the file: ${shown}`);
  assert.match(shown, /line 3\b/, `the error names the line: ${shown}`);
  assert.match(shown, /without an answer/, `the error says what is wrong: ${shown}`);
  assert.match(shown, /gold/, `the error names the mapped field: ${shown}`);
  await app.screenshot('data-upload-broken');

  // Start says the same, and the run ends in an error rather than hanging.
  await page.getByRole('button', { name: 'Dismiss the error' }).click();
  for (const [field, value] of Object.entries(KNOBS)) await setKnob(page, field, value);
  await startTraining(page);
  await waitFor(
    'the run to fail',
    () => phase(page),
    (p) => p === 'error' || p === 'done',
    60_000,
    app,
  );
  assert.equal(await phase(page), 'error');
  const message = await errorText(page);
  assert.match(message, /broken\.jsonl.*line 3\b/s, `the run's error names the file and line: ${message}`);
  assert.ok(await page.getByTestId('train-start').isEnabled(), 'Start is enabled again');

  // Skipping malformed rows: the preview lists the good rows only.
  await page.getByRole('button', { name: 'Dismiss the error' }).click();
  await (await reveal(page.getByLabel('Skip malformed rows'))).check();
  await (await reveal(page.getByTestId('preview-button'))).click();
  // (The failed run's message stays on the page, so wait for the preview itself.)
  await page.getByTestId('preview-prompt').waitFor({ timeout: 60_000 });
  const kept = (await previewRows(page)).map((r) => r[0]);
  assert.ok(kept.length > 0 && !kept.some((q) => q.includes('40+2')), `the row without an answer is left out: ${JSON.stringify(kept)}`);
  app.assertNoPageErrors();
});
