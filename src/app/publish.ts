// Publish a run from the page to the Hugging Face Hub (DESIGN.md §13.4): the run's OPFS files in the
// same repository layout as `webgrpo push`, uploaded by @huggingface/hub from the page. The token is
// the caller's (typed by the user, held in the Publish part's state only) and is passed straight to
// publishToHub: never stored, posted to the worker or logged.

import { dirHandle, fileHandle } from '../io/opfs.ts';
import type { PublishResult } from '../rl/publish.ts';
import { adapterFiles } from './storage.ts';

export interface PublishRequest {
  repo: string;
  token: string;
  private: boolean;
  endpoint: string;
  onProgress: (message: string) => void;
  onUploadProgress: (fraction: number) => void;
}

/** A file of the run's OPFS folder as a (lazily read) File, or null. */
async function runFile(runId: string, name: string): Promise<File | null> {
  const handle = await fileHandle(`runs/${runId}/${name}`, false);
  return handle ? handle.getFile() : null;
}

/** GGUF exports kept in the run's folder. */
async function ggufFiles(runId: string): Promise<{ name: string; content: Blob }[]> {
  const dir = await dirHandle(`runs/${runId}`, false);
  const out: { name: string; content: Blob }[] = [];
  if (!dir) return out;
  for await (const name of (dir as unknown as { keys(): AsyncIterable<string> }).keys()) {
    const file = name.endsWith('.gguf') ? await runFile(runId, name) : null;
    if (file) out.push({ name, content: file });
  }
  return out.sort((a, b) => a.name.localeCompare(b.name));
}

export async function publishRun(runId: string, req: PublishRequest): Promise<PublishResult> {
  // Loaded on demand: the Hub client is only needed here.
  const { hubFilesOfRun, publishToHub, RUN_FILES } = await import('../rl/publish.ts');
  const adapter = (await adapterFiles(runId)).map((f) => ({ name: f.name, content: new Blob([f.bytes as BlobPart]) }));
  const runFiles: Partial<Record<(typeof RUN_FILES)[number], Blob>> = {};
  for (const name of RUN_FILES) {
    const file = await runFile(runId, name);
    if (file) runFiles[name] = file;
  }
  const files = await hubFilesOfRun({ repo: req.repo, rootFiles: [...adapter, ...(await ggufFiles(runId))], runFiles });
  return publishToHub({
    repo: req.repo,
    token: req.token,
    endpoint: req.endpoint,
    files,
    private: req.private,
    commitTitle: `Upload webgrpo run ${runId}`,
    onProgress: req.onProgress,
    onUploadProgress: req.onUploadProgress,
  });
}
