// `npm run bench [-- --quick | --full]`: runs every benchmark in this list, in order.
export {};
// Add a bench by appending [name, loader] here; each takes the command-line flags.

const benches: [string, () => Promise<(args: string[]) => Promise<void>>][] = [
  ['matmul', async () => (await import('./matmul.ts')).benchMatmul],
  ['decode', async () => (await import('./decode.ts')).benchDecode],
];

const args = process.argv.slice(2);
const only = args.filter((a) => !a.startsWith('--'));
for (const [name, load] of benches) {
  if (only.length > 0 && !only.includes(name)) continue;
  console.log(`\n== ${name} ==`);
  await (await load())(args);
}
// Dawn keeps the process alive while its instance is referenced: exit explicitly.
process.exit(0);
