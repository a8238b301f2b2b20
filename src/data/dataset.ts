// RL datasets (DESIGN.md §11, §8.8): problems with a gold answer, from a built-in generator
// (arithmetic, countdown), a local file (JSONL, JSON, CSV, Parquet; Node) or a Hub dataset's Parquet
// conversion (cached like models), sampled in seeded shuffled epochs with a checkpointable cursor.
// Also the data side of one-shot RLVR. (Online group filtering is src/rl/filter.ts, the DUMP UCB
// curriculum src/rl/curriculum.ts.)

import { lastBoxed } from './answer.ts';
import { seededRandom } from '../gpu/random.ts';
import { openHubRepo, type OpenSourceOptions } from '../io/source.ts';
import { arithmeticProblem, type ArithmeticLevel } from './arithmetic.ts';
import { countdownProblem } from './countdown.ts';
import { parseStorySpec, storyProblem, type StorySpec } from './stories.ts';
import { parseCsv } from './csv.ts';
import { DatasetError } from '../io/jsonl.ts';
import { readParquetRows } from '../io/parquet.ts';

export { DatasetError };

export interface Problem {
  question: string;
  answer: string;
  /** the original row, for user reward modules */
  row: Record<string, unknown>;
  /** The dataset's name. */
  source: string;
}

export type FileFormat = 'jsonl' | 'json' | 'csv' | 'parquet';

/** A parsed dataset spec string (see loadDataset). */
export type DatasetSpec =
  | { kind: 'arithmetic'; level: ArithmeticLevel }
  | { kind: 'countdown'; count?: 3 | 4 }
  | ({ kind: 'stories' } & StorySpec)
  | { kind: 'file'; path: string; format: FileFormat }
  | { kind: 'hub'; repo: string; config: string; split: string };

export interface Dataset {
  readonly name: string;
  /** Number of problems; null for an infinite generator. */
  readonly size: number | null;
  /** deterministic cursor-based sampling: shuffled epochs (seeded) for files, fresh problems for generators */
  next(): Problem;
  /** serialisable cursor for checkpoints (plain JSON) */
  cursor(): unknown;
  /** Continue from a cursor() of this dataset; throws on a cursor of another dataset. */
  restore(cursor: unknown): void;
  /** Every problem in file order (finite datasets only), e.g. for evaluation. */
  readonly problems?: readonly Problem[];
  /** Malformed rows left out with onBadRows: 'skip'. */
  readonly skipped?: number;
}

export interface LoadDatasetOptions {
  /** Hub endpoint (default HF_ENDPOINT or https://huggingface.co). */
  endpoint?: string;
  /** Node cache folder (default WEBGRPO_CACHE or ~/.cache/webgrpo), shared with models. */
  cacheDir?: string;
  /** false: no cache for Hub files. */
  cache?: boolean;
  fetch?: typeof fetch;
  onProgress?: OpenSourceOptions['onProgress'];
  /** Column holding the question (default: the first of question, problem, prompt). */
  questionField?: string;
  /** Column holding the answer (default: the first of answer, solution, ground_truth). */
  answerField?: string;
  /** Malformed rows: 'error' (default) fails listing the first of them; 'skip' leaves them out. */
  onBadRows?: 'skip' | 'error';
  /** Sampling seed (default 0). */
  seed?: number;
  /** false: files are read in order, epoch after epoch (default true: a new permutation each epoch). */
  shuffle?: boolean;
}

const isNode = typeof process !== 'undefined' && typeof process.versions?.node === 'string';

// -------------------------------------------------------------------------------------------------
// Spec strings

/**
 * "arithmetic" (level 3, the built-in tiny model's task) | "arithmetic:1|2|3" | "countdown"
 * (3 or 4 numbers) | "countdown:3|4" | "stories:<task>" (story prompts, src/data/stories.ts) | "hf:<owner>/<repo>[:<config>[:<split>]]" (config default
 * "default", split "train") | a path ending in .jsonl/.ndjson, .json, .csv or .parquet.
 */
