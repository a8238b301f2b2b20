// Where model files come from: a local folder (Node) or the Hugging Face Hub ("hf:owner/repo[@rev]"),
// cached on disk (Node) or in the Cache API (browser) so a second load makes no network request.
//
// Hub requests are plain anonymous GETs, with at most a single `Range: bytes=N-` header (CORS-safe:
// no preflight). Node resumes an interrupted download from the `.partial` file it keeps in the cache.

export type ProgressFn = (loaded: number, total: number | null) => void;

export interface ModelSource {
  /** A human-readable identity: the folder path, or "hf:owner/repo@revision". */
  readonly id: string;
  read(file: string, onProgress?: ProgressFn): Promise<Uint8Array>;
  has(file: string): Promise<boolean>;
  readJson<T = unknown>(file: string): Promise<T>;
}

export interface OpenSourceOptions {
  /** Hub endpoint; default process.env.HF_ENDPOINT ?? 'https://huggingface.co'. */
  endpoint?: string;
  /** Node cache folder; default process.env.WEBGRPO_CACHE ?? ~/.cache/webgrpo. */
  cacheDir?: string;
  /** false: no cache at all (every read goes to the network). Default true. */
  cache?: boolean;
  /** Called for every file read, as its bytes arrive (`total` null when the size is unknown). */
  onProgress?: (loaded: number, total: number | null, file: string) => void;
  /** The fetch to use (default globalThis.fetch). */
  fetch?: typeof fetch;
  /** What a local folder holds, for the error when it does not exist ("no such model folder: …"); default 'model'. */
  folderKind?: string;
}

const isNode = typeof process !== 'undefined' && typeof process.versions?.node === 'string';

function env(name: string): string | undefined {
  return isNode ? process.env[name] || undefined : undefined;
}

/** Reject names that could escape the model folder or cache (from a hostile index file). */
function checkFileName(file: string): void {
  if (!file || file.startsWith('/') || file.includes('\\') || file.split('/').some((s) => s === '..' || s === '' || s === '.')) {
    throw new Error(`invalid model file name '${file}'`);
  }
}

/** "hf:owner/repo[@revision]" -> parts, or null when the spec is not a Hub spec. */
export function parseHubSpec(spec: string): { repo: string; revision: string } | null {
  if (!spec.startsWith('hf:')) return null;
  const rest = spec.slice(3);
  const at = rest.indexOf('@');
  const repo = at < 0 ? rest : rest.slice(0, at);
  const revision = at < 0 ? 'main' : rest.slice(at + 1);
  if (!/^[\w.-]+\/[\w.-]+$/.test(repo) || repo.split('/').some((s) => s === '.' || s === '..')) {
    throw new Error(`bad model spec '${spec}': expected hf:<owner>/<repo>[@revision]`);
  }
  if (!revision) throw new Error(`bad model spec '${spec}': empty revision after '@'`);
  return { repo, revision };
}

/**
 * Open a model source. `spec` is "hf:<owner>/<repo>[@revision]" (Hub, cached) or, in Node, a path
 * to a local folder holding config.json and the safetensors files.
 */
export function openSource(spec: string, opts: OpenSourceOptions = {}): ModelSource {
  const hub = parseHubSpec(spec);
  if (hub) return new HubSource(hub.repo, hub.revision, opts);
  if (!isNode) throw new Error(`model '${spec}': local folders need Node; in the browser use hf:<owner>/<repo>`);
  return new LocalSource(spec, opts.onProgress, opts.folderKind);
}

/**
 * Open a Hub repository of any type with the same fetching and caching as model repositories.
 * `type: 'dataset'` reads `{endpoint}/datasets/{repo}/resolve/{revision}/{file}` and caches under
 * `<cacheDir>/<host>/datasets/<owner>/<repo>/<revision>/`; e.g.
 * `openHubRepo('openai/gsm8k', 'refs/convert/parquet', { type: 'dataset' }).read('main/train/0000.parquet')`.
 */
export function openHubRepo(repo: string, revision = 'main', opts: OpenSourceOptions & { type?: 'model' | 'dataset' } = {}): ModelSource {
  if (!/^[\w.-]+\/[\w.-]+$/.test(repo) || repo.split('/').some((s) => s === '.' || s === '..')) {
    throw new Error(`bad Hub repository '${repo}': expected <owner>/<repo>`);
  }
  if (!revision) throw new Error(`bad Hub revision for '${repo}': empty`);
  return new HubSource(repo, revision, opts, opts.type === 'dataset' ? 'datasets' : null);
}

async function decodeJson<T>(bytes: Uint8Array, file: string, id: string): Promise<T> {
  try {
    return JSON.parse(new TextDecoder().decode(bytes)) as T;
  } catch (e) {
    throw new Error(`${id}: ${file} is not valid JSON: ${(e as Error).message}`);
  }
}

