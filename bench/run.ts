// `npm run bench [-- --quick | --full] [--json] [--small] [--device] [names…]`: runs every benchmark
// in this list, in order (or only those named).
export {};
// Add a bench by appending [name, loader] here; each takes the command-line flags and may return
// named figures, printed as one JSON object on stdout with --json (the human-readable lines go to
// stderr then). --small shrinks every size so the whole bench runs in a minute on a CPU adapter;
// --device is bench/device.sh's full run on a real GPU.

type Bench = (args: string[]) => Promise<unknown>;
const benches: [string, () => Promise<Bench>][] = [
  ['matmul', async () => (await import('./matmul.ts')).benchMatmul],
  ['decode', async () => (await import('./decode.ts')).benchDecode],
  ['grpo', async () => (await import('./grpo.ts')).benchGrpo],
  ['reward', async () => (await import('./reward.ts')).benchReward],
  ['inspect', async () => (await import('./inspect.ts')).benchInspect],
];

const args = process.argv.slice(2);
const json = args.includes('--json');
const only = args.filter((a) => !a.startsWith('--'));
const unknown = only.filter((name) => !benches.some(([n]) => n === name));
if (unknown.length) {
  console.error(`Unknown bench ${unknown.join(', ')}; the benches are ${benches.map(([n]) => n).join(', ')}.`);
  process.exit(2);
}
const figures: Record<string, unknown> = {};
const log = console.log;
if (json) console.log = (...a: unknown[]) => console.error(...a);
for (const [name, load] of benches) {
  if (only.length > 0 && !only.includes(name)) continue;
  console.log(`\n== ${name} ==`);
  const result = await (await load())(args);
  if (result !== null && typeof result === 'object') Object.assign(figures, result);
}
if (json) log(JSON.stringify(figures));
// Dawn keeps the process alive while its instance is referenced: exit explicitly.
process.exit(0);
