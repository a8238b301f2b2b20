// Runs every test file under test/ (and e2e/) with Node's test runner, one file at a time:
// SwiftShader already uses every core, so parallel files only thrash.
import { readdirSync, existsSync } from 'node:fs';
import { spawnSync } from 'node:child_process';

const dirs = ['test', 'e2e'].filter((d) => existsSync(d));
const only = process.argv.slice(2);
const files = dirs
  .flatMap((d) => readdirSync(d).filter((f) => f.endsWith('.test.ts')).map((f) => `${d}/${f}`))
  .filter((f) => only.length === 0 || only.some((o) => f.includes(o)))
  .sort();
if (files.length === 0) {
  console.error('no test files matched');
  process.exit(1);
}
const result = spawnSync(
  process.execPath,
  ['--expose-gc', '--import', './scripts/register.mjs', '--test', '--test-concurrency=1', '--test-timeout=900000', ...files],
  { stdio: 'inherit', env: { ...process.env, WEBGRPO_GPU_DEBUG: process.env.WEBGRPO_GPU_DEBUG ?? '1' } },
);
process.exit(result.status ?? 1);