// -------------------------------------------------------------------------------------------------
// Local folder (Node)

class LocalSource implements ModelSource {
  readonly id: string;
  constructor(
    private readonly dir: string,
    private readonly onProgress?: OpenSourceOptions['onProgress'],
    private readonly kind = 'model',
  ) {
    this.id = dir;
  }

  /** A missing folder is named as such, not as its first missing file. */
  private async checkFolder(): Promise<void> {
    const fs = await import('node:fs/promises');
    const isDir = await fs.stat(this.dir).then(
      (st) => st.isDirectory(),
      () => false,
    );
    if (!isDir) throw new Error(`no such ${this.kind} folder: ${this.dir} (use hf:owner/repo for the Hub)`);
  }

  private async path(file: string): Promise<string> {
    checkFileName(file);
    const { join } = await import('node:path');
    return join(this.dir, file);
  }

  async read(file: string, onProgress?: ProgressFn): Promise<Uint8Array> {
    const fs = await import('node:fs/promises');
    let buf: Uint8Array;
    try {
      buf = await fs.readFile(await this.path(file));
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') {
        await this.checkFolder();
        throw new Error(`file not found: '${file}' in ${this.dir}`);
      }
      throw e;
    }
    const bytes = new Uint8Array(buf.buffer, buf.byteOffset, buf.byteLength);
    onProgress?.(bytes.byteLength, bytes.byteLength);
    this.onProgress?.(bytes.byteLength, bytes.byteLength, file);
    return bytes;
  }

  async has(file: string): Promise<boolean> {
    const fs = await import('node:fs/promises');
    try {
      return (await fs.stat(await this.path(file))).isFile();
    } catch {
      await this.checkFolder();
      return false;
    }
  }

  async readJson<T = unknown>(file: string): Promise<T> {
    return decodeJson<T>(await this.read(file), file, this.id);
  }
}

// -------------------------------------------------------------------------------------------------
// Hugging Face Hub

/** Downloads in flight in this process, by cache key: concurrent reads share one request. */
const inflight = new Map<string, Promise<Uint8Array>>();

class HubSource implements ModelSource {
  readonly id: string;
  private readonly endpoint: string;
  protected readonly fetchFn: typeof fetch;
  private readonly useCache: boolean;
  private readonly cacheDir: string | undefined;
  private readonly probed = new Map<string, boolean>();

  constructor(
    readonly repo: string,
    readonly revision: string,
    private readonly opts: OpenSourceOptions,
    /** 'datasets' (or 'spaces') for non-model repositories: a URL and cache path prefix. */
    private readonly repoType: string | null = null,
  ) {
    this.id = `hf:${repoType ? `${repoType}/` : ''}${repo}@${revision}`;
    this.endpoint = (opts.endpoint ?? env('HF_ENDPOINT') ?? 'https://huggingface.co').replace(/\/+$/, '');
    this.fetchFn = opts.fetch ?? ((...args: Parameters<typeof fetch>) => globalThis.fetch(...args));
    this.useCache = opts.cache !== false;
    this.cacheDir = opts.cacheDir ?? env('WEBGRPO_CACHE');
  }

  url(file: string): string {
    const path = file.split('/').map(encodeURIComponent).join('/');
    const prefix = this.repoType ? `${this.repoType}/` : '';
    return `${this.endpoint}/${prefix}${this.repo}/resolve/${encodeURIComponent(this.revision)}/${path}`;
  }

  /** The Node cache path of a file: <cacheDir>/<endpoint host>/[datasets/]<owner>/<repo>/<revision>/<file>. */
  private async cachePath(file: string): Promise<string> {
    const { join } = await import('node:path');
    const { homedir } = await import('node:os');
    const base = this.cacheDir ?? join(homedir(), '.cache', 'webgrpo');
    const host = new URL(this.endpoint).host.replace(/[^\w.-]/g, '_');
    const [owner, name] = this.repo.split('/');
    const type = this.repoType ? [this.repoType] : [];
    return join(base, host, ...type, owner, name, encodeURIComponent(this.revision), ...file.split('/'));
  }

  /** The repository (or folder) named in error messages. */
  protected where(): string {
    return `${this.repo}@${this.revision}`;
  }

  private httpError(file: string, url: string, res: Response): Error {
    const s = res.status;
    if (s === 401 || s === 403) {
      return new Error(
        `HTTP ${s} for ${url}: ${this.repo} may be a gated or private repository (downloads are anonymous); ` +
          'accept its license on the Hub and copy the files into a local folder, or use another model.',
      );
    }
    if (s === 404) return new Error(`file not found: '${file}' in ${this.where()} (HTTP 404 for ${url})`);
    return new Error(`HTTP ${s}${res.statusText ? ` ${res.statusText}` : ''} for ${url}`);
  }

