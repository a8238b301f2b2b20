#!/usr/bin/env node
// Runs the TypeScript CLI in place (no build step), with WGSL imports resolved as in the browser.
//
// Dawn and the Vulkan loader print start-up noise straight to fd 2 from native code (an adapter
// they reject, e.g. "Warning: Vulkan shaderUniform*ArrayDynamicIndexing required." with its
// " - While initializing adapter…" / "at InitializeImpl" lines), which no JS option silences. So
// this script runs the CLI in a child process and drops exactly those lines from its stderr;
// `--verbose` (or WEBGRPO_NO_FILTER=1) runs it in place with stderr untouched.
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const args = process.argv.slice(2);

if (process.env.WEBGRPO_NO_FILTER === '1' || args.includes('--verbose')) {
  await import('../scripts/register.mjs');
  const { main } = await import('../src/cli/main.ts');
  await main(args);
} else {
  const child = spawn(process.execPath, [...process.execArgv, fileURLToPath(import.meta.url), ...args], {
    stdio: ['inherit', 'inherit', 'pipe'],
    env: { ...process.env, WEBGRPO_NO_FILTER: '1' },
  });
  const noise = [/^error: XDG_RUNTIME_DIR is invalid or not set in the environment\.$/, /^Warning: Vulkan shaderUniform\*ArrayDynamicIndexing required\.$/];
  // Lines Dawn appends to a message it printed: context, source location, then one blank line.
  const continuation = [/^ - While initializing adapter/, /^\s+at InitializeImpl \(/];
  let inNoise = false;
  let pending = '';
  const filterLine = (line) => {
    const wasNoise = inNoise;
    inNoise = noise.some((re) => re.test(line)) || (wasNoise && continuation.some((re) => re.test(line)));
    if (inNoise || (wasNoise && line === '')) return;
    process.stderr.write(`${line}\n`);
  };
  child.stderr.setEncoding('utf8');
  child.stderr.on('data', (chunk) => {
    const lines = (pending + chunk).split('\n');
    pending = lines.pop();
    for (const line of lines) filterLine(line);
  });
  child.stderr.on('end', () => {
    if (pending !== '') process.stderr.write(pending);
  });
  // From a terminal, Ctrl-C reaches the whole process group (the child too): forwarding it would
  // deliver it twice (the second quits `train` without its checkpoint). Otherwise forward it.
  process.on('SIGINT', () => {
    if (!process.stdin.isTTY) child.kill('SIGINT');
  });
  process.on('SIGTERM', () => child.kill('SIGTERM'));
  const [code, signal] = await new Promise((resolve) => child.on('close', (c, s) => resolve([c, s])));
  if (signal) {
    process.removeAllListeners(signal);
    process.kill(process.pid, signal);
  }
  process.exit(code ?? 1);
}
