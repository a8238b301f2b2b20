import { test, after, before } from 'node:test';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { writeRandomModel } from '../src/model/random-model.ts';
import { openSource, openUrlFolder, parseHubSpec } from '../src/io/source.ts';
import { destroyWeights, loadCpuWeights, loadModel, type LoadProgress } from '../src/model/weights.ts';
import { startHubServer, type HubServer } from './helpers/hub-server.ts';
import { testGpu } from './helpers/gpu.ts';

const root = mkdtempSync(join(tmpdir(), 'webgrpo-hub-'));
const tiny = join(root, 'fixtures', 'tiny');
const sharded = join(root, 'fixtures', 'sharded');
let hub: HubServer;
let n = 0;
/** A fresh, empty cache folder. */
const freshCache = () => join(root, `cache${n++}`);

before(async () => {
  writeRandomModel(tiny, {
    architecture: 'qwen2',
    dtype: 'BF16',
    tied: true,
    hiddenSize: 32,
    numLayers: 2,
    numHeads: 4,
    numKvHeads: 2,
    intermediateSize: 48,
    vocabSize: 70,
    seed: 1,
  });
  writeRandomModel(sharded, {
    architecture: 'llama',
    dtype: 'F16',
    tied: false,
    shards: 2,
    hiddenSize: 32,
    numLayers: 2,
    numHeads: 4,
    numKvHeads: 2,
    intermediateSize: 48,
    vocabSize: 70,
    seed: 2,
  });
  hub = await startHubServer({ 'test/tiny': tiny, 'test/sharded': sharded }, { gated: ['meta-llama/Llama-3.2-1B'] });
});
after(async () => {
  await hub.close();
  rmSync(root, { recursive: true, force: true });
});

/** Where the Node cache keeps a file (endpoint host with ':' made path-safe). */
function cachePath(cacheDir: string, repo: string, revision: string, file: string): string {
  const host = new URL(hub.endpoint).host.replace(':', '_');
  return join(cacheDir, host, ...repo.split('/'), encodeURIComponent(revision), file);
}

test('parseHubSpec', () => {
  assert.deepEqual(parseHubSpec('hf:Qwen/Qwen2.5-0.5B-Instruct'), { repo: 'Qwen/Qwen2.5-0.5B-Instruct', revision: 'main' });
  assert.deepEqual(parseHubSpec('hf:a/b@refs/pr/1'), { repo: 'a/b', revision: 'refs/pr/1' });
  assert.equal(parseHubSpec('/models/qwen'), null);
  assert.throws(() => parseHubSpec('hf:justone'), /bad model spec 'hf:justone'/);
  assert.throws(() => parseHubSpec('hf:a/b@'), /empty revision/);
});

test('load hf:test/tiny@main with progress; a second load makes no request', async () => {
  const gpu = await testGpu();
  const cacheDir = freshCache();
  hub.reset();
  const perFile = new Map<string, [number, number | null][]>();
  const events: LoadProgress[] = [];
  const source = openSource('hf:test/tiny@main', {
    endpoint: hub.endpoint,
    cacheDir,
    onProgress: (loaded, total, file) => {
      if (!perFile.has(file)) perFile.set(file, []);
      perFile.get(file)!.push([loaded, total]);
    },
  });
  assert.equal(source.id, 'hf:test/tiny@main');
  const { config, weights } = await loadModel(source, gpu, { onProgress: (p) => events.push(p) });
  assert.equal(config.architecture, 'qwen2');
  assert.ok(hub.requests.length > 0);
  assert.ok(
    hub.requests.every((r) => r.method === 'GET'),
    'no HEAD probes',
  );
  assert.ok(hub.requests.some((r) => r.status === 302) && hub.requests.some((r) => r.path.startsWith('/cdn/') && r.status === 200));
  const size = statSync(join(tiny, 'model.safetensors')).size;
  const modelEvents = perFile.get('model.safetensors')!;
  assert.deepEqual(modelEvents.at(-1), [size, size]);
  assert.ok(
    modelEvents.every(([l, t], i) => t === size && (i === 0 || l >= modelEvents[i - 1][0])),
    'monotonic progress with a known total',
  );
  assert.ok(events.some((e) => e.phase === 'download' && e.file === 'model.safetensors' && e.loaded === size));
  assert.deepEqual(readFileSync(cachePath(cacheDir, 'test/tiny', 'main', 'model.safetensors')), readFileSync(join(tiny, 'model.safetensors')));
  assert.ok(!existsSync(`${cachePath(cacheDir, 'test/tiny', 'main', 'model.safetensors')}.partial`));
  const embed1 = new Uint8Array(await gpu.read(weights.embed.chunks[0].buffer));

  hub.reset();
  const again = await loadModel(openSource('hf:test/tiny@main', { endpoint: hub.endpoint, cacheDir }), gpu);
  assert.deepEqual(hub.requests, [], 'second load is served from the cache');
  assert.deepEqual(new Uint8Array(await gpu.read(again.weights.embed.chunks[0].buffer)), embed1);
  assert.deepEqual(again.config, config);
  destroyWeights(weights);
  destroyWeights(again.weights);

  // The same through the default cache location ($WEBGRPO_CACHE).
  const before = process.env.WEBGRPO_CACHE;
  process.env.WEBGRPO_CACHE = freshCache();
  try {
    const viaEnv = openSource('hf:test/tiny', { endpoint: hub.endpoint });
    await viaEnv.read('config.json');
    assert.ok(existsSync(cachePath(process.env.WEBGRPO_CACHE, 'test/tiny', 'main', 'config.json')));
  } finally {
    if (before === undefined) delete process.env.WEBGRPO_CACHE;
    else process.env.WEBGRPO_CACHE = before;
  }
});

