// End-to-end harness: the site built by Vite, served by a small static server on 127.0.0.1, and
// driven by Debian's Chromium through playwright-core, with WebGPU on SwiftShader (DESIGN.md §2).
//
// The site is built once per test run: scripts/run-tests.mjs sets WEBGRPO_E2E_SITE to a fresh
// folder shared by every e2e file; a file run on its own builds into a temporary folder.

import { createServer, type Server } from 'node:http';
import { spawnSync } from 'node:child_process';
import { createReadStream, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { inflateRawSync } from 'node:zlib';
import { dirname, extname, join, normalize, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { chromium, type Browser, type BrowserContext, type ConsoleMessage, type Locator, type Page } from 'playwright-core';
import type { AppState } from '../src/app/store.ts';

export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const ARTIFACTS = join(ROOT, 'e2e', 'artifacts');
const CHROMIUM = process.env.WEBGRPO_CHROMIUM ?? '/usr/bin/chromium';

/** DESIGN.md §2: the flags that give headless Chromium a WebGPU adapter (SwiftShader without a GPU). */
const BASE_ARGS = ['--no-sandbox', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'];
const WEBGPU_ARGS = ['--enable-unsafe-webgpu'];

const MIME: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json; charset=utf-8',
  '.wasm': 'application/wasm',
  '.wgsl': 'text/plain; charset=utf-8',
  '.md': 'text/markdown; charset=utf-8',
  '.txt': 'text/plain; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.woff2': 'font/woff2',
  '.safetensors': 'application/octet-stream',
  '.parquet': 'application/octet-stream',
  '.map': 'application/json; charset=utf-8',
};

let siteDir: Promise<string> | null = null;

/** The built site (index.html, assets/, models/tiny-arith/): built at most once per test run. */
function site(): Promise<string> {
  siteDir ??= (async () => {
    let dir = process.env.WEBGRPO_E2E_SITE;
    if (!dir) {
      dir = mkdtempSync(join(tmpdir(), 'webgrpo-site-'));
      process.on('exit', () => rmSync(dir!, { recursive: true, force: true }));
    }
    if (!existsSync(join(dir, 'index.html'))) {
      const { build, createLogger } = await import('vite');
      // Known, harmless build warnings (Node-only imports the browser build leaves out, chunk size)
      // would bury the test output; everything else is printed.
      const logger = createLogger('warn');
      const warn = logger.warn.bind(logger);
      logger.warn = (msg, options) => {
        if (!/externalized for browser compatibility|chunks are larger than|PLUGIN_TIMINGS/.test(msg)) warn(msg, options);
      };
      const started = performance.now();
      await build({ root: ROOT, build: { outDir: dir, emptyOutDir: true }, logLevel: 'warn', customLogger: logger });
      console.log(`# built the site into ${dir} in ${((performance.now() - started) / 1000).toFixed(1)} s`);
    }
    assert.ok(existsSync(join(dir, 'models', 'tiny-arith', 'model.safetensors')), 'the build serves the built-in model');
    return dir;
  })();
  return siteDir;
}

interface StaticServer {
  url: string;
  close: () => Promise<void>;
}

/** Serve a folder on 127.0.0.1 (a secure context, as WebGPU and OPFS need) on a random port. */
async function serve(dir: string): Promise<StaticServer> {
  const server: Server = createServer((req, res) => {
    const path = decodeURIComponent(new URL(req.url ?? '/', 'http://x').pathname);
    if (path === '/favicon.ico' && !existsSync(join(dir, 'favicon.ico'))) {
      res.writeHead(204).end();
      return;
    }
    let file = normalize(join(dir, path));
    if (file !== dir && !file.startsWith(dir + sep)) {
      res.writeHead(403).end();
      return;
    }
    if (existsSync(file) && statSync(file).isDirectory()) file = join(file, 'index.html');
    if (!existsSync(file)) {
      res.writeHead(404, { 'content-type': 'text/plain' }).end(`not found: ${path}`);
      return;
    }
    const size = statSync(file).size;
    res.writeHead(200, {
      'content-type': MIME[extname(file).toLowerCase()] ?? 'application/octet-stream',
      'content-length': size,
      'cache-control': 'no-cache',
    });
    if (req.method === 'HEAD') res.end();
    else createReadStream(file).pipe(res);
  });
  await new Promise<void>((done) => server.listen(0, '127.0.0.1', done));
  const address = server.address();
  assert.ok(address && typeof address === 'object');
  return {
    url: `http://127.0.0.1:${address.port}/`,
    close: () =>
      new Promise<void>((done) => {
        server.closeAllConnections();
        server.close(() => done());
      }),
  };
}

/** Chromium from Debian's package; a missing browser is a failure with the fix, never a skip. */
async function launchChromium({ webgpu }: { webgpu: boolean }): Promise<Browser> {
  if (!existsSync(CHROMIUM)) {
    assert.fail(
      `e2e tests need Chromium at ${CHROMIUM} (WebGPU on SwiftShader): run \`apt-get install -y chromium libvulkan1\` ` +
        '(as .ci/run does), or set WEBGRPO_CHROMIUM to a Chromium binary.',
    );
  }
  return chromium.launch({ executablePath: CHROMIUM, headless: true, args: [...BASE_ARGS, ...(webgpu ? WEBGPU_ARGS : [])] });
}

export interface App {
  browser: Browser;
  context: BrowserContext;
  page: Page;
  url: string;
  /** Uncaught exceptions in the page, and errors of its workers. */
  pageErrors: string[];
  /** console.error/warning lines of the page and its workers, for the log. */
  consoleErrors: string[];
  /** A screenshot of the whole page in e2e/artifacts/<name>.png. */
  screenshot: (name: string) => Promise<string>;
  /** Click an export button and save its download into `dir`; returns the file's path. */
  download: (testId: string, dir: string) => Promise<string>;
  /** Fails the test if the page threw. */
  assertNoPageErrors: () => void;
}

/**
 * Build and serve the site, launch Chromium (with or without WebGPU) and open the app. Everything is
 * closed after the test; the test fails if the page threw an uncaught error at any time.
 */
export async function openApp(
  t: TestContext,
  { webgpu = true, initScript, beforeOpen }: { webgpu?: boolean; initScript?: string; beforeOpen?: (context: BrowserContext) => Promise<void> } = {},
): Promise<App> {
  const server = await serve(await site());
  const browser = await launchChromium({ webgpu });
  const context = await browser.newContext({ acceptDownloads: true, viewport: { width: 1280, height: 1000 } });
  if (initScript) await context.addInitScript(initScript);
  // e.g. network routes, in place before the page (and its worker) makes any request.
  if (beforeOpen) await beforeOpen(context);
  const page = await context.newPage();
  page.setDefaultTimeout(30_000);
  const pageErrors: string[] = [];
  const consoleErrors: string[] = [];
  const onConsole = (where: string) => (m: ConsoleMessage) => {
    if (m.type() === 'error' || m.type() === 'warning') {
      const line = `[${where} ${m.type()}] ${m.text()}`;
      consoleErrors.push(line);
      if (process.env.WEBGRPO_E2E_VERBOSE) console.log(`# ${line}`);
    }
  };
  page.on('console', onConsole('page'));
  page.on('pageerror', (e) => pageErrors.push(`${e.name}: ${e.message}\n${e.stack ?? ''}`));
  page.on('crash', () => pageErrors.push('the page crashed'));
  page.on('response', (r) => {
    if (r.status() >= 400) consoleErrors.push(`[http ${r.status()}] ${r.url()}`);
  });
  page.on('worker', (w) => w.on('console', onConsole(`worker ${w.url().split('/').pop()}`)));
  mkdirSync(ARTIFACTS, { recursive: true });

  const app: App = {
    browser,
    context,
    page,
    url: server.url,
    pageErrors,
    consoleErrors,
    screenshot: async (name) => {
      const path = join(ARTIFACTS, `${name}.png`);
      await page.screenshot({ path, fullPage: true });
      return path;
    },
    download: async (testId, dir) => {
      const button = await reveal(page.getByTestId(testId));
      const [download] = await Promise.all([page.waitForEvent('download', { timeout: 60_000 }), button.click()]);
      const failure = await download.failure();
      assert.equal(failure, null, `download of ${testId} failed`);
      const path = join(dir, download.suggestedFilename());
      await download.saveAs(path);
      return path;
    },
    assertNoPageErrors: () => assert.deepEqual(pageErrors, [], `uncaught errors in the page:\n${pageErrors.join('\n')}`),
  };

  t.after(async () => {
    await app.screenshot(`${t.name.replace(/[^a-z0-9]+/gi, '-').slice(0, 60)}-last`).catch(() => {});
    if (consoleErrors.length) console.log(`# console errors/warnings (${t.name}):\n# ${consoleErrors.slice(0, 30).join('\n# ')}`);
    await context.close().catch(() => {});
    await browser.close().catch(() => {});
    await server.close();
  });
  await page.goto(server.url);
  return app;
}

/**
 * Select the tabs (a set-up step, a results view) whose hidden panels hold the element, as a user
 * would before clicking, filling or reading it on screen; returns the locator. The page keeps every
 * panel in the DOM (components/Tabs.tsx), so counts and attributes read without this. Not for
 * getByRole locators, which skip hidden elements: click the tab (`tab-setup-data`) before those.
 */
export async function reveal(locator: Locator): Promise<Locator> {
  const tabIds = await locator.first().evaluate((node) => {
    const ids: string[] = [];
    for (let panel = node.closest('[role="tabpanel"]'); panel; panel = panel.parentElement?.closest('[role="tabpanel"]') ?? null) {
      if ((panel as HTMLElement).hidden) ids.unshift(panel.getAttribute('aria-labelledby') ?? '');
    }
    return ids;
  });
  for (const id of tabIds) await locator.page().locator(`[id="${id}"]`).click();
  return locator;
}

/** Poll `read` until `ok` holds of its value (or time runs out, with the last value in the message). */
export async function waitFor<T>(what: string, read: () => Promise<T>, ok: (v: T) => boolean, timeoutMs: number, app?: App): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: T | undefined;
  for (;;) {
    last = await read();
    if (ok(last)) return last;
    if (app?.pageErrors.length) assert.fail(`${what}: the page threw:\n${app.pageErrors.join('\n')}`);
    if (Date.now() > deadline) {
      if (app) await app.screenshot(`timeout-${what.replace(/[^a-z0-9]+/gi, '-')}`).catch(() => {});
      assert.fail(`timed out after ${timeoutMs / 1000} s waiting for ${what} (last: ${JSON.stringify(last)})`);
    }
    await new Promise((r) => setTimeout(r, 500));
  }
}

/** A temporary folder removed after the test. */
export function tempDir(t: TestContext, prefix: string): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** Run the CLI (`node bin/webgrpo.mjs …`); with --json, returns the last stdout line parsed. */
export function cli<T = unknown>(args: string[]): { status: number | null; stdout: string; stderr: string; json: T | null } {
  const r = spawnSync(process.execPath, [join(ROOT, 'bin', 'webgrpo.mjs'), ...args], { cwd: ROOT, encoding: 'utf8', timeout: 300_000 });
  let json: unknown = null;
  const last = r.stdout.trim().split('\n').at(-1);
  if (args.includes('--json') && last) {
    try {
      json = JSON.parse(last);
    } catch {
      json = null;
    }
  }
  return { status: r.status, stdout: r.stdout, stderr: r.stderr, json: json as T | null };
}

/** A JSON file, parsed; T is what the caller expects it to hold (not checked). */
export function readJson<T = unknown>(path: string): T {
  return JSON.parse(readFileSync(path, 'utf8'));
}

/** What src/app/main.tsx puts on `window` for tests: the page's store. */
export type PageHooks = { webgrpo: { store: { getState: () => AppState; subscribe: (f: (s: AppState) => void) => () => void } } };

/**
 * The files of a zip archive (stored or deflated entries), read from its central directory. Written
 * here rather than with the app's own zip library so the test does not check the app with itself.
 */
export function unzip(bytes: Uint8Array): Record<string, Uint8Array> {
  const buf = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let end = -1;
  for (let i = buf.length - 22; i >= Math.max(0, buf.length - 22 - 65535); i--) {
    if (buf.readUInt32LE(i) === 0x06054b50) {
      end = i;
      break;
    }
  }
  assert.ok(end >= 0, 'a zip archive (end of central directory record)');
  const count = buf.readUInt16LE(end + 10);
  let at = buf.readUInt32LE(end + 16);
  const files: Record<string, Uint8Array> = {};
  for (let n = 0; n < count; n++) {
    assert.equal(buf.readUInt32LE(at), 0x02014b50, 'central directory entry');
    const method = buf.readUInt16LE(at + 10);
    const compressed = buf.readUInt32LE(at + 20);
    const size = buf.readUInt32LE(at + 24);
    const nameLength = buf.readUInt16LE(at + 28);
    const extraLength = buf.readUInt16LE(at + 30);
    const commentLength = buf.readUInt16LE(at + 32);
    const local = buf.readUInt32LE(at + 42);
    const name = buf.toString('utf8', at + 46, at + 46 + nameLength);
    assert.equal(buf.readUInt32LE(local), 0x04034b50, `local header of ${name}`);
    const dataStart = local + 30 + buf.readUInt16LE(local + 26) + buf.readUInt16LE(local + 28);
    const raw = buf.subarray(dataStart, dataStart + compressed);
    assert.ok(method === 0 || method === 8, `${name}: stored or deflated (method ${method})`);
    const data = method === 0 ? raw : inflateRawSync(raw);
    assert.equal(data.length, size, `${name}: size`);
    if (!name.endsWith('/')) files[name] = new Uint8Array(data);
    at += 46 + nameLength + extraLength + commentLength;
  }
  return files;
}
