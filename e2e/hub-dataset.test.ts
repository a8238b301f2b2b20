// A Hub dataset in the page: its Parquet conversion fetched from the Hub's URLs (routed by
// Playwright to files made here, as the training worker's fetches are), previewed and trained on.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parquetWriteBuffer } from 'hyparquet-writer';
import { openApp, reveal, type PageHooks } from './harness.ts';
import { exportedTrlScript, FAST_KNOBS, setKnob, startTraining, waitForPhase } from './flow.ts';

const SPEC = 'hf:webgrpo-test/sums:default:train';
const PREFIX = '/datasets/webgrpo-test/sums/resolve/refs%2Fconvert%2Fparquet/default/train';
const ROWS = [
  ['12+30', '42'],
  ['25+17', '42'],
  ['61+23', '84'],
  ['48+39', '87'],
  ['70+15', '85'],
];

function parquet(): Uint8Array {
  return new Uint8Array(
    parquetWriteBuffer({
      columnData: [
        { name: 'problem', data: ROWS.map((r) => r[0]), type: 'STRING' },
        { name: 'solution', data: ROWS.map((r) => `so \\boxed{${r[1]}}`), type: 'STRING' },
      ],
    }),
  );
}

test('a Hub dataset id: the Parquet conversion is fetched from the Hub URLs, previewed and trained on', async (t) => {
  const requested: string[] = [];
  const app = await openApp(t, {
    beforeOpen: async (context) => {
      const shard = parquet();
      await context.route('https://huggingface.co/**', async (route) => {
        const path = new URL(route.request().url()).pathname;
        requested.push(path);
        const cors = { 'access-control-allow-origin': '*', 'access-control-expose-headers': 'content-length, content-range' };
        if (path === `${PREFIX}/0000.parquet`)
          await route.fulfill({ status: 200, headers: { ...cors, 'content-type': 'application/octet-stream' }, body: Buffer.from(shard) });
        else await route.fulfill({ status: 404, headers: cors, body: 'Entry not found' });
      });
    },
  });
  const { page } = app;
  await page.getByTestId('device-adapter').waitFor({ state: 'visible', timeout: 60_000 });
  await (await reveal(page.getByTestId('preset-quick'))).click();
  await page.getByTestId('tab-setup-data').click();
  await page.getByRole('textbox', { name: 'Hub dataset id' }).fill(SPEC);
  await page.getByRole('radio', { name: 'Hub dataset' }).check();
  await (await reveal(page.getByTestId('preview-button'))).click();
  const prompt = page.getByTestId('preview-prompt');
  await prompt.waitFor({ timeout: 60_000 });
  assert.equal(await prompt.textContent(), 'Q: 12+30\nA: ', 'the exact prompt of the first row');
  assert.ok(requested.includes(`${PREFIX}/0000.parquet`), `the shard came from its Hub URL: ${requested.join(', ')}`);

  for (const [field, value] of Object.entries({ ...FAST_KNOBS, evalProblems: 2, maxSteps: 2 })) await setKnob(page, field, value);
  await startTraining(page);
  await waitForPhase(app, ['done'], 240_000);
  const prompts: string[] = await page.evaluate(() => (window as unknown as PageHooks).webgrpo.store.getState().run?.completions.map((c) => c.prompt) ?? []);
  assert.ok(
    prompts.length > 0 && prompts.every((p) => ROWS.some(([q]) => p.includes(q))),
    `completions answer the dataset's problems: ${JSON.stringify(prompts.slice(0, 3))}`,
  );
  await exportedTrlScript(app, t, /raw = load_dataset\("/);
  await app.screenshot('hub-dataset');
  app.assertNoPageErrors();
});