  protected async get(url: string, range?: string): Promise<Response> {
    try {
      return await this.fetchFn(url, range ? { headers: { Range: range }, redirect: 'follow' } : { redirect: 'follow' });
    } catch (e) {
      throw new Error(`could not fetch ${url}: ${(e as Error).message}`);
    }
  }

  async has(file: string): Promise<boolean> {
    checkFileName(file);
    const known = this.probed.get(file);
    if (known !== undefined) return known;
    const url = this.url(file);
    let answer: boolean | null = null;
    if (this.useCache && isNode) {
      const fs = await import('node:fs/promises');
      const path = await this.cachePath(file);
      if (await exists(fs, path)) answer = true;
      else if (await exists(fs, `${path}.missing`)) answer = false;
    } else if (this.useCache && typeof caches !== 'undefined') {
      const hit = await (await browserCache())?.match(url);
      if (hit) answer = hit.status === 200;
    }
    if (answer === null) {
      // A one-byte GET (HEAD probes and custom headers would need a CORS preflight).
      const res = await this.get(url, 'bytes=0-0');
      await res.body?.cancel().catch(() => {});
      if (res.status === 200 || res.status === 206) answer = true;
      else if (res.status === 404) answer = false;
      else throw this.httpError(file, url, res);
      if (!answer && this.useCache) await this.rememberMissing(file, url);
    }
    this.probed.set(file, answer);
    return answer;
  }

  private async rememberMissing(file: string, url: string): Promise<void> {
    try {
      if (isNode) {
        const fs = await import('node:fs/promises');
        const { dirname } = await import('node:path');
        const path = await this.cachePath(file);
        await fs.mkdir(dirname(path), { recursive: true });
        await fs.writeFile(`${path}.missing`, '');
      } else {
        await (await browserCache())?.put(url, new Response(null, { status: 404 }));
      }
    } catch {
      // Caching a negative answer is an optimisation only.
    }
  }

  async readJson<T = unknown>(file: string): Promise<T> {
    return decodeJson<T>(await this.read(file), file, this.id);
  }

  async read(file: string, onProgress?: ProgressFn): Promise<Uint8Array> {
    checkFileName(file);
    const report: ProgressFn = (loaded, total) => {
      onProgress?.(loaded, total);
      this.opts.onProgress?.(loaded, total, file);
    };
    const url = this.url(file);
    if (!this.useCache) return this.download(file, url, report, null);
    const key = isNode ? await this.cachePath(file) : url;
    const running = inflight.get(key);
    if (running) return running;
    const job = (isNode ? this.readNode(file, url, key, report) : this.readBrowser(file, url, report)).finally(() => inflight.delete(key));
    inflight.set(key, job);
    return job;
  }

  private async readNode(file: string, url: string, path: string, report: ProgressFn): Promise<Uint8Array> {
    const fs = await import('node:fs/promises');
    const { dirname } = await import('node:path');
    if (await exists(fs, path)) {
      const buf = await fs.readFile(path);
      report(buf.byteLength, buf.byteLength);
      return new Uint8Array(buf.buffer, buf.byteOffset, buf.byteLength);
    }
    await fs.mkdir(dirname(path), { recursive: true });
    const partial = `${path}.partial`;
    const bytes = await this.download(file, url, report, { fs, partial });
    await fs.rename(partial, path); // atomic: the final name only ever holds a complete file
    await fs.rm(`${path}.missing`, { force: true });
    return bytes;
  }

  private async readBrowser(file: string, url: string, report: ProgressFn): Promise<Uint8Array> {
    const cache = await browserCache();
    const hit = await cache?.match(url);
    if (hit && hit.status === 200) {
      const bytes = new Uint8Array(await hit.arrayBuffer());
      report(bytes.byteLength, bytes.byteLength);
      return bytes;
    }
    const bytes = await this.download(file, url, report, null);
    if (cache) {
      try {
        await cache.put(url, new Response(bytes as Uint8Array<ArrayBuffer>, { headers: { 'Content-Length': String(bytes.byteLength) } }));
        void (navigator as Navigator | undefined)?.storage?.persist?.().catch(() => {});
      } catch (e) {
        // QuotaExceededError and friends: the model still loads, it just is not cached.
        console.warn(`webgrpo: could not cache ${url}: ${(e as Error).message}`);
      }
    }
    return bytes;
  }

