// What the web app keeps in the browser's Origin Private File System, used by both the page and the
// worker:
//   runs/<id>/run.json            settings, status, creation time, steps done
//   runs/<id>/config.json         the run as `webgrpo train` writes it (read by the TRL export)
//   runs/<id>/metrics.jsonl       one line per step; passk.json; completions.json (the newest step)
//   runs/<id>/inspect/step-N.json the step inspector's record of step N (every inspect_every steps)
//   runs/<id>/checkpoint-<N>/     adapter/, optimizer.safetensors, trainer_state.json (written last)
//   runs/<id>/adapter/            the final adapter (PEFT files)
//   models/<name>/                a model folder the user picked
//   datasets/<file>               an uploaded dataset file

import type { StepMetrics } from '../rl/grpo.ts';
import { checkpointName, newestCheckpointStep } from '../rl/checkpoint.ts';
import { ADAPTER_CONFIG_FILE, ADAPTER_WEIGHTS_FILE } from '../lora/adapter.ts';
import { dirHandle, fileHandle, opfsSource, readFile } from '../io/opfs.ts';
import type { RunStorage, StoredPassAtK } from '../rl/session.ts';
import { inspectedStep, inspectionFile, type StepInspection } from '../rl/inspect.ts';
import type { ModelSource } from '../io/source.ts';
import type { CompletionView, RunConfig } from './protocol.ts';
import type { RunView } from './store.ts';

type RunStatus = 'running' | 'done' | 'stopped' | 'error';

export interface StoredRun {
  id: string;
  settings: RunConfig;
  status: RunStatus;
  created: string;
  steps: number;
}

async function writeFile(path: string, data: Uint8Array | string): Promise<void> {
  const handle = (await fileHandle(path, true))!;
  const writable = await handle.createWritable();
  await writable.write(data as FileSystemWriteChunkType);
  await writable.close();
}

async function readText(path: string): Promise<string | null> {
  const bytes = await readFile(path);
  return bytes ? new TextDecoder().decode(bytes) : null;
}

async function readJson<T>(path: string): Promise<T | null> {
  const text = await readText(path);
  return text === null ? null : (JSON.parse(text) as T);
}

/** Names in a folder (empty when it does not exist). */
async function listFolder(path: string): Promise<string[]> {
  const dir = await dirHandle(path, false);
  if (!dir) return [];
  const names: string[] = [];
  for await (const name of (dir as unknown as { keys(): AsyncIterable<string> }).keys()) names.push(name);
  return names;
}

async function removePath(path: string): Promise<void> {
  const parts = path.split('/');
  const parent = await dirHandle(parts.slice(0, -1).join('/'), false);
  await parent?.removeEntry(parts.at(-1)!, { recursive: true }).catch((e: DOMException) => {
    if (e.name !== 'NotFoundError') throw e;
  });
}

// -------------------------------------------------------------------------------------------------
// Runs

const runPath = (id: string, file = '') => `runs/${id}${file ? `/${file}` : ''}`;

export async function saveRunInfo(run: StoredRun): Promise<void> {
  await writeFile(runPath(run.id, 'run.json'), JSON.stringify(run, null, 2));
}

export async function readRunInfo(id: string): Promise<StoredRun | null> {
  return readJson<StoredRun>(runPath(id, 'run.json'));
}

export async function updateRunInfo(id: string, update: Partial<StoredRun>): Promise<void> {
  const run = await readRunInfo(id);
  if (run) await saveRunInfo({ ...run, ...update });
}

/** Every stored run, newest first. */
export async function listRuns(): Promise<StoredRun[]> {
  const runs: StoredRun[] = [];
  for (const id of await listFolder('runs')) {
    const run = await readRunInfo(id).catch(() => null);
    if (run) runs.push(run);
  }
  return runs.sort((a, b) => b.created.localeCompare(a.created));
}

export async function deleteRun(id: string): Promise<void> {
  await removePath(runPath(id));
}

/** The training steps' metrics (metrics.jsonl without its held-out evaluation lines, which passk.json holds). */
export async function readMetrics(id: string): Promise<StepMetrics[]> {
  const text = (await readText(runPath(id, 'metrics.jsonl'))) ?? '';
  return text
    .split('\n')
    .filter(Boolean)
    .map((line) => JSON.parse(line) as StepMetrics)
    .filter((m) => !Object.keys(m).some((k) => k.startsWith('eval/')));
}

/** The steps of the run that the step inspector can show, in order. */
export async function inspectedSteps(id: string): Promise<number[]> {
  return (await listFolder(runPath(id, 'inspect')))
    .map(inspectedStep)
    .filter((step): step is number => step !== null)
    .sort((a, b) => a - b);
}

export async function readInspection(id: string, step: number): Promise<StepInspection | null> {
  return readJson<StepInspection>(runPath(id, inspectionFile(step)));
}

async function readPassAtK(id: string): Promise<StoredPassAtK> {
  return (await readJson<StoredPassAtK>(runPath(id, 'passk.json'))) ?? { base: null, adapter: [] };
}

export async function writeCompletions(id: string, completions: CompletionView[]): Promise<void> {
  await writeFile(runPath(id, 'completions.json'), JSON.stringify(completions));
}

async function appendFile(path: string, text: string): Promise<void> {
  const handle = (await fileHandle(path, true))!;
  const size = (await handle.getFile()).size;
  const writable = await handle.createWritable({ keepExistingData: true });
  await writable.seek(size);
  await writable.write(text);
  await writable.close();
}

