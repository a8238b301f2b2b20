// The main flow: the built-in tiny model on arithmetic with the quick preset, a few GRPO steps on
// WebGPU (SwiftShader), live charts and completions, then every export, with the adapter checked
// by the CLI (`webgrpo score --adapter`).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync, mkdirSync, copyFileSync } from 'node:fs';
import { join } from 'node:path';
import { cli, openApp, readJson, reveal, tempDir, unzip, waitFor } from './harness.ts';
import { chartPoints, completions, exportedTrlScript, FAST_KNOBS, runStep, setUpRun, startTraining, waitForPhase, waitForStep } from './flow.ts';

const STEPS = 4;
const LIVE_CHARTS = ['reward', 'accuracy', 'entropy', 'kl', 'length', 'clip', 'logp-gap', 'is-ratio', 'grad-norm', 'step-time'];
const TINY = 'public/models/tiny-arith';
/** A level-2 problem and answer in the tiny model's own format (its tokenizer is character-level). */
const TEXT = 'Q: 47+38\nA: 40+30=70, 7+8=15, 70+15=85. \\boxed{85}';

function score(adapterDir?: string): { logprobs: number[]; entropies: number[] } {
  const r = cli<{ logprobs: number[]; entropies: number[] }>([
    'score',
    '--model',
    TINY,
    ...(adapterDir ? ['--adapter', adapterDir] : []),
    '--text',
    TEXT,
    '--json',
  ]);
  assert.equal(r.status, 0, `webgrpo score ${adapterDir ? '--adapter' : ''} failed:\n${r.stderr}`);
  assert.ok(r.json && Array.isArray(r.json.logprobs), `score --json output: ${r.stdout.slice(-500)}`);
  assert.ok(r.json.logprobs.length > 5 && r.json.entropies.length === r.json.logprobs.length, 'one value per next token');
  for (const v of [...r.json.logprobs, ...r.json.entropies]) assert.ok(Number.isFinite(v), `finite values: ${v}`);
  return r.json;
}

