// GRPO checkpoints: adapter (PEFT), optimizer state, and the trainer's position (step, token count,
// data cursor), so that `--resume` continues exactly where an uninterrupted run would be.

import { mkdirSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { parseSafetensors, toFloat32, writeSafetensors } from '../model/safetensors.ts';
import type { AdamWState, SgdState } from '../train/optim.ts';

export interface TrainerState {
  step: number;
  tokensSeen: number;
  dataCursor: unknown;
}

export type OptimizerState = AdamWState | SgdState;

const CHECKPOINT_PREFIX = 'checkpoint-';

function optimizerTensors(state: OptimizerState): { name: string; dtype: 'F32'; shape: number[]; data: Float32Array }[] {
  const arrays: [string, Float32Array[]][] = 'm' in state ? [['m', state.m], ['v', state.v]] : [['momentum', state.momentumBuffer]];
  return arrays.flatMap(([kind, list]) => list.map((data, i) => ({ name: `${kind}.${i}`, dtype: 'F32' as const, shape: [data.length], data })));
}

/** Write RUN/checkpoint-{step}/ atomically (a temporary folder renamed into place). */
export function saveCheckpoint(
  runDir: string,
  parts: { step: number; writeAdapter: (dir: string) => Promise<void>; optimizer: OptimizerState; trainer: TrainerState },
): Promise<string> {
  const final = join(runDir, `${CHECKPOINT_PREFIX}${parts.step}`);
  const tmp = `${final}.tmp`;
  rmSync(tmp, { recursive: true, force: true });
  mkdirSync(tmp, { recursive: true });
  return parts.writeAdapter(join(tmp, 'adapter')).then(() => {
    const kind = 'm' in parts.optimizer ? 'adamw' : 'sgd';
    writeFileSync(join(tmp, 'optimizer.safetensors'), writeSafetensors(optimizerTensors(parts.optimizer), { kind, step: String(parts.optimizer.step) }));
    writeFileSync(join(tmp, 'trainer_state.json'), JSON.stringify(parts.trainer, null, 2));
    rmSync(final, { recursive: true, force: true });
    renameSync(tmp, final);
    return final;
  });
}

/** The newest complete checkpoint folder of a run, or null. */
export function latestCheckpoint(runDir: string): string | null {
  if (!existsSync(runDir)) return null;
  const steps = readdirSync(runDir)
    .filter((name) => name.startsWith(CHECKPOINT_PREFIX) && !name.endsWith('.tmp'))
    .map((name) => Number(name.slice(CHECKPOINT_PREFIX.length)))
    .filter((n) => Number.isInteger(n))
    .sort((a, b) => b - a);
  return steps.length ? join(runDir, `${CHECKPOINT_PREFIX}${steps[0]}`) : null;
}

export function loadCheckpoint(dir: string): { optimizer: OptimizerState; trainer: TrainerState } {
  const file = join(dir, 'optimizer.safetensors');
  const { tensors, metadata } = parseSafetensors(readFileSync(file), file);
  const list = (kind: string) => {
    const out: Float32Array[] = [];
    for (let i = 0; tensors.has(`${kind}.${i}`); i++) out.push(toFloat32(tensors.get(`${kind}.${i}`)!));
    return out;
  };
  const step = Number(metadata.step);
  if (!Number.isInteger(step)) throw new Error(`${file}: missing optimizer step in its metadata.`);
  const optimizer: OptimizerState = metadata.kind === 'adamw' ? { step, m: list('m'), v: list('v') } : { step, momentumBuffer: list('momentum') };
  const trainer = JSON.parse(readFileSync(join(dir, 'trainer_state.json'), 'utf8')) as TrainerState;
  return { optimizer, trainer };
}