  /**
   * GET a file, streaming its body with progress. With `disk`, bytes are appended to the partial
   * file as they arrive and an existing partial file is resumed with a Range request.
   */
  private async download(
    file: string,
    url: string,
    report: ProgressFn,
    disk: { fs: typeof import('node:fs/promises'); partial: string } | null,
  ): Promise<Uint8Array> {
    let have = 0;
    if (disk) {
      try {
        have = (await disk.fs.stat(disk.partial)).size;
      } catch {
        have = 0;
      }
    }
    let res = await this.get(url, have > 0 ? `bytes=${have}-` : undefined);
    let start = 0;
    if (have > 0 && res.status === 206) {
      const m = /^bytes (\d+)-\d+\/(\d+|\*)$/.exec(res.headers.get('content-range') ?? '');
      if (m && Number(m[1]) === have) start = have;
      else {
        await res.body?.cancel().catch(() => {});
        res = await this.get(url);
      }
    } else if (have > 0 && res.status === 416) {
      // The partial file is not a prefix of what the server has now: start again.
      await res.body?.cancel().catch(() => {});
      res = await this.get(url);
    }
    if (res.status !== 200 && !(start > 0 && res.status === 206)) {
      await res.body?.cancel().catch(() => {});
      throw this.httpError(file, url, res);
    }
    const len = res.headers.get('content-length');
    const total = len !== null && /^\d+$/.test(len) ? start + Number(len) : null;

    let out: Uint8Array;
    let pos = 0;
    const chunks: Uint8Array[] = [];
    if (total !== null) out = new Uint8Array(total);
    else out = new Uint8Array(0);
    const put = (chunk: Uint8Array) => {
      if (total !== null) {
        if (pos + chunk.byteLength > total) throw new Error(`${url}: server sent more bytes than its Content-Length (${total})`);
        out.set(chunk, pos);
      } else chunks.push(chunk);
      pos += chunk.byteLength;
    };
    if (start > 0 && disk) put(await disk.fs.readFile(disk.partial));
    report(pos, total);

    const handle = disk ? await disk.fs.open(disk.partial, start > 0 ? 'a' : 'w') : null;
    try {
      if (!res.body) throw new Error(`${url}: empty response body`);
      const reader = res.body.getReader();
      for (;;) {
        let r: ReadableStreamReadResult<Uint8Array>;
        try {
          r = await reader.read();
        } catch (e) {
          throw new Error(`download of ${url} failed after ${pos} bytes: ${(e as Error).message}${disk ? ' (the next load resumes it)' : ''}`);
        }
        if (r.done) break;
        if (handle) await handle.write(r.value);
        put(r.value);
        report(pos, total);
      }
    } finally {
      await handle?.close();
    }
    if (total !== null && pos !== total) {
      throw new Error(`download of ${url} ended after ${pos} of ${total} bytes${disk ? ' (the next load resumes it)' : ''}`);
    }
    if (total === null) {
      out = new Uint8Array(pos);
      let o = 0;
      for (const c of chunks) {
        out.set(c, o);
        o += c.byteLength;
      }
      report(pos, pos);
    }
    return out;
  }
}

/**
 * A model folder served over plain HTTP, e.g. the web app's built-in model at `/models/tiny-arith/`:
 * the Hub's streaming reads, progress and errors, without a cache (the browser's HTTP cache applies).
 */
export function openUrlFolder(baseUrl: string, opts: Pick<OpenSourceOptions, 'onProgress' | 'fetch'> = {}): ModelSource {
  return new UrlFolderSource(baseUrl.endsWith('/') ? baseUrl : `${baseUrl}/`, opts);
}

class UrlFolderSource extends HubSource {
  override readonly id: string;

  constructor(
    private readonly base: string,
    opts: Pick<OpenSourceOptions, 'onProgress' | 'fetch'>,
  ) {
    super('url/folder', 'main', { ...opts, cache: false });
    this.id = base;
  }

  override url(file: string): string {
    return new URL(file.split('/').map(encodeURIComponent).join('/'), this.base).href;
  }

  protected override where(): string {
    return this.base;
  }

  /**
   * Static hosts with a single-page-app fallback (vite preview, Netlify, …) answer a missing file
   * with index.html and status 200: an HTML answer for a non-HTML file means the file is missing.
   */
  override async has(file: string): Promise<boolean> {
    checkFileName(file);
    const url = this.url(file);
    const res = await this.get(url, 'bytes=0-0');
    await res.body?.cancel().catch(() => {});
    if (res.status === 404) return false;
    if (res.status !== 200 && res.status !== 206) throw new Error(`HTTP ${res.status} for ${url}`);
    return file.endsWith('.html') || !(res.headers.get('content-type') ?? '').startsWith('text/html');
  }
}

async function exists(fs: typeof import('node:fs/promises'), path: string): Promise<boolean> {
  try {
    await fs.access(path);
    return true;
  } catch {
    return false;
  }
}

let cachePromise: Promise<Cache | null> | null = null;

/** The browser's model cache, or null where the Cache API is missing or refused (e.g. private mode). */
function browserCache(): Promise<Cache | null> {
  if (typeof caches === 'undefined') return Promise.resolve(null);
  cachePromise ??= caches.open('webgrpo-models').catch(() => null);
  return cachePromise;
}