export function parseDatasetSpec(spec: string): DatasetSpec {
  const s = spec.trim();
  if (s === 'arithmetic' || s.startsWith('arithmetic:')) {
    const level = s === 'arithmetic' ? '3' : s.slice('arithmetic:'.length);
    if (!/^[123]$/.test(level)) throw new DatasetError(`bad dataset spec '${spec}': arithmetic levels are 1, 2 and 3`);
    return { kind: 'arithmetic', level: Number(level) as ArithmeticLevel };
  }
  if (s === 'countdown' || s.startsWith('countdown:')) {
    if (s === 'countdown') return { kind: 'countdown' };
    const count = s.slice('countdown:'.length);
    if (count !== '3' && count !== '4') throw new DatasetError(`bad dataset spec '${spec}': countdown takes 3 or 4 numbers`);
    return { kind: 'countdown', count: Number(count) as 3 | 4 };
  }
  if (s.startsWith('stories:')) {
    const story = parseStorySpec(s.slice('stories:'.length));
    if (!story)
      throw new DatasetError(
        `bad dataset spec '${spec}': expected stories:mention_word[:<word>], stories:happy_ending, stories:target_length or stories:no_repeat`,
      );
    return { kind: 'stories', ...story };
  }
  if (s.startsWith('hf:')) {
    const parts = s.slice(3).split(':');
    const [repo, config = 'default', split = 'train'] = parts;
    if (parts.length > 3 || !/^[\w.-]+\/[\w.-]+$/.test(repo) || repo.split('/').some((p) => p === '.' || p === '..')) {
      throw new DatasetError(`bad dataset spec '${spec}': expected hf:<owner>/<repo>[:<config>[:<split>]], e.g. hf:openai/gsm8k:main:train`);
    }
    for (const [what, v] of [
      ['config', config],
      ['split', split],
    ]) {
      if (!/^[\w.-]+$/.test(v) || v === '.' || v === '..') throw new DatasetError(`bad dataset spec '${spec}': invalid ${what} '${v}'`);
    }
    return { kind: 'hub', repo, config, split };
  }
  const ext = /\.([a-z]+)$/i.exec(s)?.[1]?.toLowerCase();
  const format: FileFormat | undefined =
    ext === 'jsonl' || ext === 'ndjson' ? 'jsonl' : ext === 'json' ? 'json' : ext === 'csv' ? 'csv' : ext === 'parquet' ? 'parquet' : undefined;
  if (!format) {
    throw new DatasetError(
      `unknown dataset '${spec}': expected arithmetic[:1|2|3], countdown[:3|4], stories:<task>, hf:<owner>/<repo>:<config>:<split>, or a .jsonl/.json/.csv/.parquet file`,
    );
  }
  return { kind: 'file', path: s, format };
}

/**
 * Load a dataset from a spec string (see parseDatasetSpec). Rows map to problems by field: question
 * from question|problem|prompt (a chat list takes its last user message) or `questionField`; answer
 * from answer|solution|ground_truth or `answerField`. A GSM8K answer "… #### 1,234" gives "1234"
 * (`,` and `$` removed); a MATH-style solution with \boxed{} gives its last boxed content.
 */
export async function loadDataset(spec: string, opts: LoadDatasetOptions = {}): Promise<Dataset> {
  const parsed = parseDatasetSpec(spec);
  const seed = opts.seed ?? 0;
  switch (parsed.kind) {
    case 'arithmetic': {
      const level = parsed.level;
      return new GeneratorDataset(spec.trim(), seed, (random) => {
        const p = arithmeticProblem(level, random);
        return { question: p.question, answer: p.answer, row: { question: p.question, answer: p.answer, solution: p.solution, level } };
      });
    }
    case 'countdown': {
      const count = parsed.count;
      return new GeneratorDataset(spec.trim(), seed, (random) => {
        const p = countdownProblem(random, count);
        const answer = String(p.target);
        return { question: p.question, answer, row: { nums: p.nums, target: p.target, question: p.question, answer, solution: p.solution } };
      });
    }
    case 'stories': {
      const story: StorySpec = parsed.word ? { task: parsed.task, word: parsed.word } : { task: parsed.task };
      return new GeneratorDataset(spec.trim(), seed, (random) => storyProblem(story, random));
    }
    case 'file': {
      if (!isNode) throw new DatasetError(`dataset '${spec}': local files need Node; in the browser use datasetFromBytes or hf:<repo>`);
      const fs = await import('node:fs/promises');
      const { basename } = await import('node:path');
      let buf: Uint8Array;
      try {
        buf = await fs.readFile(parsed.path);
      } catch (e) {
        const code = (e as NodeJS.ErrnoException).code;
        throw new DatasetError(code === 'ENOENT' ? `dataset file not found: ${parsed.path}` : `could not read ${parsed.path}: ${(e as Error).message}`);
      }
      return datasetFromBytes(basename(parsed.path), new Uint8Array(buf.buffer, buf.byteOffset, buf.byteLength), opts, parsed.format);
    }
    case 'hub': {
      const name = `hf:${parsed.repo}:${parsed.config}:${parsed.split}`;
      const rows = await readHubRows(parsed.repo, parsed.config, parsed.split, name, opts);
      return finiteDataset(name, rows, opts);
    }
  }
}

