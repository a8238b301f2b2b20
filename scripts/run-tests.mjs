// Runs every test file under test/ and then e2e/ with Node's test runner, one file at a time:
// SwiftShader already uses every core, so parallel files only thrash. Arguments keep the files
// whose path contains one of them (`node scripts/run-tests.mjs grpo e2e/train`).
import { readdirSync, existsSync, mkdtempSync, rmSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const only = process.argv.slice(2);
const filesIn = (dir) =>
  existsSync(dir)
    ? readdirSync(dir)
        .filter((f) => f.endsWith('.test.ts'))
        .map((f) => `${dir}/${f}`)
        .filter((f) => only.length === 0 || only.some((o) => f.includes(o)))
        .sort()
    : [];
const unit = filesIn('test');
const e2e = filesIn('e2e');
if (unit.length + e2e.length === 0) {
  console.error('no test files matched');
  process.exit(1);
}

function run(files, timeoutMs, env) {
  if (files.length === 0) return 0;
  const result = spawnSync(
    process.execPath,
    ['--expose-gc', '--import', './scripts/register.mjs', '--test', '--test-concurrency=1', `--test-timeout=${timeoutMs}`, ...files],
    { stdio: 'inherit', env: { ...process.env, ...env } },
  );
  return result.status ?? 1;
}

const unitStatus = run(unit, 900_000, { WEBGRPO_GPU_DEBUG: process.env.WEBGRPO_GPU_DEBUG ?? '1' });

// End-to-end tests drive the built site in Chromium (e2e/harness.ts). The site is built once, into
// a fresh folder shared by every e2e file of this run.
let e2eStatus = 0;
if (e2e.length) {
  const site = mkdtempSync(join(tmpdir(), 'webgrpo-site-'));
  try {
    e2eStatus = run(e2e, 900_000, { WEBGRPO_E2E_SITE: site });
  } finally {
    rmSync(site, { recursive: true, force: true });
  }
}
process.exit(unitStatus || e2eStatus);
