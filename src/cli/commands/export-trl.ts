// webgrpo export-trl RUN [--out file.py]: the run as a TRL GRPOConfig + PEFT LoraConfig script.

import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { trlScript } from '../../rl/export-trl.ts';
import { UsageError, type Command } from '../flags.ts';

export const exportTrl: Command = {
  usage: 'export-trl RUN [--out train_trl.py]   (the run as a TRL GRPOConfig + PEFT LoraConfig script)',
  options: { out: { type: 'string' }, help: { type: 'boolean', short: 'h', default: false } },
  allowPositionals: true,
  async run(values, argv) {
    const positional = argv.filter((a, i) => !a.startsWith('--') && argv[i - 1] !== '--out');
    if (positional.length !== 1) throw new UsageError('export-trl takes one run folder: webgrpo export-trl RUN [--out train_trl.py]');
    const file = join(positional[0], 'config.json');
    if (!existsSync(file)) throw new UsageError(`${file} not found: is ${positional[0]} a webgrpo train run?`);
    const script = trlScript(JSON.parse(readFileSync(file, 'utf8')));
    const out = typeof values.out === 'string' ? values.out : join(positional[0], 'train_trl.py');
    writeFileSync(out, script);
    process.stdout.write(`wrote ${out}\n`);
  },
};
