// Push a run to the Hugging Face Hub with the Hub's own JS client (@huggingface/hub): create the
// model repository (or upload into an existing one) and commit the run's files in one commit
// (DESIGN.md §13.4). Shared by `webgrpo push` (files from the run folder) and the page's Publish
// part (files from OPFS). The token is passed in by the caller and goes only into the requests'
// Authorization header: never into a message, a log or a file.

import { createRepo, HubApiError, uploadFilesWithProgress } from '@huggingface/hub';
import { trlScript } from './export-trl.ts';
import { modelCard, REWARD_CHART, rewardChartSvg, RUN_FILES_DIR, type RunSummary } from './model-card.ts';
import { runConfigFromJson } from './run-config.ts';

export interface PublishFile {
  /** Path inside the repository. */
  path: string;
  content: Blob;
}

export interface PublishOptions {
  /** owner/name */
  repo: string;
  token: string;
  /** Hub endpoint, e.g. https://huggingface.co */
  endpoint: string;
  files: PublishFile[];
  /** Visibility of a repository this call creates (an existing one keeps its own). */
  private?: boolean;
  /** Fail when the repository already exists instead of uploading into it. */
  newRepo?: boolean;
  commitTitle?: string;
  /** Progress lines for the user. */
  onProgress?: (message: string) => void;
  /** For the page's progress bar: bytes of large files sent so far / total. */
  onUploadProgress?: (fraction: number) => void;
}

export interface PublishResult {
  url: string;
  /** false: the repository existed and the files were committed on top of it. */
  created: boolean;
  commit: string;
}

export type PublishErrorKind = 'token' | 'forbidden' | 'exists' | 'connection' | 'hub' | 'usage';

/** A push that did not happen (or may not have completed), with a message for the user. */
export class PublishError extends Error {
  constructor(
    readonly kind: PublishErrorKind,
    message: string,
  ) {
    super(message);
    this.name = 'PublishError';
  }
}

/** The run's own files that go up under run/ (when present). */
export const RUN_FILES = ['config.json', 'metrics.jsonl', 'summary.json', 'passk.json'] as const;

export interface RunForHub {
  /** owner/name */
  repo: string;
  /** Files for the repository's root, by name: the adapter's PEFT files and any GGUF exports. */
  rootFiles: { name: string; content: Blob }[];
  /** The run's files of RUN_FILES that exist, by name; config.json is required. */
  runFiles: Partial<Record<(typeof RUN_FILES)[number], Blob>>;
}

function parseJsonLines(text: string): Record<string, unknown>[] {
  return text
    .split('\n')
    .filter((l) => l.trim())
    .flatMap((l) => {
      try {
        return [JSON.parse(l) as Record<string, unknown>];
      } catch {
        return [];
      }
    });
}

/**
 * Everything a push uploads, in the repository's layout (DESIGN.md §13.4): the root files, the run's
 * files, the reward chart and TRL script under run/, and the model card README.md.
 */
export async function hubFilesOfRun(run: RunForHub): Promise<PublishFile[]> {
  const configBlob = run.runFiles['config.json'];
  if (!configBlob) throw new PublishError('usage', 'The run has no config.json.');
  const configJson = JSON.parse(await configBlob.text()) as Record<string, unknown>;
  const config = runConfigFromJson(configJson);
  const metrics = parseJsonLines((await run.runFiles['metrics.jsonl']?.text()) ?? '');
  const summaryText = await run.runFiles['summary.json']?.text();
  const summary = summaryText ? (JSON.parse(summaryText) as RunSummary) : null;
  const files: PublishFile[] = run.rootFiles.map((f) => ({ path: f.name, content: f.content }));
  for (const name of RUN_FILES) {
    const blob = run.runFiles[name];
    if (blob) files.push({ path: `${RUN_FILES_DIR}/${name}`, content: blob });
  }
  const text = (path: string, body: string, type: string) => files.push({ path, content: new Blob([body], { type }) });
  text(REWARD_CHART, rewardChartSvg(metrics), 'image/svg+xml');
  text(`${RUN_FILES_DIR}/train_trl.py`, trlScript(configJson), 'text/x-python');
  const names = [...files.map((f) => f.path), 'README.md'];
  text('README.md', modelCard({ repo: run.repo, config, summary, metrics, files: names }), 'text/markdown');
  return files;
}

const REPO_ID = /^[A-Za-z0-9][\w.-]*\/[\w.-]+$/;

/** A problem with the repository id ("owner/name"), or null. */
export function repoIdProblem(repo: string): string | null {
  if (!REPO_ID.test(repo) || repo.includes('..') || repo.endsWith('.git')) return `"${repo}" is not a repository id of the form owner/name`;
  return null;
}

type Phase = 'creating the repository' | 'preuploading' | 'uploadingLargeFiles' | 'committing';
const PHASE_TEXT: Record<Phase, string> = {
  'creating the repository': 'creating the repository',
  preuploading: 'checking which files are large',
  uploadingLargeFiles: 'uploading the large files',
  committing: 'committing',
};