/** The Parquet file of a Hub dataset split: `${config}/${split}/0000.parquet` (+ 0001… shards) at refs/convert/parquet. */
function hubParquetFile(config: string, split: string, shard = 0): string {
  return `${config}/${split}/${String(shard).padStart(4, '0')}.parquet`;
}

async function readHubRows(repo: string, config: string, split: string, name: string, opts: LoadDatasetOptions): Promise<LocatedRow[]> {
  const source = openHubRepo(repo, 'refs/convert/parquet', {
    type: 'dataset',
    endpoint: opts.endpoint,
    cacheDir: opts.cacheDir,
    cache: opts.cache,
    fetch: opts.fetch,
    onProgress: opts.onProgress,
  });
  const rows: LocatedRow[] = [];
  for (let shard = 0; ; shard++) {
    const file = hubParquetFile(config, split, shard);
    // Large splits are cut into 0000.parquet, 0001.parquet, …; a missing next shard is remembered
    // in the cache, so a second load makes no request.
    if (shard > 0 && !(await source.has(file))) break;
    let bytes: Uint8Array;
    try {
      bytes = await source.read(file);
    } catch (e) {
      const msg = (e as Error).message;
      if (shard === 0 && msg.startsWith('file not found')) {
        throw new DatasetError(`${name}: no Parquet conversion for config '${config}' split '${split}' of dataset ${repo} (${msg})`);
      }
      throw new DatasetError(`${name}: ${msg}`);
    }
    for (const row of await readParquetRows(bytes, `${name} ${file}`)) rows.push({ where: `row ${rows.length + 1}`, value: row });
  }
  return rows;
}

/**
 * A dataset from a file's bytes (e.g. a file the user picked in the browser). The format comes from
 * the name's extension unless given.
 */
export async function datasetFromBytes(fileName: string, bytes: Uint8Array, opts: LoadDatasetOptions = {}, format?: FileFormat): Promise<Dataset> {
  format ??= (() => {
    const p = parseDatasetSpec(fileName);
    if (p.kind !== 'file') throw new DatasetError(`${fileName}: not a .jsonl/.json/.csv/.parquet file name`);
    return p.format;
  })();
  let rows: LocatedRow[];
  if (format === 'parquet') {
    rows = (await readParquetRows(bytes, fileName)).map((value, i) => ({ where: `row ${i + 1}`, value }));
  } else {
    const text = new TextDecoder().decode(bytes);
    rows = format === 'jsonl' ? jsonlRows(text) : format === 'json' ? jsonRows(text, fileName) : csvRows(text, fileName);
  }
  return finiteDataset(fileName, rows, opts);
}

// -------------------------------------------------------------------------------------------------
// Rows → problems

/** A raw row and where it came from ("line 3", "row 7"); `error` when it could not even be parsed. */
interface LocatedRow {
  where: string;
  value: unknown;
  error?: string;
}