test('sharded model over the Hub, CPU loader, HF_ENDPOINT', async () => {
  const before = process.env.HF_ENDPOINT;
  process.env.HF_ENDPOINT = hub.endpoint;
  try {
    const { config, tensors } = await loadCpuWeights(openSource('hf:test/sharded', { cacheDir: freshCache() }));
    assert.equal(config.tieWordEmbeddings, false);
    assert.ok(tensors.has('lm_head.weight'));
    assert.ok(hub.requests.some((r) => r.path.endsWith('/model-00002-of-00002.safetensors')));
  } finally {
    if (before === undefined) delete process.env.HF_ENDPOINT;
    else process.env.HF_ENDPOINT = before;
  }
});

test('HTTP errors name the URL; 404 and gated repos are explained', async () => {
  const source = openSource('hf:test/tiny@main', { endpoint: hub.endpoint, cacheDir: freshCache() });
  await assert.rejects(
    source.read('nope.json'),
    (e: Error) => e.message === `file not found: 'nope.json' in test/tiny@main (HTTP 404 for ${hub.endpoint}/test/tiny/resolve/main/nope.json)`,
  );
  await assert.rejects(
    openSource('hf:test/missing', { endpoint: hub.endpoint, cacheDir: freshCache() }).readJson('config.json'),
    /file not found: 'config\.json' in test\/missing@main/,
  );
  await assert.rejects(
    openSource('hf:meta-llama/Llama-3.2-1B', { endpoint: hub.endpoint, cacheDir: freshCache() }).read('config.json'),
    /HTTP 401 for http:\/\/127\.0\.0\.1:\d+\/meta-llama\/Llama-3\.2-1B\/resolve\/main\/config\.json: .*gated or private/,
  );
  await assert.rejects(
    openSource('hf:test/tiny', { endpoint: 'http://127.0.0.1:1', cacheDir: freshCache() }).read('config.json'),
    /could not fetch http:\/\/127\.0\.0\.1:1\/test\/tiny\/resolve\/main\/config\.json/,
  );
  await assert.rejects(source.read('../escape'), /invalid model file name/);
});

test('has() probes with a one-byte GET and caches the answer, missing files included', async () => {
  const cacheDir = freshCache();
  hub.reset();
  const a = openSource('hf:test/tiny', { endpoint: hub.endpoint, cacheDir });
  assert.equal(await a.has('model.safetensors.index.json'), false);
  assert.equal(await a.has('generation_config.json'), true);
  assert.ok(hub.requests.filter((r) => r.path.startsWith('/cdn/')).every((r) => r.range === 'bytes=0-0'));
  const probes = hub.requests.length;
  assert.equal(await a.has('model.safetensors.index.json'), false);
  const b = openSource('hf:test/tiny', { endpoint: hub.endpoint, cacheDir });
  assert.equal(await b.has('model.safetensors.index.json'), false);
  assert.equal(hub.requests.length, probes, 'negative answers are cached on disk');
});

test('a partial download is resumed with a Range request', async () => {
  const cacheDir = freshCache();
  const full = readFileSync(join(tiny, 'model.safetensors'));
  const dest = cachePath(cacheDir, 'test/tiny', 'main', 'model.safetensors');
  mkdirSync(join(dest, '..'), { recursive: true });
  const have = 1000;
  writeFileSync(`${dest}.partial`, full.subarray(0, have));
  hub.reset();
  const progress: [number, number | null][] = [];
  const bytes = await openSource('hf:test/tiny', { endpoint: hub.endpoint, cacheDir }).read('model.safetensors', (l, t) => progress.push([l, t]));
  assert.deepEqual(Buffer.from(bytes), full);
  const cdn = hub.requests.filter((r) => r.path.startsWith('/cdn/'));
  assert.deepEqual(
    cdn.map((r) => [r.range, r.status]),
    [[`bytes=${have}-`, 206]],
  );
  assert.equal(hub.requests.find((r) => r.status === 302)!.range, `bytes=${have}-`, 'Range sent to the resolve URL too');
  assert.deepEqual(progress[0], [have, full.length]);
  assert.deepEqual(progress.at(-1), [full.length, full.length]);
  assert.deepEqual(readFileSync(dest), full);
  assert.ok(!existsSync(`${dest}.partial`));
});

