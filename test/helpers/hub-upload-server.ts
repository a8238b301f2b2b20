// A local stand-in for the Hugging Face Hub's write endpoints, as @huggingface/hub's createRepo and
// uploadFiles call them: POST /api/repos/create, POST /api/models/{repo}/preupload/{rev},
// POST /{repo}.git/info/lfs/objects/batch (answering the "basic" transfer, so the client PUTs each
// large file to the href given), PUT /lfs/{oid}, POST /api/models/{repo}/commit/{rev} (NDJSON).
// LFS objects are kept per repository, as on the Hub. Checks the Bearer token on every API call,
// keeps what was committed, can cut a connection, and answers CORS preflights (the page's Publish
// part calls it from another origin).

import { createHash } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

interface HubRepo {
  private: boolean;
  files: Map<string, Uint8Array>;
  commits: { title: string; paths: string[] }[];
}

export interface HubUploadServer {
  endpoint: string;
  repos: Map<string, HubRepo>;
  /** Every request: method, path, status (0 when cut). */
  requests: { method: string; path: string; status: number }[];
  /** sha256 (hex) of every object that went through the LFS upload. */
  lfsUploads: string[];
  /** Drop the connection of the next `times` requests of this kind (Node's fetch retries an idempotent PUT once on a fresh connection). */
  cutNext(kind: 'lfs' | 'commit', times?: number): void;
  close(): Promise<void>;
}

export interface HubUploadServerOptions {
  /** Tokens that may write (anything else starting with hf_ answers 401). */
  writeTokens: string[];
  /** Tokens that are valid but may not write: 403. */
  readTokens?: string[];
}

const LFS = /\.(safetensors|gguf|bin|png)$/;

