import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import type { AddressInfo } from 'node:net';
import { parquetWriteBuffer } from 'hyparquet-writer';
import {
  DatasetError,
  datasetFromBytes,
  extractGoldAnswer,
  loadDataset,
  oneShotDataset,
  parseDatasetSpec,
  type Dataset,
  type Problem,
} from '../src/data/dataset.ts';
import { parseCsv } from '../src/data/csv.ts';
import { keepGroup } from '../src/rl/filter.ts';
import { UcbCurriculum } from '../src/rl/curriculum.ts';
import { Rng, seededRandom } from '../src/gpu/random.ts';

const root = mkdtempSync(join(tmpdir(), 'webgrpo-data-'));
after(() => rmSync(root, { recursive: true, force: true }));
const file = (name: string, content: string | Uint8Array) => {
  const p = join(root, name);
  writeFileSync(p, content);
  return p;
};
const take = (d: Dataset, n: number): Problem[] => Array.from({ length: n }, () => d.next());
const GSM8K = join(import.meta.dirname, '..', '..', 'shared', 'datasets', 'gsm8k-test.jsonl');

test('spec strings', () => {
  assert.deepEqual(parseDatasetSpec('arithmetic'), { kind: 'arithmetic', level: 3 });
  assert.deepEqual(parseDatasetSpec('arithmetic:1'), { kind: 'arithmetic', level: 1 });
  assert.deepEqual(parseDatasetSpec('countdown'), { kind: 'countdown' });
  assert.deepEqual(parseDatasetSpec('countdown:4'), { kind: 'countdown', count: 4 });
  assert.deepEqual(parseDatasetSpec('hf:openai/gsm8k:main:train'), { kind: 'hub', repo: 'openai/gsm8k', config: 'main', split: 'train' });
  assert.deepEqual(parseDatasetSpec('hf:HuggingFaceH4/MATH-500'), { kind: 'hub', repo: 'HuggingFaceH4/MATH-500', config: 'default', split: 'train' });
  assert.deepEqual(parseDatasetSpec('data/x.JSONL'), { kind: 'file', path: 'data/x.JSONL', format: 'jsonl' });
  assert.deepEqual(parseDatasetSpec('/a/b.parquet'), { kind: 'file', path: '/a/b.parquet', format: 'parquet' });
  assert.throws(() => parseDatasetSpec('arithmetic:4'), /levels are 1, 2 and 3/);
  assert.throws(() => parseDatasetSpec('countdown:5'), /3 or 4/);
  assert.throws(() => parseDatasetSpec('hf:gsm8k'), /hf:<owner>\/<repo>/);
  assert.throws(() => parseDatasetSpec('hf:a/b:main:../x'), /invalid split/);
  assert.throws(() => parseDatasetSpec('data.txt'), /unknown dataset 'data.txt'/);
});

test('gold answers: GSM8K ####, last \\boxed{}, plain', () => {
  assert.equal(extractGoldAnswer('She makes 9 * 2 = $<<9*2=18>>18.\n#### 1,234'), '1234');
  assert.equal(extractGoldAnswer('#### $18'), '18');
  assert.equal(extractGoldAnswer('So \\boxed{3} then \\boxed{\\frac{14}{3}}.'), '\\frac{14}{3}');
  assert.equal(extractGoldAnswer(' 12.8 '), '12.8');
});

test('JSONL: GSM8K lines from the shared test set', async () => {
  const lines = readFileSync(GSM8K, 'utf8').split('\n').slice(0, 6);
  const path = file('gsm8k-head.jsonl', `${lines.join('\n')}\n`);
  const d = await loadDataset(path, { shuffle: false });
  assert.equal(d.name, 'gsm8k-head.jsonl');
  assert.equal(d.size, 6);
  const want = lines.map((l) => JSON.parse(l) as { question: string; answer: string });
  for (const [i, p] of take(d, 6).entries()) {
    assert.equal(p.question, want[i].question);
    assert.equal(p.answer, want[i].answer.split('####')[1].trim().replace(/[,$]/g, ''));
    assert.deepEqual(p.row, want[i]);
    assert.equal(p.source, 'gsm8k-head.jsonl');
  }
  assert.equal(d.problems![0].answer, '18'); // Janet's ducks
});

