// GRPO checkpoints in a run folder on disk (`webgrpo train --save-every`, Ctrl-C, `--resume`).

import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { checkpointFiles, checkpointName, newestCheckpointStep, parseCheckpoint, type OptimizerState, type TrainerState } from '../rl/checkpoint.ts';

/** Write RUN/checkpoint-{step}/ atomically (a temporary folder renamed into place). */
export async function saveCheckpoint(
  runDir: string,
  parts: { step: number; adapter: { adapterConfig: unknown; safetensors: Uint8Array }; optimizer: OptimizerState; trainer: TrainerState },
): Promise<string> {
  const final = join(runDir, checkpointName(parts.step));
  const tmp = `${final}.tmp`;
  rmSync(tmp, { recursive: true, force: true });
  for (const [name, bytes] of Object.entries(checkpointFiles(parts))) {
    mkdirSync(dirname(join(tmp, name)), { recursive: true });
    writeFileSync(join(tmp, name), bytes);
  }
  rmSync(final, { recursive: true, force: true });
  renameSync(tmp, final);
  return final;
}

/** The newest complete checkpoint folder of a run, or null. */
export function latestCheckpoint(runDir: string): string | null {
  if (!existsSync(runDir)) return null;
  const step = newestCheckpointStep(readdirSync(runDir));
  return step === null ? null : join(runDir, checkpointName(step));
}

export function loadCheckpoint(dir: string): { optimizer: OptimizerState; trainer: TrainerState } {
  const file = join(dir, 'optimizer.safetensors');
  return parseCheckpoint(readFileSync(file), readFileSync(join(dir, 'trainer_state.json'), 'utf8'), file);
}
