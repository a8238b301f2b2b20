#!/usr/bin/env node
// Runs the TypeScript CLI in place (no build step), with WGSL imports resolved as in the browser.
import '../scripts/register.mjs';
const { main } = await import('../src/cli/main.ts');
await main(process.argv.slice(2));
