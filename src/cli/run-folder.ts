// A GRPO run folder on disk as the session's RunStorage: files under the folder, checkpoints
// written to a temporary folder and renamed into place, so a checkpoint exists only when complete.

import { appendFile, mkdir, readdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { openSource } from '../io/source.ts';
import { checkpointName, newestCheckpointStep } from '../rl/checkpoint.ts';
import type { RunStorage, StoredCheckpoint } from '../rl/session.ts';

export function runFolder(dir: string): RunStorage {
  const path = (file: string) => join(dir, file);
  const ensureDir = (file: string) => mkdir(dirname(path(file)), { recursive: true });
  return {
    readText: async (file) => (existsSync(path(file)) ? readFile(path(file), 'utf8') : null),
    write: async (file, data) => {
      await ensureDir(file);
      await writeFile(path(file), data);
    },
    append: async (file, text) => {
      await ensureDir(file);
      await appendFile(path(file), text);
    },
    saveCheckpoint: async (step, files) => {
      const final = path(checkpointName(step));
      const tmp = `${final}.tmp`;
      await rm(tmp, { recursive: true, force: true });
      for (const [name, bytes] of Object.entries(files)) {
        await mkdir(dirname(join(tmp, name)), { recursive: true });
        await writeFile(join(tmp, name), bytes);
      }
      await rm(final, { recursive: true, force: true });
      await rename(tmp, final);
      return final;
    },
    newestCheckpoint: async (): Promise<StoredCheckpoint | null> => {
      const step = existsSync(dir) ? newestCheckpointStep(await readdir(dir)) : null;
      if (step === null) return null;
      const where = path(checkpointName(step));
      return { step, where, read: (file) => readFile(join(where, file)), adapter: openSource(join(where, 'adapter'), { folderKind: 'adapter' }) };
    },
  };
}
