// Steps the e2e tests share: set up a run on the built-in model and read what the page shows.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { TestContext } from 'node:test';
import type { Page } from 'playwright-core';
import { reveal, tempDir, waitFor, type App } from './harness.ts';

/** Small enough for SwiftShader on 2 shared cores, big enough that rewards vary within groups. */
export const FAST_KNOBS: Record<string, number> = {
  promptsPerStep: 4,
  numGenerations: 4,
  maxCompletionLength: 48,
  evalProblems: 8,
  evalSamples: 4,
  saveEvery: 1,
};

/** Set a knob input (`knob-<field>`), on the Recipe step, opening the "more knobs" section if it is folded away. */
export async function setKnob(page: Page, field: string, value: number | string): Promise<void> {
  const input = page.getByTestId(`knob-${field}`);
  assert.equal(await input.count(), 1, `one knob-${field} input`);
  await reveal(input);
  // Open every folded section around it (a group's "more knobs" may sit inside another), outermost first.
  const summaries = page.locator(`details:not([open]):has([data-testid="knob-${field}"]) > summary`);
  while ((await summaries.count()) > 0) await summaries.first().click();
  await input.fill(String(value));
  await input.press('Tab');
  assert.equal(await input.inputValue(), String(value), `knob-${field} keeps ${value}`);
}

/** Device ready (the Model step is shown first) → quick preset → built-in model → arithmetic level → knobs, each on its set-up step. */
export async function setUpRun(app: App, level: string, knobs: Record<string, number>): Promise<void> {
  const { page } = app;
  await page.getByTestId('device-adapter').waitFor({ state: 'visible', timeout: 60_000 });
  await (await reveal(page.getByTestId('preset-quick'))).click();
  await (await reveal(page.getByTestId('model-builtin'))).check();
  await (await reveal(page.getByTestId('data-builtin'))).selectOption(level);
  assert.equal(await page.getByTestId('data-builtin').inputValue(), level);
  for (const [field, value] of Object.entries(knobs)) await setKnob(page, field, value);
}

/** Go to the Train step and press Start. */
export async function startTraining(page: Page): Promise<void> {
  await (await reveal(page.getByTestId('train-start'))).click();
}

export async function runStep(page: Page): Promise<{ step: number; maxSteps: number }> {
  const text =
    (await page
      .getByTestId('run-step')
      .textContent({ timeout: 5_000 })
      .catch(() => null)) ?? '';
  const m = /(\d+)\s*\/\s*(\d+)/.exec(text);
  return m ? { step: Number(m[1]), maxSteps: Number(m[2]) } : { step: -1, maxSteps: -1 };
}

export async function phase(page: Page): Promise<string> {
  return (
    (await page
      .getByTestId('run-phase')
      .textContent({ timeout: 5_000 })
      .catch(() => null)) ?? ''
  ).trim();
}

export async function chartPoints(page: Page, name: string): Promise<number> {
  const v = await page
    .getByTestId(`chart-${name}`)
    .getAttribute('data-points', { timeout: 5_000 })
    .catch(() => null);
  return v === null ? -1 : Number(v);
}

/** Wait until the shown run has done `step` steps; fails early if it errors or finishes before. */
export async function waitForStep(app: App, step: number, timeoutMs: number): Promise<number> {
  const seen = await waitFor(
    `step ${step}`,
    async () => ({ ...(await runStep(app.page)), phase: await phase(app.page) }),
    (s) => {
      if (s.phase === 'error' || s.phase === 'done') return true;
      return s.step >= step;
    },
    timeoutMs,
    app,
  );
  assert.ok(seen.step >= step, `the run ended in phase ${seen.phase} at step ${seen.step}: ${await errorText(app.page)}`);
  return seen.step;
}

export async function waitForPhase(app: App, phases: string[], timeoutMs: number): Promise<string> {
  const p = await waitFor(
    `phase ${phases.join('|')}`,
    () => phase(app.page),
    (p) => phases.includes(p) || p === 'error',
    timeoutMs,
    app,
  );
  assert.ok(phases.includes(p), `phase ${p}: ${await errorText(app.page)}`);
  return p;
}

/** Whatever error the page shows (run message, error banner), for failure messages. */
export async function errorText(page: Page): Promise<string> {
  return page
    .locator('.error-text, [role="alert"]')
    .allInnerTexts()
    .then((t) => t.join(' | '))
    .catch(() => '');
}

/** The completions shown: reward, advantage and per-token entropies. */
export async function completions(page: Page): Promise<{ reward: number; advantage: number; entropies: number[]; text: string }[]> {
  return page.getByTestId('completion').evaluateAll((items) =>
    items.map((li) => ({
      reward: Number(li.getAttribute('data-reward')),
      advantage: Number(li.getAttribute('data-advantage')),
      entropies: [...li.querySelectorAll('[data-entropy]')].map((s) => Number(s.getAttribute('data-entropy'))),
      text: li.textContent ?? '',
    })),
  );
}

/** Checkpoints in the page's OPFS: run id → steps of complete checkpoints (trainer_state.json written last). */
export async function opfsCheckpoints(page: Page): Promise<Record<string, number[]>> {
  return page.evaluate(async () => {
    const out: Record<string, number[]> = {};
    const root = await navigator.storage.getDirectory();
    let runs: FileSystemDirectoryHandle;
    try {
      runs = await root.getDirectoryHandle('runs');
    } catch {
      return out;
    }
    type Entries = { entries(): AsyncIterable<[string, FileSystemHandle]> };
    for await (const [id, handle] of (runs as unknown as Entries).entries()) {
      if (handle.kind !== 'directory') continue;
      out[id] = [];
      for await (const [name, sub] of (handle as unknown as Entries).entries()) {
        const m = /^checkpoint-(\d+)$/.exec(name);
        if (!m || sub.kind !== 'directory') continue;
        try {
          await (sub as FileSystemDirectoryHandle).getFileHandle('trainer_state.json');
          out[id].push(Number(m[1]));
        } catch {
          // incomplete
        }
      }
      out[id].sort((a, b) => a - b);
    }
    return out;
  });
}

/** The shown run's TRL script from the Export panel: it must match `expected` and compile with `python3 -m py_compile` (when python3 exists). */
export async function exportedTrlScript(app: App, t: TestContext, expected: RegExp): Promise<string> {
  const dir = tempDir(t, 'webgrpo-e2e-trl-');
  const path = await app.download('export-trl', dir);
  const script = readFileSync(path, 'utf8');
  assert.match(script, expected);
  if (spawnSync('python3', ['--version']).status === 0) {
    const compiled = spawnSync('python3', ['-m', 'py_compile', path], { encoding: 'utf8', env: { ...process.env, PYTHONPYCACHEPREFIX: join(dir, 'pycache') } });
    assert.equal(compiled.status, 0, `the exported TRL script compiles: ${compiled.stderr}`);
  }
  return script;
}
