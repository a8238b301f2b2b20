// GRPO checkpoints: adapter (PEFT), optimizer state, and the trainer's position (step, token count,
// data cursor), so that `--resume` continues exactly where an uninterrupted run would be. The file
// layout is the same in a Node run folder (src/cli/run-folder.ts) and in the web app's OPFS (DESIGN.md §13).

import { parseSafetensors, toFloat32, writeSafetensors } from '../io/safetensors.ts';
import type { AdamWState, SgdState } from '../train/optim.ts';
import { ADAPTER_CONFIG_FILE, ADAPTER_WEIGHTS_FILE } from '../lora/adapter.ts';
import type { AdaptiveEntropyState } from './adaptive-entropy.ts';

export interface TrainerState {
  step: number;
  tokensSeen: number;
  dataCursor: unknown;
  /** The adaptive entropy controller (use_adaptive_entropy runs only). */
  adaptiveEntropy?: AdaptiveEntropyState;
}

export type OptimizerState = AdamWState | SgdState;

const CHECKPOINT_PREFIX = 'checkpoint-';

function optimizerTensors(state: OptimizerState): { name: string; dtype: 'F32'; shape: number[]; data: Float32Array }[] {
  const arrays: [string, Float32Array[]][] =
    'm' in state
      ? [
          ['m', state.m],
          ['v', state.v],
        ]
      : [['momentum', state.momentumBuffer]];
  return arrays.flatMap(([kind, list]) => list.map((data, i) => ({ name: `${kind}.${i}`, dtype: 'F32' as const, shape: [data.length], data })));
}

/** A checkpoint's files (names relative to its folder), the same in Node folders and browser OPFS. */
export function checkpointFiles(parts: {
  adapter: { adapterConfig: unknown; safetensors: Uint8Array };
  optimizer: OptimizerState;
  trainer: TrainerState;
}): Record<string, Uint8Array> {
  const kind = 'm' in parts.optimizer ? 'adamw' : 'sgd';
  const text = (value: unknown) => new TextEncoder().encode(JSON.stringify(value, null, 2));
  return {
    [`adapter/${ADAPTER_CONFIG_FILE}`]: text(parts.adapter.adapterConfig),
    [`adapter/${ADAPTER_WEIGHTS_FILE}`]: parts.adapter.safetensors,
    'optimizer.safetensors': writeSafetensors(optimizerTensors(parts.optimizer), { kind, step: String(parts.optimizer.step) }),
    'trainer_state.json': text(parts.trainer),
  };
}

/** The folder name of the checkpoint of `step`. */
export function checkpointName(step: number): string {
  return `${CHECKPOINT_PREFIX}${step}`;
}

/** The newest step among checkpoint folder names (temporary ".tmp" folders excluded), or null. */
export function newestCheckpointStep(names: string[]): number | null {
  const steps = names
    .filter((name) => name.startsWith(CHECKPOINT_PREFIX) && !name.endsWith('.tmp'))
    .map((name) => Number(name.slice(CHECKPOINT_PREFIX.length)))
    .filter((n) => Number.isInteger(n));
  return steps.length ? Math.max(...steps) : null;
}

/** Optimizer and trainer state from a checkpoint's optimizer.safetensors and trainer_state.json. */
export function parseCheckpoint(
  optimizerBytes: Uint8Array,
  trainerJson: string,
  file = 'optimizer.safetensors',
): { optimizer: OptimizerState; trainer: TrainerState } {
  const { tensors, metadata } = parseSafetensors(optimizerBytes, file);
  const list = (kind: string) => {
    const out: Float32Array[] = [];
    for (let i = 0; tensors.has(`${kind}.${i}`); i++) out.push(toFloat32(tensors.get(`${kind}.${i}`)!));
    return out;
  };
  const step = Number(metadata.step);
  if (!Number.isInteger(step)) throw new Error(`${file}: missing optimizer step in its metadata.`);
  const optimizer: OptimizerState = metadata.kind === 'adamw' ? { step, m: list('m'), v: list('v') } : { step, momentumBuffer: list('momentum') };
  const trainer = JSON.parse(trainerJson) as TrainerState;
  return { optimizer, trainer };
}
