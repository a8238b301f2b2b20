// A local stand-in for the Hugging Face Hub: serves fixture folders under
// `/{owner}/{repo}/resolve/{revision}/{file}` by answering 302 to `/cdn/{owner}/{repo}/{revision}/{file}`,
// which serves the bytes with single-range support (206/416), as the real Hub and its CDN do.
// Counts and records every request.

import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import type { AddressInfo } from 'node:net';

interface HubRequest {
  method: string;
  path: string;
  range: string | null;
  status: number;
}

export interface HubServer {
  /** e.g. http://127.0.0.1:34567 */
  endpoint: string;
  requests: HubRequest[];
  /** Forget recorded requests. */
  reset(): void;
  /** The next CDN response for `file` sends only `bytes` body bytes, then drops the connection. */
  cutOnce(file: string, bytes: number): void;
  close(): Promise<void>;
}

export interface HubServerOptions {
  /** Repositories answering 401 (gated/private). */
  gated?: string[];
}

/** Start a server for `repos` (owner/repo, or datasets/owner/repo, -> folder). Any revision serves the same folder. */
export async function startHubServer(repos: Record<string, string>, opts: HubServerOptions = {}): Promise<HubServer> {
  const requests: HubRequest[] = [];
  const cuts = new Map<string, number>();

  const handle = (req: IncomingMessage, res: ServerResponse): void => {
    const path = (req.url ?? '/').split('?')[0];
    const range = (req.headers.range as string | undefined) ?? null;
    const send = (status: number, headers: Record<string, string | number> = {}, body?: Uint8Array | string) => {
      requests.push({ method: req.method ?? 'GET', path, range, status });
      res.writeHead(status, headers);
      res.end(body);
    };
    if (req.method !== 'GET') {
      send(405);
      return;
    }
    const all = path.split('/').slice(1).map(decodeURIComponent);
    // Dataset repositories live under /datasets/ (their ids in `repos`: "datasets/owner/repo").
    const cdnPrefix = all[0] === 'cdn' ? ['cdn'] : [];
    const kind = all[cdnPrefix.length] === 'datasets' ? 'datasets/' : '';
    const parts = [...cdnPrefix, ...all.slice(cdnPrefix.length + (kind ? 1 : 0))];
    // /{owner}/{repo}/resolve/{revision}/{file...}
    if (parts.length >= 5 && parts[2] === 'resolve') {
      const [owner, repo, , revision, ...file] = parts;
      const id = `${kind}${owner}/${repo}`;
      if (opts.gated?.includes(id)) {
        send(401, { 'Content-Type': 'text/plain' }, 'Access to this model is restricted.');
        return;
      }
      if (!repos[id]) {
        send(404, { 'Content-Type': 'text/plain' }, 'Repository not found');
        return;
      }
      const cdn = ['cdn', ...(kind ? ['datasets'] : []), owner, repo, revision, ...file].map(encodeURIComponent).join('/');
      send(302, { Location: `/${cdn}`, 'Content-Length': 0 });
      return;
    }
    // /cdn/{owner}/{repo}/{revision}/{file...}
    if (parts.length >= 5 && parts[0] === 'cdn') {
      const [, owner, repo, , ...file] = parts;
      const dir = repos[`${kind}${owner}/${repo}`];
      const name = file.join('/');
      if (!dir || file.some((s) => s === '..')) {
        send(404);
        return;
      }
      let size: number;
      try {
        const st = statSync(join(dir, name));
        if (!st.isFile()) {
          send(404, {}, 'Entry not found');
          return;
        }
        size = st.size;
      } catch {
        send(404, { 'Content-Type': 'text/plain' }, 'Entry not found');
        return;
      }
      const bytes = readFileSync(join(dir, name));
      let status = 200;
      let start = 0;
      let end = size - 1;
      const headers: Record<string, string | number> = { 'Accept-Ranges': 'bytes', 'Content-Type': 'application/octet-stream' };
      if (range) {
        const m = /^bytes=(\d+)-(\d*)$/.exec(range);
        if (!m) {
          send(416, { 'Content-Range': `bytes */${size}` });
          return;
        }
        start = Number(m[1]);
        end = m[2] ? Math.min(Number(m[2]), size - 1) : size - 1;
        if (start >= size || end < start) {
          send(416, { 'Content-Range': `bytes */${size}` });
          return;
        }
        status = 206;
        headers['Content-Range'] = `bytes ${start}-${end}/${size}`;
      }
      const body = bytes.subarray(start, end + 1);
      headers['Content-Length'] = body.byteLength;
      const cut = cuts.get(name);
      if (cut !== undefined) {
        cuts.delete(name);
        requests.push({ method: 'GET', path, range, status });
        res.writeHead(status, headers);
        res.write(body.subarray(0, cut), () => setTimeout(() => res.destroy(), 20));
        return;
      }
      send(status, headers, body);
      return;
    }
    send(404);
  };

  const server = createServer(handle);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    endpoint: `http://127.0.0.1:${port}`,
    requests,
    reset: () => void requests.splice(0),
    cutOnce: (file, bytes) => void cuts.set(file, bytes),
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