export async function startHubUploadServer(opts: HubUploadServerOptions): Promise<HubUploadServer> {
  const repos = new Map<string, HubRepo>();
  const requests: HubUploadServer['requests'] = [];
  const lfsStore = new Map<string, Uint8Array>();
  const lfsUploads: string[] = [];
  const cuts = new Map<'lfs' | 'commit', number>();

  const body = (req: IncomingMessage) =>
    new Promise<Uint8Array>((resolve, reject) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => resolve(new Uint8Array(Buffer.concat(chunks))));
      req.on('error', reject);
    });

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const path = (req.url ?? '/').split('?')[0];
    const method = req.method ?? 'GET';
    // CORS as the Hub answers it, so the page (another origin) can call this server too.
    res.setHeader('Access-Control-Allow-Origin', '*');
    res.setHeader('Access-Control-Expose-Headers', 'ETag, X-Request-Id');
    if (method === 'OPTIONS') {
      res.writeHead(204, {
        'Access-Control-Allow-Methods': 'GET, POST, PUT',
        'Access-Control-Allow-Headers': 'Authorization, Content-Type, Accept, X-Request-Id',
        'Access-Control-Max-Age': '600',
      });
      res.end();
      return;
    }
    const send = (status: number, json: unknown) => {
      requests.push({ method, path, status });
      res.writeHead(status, { 'Content-Type': 'application/json' });
      res.end(JSON.stringify(json));
    };
    const cut = (kind: 'lfs' | 'commit') => {
      const left = cuts.get(kind) ?? 0;
      if (left === 0) return false;
      cuts.set(kind, left - 1);
      requests.push({ method, path, status: 0 });
      req.socket.destroy();
      return true;
    };
    /** 401/403 answered; true when the caller may write. */
    const authorised = () => {
      const token = /^Bearer (.+)$/.exec(req.headers.authorization ?? '')?.[1];
      if (token && opts.writeTokens.includes(token)) return true;
      if (token && opts.readTokens?.includes(token)) send(403, { error: "You don't have the rights to create a model under this namespace" });
      else send(401, { error: 'Invalid username or password.' });
      return false;
    };
    const host = `http://${req.headers.host}`;

    if (method === 'POST' && path === '/api/repos/create') {
      const json = JSON.parse(new TextDecoder().decode(await body(req))) as { name: string; organization: string; visibility?: string; type: string };
      if (!authorised()) return;
      const id = `${json.organization}/${json.name}`;
      if (repos.has(id)) return send(409, { error: 'You already created this model repo', url: `${host}/${id}` });
      repos.set(id, {
        private: json.visibility === 'private',
        files: new Map([['.gitattributes', new TextEncoder().encode('*.safetensors filter=lfs\n')]]),
        commits: [],
      });
      return send(200, { url: `${host}/${id}`, name: id });
    }
    const api = /^\/api\/models\/([^/]+\/[^/]+)\/(preupload|commit)\/([^/]+)$/.exec(path);
    if (method === 'POST' && api) {
      const [, id, action] = api;
      if (action === 'commit' && cut('commit')) return;
      const bytes = await body(req);
      if (!authorised()) return;
      const repo = repos.get(decodeURIComponent(id));
      if (!repo) return send(404, { error: 'Repository not found' });
      if (action === 'preupload') {
        const { files } = JSON.parse(new TextDecoder().decode(bytes)) as { files: { path: string; size: number }[] };
        return send(200, { files: files.map((f) => ({ path: f.path, uploadMode: LFS.test(f.path) || f.size > 10_000_000 ? 'lfs' : 'regular' })) });
      }
      const lines = new TextDecoder()
        .decode(bytes)
        .split('\n')
        .map((l) => JSON.parse(l) as { key: string; value: Record<string, unknown> });
      const header = lines.find((l) => l.key === 'header');
      const added = new Map<string, Uint8Array>();
      for (const { key, value } of lines) {
        if (key === 'file') added.set(value.path as string, new Uint8Array(Buffer.from(value.content as string, 'base64')));
        if (key === 'lfsFile') {
          const stored = lfsStore.get(`${decodeURIComponent(id)}:${value.oid}`);
          if (!stored) return send(422, { error: `LFS object ${value.oid} for ${value.path} was never uploaded` });
          added.set(value.path as string, stored);
        }
      }
      for (const [p, b] of added) repo.files.set(p, b);
      repo.commits.push({ title: String(header?.value.summary ?? ''), paths: [...added.keys()] });
      const oid = createHash('sha1').update(`${id}${repo.commits.length}`).digest('hex');
      return send(200, { commitOid: oid, commitUrl: `${host}/${id}/commit/${oid}` });
    }
    const batch = /^\/([^/]+\/[^/]+)\.git\/info\/lfs\/objects\/batch$/.exec(path);
    if (method === 'POST' && batch) {
      const json = JSON.parse(new TextDecoder().decode(await body(req))) as { objects: { oid: string; size: number }[] };
      if (!authorised()) return;
      return send(200, {
        transfer: 'basic',
        objects: json.objects.map((o) =>
          lfsStore.has(`${batch[1]}:${o.oid}`)
            ? { oid: o.oid, size: o.size }
            : { oid: o.oid, size: o.size, actions: { upload: { href: `${host}/lfs/${batch[1]}/${o.oid}` } } },
        ),
      });
    }
    const put = /^\/lfs\/([^/]+\/[^/]+)\/([0-9a-f]{64})$/.exec(path);
    if (method === 'PUT' && put) {
      if (cut('lfs')) return;
      const bytes = await body(req);
      const oid = createHash('sha256').update(bytes).digest('hex');
      if (oid !== put[2]) return send(400, { error: 'sha256 mismatch' });
      lfsStore.set(`${put[1]}:${oid}`, bytes);
      lfsUploads.push(oid);
      requests.push({ method, path, status: 200 });
      res.writeHead(200, { 'Content-Length': 0 });
      res.end();
      return;
    }
    send(404, { error: `no route ${method} ${path}` });
  };

  const server = createServer((req, res) => {
    handle(req, res).catch((e: Error) => {
      res.writeHead(500);
      res.end(e.message);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    endpoint: `http://127.0.0.1:${port}`,
    repos,
    requests,
    lfsUploads,
    cutNext: (kind, times = 1) => void cuts.set(kind, times),
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