/** The client's failure as a PublishError saying what happened and what was (not) changed. */
function explain(e: unknown, opts: PublishOptions, phase: Phase): PublishError {
  const where = `${opts.endpoint} (${PHASE_TEXT[phase]})`;
  const nothing = phase === 'committing' ? 'the commit may not have been made' : 'nothing was committed';
  if (e instanceof HubApiError) {
    const detail = e.message.split('. URL:')[0];
    if (e.statusCode === 401) return new PublishError('token', `The Hub refused the token (401 Unauthorized) at ${where}: it is invalid or expired. ${detail}`);
    if (e.statusCode === 403)
      return new PublishError(
        'forbidden',
        `The token may not write to ${opts.repo} (403 Forbidden) at ${where}: use a token with write access to that namespace. ${detail}`,
      );
    if (e.statusCode === 409 && phase === 'committing')
      return new PublishError('hub', `The commit to ${opts.repo} conflicted with another change (409): run the push again. ${detail}`);
    return new PublishError('hub', `The Hub answered ${e.statusCode} at ${where}; ${nothing}. ${detail}`);
  }
  const err = e as Error & { cause?: { code?: string; message?: string } };
  // fetch rejects with a TypeError when the connection fails or is cut.
  if (err?.name === 'TypeError' || err?.cause?.code) {
    const cause = [err.cause?.message, err.cause?.code].filter(Boolean).join(', ') || err.message;
    return new PublishError('connection', `The connection to ${where} failed (${cause}); ${nothing}. Run the push again: it uploads the same files.`);
  }
  return new PublishError('hub', `Pushing to ${opts.repo} failed at ${where}: ${err?.message ?? String(e)}`);
}

/** Create `opts.repo` (or reuse it) and commit `opts.files` to its main branch. */
export async function publishToHub(opts: PublishOptions): Promise<PublishResult> {
  const problem = repoIdProblem(opts.repo);
  if (problem) throw new PublishError('usage', `${problem}.`);
  if (!opts.token.startsWith('hf_'))
    throw new PublishError('token', 'A Hugging Face access token starts with "hf_": create a write token in your Hub settings.');
  if (opts.files.length === 0) throw new PublishError('usage', 'Nothing to upload.');
  const endpoint = opts.endpoint.replace(/\/+$/, '');
  const progress = opts.onProgress ?? (() => {});
  const credentials = { accessToken: opts.token };
  const url = `${endpoint}/${opts.repo}`;
  let phase: Phase = 'creating the repository';
  let created = true;
  try {
    await createRepo({
      repo: { type: 'model', name: opts.repo },
      ...credentials,
      hubUrl: endpoint,
      ...(opts.private !== undefined ? { private: opts.private } : {}),
    });
    progress(`created ${opts.private ? 'private ' : ''}repository ${url}`);
  } catch (e) {
    if (!(e instanceof HubApiError && e.statusCode === 409)) throw explain(e, { ...opts, endpoint }, phase);
    if (opts.newRepo) throw new PublishError('exists', `${opts.repo} already exists on ${endpoint} (409); without --new-repo the push uploads into it.`);
    created = false;
    progress(`${opts.repo} exists: uploading into it${opts.private ? ' (its visibility is left as it is)' : ''}`);
  }
  const sizes = new Map(opts.files.map((f) => [f.path, f.content.size]));
  const sent = new Map<string, number>();
  const total = opts.files.reduce((a, f) => a + f.content.size, 0);
  const failed: string[] = [];
  try {
    const commits = uploadFilesWithProgress({
      repo: { type: 'model', name: opts.repo },
      ...credentials,
      hubUrl: endpoint,
      files: opts.files.map((f) => ({ path: f.path, content: f.content })),
      commitTitle: opts.commitTitle ?? `Upload ${opts.files.length} files with webgrpo`,
    });
    for (;;) {
      const next = await commits.next();
      if (next.done) {
        if (failed.length > 0)
          throw new PublishError('hub', `The Hub did not take ${failed.join(', ')}; the commit may not have been made. Run the push again.`);
        const oid = next.value?.commit.oid ?? '';
        progress(`committed ${opts.files.length} files${oid ? ` (${oid.slice(0, 12)})` : ''}`);
        return { url, created, commit: oid };
      }
      const event = next.value;
      if (event.event === 'phase') {
        phase = event.phase;
        progress(`${PHASE_TEXT[phase]}…`);
      } else if (event.state === 'uploading') {
        sent.set(event.path, event.progress * (sizes.get(event.path) ?? 0));
        if (total > 0) opts.onUploadProgress?.([...sent.values()].reduce((a, b) => a + b, 0) / total);
      } else if (event.state === 'error') failed.push(event.path);
    }
  } catch (e) {
    if (e instanceof PublishError) throw e;
    throw explain(e, { ...opts, endpoint }, phase);
  }
}