test('JSON: field mapping, \\boxed{} solutions, numbers, chat prompts, custom fields', async () => {
  const rows = [
    { problem: 'What is 1/2 + 1/3?', solution: 'We get $\\frac{3}{6}+\\frac{2}{6}=\\boxed{\\frac{5}{6}}$.', level: 'Level 1' },
    {
      prompt: [
        { role: 'system', content: 'Be brief.' },
        { role: 'user', content: '2+2?' },
      ],
      ground_truth: 4,
    },
    { question: 'MATH-500 style', solution: 'long… \\boxed{7}', answer: '7' },
  ];
  const d = await loadDataset(file('math.json', JSON.stringify({ data: rows })), { shuffle: false });
  assert.deepEqual(
    take(d, 3).map((p) => [p.question, p.answer]),
    [
      ['What is 1/2 + 1/3?', '\\frac{5}{6}'],
      ['2+2?', '4'],
      ['MATH-500 style', '7'],
    ],
  );
  assert.equal(take(d, 1)[0].row.level, 'Level 1');
  const custom = await loadDataset(file('custom.json', JSON.stringify([{ q: 'x?', a: '#### 5', question: 'ignored' }])), {
    questionField: 'q',
    answerField: 'a',
  });
  assert.deepEqual([custom.next().question, custom.next().answer], ['x?', '5']);
  // A ".json" file holding JSON Lines.
  const jl = await loadDataset(file('lines.json', '{"question":"a","answer":"1"}\n{"question":"b","answer":"2"}\n'));
  assert.equal(jl.size, 2);
  await assert.rejects(loadDataset(file('scalar.json', '42')), /expected a JSON array of rows/);
});