test(`train the tiny model ${STEPS} GRPO steps in the page, watch it live, export the adapter and load it with the CLI`, async (t) => {
  const started = performance.now();
  const app = await openApp(t);
  const { page } = app;
  // β > 0 so the KL chart has points (TRL logs kl only then).
  await setUpRun(app, 'arithmetic:2', { ...FAST_KNOBS, maxSteps: STEPS, evalEvery: 2, beta: 0.04 });

  // Preview: the rows and the exact prompt the model sees.
  await (await reveal(page.getByTestId('preview-button'))).click();
  const prompt = page.getByTestId('preview-prompt');
  await prompt.waitFor({ state: 'visible', timeout: 30_000 });
  assert.match(await prompt.innerText(), /\d+\s*\+\s*\d+/, 'the rendered prompt holds a sum');

  await startTraining(page);
  await waitForPhase(app, ['loading', 'evaluating', 'training'], 30_000);

  // Live: at least 3 steps, every chart with as many points, completions with rewards and entropies.
  const step = await waitForStep(app, 3, 240_000);
  console.log(`# step ${step} after ${((performance.now() - started) / 1000).toFixed(0)} s`);
  assert.deepEqual(await runStep(page), { step, maxSteps: STEPS });
  for (const name of LIVE_CHARTS) {
    const points = await chartPoints(page, name);
    assert.ok(points >= 3, `chart-${name} has ${points} points at step ${step}`);
  }
  assert.ok((await chartPoints(page, 'passk')) >= 1, 'pass@k curve of the base model');
  const shown = await completions(page);
  assert.ok(shown.length >= 1, 'completions are shown');
  // Each completion shows the final answer the math reward read from it.
  const answers = await page.getByTestId('completion-answer').allTextContents();
  assert.equal(answers.length, shown.length);
  assert.ok(
    answers.every((a) => /answer (-?\d+|none found)/.test(a)),
    `answers shown: ${answers.slice(0, 3).join(' | ')}`,
  );
  for (const c of shown) {
    assert.ok(Number.isFinite(c.reward) && Number.isFinite(c.advantage), `reward ${c.reward}, advantage ${c.advantage}`);
    assert.ok(c.entropies.length > 0 && c.entropies.every((e) => Number.isFinite(e) && e >= 0), 'tokens carry their entropy');
  }
  await app.screenshot('train-live');

  await waitForPhase(app, ['done'], 240_000);
  console.log(`# done after ${((performance.now() - started) / 1000).toFixed(0)} s`);
  assert.deepEqual(await runStep(page), { step: STEPS, maxSteps: STEPS });
  for (const name of LIVE_CHARTS) assert.equal(await chartPoints(page, name), STEPS, `chart-${name} after the run`);
  // pass@k over steps: evaluated at step 2 and at the end (and the base model).
  assert.ok((await chartPoints(page, 'passk-steps')) >= 2, `pass@k by step has ${await chartPoints(page, 'passk-steps')} points`);
  const item = page.locator('[data-testid="run-item"][data-status="done"]');
  await waitFor(
    'a done run in the list',
    () => item.count(),
    (n) => n === 1,
    10_000,
    app,
  );
  const runId = await item.getAttribute('data-run-id');
  assert.ok(runId, 'the run has an id');
  await app.screenshot('train-done');

  // Export: adapter files, zip, metrics, TRL script, a chart.
  const downloads = tempDir(t, 'webgrpo-e2e-downloads-');
  const configPath = await app.download('export-adapter-config', downloads);
  const weightsPath = await app.download('export-adapter-weights', downloads);
  assert.match(configPath, /adapter_config\.json$/);
  assert.match(weightsPath, /adapter_model\.safetensors$/);
  // The CLI reads a PEFT folder: the two files under their PEFT names.
  const adapterDir = join(downloads, 'adapter');
  mkdirSync(adapterDir);
  copyFileSync(configPath, join(adapterDir, 'adapter_config.json'));
  copyFileSync(weightsPath, join(adapterDir, 'adapter_model.safetensors'));
  const adapterConfig = readJson<{ peft_type: string; r: number; lora_alpha: number }>(configPath);
  assert.equal(adapterConfig.peft_type, 'LORA');
  assert.equal(adapterConfig.r, 16);
  assert.equal(adapterConfig.lora_alpha, 32);

  const zipPath = await app.download('export-adapter-zip', downloads);
  assert.match(zipPath, /\.zip$/);
  const zipped = unzip(readFileSync(zipPath));
  const names = Object.keys(zipped)
    .map((n) => n.split('/').pop())
    .sort();
  assert.deepEqual(names, ['adapter_config.json', 'adapter_model.safetensors']);
  for (const [name, bytes] of Object.entries(zipped)) {
    const single = name.endsWith('.json') ? configPath : weightsPath;
    assert.ok(Buffer.from(bytes).equals(readFileSync(single)), `${name} in the zip is the downloaded file`);
  }
  const zipDir = join(downloads, 'from-zip');
  mkdirSync(zipDir);
  for (const [name, bytes] of Object.entries(zipped)) writeFileSync(join(zipDir, name.split('/').pop()!), bytes);

  const csv = readFileSync(await app.download('export-metrics-csv', downloads), 'utf8')
    .trim()
    .split('\n');
  const header = csv[0].split(',');
  assert.ok(header.includes('step') && header.includes('reward') && header.includes('grad_norm'), `CSV header: ${csv[0]}`);
  assert.equal(csv.length - 1, STEPS, 'one CSV row per step');
  const rewardCol = header.indexOf('reward');
  for (const row of csv.slice(1)) assert.ok(Number.isFinite(Number(row.split(',')[rewardCol])), `reward in ${row}`);

  const json = readJson<Record<string, number>[] | Record<string, unknown>>(await app.download('export-metrics-json', downloads));
  const rows: Record<string, number>[] = Array.isArray(json) ? json : (Object.values(json).find(Array.isArray) as Record<string, number>[]);
  assert.ok(Array.isArray(rows), 'metrics JSON holds the steps');
  assert.deepEqual(
    rows.map((m) => m.step),
    Array.from({ length: STEPS }, (_, i) => i + 1),
  );

  const trl = await exportedTrlScript(app, t, /arithmetic_problem\(/);
  assert.match(trl, /GRPOConfig/);
  assert.match(trl, /num_generations\s*=\s*4/);
  assert.match(trl, /max_steps\s*=\s*4/);

  const png = readFileSync(await app.download('export-png-reward', downloads));
  assert.ok(png.subarray(0, 8).equals(Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a])), 'a PNG');
  assert.ok(png.length > 2000, `a drawn chart (${png.length} bytes)`);
  app.assertNoPageErrors();
  await app.browser.close(); // frees the cores for the CLI

  // The downloaded adapter loads elsewhere: `webgrpo score --adapter` accepts it, and it changed the model.
  const base = score();
  const tuned = score(adapterDir);
  const fromZip = score(zipDir);
  assert.deepEqual(fromZip, tuned, 'the zip holds the same adapter');
  assert.equal(tuned.logprobs.length, base.logprobs.length);
  const diff = Math.max(...tuned.logprobs.map((v, i) => Math.abs(v - base.logprobs[i])));
  console.log(`# max |Δ logprob| adapter vs base: ${diff.toExponential(2)}`);
  assert.ok(diff > 1e-4, `the trained adapter changes the model (max |Δ logprob| = ${diff})`);
  console.log(`# main flow took ${((performance.now() - started) / 1000).toFixed(0)} s`);
});