/** A run's OPFS folder as the GRPO session's storage (the same file layout as a CLI run folder). */
export function runStorage(id: string): RunStorage {
  return {
    readText: (file) => readText(runPath(id, file)),
    write: (file, data) => writeFile(runPath(id, file), data),
    append: (file, text) => appendFile(runPath(id, file), text),
    saveCheckpoint: async (step, files) => {
      await saveRunCheckpoint(id, step, files);
      return runPath(id, checkpointName(step));
    },
    newestCheckpoint: async () => {
      const newest = await newestRunCheckpoint(id);
      if (!newest) return null;
      const read = async (file: string) => {
        const bytes = await readFile(`${newest.folder}/${file}`);
        if (!bytes) throw new Error(`${newest.folder}/${file} is missing from browser storage.`);
        return bytes;
      };
      return { step: newest.step, where: newest.folder, read, adapter: opfsSource(`${newest.folder}/adapter`) };
    },
  };
}

/**
 * Write checkpoint-<step>/ with trainer_state.json last: a checkpoint counts only once that file
 * exists (OPFS has no atomic folder rename), so a tab closed mid-write leaves the previous one in use.
 * Older checkpoints are removed once the new one is complete.
 */
async function saveRunCheckpoint(id: string, step: number, files: Record<string, Uint8Array>): Promise<void> {
  const folder = runPath(id, checkpointName(step));
  const last = 'trainer_state.json';
  for (const [name, bytes] of Object.entries(files)) if (name !== last) await writeFile(`${folder}/${name}`, bytes);
  await writeFile(`${folder}/${last}`, files[last]);
  for (const name of await listFolder(runPath(id))) {
    if (name.startsWith('checkpoint-') && name !== checkpointName(step)) await removePath(runPath(id, name));
  }
}

/** The newest complete checkpoint's step and folder, or null. */
async function newestRunCheckpoint(id: string): Promise<{ step: number; folder: string } | null> {
  const complete: string[] = [];
  for (const name of await listFolder(runPath(id))) {
    if (name.startsWith('checkpoint-') && (await fileHandle(runPath(id, `${name}/trainer_state.json`), false))) complete.push(name);
  }
  const step = newestCheckpointStep(complete);
  return step === null ? null : { step, folder: runPath(id, checkpointName(step)) };
}

/** What the page shows of a stored run: its metrics, pass@k and newest completions. */
export async function loadRunHistory(id: string): Promise<Partial<RunView>> {
  const passk = await readPassAtK(id);
  const checkpoint = await newestRunCheckpoint(id);
  const info = await readRunInfo(id);
  // A run still marked running continues from its checkpoint: later steps will be trained again.
  const metrics = (await readMetrics(id)).filter((m) => info?.status !== 'running' || m.step <= (checkpoint?.step ?? 0));
  return {
    metrics,
    basePassAtK: passk.base,
    passAtK: passk.adapter,
    completions: (await readJson<CompletionView[]>(runPath(id, 'completions.json'))) ?? [],
    lastCheckpoint: checkpoint?.step ?? null,
    phase: info?.status === 'running' ? 'loading' : (info?.status ?? 'stopped'),
  };
}

/** The adapter's PEFT files: the final adapter, else the newest checkpoint's. */
export async function adapterFiles(id: string): Promise<{ name: string; bytes: Uint8Array }[]> {
  const folder = await adapterFolder(id);
  const files: { name: string; bytes: Uint8Array }[] = [];
  for (const name of [ADAPTER_CONFIG_FILE, ADAPTER_WEIGHTS_FILE]) {
    const bytes = await readFile(`${folder}/${name}`);
    if (!bytes) throw new Error(`Run ${id}: ${folder}/${name} is missing from browser storage.`);
    files.push({ name, bytes });
  }
  return files;
}

/** The folder of the run's adapter: the final one, else the newest checkpoint's. */
async function adapterFolder(id: string): Promise<string> {
  const final = runPath(id, 'adapter');
  if (await fileHandle(`${final}/${ADAPTER_WEIGHTS_FILE}`, false)) return final;
  const checkpoint = await newestRunCheckpoint(id);
  if (!checkpoint) throw new Error(`Run ${id} has no adapter yet: it is saved at the first checkpoint.`);
  return `${checkpoint.folder}/adapter`;
}

/** The run's adapter (final, else newest checkpoint) as a model source. */
export async function adapterSource(id: string): Promise<ModelSource> {
  return opfsSource(await adapterFolder(id));
}

export async function runConfigJson(id: string): Promise<Record<string, unknown>> {
  const config = await readJson<Record<string, unknown>>(runPath(id, 'config.json'));
  if (!config) throw new Error(`Run ${id} has no config.json in browser storage.`);
  return config;
}

// -------------------------------------------------------------------------------------------------
// User files

/** Copy a picked model folder (files of a webkitdirectory input) into models/<name>/. */
export async function saveLocalModel(name: string, files: File[]): Promise<void> {
  await removePath(`models/${name}`);
  for (const file of files) {
    // webkitRelativePath is "<picked folder>/<path inside it>".
    const relative = (file.webkitRelativePath || file.name)
      .split('/')
      .slice(file.webkitRelativePath ? 1 : 0)
      .join('/');
    if (!relative || relative.split('/').some((p) => p === '..' || p.startsWith('.'))) continue;
    await writeFile(`models/${name}/${relative}`, new Uint8Array(await file.arrayBuffer()));
  }
}

export function localModelFolder(name: string): string {
  return `models/${name}`;
}

export async function saveUpload(fileName: string, bytes: Uint8Array): Promise<void> {
  await writeFile(`datasets/${fileName}`, bytes);
}

export async function readUpload(fileName: string): Promise<Uint8Array> {
  const bytes = await readFile(`datasets/${fileName}`);
  if (!bytes) throw new Error(`Dataset file ${fileName} is not in browser storage any more: upload it again.`);
  return bytes;
}