function jsonlRows(text: string): LocatedRow[] {
  const rows: LocatedRow[] = [];
  text.split('\n').forEach((raw, i) => {
    if (raw.trim() === '') return;
    const where = `line ${i + 1}`;
    try {
      rows.push({ where, value: JSON.parse(raw) });
    } catch {
      rows.push({ where, value: undefined, error: 'with invalid JSON' });
    }
  });
  return rows;
}

function jsonRows(text: string, fileName: string): LocatedRow[] {
  let data: unknown;
  try {
    data = JSON.parse(text.charCodeAt(0) === 0xfeff ? text.slice(1) : text);
  } catch (e) {
    // Many ".json" files on the Hub are JSON Lines.
    if (text.trim().includes('\n') && text.trim().startsWith('{')) return jsonlRows(text);
    throw new DatasetError(`${fileName}: not valid JSON: ${(e as Error).message}`);
  }
  if (!Array.isArray(data) && data !== null && typeof data === 'object') {
    const arrays = Object.values(data).filter(Array.isArray);
    if (arrays.length === 1) data = arrays[0];
  }
  if (!Array.isArray(data)) throw new DatasetError(`${fileName}: expected a JSON array of rows (or an object holding one array of rows)`);
  return data.map((value, i) => ({ where: `row ${i + 1}`, value }));
}

function csvRows(text: string, fileName: string): LocatedRow[] {
  const records = parseCsv(text, fileName);
  if (records.length === 0) return [];
  const [header, ...body] = records;
  return body.map(({ line, fields }) => {
    const where = `line ${line}`;
    if (fields.length !== header.fields.length) return { where, value: undefined, error: `with a field count other than the header's ${header.fields.length}` };
    return { where, value: Object.fromEntries(header.fields.map((h, k) => [h.trim(), fields[k]])) };
  });
}

const QUESTION_FIELDS = ['question', 'problem', 'prompt'];
const ANSWER_FIELDS = ['answer', 'solution', 'ground_truth'];

/** The gold answer in a dataset's answer text: after the last "####" (GSM8K), else the last \boxed{}, else the text. */
export function extractGoldAnswer(text: string): string {
  const k = text.lastIndexOf('####');
  if (k >= 0)
    return text
      .slice(k + 4)
      .trim()
      .replace(/[,$]/g, '')
      .trim();
  if (text.includes('\\boxed')) {
    const boxed = lastBoxed(text);
    if (boxed !== null) return boxed.trim();
  }
  return text.trim();
}

type Field = { value: string } | { missing: true } | { badType: string };

function pick(row: Record<string, unknown>, explicit: string | undefined, defaults: string[]): { name: string; field: Field } {
  const names = explicit !== undefined ? [explicit] : defaults;
  const name = names.find((n) => row[n] !== undefined && row[n] !== null) ?? names.join('|');
  const v = row[name];
  if (v === undefined || v === null) return { name, field: { missing: true } };
  if (typeof v === 'string') return { name, field: v.trim() === '' ? { missing: true } : { value: v } };
  if (typeof v === 'number' && Number.isFinite(v)) return { name, field: { value: String(v) } };
  if (typeof v === 'bigint') return { name, field: { value: v.toString() } };
  // A chat-format prompt: [{role, content}, …] → its last user message.
  if (Array.isArray(v) && v.every((m) => m !== null && typeof m === 'object' && typeof (m as { content?: unknown }).content === 'string')) {
    const msgs = v as { role?: unknown; content: string }[];
    const user = [...msgs].reverse().find((m) => m.role === 'user') ?? msgs[msgs.length - 1];
    if (user && user.content.trim() !== '') return { name, field: { value: user.content } };
    return { name, field: { missing: true } };
  }
  return { name, field: { badType: Array.isArray(v) ? 'array' : typeof v } };
}