test('an interrupted download fails clearly and the next read resumes it', async () => {
  const cacheDir = freshCache();
  const full = readFileSync(join(tiny, 'model.safetensors'));
  const dest = cachePath(cacheDir, 'test/tiny', 'main', 'model.safetensors');
  hub.reset();
  hub.cutOnce('model.safetensors', 3000);
  const source = openSource('hf:test/tiny', { endpoint: hub.endpoint, cacheDir });
  await assert.rejects(source.read('model.safetensors'), /download of .*model\.safetensors (failed after|ended after) \d+ .*the next load resumes it/);
  assert.ok(!existsSync(dest), 'no final file for an incomplete download');
  const partialSize = statSync(`${dest}.partial`).size;
  assert.ok(partialSize > 0 && partialSize <= 3000, `partial ${partialSize}`);
  hub.reset();
  const bytes = await source.read('model.safetensors');
  assert.deepEqual(Buffer.from(bytes), full);
  assert.deepEqual(
    hub.requests.filter((r) => r.path.startsWith('/cdn/')).map((r) => [r.range, r.status]),
    [[`bytes=${partialSize}-`, 206]],
  );
  // A stale partial file larger than the file restarts from scratch (416 -> full GET).
  const cacheDir2 = freshCache();
  const dest2 = cachePath(cacheDir2, 'test/tiny', 'main', 'config.json');
  mkdirSync(join(dest2, '..'), { recursive: true });
  writeFileSync(`${dest2}.partial`, new Uint8Array(100000));
  hub.reset();
  const cfg = await openSource('hf:test/tiny', { endpoint: hub.endpoint, cacheDir: cacheDir2 }).readJson<{ model_type: string }>('config.json');
  assert.equal(cfg.model_type, 'qwen2');
  assert.deepEqual(
    hub.requests.filter((r) => r.path.startsWith('/cdn/')).map((r) => r.status),
    [416, 200],
  );
});

test('revisions are encoded in the URL and the cache; cache:false always fetches; concurrent reads share a request', async () => {
  const cacheDir = freshCache();
  hub.reset();
  await openSource('hf:test/tiny@refs/pr/1', { endpoint: hub.endpoint, cacheDir }).read('config.json');
  assert.equal(hub.requests[0].path, '/test/tiny/resolve/refs%2Fpr%2F1/config.json');
  assert.ok(existsSync(cachePath(cacheDir, 'test/tiny', 'refs/pr/1', 'config.json')));

  hub.reset();
  const nocache = openSource('hf:test/tiny', { endpoint: hub.endpoint, cache: false });
  await nocache.read('config.json');
  await nocache.read('config.json');
  assert.equal(hub.requests.filter((r) => r.path.startsWith('/cdn/')).length, 2);

  hub.reset();
  const shared = openSource('hf:test/tiny', { endpoint: hub.endpoint, cacheDir: freshCache() });
  const [x, y] = await Promise.all([shared.read('model.safetensors'), shared.read('model.safetensors')]);
  assert.equal(x, y);
  assert.equal(hub.requests.filter((r) => r.path.startsWith('/cdn/')).length, 1);
});

test('openUrlFolder reads a model folder over plain HTTP (the web app built-in model), uncached', async () => {
  const base = `${hub.endpoint}/test/tiny/resolve/main/`;
  const files: string[] = [];
  const folder = openUrlFolder(base.slice(0, -1), { onProgress: (_loaded, _total, file) => files.push(file) });
  assert.equal(folder.id, base);
  const { tensors } = await loadCpuWeights(folder);
  const { tensors: local } = await loadCpuWeights(openSource(tiny));
  assert.deepEqual([...tensors.keys()].sort(), [...local.keys()].sort());
  for (const [name, t] of local) assert.deepEqual(tensors.get(name)!.data, t.data, name);
  assert.ok(files.includes('model.safetensors'));
  hub.reset();
  await folder.read('config.json');
  assert.equal(hub.requests.filter((r) => r.path.endsWith('/config.json') && r.status === 200).length, 1, 'no cache: every read fetches');
  await assert.rejects(folder.read('nope.json'), (e: Error) => e.message.startsWith(`file not found: 'nope.json' in ${base} (HTTP 404`));
  assert.equal(await folder.has('nope.json'), false);
  assert.equal(await folder.has('tokenizer.json'), existsSync(join(tiny, 'tokenizer.json')));
});

test('openUrlFolder: a host answering missing files with its index.html (single-page-app fallback) counts them as missing', async () => {
  const server = createServer((req, res) => {
    if (req.url === '/m/tokenizer.json') res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
    else res.writeHead(200, { 'content-type': 'text/html' }).end('<!doctype html><title>app</title>');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  try {
    const folder = openUrlFolder(`http://127.0.0.1:${(server.address() as AddressInfo).port}/m/`);
    assert.equal(await folder.has('tokenizer.json'), true);
    assert.equal(await folder.has('model.safetensors.index.json'), false);
    assert.equal(await folder.has('readme.html'), true);
  } finally {
    server.close();
  }
});
