// The `webgrpo` command line: the usage text and dispatch to src/cli/commands/ (one file each).
// With --json the last line of stdout is one JSON object; progress and diagnostics go to stderr.

import { parseArgs } from 'node:util';
import { evaluate } from './commands/eval.ts';
import { exportGguf } from './commands/export-gguf.ts';
import { exportTrl } from './commands/export-trl.ts';
import { generate } from './commands/generate.ts';
import { info } from './commands/info.ts';
import { merge } from './commands/merge.ts';
import { push } from './commands/push.ts';
import { reward } from './commands/reward.ts';
import { score } from './commands/score.ts';
import { sft } from './commands/sft.ts';
import { tokenize } from './commands/tokenize.ts';
import { train } from './commands/train.ts';
import { UsageError, type Command, type Values } from './flags.ts';

const COMMANDS: Record<string, Command> = {
  score,
  tokenize,
  generate,
  info,
  train,
  'export-trl': exportTrl,
  eval: evaluate,
  reward,
  merge,
  'export-gguf': exportGguf,
  sft,
  push,
};

const USAGE = `webgrpo — GRPO on WebGPU

Commands:
${Object.values(COMMANDS)
  .map((c) => `  ${c.usage}`)
  .join('\n')}

Common: --hub-endpoint URL (default $HF_ENDPOINT or https://huggingface.co), --cache-dir DIR.
\`webgrpo <command> --help\` shows a command's options (train: every GRPO and LoRA setting).`;

export async function main(argv: string[]): Promise<void> {
  const [name, ...rest] = argv;
  let code = 0;
  try {
    if (!name || name === '--help' || name === '-h' || name === 'help') {
      process.stdout.write(`${USAGE}\n`);
    } else {
      const command = COMMANDS[name];
      if (!command) throw new UsageError(`Unknown command "${name}".\n\n${USAGE}`);
      let values: Values;
      try {
        // allowNegative: --no-FLAG turns off a boolean whose default is on.
        values = parseArgs({ args: rest, options: command.options, strict: true, allowNegative: true, allowPositionals: command.allowPositionals === true })
          .values as Values;
      } catch (e) {
        throw new UsageError(`${(e as Error).message}\n\n  ${command.usage}`);
      }
      if (values.help) process.stdout.write(`  ${command.usage}\n${command.help ? `\n${command.help()}\n` : ''}`);
      else await command.run(values, rest);
    }
  } catch (e) {
    code = e instanceof UsageError ? 2 : 1;
    process.stderr.write(`webgrpo: ${(e as Error).message}\n`);
    if (process.env.WEBGRPO_DEBUG && e instanceof Error) process.stderr.write(`${e.stack}\n`);
  }
  // Dawn keeps the event loop alive while its instance exists: exit explicitly.
  process.exit(code);
}