function finiteDataset(name: string, rows: LocatedRow[], opts: LoadDatasetOptions): Dataset {
  const problems: Problem[] = [];
  const bad = new Map<string, string[]>(); // reason → locations
  const hints = new Set<string>();
  const report = (reason: string, where: string) => {
    const list = bad.get(reason) ?? [];
    list.push(where);
    bad.set(reason, list);
  };
  for (const { where, value, error } of rows) {
    if (error) {
      report(error, where);
      continue;
    }
    if (value === null || typeof value !== 'object' || Array.isArray(value)) {
      report('with a value that is not an object', where);
      continue;
    }
    const row = value as Record<string, unknown>;
    const q = pick(row, opts.questionField, QUESTION_FIELDS);
    const a = pick(row, opts.answerField, ANSWER_FIELDS);
    let ok = true;
    for (const [what, { name: field, field: f }] of [
      ['question', q],
      ['answer', a],
    ] as const) {
      if ('missing' in f) {
        report(`without ${what === 'answer' ? 'an answer' : 'a question'}`, where);
        hints.add(
          `${what}s are read from ${field}${(what === 'answer' ? opts.answerField : opts.questionField) === undefined ? ` (or set ${what}Field)` : ''}`,
        );
        ok = false;
      } else if ('badType' in f) {
        report(`with a non-text ${what} (${field}: ${f.badType})`, where);
        ok = false;
      }
    }
    if (!ok || !('value' in q.field) || !('value' in a.field)) continue;
    const answer = extractGoldAnswer(a.field.value);
    if (answer === '') {
      report(`with an empty final answer (${a.name})`, where);
      continue;
    }
    problems.push({ question: q.field.value, answer, row, source: name });
  }
  const badCount = [...bad.values()].reduce((s, l) => s + l.length, 0);
  if (badCount > 0 && (opts.onBadRows ?? 'error') === 'error') {
    const parts = [...bad].map(([reason, where]) => {
      const shown = where.slice(0, 10).join(', ') + (where.length > 10 ? `, … (${where.length - 10} more)` : '');
      return `${where.length} row${where.length === 1 ? '' : 's'} ${reason}: ${shown}`;
    });
    const hint = [...hints, 'skipping malformed rows leaves them out'].join('; ');
    throw new DatasetError(`${name}: ${parts.join('; ')} (${hint})`);
  }
  if (problems.length === 0) {
    throw new DatasetError(rows.length === 0 ? `${name}: the dataset is empty (no rows)` : `${name}: no usable rows (all ${rows.length} rows are malformed)`);
  }
  return new FileDataset(name, problems, opts.seed ?? 0, opts.shuffle ?? true, badCount);
}

// -------------------------------------------------------------------------------------------------
// Sampling

/** A hash of (seed, index) to a 32-bit seed (murmur3 finaliser over a golden-ratio mix). */
function mix(seed: number, index: number): number {
  let h = (Math.imul(seed >>> 0, 0x9e3779b1) ^ Math.imul((index >>> 0) + 0x7f4a7c15, 0x85ebca77)) >>> 0;
  h = Math.imul(h ^ (h >>> 16), 0x85ebca6b);
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35);
  return (h ^ (h >>> 16)) >>> 0;
}

function badCursor(name: string, cursor: unknown, why: string): never {
  throw new DatasetError(`${name}: cannot restore cursor ${JSON.stringify(cursor)}: ${why}`);
}

const isCount = (v: unknown): v is number => typeof v === 'number' && Number.isInteger(v) && v >= 0;

interface FileCursor {
  kind: 'file';
  name: string;
  size: number;
  seed: number;
  epoch: number;
  index: number;
}

class FileDataset implements Dataset {
  readonly size: number;
  private epoch = 0;
  private index = 0;
  private order: number[] | null = null;

  constructor(
    readonly name: string,
    readonly problems: readonly Problem[],
    private seed: number,
    private readonly shuffle: boolean,
    readonly skipped: number,
  ) {
    this.size = problems.length;
  }

  /** n problems chosen by `seed` (in file order) and a dataset of the others (same name, seed and sampling). */
  split(n: number, seed: number): { rest: FileDataset; chosen: Problem[] } {
    const ranked = this.problems.map((_, i) => i).sort((a, b) => mix(seed, a) - mix(seed, b) || a - b);
    const chosen = new Set(ranked.slice(0, n));
    const rest = this.problems.filter((_, i) => !chosen.has(i));
    return { rest: new FileDataset(this.name, rest, this.seed, this.shuffle, this.skipped), chosen: this.problems.filter((_, i) => chosen.has(i)) };
  }

