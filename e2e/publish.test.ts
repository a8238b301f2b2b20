// Publish to the Hub from the page: a finished run's adapter, run files and model card uploaded by
// @huggingface/hub from the page to a local stand-in for the Hub's write endpoints
// (test/helpers/hub-upload-server.ts). A refused token says so; the token is kept nowhere.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { openApp, reveal } from './harness.ts';
import { setUpRun, startTraining, waitForPhase } from './flow.ts';
import { startHubUploadServer, type HubUploadServer } from '../test/helpers/hub-upload-server.ts';

const TOKEN = 'hf_pageWRITEtoken789';
const REPO = 'me/page-run';
let hub: HubUploadServer;

before(async () => {
  hub = await startHubUploadServer({ writeTokens: [TOKEN] });
});
after(() => hub.close());

/** Every text the page keeps: localStorage, sessionStorage and every OPFS file. */
const STORED_TEXT = `(async () => {
  const out = [JSON.stringify(localStorage), JSON.stringify(sessionStorage)];
  const walk = async (dir) => {
    for await (const [name, handle] of dir.entries()) {
      if (handle.kind === 'directory') await walk(handle);
      else out.push(name + ':' + (await (await handle.getFile()).text()));
    }
  };
  await walk(await navigator.storage.getDirectory());
  return out.join('\\n');
})()`;

test('publish a finished run from the Export panel; a wrong token is refused with a clear message', async (t) => {
  const app = await openApp(t);
  const { page } = app;
  await setUpRun(app, 'arithmetic:1', {
    promptsPerStep: 2,
    numGenerations: 4,
    maxCompletionLength: 16,
    maxSteps: 2,
    evalProblems: 2,
    evalSamples: 2,
    saveEvery: 1,
  });
  await startTraining(page);
  await waitForPhase(app, ['done'], 240_000);

  assert.ok(await page.getByTestId('publish-button').isDisabled(), 'no repository or token yet');
  await (await reveal(page.locator('[data-testid="publish"] details > summary'))).click();
  await (await reveal(page.getByTestId('publish-endpoint'))).fill(hub.endpoint);
  await (await reveal(page.getByTestId('publish-repo'))).fill(REPO);
  await (await reveal(page.getByTestId('publish-token'))).fill('hf_wrong');
  await (await reveal(page.getByTestId('publish-button'))).click();
  const refused = await page.getByTestId('publish-error').textContent({ timeout: 60_000 });
  assert.match(refused ?? '', /refused the token \(401 Unauthorized\)/);
  assert.equal(hub.repos.has(REPO), false);

  await (await reveal(page.getByTestId('publish-token'))).fill(TOKEN);
  await (await reveal(page.getByTestId('publish-button'))).click();
  const url = await page.getByTestId('publish-url').textContent({ timeout: 60_000 });
  assert.equal(url, `${hub.endpoint}/${REPO}`);
  await app.screenshot('publish-done');
  const repo = hub.repos.get(REPO)!;
  assert.equal(repo.private, true, 'private by default');
  for (const p of [
    'adapter_config.json',
    'adapter_model.safetensors',
    'run/config.json',
    'run/metrics.jsonl',
    'run/summary.json',
    'run/reward.svg',
    'README.md',
  ]) {
    assert.ok(repo.files.has(p), `${p} arrived; got ${[...repo.files.keys()].join(', ')}`);
  }
  assert.ok(repo.files.get('adapter_model.safetensors')!.byteLength > 1000);
  const card = new TextDecoder().decode(repo.files.get('README.md'));
  assert.match(card, /^---\n[\s\S]*library_name: peft[\s\S]*- "grpo"\n- "webgrpo"[\s\S]*\n---\n/);
  assert.match(card, /\| pass@1 \| \d\.\d{3} \| \d\.\d{3} \|/);

  const stored = (await page.evaluate(STORED_TEXT)) as string;
  assert.ok(!stored.includes(TOKEN), 'the token is not stored in the browser');
  assert.ok(!app.consoleErrors.some((l) => l.includes(TOKEN)), 'nor logged');
  app.assertNoPageErrors();
});
