// The browser's Origin Private File System: file and folder handles by path, and an OPFS folder as a
// model source (the web app's storage in src/app/storage.ts builds on these).

import type { ModelSource, ProgressFn } from './source.ts';

/** The file at `path` ("a/b/c"), creating folders on the way when `create`; null when missing. */
export async function fileHandle(path: string, create: boolean): Promise<FileSystemFileHandle | null> {
  const parts = path.split('/');
  const dir = await dirHandle(parts.slice(0, -1).join('/'), create);
  if (!dir) return null;
  try {
    return await dir.getFileHandle(parts.at(-1)!, { create });
  } catch (e) {
    if ((e as DOMException).name === 'NotFoundError' || (e as DOMException).name === 'TypeMismatchError') return null;
    throw e;
  }
}

export async function dirHandle(path: string, create: boolean): Promise<FileSystemDirectoryHandle | null> {
  let dir = await navigator.storage.getDirectory();
  for (const name of path.split('/').filter(Boolean)) {
    try {
      dir = await dir.getDirectoryHandle(name, { create });
    } catch (e) {
      if ((e as DOMException).name === 'NotFoundError' || (e as DOMException).name === 'TypeMismatchError') return null;
      throw e;
    }
  }
  return dir;
}

/** Reads of a file that another context replaces meanwhile fail (the page reads what the worker writes). */
const CONCURRENT_WRITE_RETRIES = 20;

export async function readFile(path: string): Promise<Uint8Array | null> {
  const handle = await fileHandle(path, false);
  if (!handle) return null;
  for (let attempt = 0; ; attempt++) {
    try {
      return new Uint8Array(await (await handle.getFile()).arrayBuffer());
    } catch (e) {
      // A writable's close swaps the new contents in: a read at that moment sees the file changed
      // (NotReadableError) or briefly missing (NotFoundError). Read it again.
      const swapped = e instanceof DOMException && (e.name === 'NotReadableError' || e.name === 'NotFoundError');
      if (!swapped || attempt >= CONCURRENT_WRITE_RETRIES) throw e;
    }
  }
}

/** An OPFS folder as a model/adapter source (for LoraAdapter.load and loadModel). */
export function opfsSource(folder: string): ModelSource {
  const read = async (file: string, onProgress?: ProgressFn) => {
    const bytes = await readFile(`${folder}/${file}`);
    if (!bytes) throw new Error(`file not found: '${file}' in browser storage (${folder})`);
    onProgress?.(bytes.byteLength, bytes.byteLength);
    return bytes;
  };
  return {
    id: `opfs:${folder}`,
    read,
    has: async (file) => (await fileHandle(`${folder}/${file}`, false)) !== null,
    readJson: async <T>(file: string) => JSON.parse(new TextDecoder().decode(await read(file))) as T,
  };
}