  /** The order of epoch e: a Fisher–Yates permutation seeded by (seed, e). */
  private epochOrder(): number[] {
    if (this.order) return this.order;
    const order = Array.from({ length: this.size }, (_, i) => i);
    if (this.shuffle) {
      const random = seededRandom(mix(this.seed, this.epoch));
      for (let i = order.length - 1; i > 0; i--) {
        const j = Math.floor(random() * (i + 1));
        [order[i], order[j]] = [order[j], order[i]];
      }
    }
    this.order = order;
    return order;
  }

  next(): Problem {
    if (this.index >= this.size) {
      this.epoch++;
      this.index = 0;
      this.order = null;
    }
    return this.problems[this.epochOrder()[this.index++]];
  }

  cursor(): FileCursor {
    return { kind: 'file', name: this.name, size: this.size, seed: this.seed, epoch: this.epoch, index: this.index };
  }

  restore(cursor: unknown): void {
    const c = cursor as Partial<FileCursor> | null;
    if (c?.kind !== 'file' || !isCount(c.epoch) || !isCount(c.index) || typeof c.seed !== 'number') badCursor(this.name, cursor, 'not a file dataset cursor');
    if (c.name !== this.name || c.size !== this.size)
      badCursor(this.name, cursor, `it belongs to ${c.name} (${c.size} rows), this is ${this.name} (${this.size} rows)`);
    if (c.index > this.size) badCursor(this.name, cursor, 'index past the end of the epoch');
    this.seed = c.seed;
    this.epoch = c.epoch;
    this.index = c.index;
    this.order = null;
  }
}

interface GeneratorCursor {
  kind: 'generator';
  name: string;
  seed: number;
  index: number;
}

class GeneratorDataset implements Dataset {
  readonly size = null;
  private index = 0;

  constructor(
    readonly name: string,
    private seed: number,
    private readonly make: (random: () => number) => Omit<Problem, 'source'>,
  ) {}

  /** Problem i depends only on (seed, i): cursors are one number and restore is exact. */
  next(): Problem {
    const p = this.make(seededRandom(mix(this.seed, this.index++)));
    return { ...p, source: this.name };
  }

  cursor(): GeneratorCursor {
    return { kind: 'generator', name: this.name, seed: this.seed, index: this.index };
  }

  restore(cursor: unknown): void {
    const c = cursor as Partial<GeneratorCursor> | null;
    if (c?.kind !== 'generator' || !isCount(c.index) || typeof c.seed !== 'number') badCursor(this.name, cursor, 'not a generator cursor');
    if (c.name !== this.name) badCursor(this.name, cursor, `it belongs to ${c.name}`);
    this.seed = c.seed;
    this.index = c.index;
  }
}

/** One-shot mode (1-shot RLVR): a single problem repeated. */
/**
 * Hold out n problems of a file (or Hub) dataset for evaluation: a choice seeded by `seed`, in file
 * order, and the dataset without them for training. Null for a generator or a one-shot set.
 */
export function holdOutProblems(dataset: Dataset, n: number, seed: number): { train: Dataset; heldOut: Problem[] } | null {
  if (!(dataset instanceof FileDataset)) return null;
  const { rest, chosen } = dataset.split(n, seed);
  return { train: rest, heldOut: chosen };
}

export function oneShotDataset(question: string, answer: string): Dataset {
  if (question.trim() === '') throw new DatasetError('one-shot dataset: empty question');
  const gold = extractGoldAnswer(answer);
  if (gold === '') throw new DatasetError('one-shot dataset: empty answer');
  const problem: Problem = { question, answer: gold, row: { question, answer }, source: 'one-shot' };
  let served = 0;
  return {
    name: 'one-shot',
    size: 1,
    problems: [problem],
    next: () => {
      served++;
      return problem;
    },
    cursor: () => ({ kind: 'one-shot', served }),
    restore: (cursor: unknown) => {
      const c = cursor as { kind?: unknown; served?: unknown } | null;
      if (c?.kind !== 'one-shot' || !isCount(c.served)) badCursor('one-shot', cursor, 'not a one-shot cursor');
      served = c.served;
    },
  };
}