test('CSV: RFC 4180 quoting, CRLF, embedded newlines', async () => {
  const text = '\ufeffquestion,answer,note\r\n"Add 1,000 and 2","#### 1,002","say ""hi"""\r\nplain q,7,\r\n"multi\r\nline",8,x\r\n';
  assert.deepEqual(parseCsv(text), [
    { line: 1, fields: ['question', 'answer', 'note'] },
    { line: 2, fields: ['Add 1,000 and 2', '#### 1,002', 'say "hi"'] },
    { line: 3, fields: ['plain q', '7', ''] },
    { line: 4, fields: ['multi\r\nline', '8', 'x'] },
  ]);
  assert.deepEqual(parseCsv('a,b\n\n1,2'), [
    { line: 1, fields: ['a', 'b'] },
    { line: 3, fields: ['1', '2'] },
  ]);
  assert.deepEqual(parseCsv('a\n""\n'), [
    { line: 1, fields: ['a'] },
    { line: 2, fields: [''] },
  ]);
  assert.throws(() => parseCsv('a,b\n1,"open\n', 'x.csv'), /x.csv: unterminated quoted field starting on line 2/);

  const d = await loadDataset(file('d.csv', `${text}only one field\r\n`), { shuffle: false, onBadRows: 'skip' });
  assert.equal(d.size, 3);
  assert.equal(d.skipped, 1);
  assert.deepEqual(
    take(d, 3).map((p) => [p.question, p.answer]),
    [
      ['Add 1,000 and 2', '1002'],
      ['plain q', '7'],
      ['multi\r\nline', '8'],
    ],
  );
  await assert.rejects(loadDataset(file('e.csv', `${text}only one field\r\n`)), /e.csv: 1 row with a field count other than the header's 3: line 6/);
});

test('malformed rows are reported by line; skip vs error', async () => {
  const lines = [
    { question: 'q1', answer: '1' },
    { question: 'q2', answer: '2' },
    { question: 'q3' },
    { question: 'q4', answer: '4' },
    null,
    { question: 'q6', answer: '6' },
    { question: 'q7', answer: '' },
    { answer: '8' },
    { question: 'q9', answer: { value: 9 } },
  ].map((r) => JSON.stringify(r));
  lines.splice(5, 0, ''); // a blank line (skipped, but counted in line numbers)
  lines.push('{"question": "q11", "answer": ');
  const text = lines.join('\n');
  const path = file('data.jsonl', text);
  await assert.rejects(loadDataset(path), (e: Error) => {
    assert.ok(e instanceof DatasetError);
    assert.match(e.message, /^data\.jsonl: 2 rows without an answer: line 3, line 8; /);
    assert.match(e.message, /1 row with a value that is not an object: line 5/);
    assert.match(e.message, /1 row without a question: line 9/);
    assert.match(e.message, /1 row with a non-text answer \(answer: object\): line 10/);
    assert.match(e.message, /1 row with invalid JSON: line 11/);
    assert.match(e.message, /skipping malformed rows leaves them out/);
    return true;
  });
  const d = await loadDataset(path, { onBadRows: 'skip', shuffle: false });
  assert.equal(d.size, 4);
  assert.equal(d.skipped, 6);
  assert.deepEqual(
    take(d, 4).map((p) => p.question),
    ['q1', 'q2', 'q4', 'q6'],
  );

  // Only the first 10 locations are listed.
  const many = Array.from({ length: 14 }, (_, i) => JSON.stringify({ question: `q${i}` })).join('\n');
  await assert.rejects(loadDataset(file('many.jsonl', many)), /14 rows without an answer: line 1, .*line 10, … \(4 more\)/);
  // A custom field that no row has.
  await assert.rejects(loadDataset(file('f.jsonl', '{"question":"a","answer":"1"}'), { answerField: 'gold' }), /answers are read from gold/);
});

test('empty datasets are clear errors', async () => {
  await assert.rejects(loadDataset(file('empty.jsonl', '\n\n')), /empty.jsonl: the dataset is empty \(no rows\)/);
  await assert.rejects(loadDataset(file('empty.csv', 'question,answer\n')), /empty.csv: the dataset is empty/);
  await assert.rejects(loadDataset(file('bad.jsonl', '{"q":1}\n{"q":2}'), { onBadRows: 'skip' }), /no usable rows \(all 2 rows are malformed\)/);
  await assert.rejects(loadDataset(join(root, 'missing.jsonl')), /dataset file not found/);
});

const gzip = (input: Uint8Array) => new Uint8Array(gzipSync(input));

function parquetBytes(rows: { question: string; answer: string; id: bigint }[], codec?: 'GZIP'): Uint8Array {
  const buf = parquetWriteBuffer({
    columnData: [
      { name: 'question', data: rows.map((r) => r.question), type: 'STRING' },
      { name: 'answer', data: rows.map((r) => r.answer), type: 'STRING' },
      { name: 'id', data: rows.map((r) => r.id), type: 'INT64' },
    ],
    ...(codec ? { codec, compressors: { GZIP: gzip } } : {}),
  });
  return new Uint8Array(buf);
}

const gsmRows = (n: number, from = 0) =>
  readFileSync(GSM8K, 'utf8')
    .split('\n')
    .slice(from, from + n)
    .map((l, i) => ({ ...(JSON.parse(l) as { question: string; answer: string }), id: BigInt(from + i) }));

test('Parquet: written with hyparquet-writer (snappy and gzip), read back', async () => {
  const rows = gsmRows(5);
  for (const codec of [undefined, 'GZIP'] as const) {
    const d = await loadDataset(file(`gsm-${codec ?? 'snappy'}.parquet`, parquetBytes(rows, codec)), { shuffle: false });
    assert.equal(d.size, 5);
    const got = take(d, 5);
    assert.deepEqual(
      got.map((p) => p.question),
      rows.map((r) => r.question),
    );
    assert.equal(got[0].answer, '18');
    assert.equal(got[3].row.id, 3); // INT64 → number
  }
  // Browser path: bytes in hand.
  const d = await datasetFromBytes('picked.parquet', parquetBytes(rows));
  assert.equal(d.size, 5);
  await assert.rejects(loadDataset(file('junk.parquet', 'not parquet at all')), /junk.parquet: not a readable Parquet file/);
});

// A local stand-in for the Hub's dataset Parquet conversion.
let hub: Server;
let endpoint = '';
const requests: string[] = [];
const hubFiles = new Map<string, Uint8Array>();
before(async () => {
  const prefix = '/datasets/test/gsm/resolve/refs%2Fconvert%2Fparquet';
  hubFiles.set(`${prefix}/main/test/0000.parquet`, parquetBytes(gsmRows(7)));
  hubFiles.set(`${prefix}/main/train/0000.parquet`, parquetBytes(gsmRows(3)));
  hubFiles.set(`${prefix}/main/train/0001.parquet`, parquetBytes(gsmRows(2, 3)));
  hub = createServer((req, res) => {
    const path = req.url ?? '/';
    requests.push(path);
    const body = hubFiles.get(path);
    if (!body) {
      res.writeHead(404).end('Entry not found');
      return;
    }
    if (req.headers.range === 'bytes=0-0') {
      res.writeHead(206, { 'Content-Range': `bytes 0-0/${body.byteLength}`, 'Content-Length': 1 }).end(body.subarray(0, 1));
      return;
    }
    res.writeHead(200, { 'Content-Length': body.byteLength }).end(body);
  });
  await new Promise<void>((resolve) => hub.listen(0, '127.0.0.1', resolve));
  endpoint = `http://127.0.0.1:${(hub.address() as AddressInfo).port}`;
});
after(() => new Promise<void>((resolve) => (hub.closeAllConnections(), hub.close(() => resolve()))));

test('Hub: hf:<repo>:<config>:<split> via the Parquet conversion, cached', async () => {
  const cacheDir = join(root, 'cache');
  requests.length = 0;
  const d = await loadDataset('hf:test/gsm:main:test', { endpoint, cacheDir, shuffle: false });
  assert.equal(d.name, 'hf:test/gsm:main:test');
  assert.equal(d.size, 7);
  assert.equal(d.next().answer, '18');
  assert.deepEqual(requests, [
    '/datasets/test/gsm/resolve/refs%2Fconvert%2Fparquet/main/test/0000.parquet',
    '/datasets/test/gsm/resolve/refs%2Fconvert%2Fparquet/main/test/0001.parquet', // probe: no second shard
  ]);
  const host = new URL(endpoint).host.replace(/[^\w.-]/g, '_');
  assert.ok(existsSync(join(cacheDir, host, 'datasets', 'test', 'gsm', 'refs%2Fconvert%2Fparquet', 'main', 'test', '0000.parquet')));

  requests.length = 0;
  const again = await loadDataset('hf:test/gsm:main:test', { endpoint, cacheDir, shuffle: false });
  assert.equal(again.size, 7);
  assert.deepEqual(requests, [], 'the second load is served from the cache');

  // Two shards, concatenated in order.
  const train = await loadDataset('hf:test/gsm:main:train', { endpoint, cacheDir, shuffle: false });
  assert.equal(train.size, 5);
  assert.deepEqual(
    take(train, 5).map((p) => p.row.id),
    [0, 1, 2, 3, 4],
  );

  await assert.rejects(loadDataset('hf:test/gsm:main:validation', { endpoint, cacheDir }), /no Parquet conversion for config 'main' split 'validation'/);
  await assert.rejects(loadDataset('hf:test/gsm:main:test', { endpoint: 'http://127.0.0.1:1', cacheDir: join(root, 'cache2') }), /could not fetch/);
});

test('generators are seeded and deterministic', async () => {
  const a = take(await loadDataset('arithmetic:2', { seed: 5 }), 20);
  const b = take(await loadDataset('arithmetic:2', { seed: 5 }), 20);
  const c = take(await loadDataset('arithmetic:2', { seed: 6 }), 20);
  assert.deepEqual(a, b);
  assert.notDeepEqual(
    a.map((p) => p.question),
    c.map((p) => p.question),
  );
  for (const p of a) {
    const [x, y] = p.question.split('+').map(Number);
    assert.equal(p.answer, String(x + y));
    assert.match(String(p.row.solution), /\\boxed\{\d+\}$/);
    assert.equal(p.source, 'arithmetic:2');
  }
  const d = await loadDataset('arithmetic');
  assert.equal(d.size, null);

  const cd = take(await loadDataset('countdown', { seed: 1 }), 200);
  assert.deepEqual(cd, take(await loadDataset('countdown', { seed: 1 }), 200));
  const counts = new Set<number>();
  for (const p of cd) {
    const nums = p.row.nums as number[];
    const target = p.row.target as number;
    counts.add(nums.length);
    assert.ok(Number.isInteger(target) && target >= 1 && target <= 100, `target ${target}`);
    assert.equal(p.answer, String(target));
    assert.ok(p.question.startsWith(`Using the numbers [${nums.join(', ')}], create an equation that equals ${target}.`));
    assert.match(p.question, /<answer> <\/answer> tags/);
    const solution = String(p.row.solution);
    assert.deepEqual(
      (solution.match(/\d+/g) ?? []).map(Number).sort((x, y) => x - y),
      [...nums].sort((x, y) => x - y),
    );
    assert.equal(evaluate(solution), target, solution);
  }
  assert.deepEqual([...counts].sort(), [3, 4]);
  for (const p of take(await loadDataset('countdown:3'), 20)) assert.equal((p.row.nums as number[]).length, 3);
});

/** + - * / and parentheses, for checking countdown solutions (no eval). */
function evaluate(expr: string): number {
  const toks = expr.match(/\d+|[-+*/()]/g)!;
  let i = 0;
  const atom = (): number => {
    const t = toks[i++];
    if (t === '(') {
      const v = sum();
      i++;
      return v;
    }
    return Number(t);
  };
  const prod = (): number => {
    let v = atom();
    while (toks[i] === '*' || toks[i] === '/') v = toks[i++] === '*' ? v * atom() : v / atom();
    return v;
  };
  const sum = (): number => {
    let v = prod();
    while (toks[i] === '+' || toks[i] === '-') v = toks[i++] === '+' ? v + prod() : v - prod();
    return v;
  };
  return sum();
}

test('shuffled epochs; cursor/restore continues identically', async () => {
  const path = file('ten.jsonl', Array.from({ length: 10 }, (_, i) => JSON.stringify({ question: `q${i}`, answer: String(i) })).join('\n'));
  const d = await loadDataset(path, { seed: 3 });
  const epochs = [take(d, 10), take(d, 10)].map((e) => e.map((p) => p.answer));
  for (const e of epochs)
    assert.deepEqual(
      [...e].sort((x, y) => Number(x) - Number(y)),
      Array.from({ length: 10 }, (_, i) => String(i)),
    );
  assert.notDeepEqual(epochs[0], epochs[1], 'each epoch has its own order');
  assert.notDeepEqual(
    epochs[0],
    Array.from({ length: 10 }, (_, i) => String(i)),
  );
  const same = await loadDataset(path, { seed: 3 });
  assert.deepEqual(
    take(same, 20).map((p) => p.answer),
    epochs.flat(),
  );

  for (const spec of [path, 'arithmetic:3', 'countdown']) {
    for (const at of [0, 7, 10, 23]) {
      const a = await loadDataset(spec, { seed: 11 });
      take(a, at);
      const saved = JSON.parse(JSON.stringify(a.cursor()));
      const rest = take(a, 15);
      const b = await loadDataset(spec, { seed: 999 }); // the cursor carries the seed
      b.restore(saved);
      assert.deepEqual(take(b, 15), rest, `${spec} after ${at}`);
    }
  }
  const d2 = await loadDataset('arithmetic:3');
  assert.throws(() => d2.restore(d.cursor()), /cannot restore cursor/);
  const other = await loadDataset(file('five.jsonl', '{"question":"a","answer":"1"}'));
  assert.throws(() => other.restore(d.cursor()), /it belongs to ten.jsonl \(10 rows\)/);
});

test('one-shot dataset repeats one problem', () => {
  const d = oneShotDataset('The pressure P … ∛2048?', '12.8');
  assert.equal(d.size, 1);
  const ps = take(d, 4);
  assert.ok(ps.every((p) => p.question === 'The pressure P … ∛2048?' && p.answer === '12.8' && p.source === 'one-shot'));
  assert.deepEqual(d.cursor(), { kind: 'one-shot', served: 4 });
  d.restore({ kind: 'one-shot', served: 1 });
  assert.deepEqual(d.cursor(), { kind: 'one-shot', served: 1 });
  assert.throws(() => oneShotDataset('q', '  '), /empty answer/);
});

test('keepGroup: difficulty filtering and DAPO dynamic sampling', () => {
  const acc = { accuracy: [0.2, 0.8] as [number, number] };
  assert.equal(keepGroup([1, 0, 0, 0], [1, 0, 0, 0], acc), true); // 0.25
  assert.equal(keepGroup([1, 1, 1, 0], [1, 1, 1, 0], acc), true); // 0.75
  assert.equal(keepGroup([0, 0, 0, 0], [0, 0, 0, 0], acc), false); // too hard
  assert.equal(keepGroup([1, 1, 1, 1], [1, 1, 1, 1], acc), false); // too easy
  assert.equal(keepGroup([1, 0, 0, 0, 0], [1, 0, 0, 0, 0], acc), false); // exactly 0.2: strictly inside only
  assert.equal(keepGroup([1, 1, 1, 1, 0], [1, 1, 1, 1, 0], acc), false); // exactly 0.8
  const dapo = { dropZeroStd: true };
  assert.equal(keepGroup([0.1, 0.1, 0.1], [0, 0, 0], dapo), false);
  assert.equal(keepGroup([1, 1, 1], [1, 1, 1], dapo), false);
  assert.equal(keepGroup([1.1, 1.1, 1.1 + 1e-12], [1, 1, 1], dapo), false); // isclose(std, 0)
  assert.equal(keepGroup([1.1, 0.1, 1.1], [1, 0, 1], dapo), true);
  // Rewards can differ (format reward) while accuracy is all-wrong.
  assert.equal(keepGroup([0.1, 0, 0.1], [0, 0, 0], dapo), true);
  assert.equal(keepGroup([0.1, 0, 0.1], [0, 0, 0], { ...dapo, ...acc }), false);
  assert.equal(keepGroup([1, 0, 0, 0], [1, 0, 0, 0], {}), true);
  assert.throws(() => keepGroup([1], [], acc), /needs per-completion accuracies/);
  assert.throws(() => keepGroup([1], [1], { accuracy: [0.8, 0.2] }), /not increasing/);
});

test('UcbCurriculum: scores, softmax sampling, state', () => {
  const u = new UcbCurriculum(['gsm8k', 'math', 'countdown'], 7);
  // No updates: every score is 0 + sqrt(2 ln 1 / 1) = 0, uniform.
  assert.deepEqual(u.scores(), [0, 0, 0]);
  u.update(0, 0.5);
  u.update(0, 0.3);
  u.update(1, 0.2);
  // N = 3; n = [2, 1, 0]; mean|A| = [0.4, 0.2, 0].
  const ln4 = Math.log(4);
  const want = [0.4 + Math.sqrt((2 * ln4) / 3), 0.2 + Math.sqrt((2 * ln4) / 2), 0 + Math.sqrt((2 * ln4) / 1)];
  assert.deepEqual(
    want.map((w) => w.toFixed(6)),
    ['1.361351', '1.377410', '1.665109'],
  );
  u.scores().forEach((s, j) => assert.ok(Math.abs(s - want[j]) < 1e-12));
  const e = want.map((w) => Math.exp(w / 0.1));
  const p = e.map((x) => x / (e[0] + e[1] + e[2]));
  u.probabilities().forEach((q, j) => assert.ok(Math.abs(q - p[j]) < 1e-12));
  assert.deepEqual(
    p.map((x) => x.toFixed(4)),
    ['0.0434', '0.0510', '0.9056'],
  );

  // Sampling frequencies match softmax(score / 0.1).
  const counts = [0, 0, 0];
  const saved = u.state();
  for (let i = 0; i < 20000; i++) counts[u.pick()]++;
  counts.forEach((c, j) => assert.ok(Math.abs(c / 20000 - p[j]) < 0.01, `source ${j}: ${c / 20000} vs ${p[j]}`));

  // Seeded and restorable.
  const v = new UcbCurriculum(['gsm8k', 'math', 'countdown'], 1);
  v.restore(JSON.parse(JSON.stringify(saved)));
  const w = new UcbCurriculum(['gsm8k', 'math', 'countdown'], 2);
  w.restore(saved);
  assert.deepEqual(
    Array.from({ length: 50 }, () => v.pick()),
    Array.from({ length: 50 }, () => w.pick()),
  );
  assert.throws(() => v.restore(new UcbCurriculum(['a'], 1).state()), /sources/);

  // The RNG is arithmetic.ts's mulberry32 stream.
  const r = new Rng(42);
  const s = seededRandom(42);
  for (let i = 0; i < 5; i++) assert.equal(r.next(), s());

  // A window keeps only the last updates in mean|A|.
  const win = new UcbCurriculum(['a', 'b'], 0, { window: 2 });
  for (const x of [0.9, 0.1, 0.3]) win.update(0, x);
  assert.ok(Math.abs(win.meanAbsAdvantages()[0] - 0.2) < 1e-12);
  assert.ok(Math.abs(win.scores()[0] - (0.2 + Math.sqrt((2 * Math.log(4)) / 4))) < 1e-12);

  // Learning signal shifts the choice: a source with large |A| is picked more once visits even out.
  const c = new UcbCurriculum(['easy', 'useful'], 3);
  for (let i = 0; i < 50; i++) {
    c.update(0, 0.01);
    c.update(1, 0.6);
  }
  assert.ok(c.probabilities()[1] > 0.99);
  assert.throws(() => c.update(2, 0.1), /no source 2/);
});
