// "Publish to the Hub" in the Export panel: the shown run's adapter, GGUF files, run files and a
// model card uploaded from the page (src/app/publish.ts, DESIGN.md §13.4). The token typed here lives
// in this component's state only: it is never stored, sent to the worker, put in a message or logged.

import { useState } from 'react';
import { publishRun } from '../publish.ts';

const HUB = 'https://huggingface.co';
const REPO_ID = /^[A-Za-z0-9][\w.-]*\/[\w.-]+$/;

export function PublishPanel({ runId, hasAdapter }: { runId: string; hasAdapter: boolean }) {
  const [repo, setRepo] = useState('');
  const [token, setToken] = useState('');
  const [isPrivate, setPrivate] = useState(true);
  const [endpoint, setEndpoint] = useState(HUB);
  const [busy, setBusy] = useState(false);
  const [status, setStatus] = useState<string | null>(null);
  const [fraction, setFraction] = useState<number | null>(null);
  const [url, setUrl] = useState<string | null>(null);
  const [error, setError] = useState<string | null>(null);
  const repoOk = REPO_ID.test(repo.trim());
  const why = !hasAdapter ? 'Available after the first checkpoint' : !repoOk ? 'Enter owner/name' : !token.trim() ? 'Enter a write token' : undefined;

  const publish = () => {
    setBusy(true);
    setError(null);
    setUrl(null);
    setFraction(null);
    publishRun(runId, {
      repo: repo.trim(),
      token: token.trim(),
      private: isPrivate,
      endpoint: endpoint.trim() || HUB,
      onProgress: setStatus,
      onUploadProgress: setFraction,
    })
      .then((result) => {
        setUrl(result.url);
        setStatus(result.created ? 'Published to a new repository.' : 'Published into the existing repository.');
      })
      .catch((e: unknown) => {
        setStatus(null);
        setError(e instanceof Error ? e.message : String(e));
      })
      .finally(() => setBusy(false));
  };

  return (
    <div className="export-row" data-testid="publish">
      <span className="label">Publish to the Hub</span>
      <input aria-label="Repository (owner/name)" data-testid="publish-repo" placeholder="owner/name" value={repo} onChange={(e) => setRepo(e.target.value)} />
      <input
        aria-label="Hugging Face write token"
        data-testid="publish-token"
        type="password"
        autoComplete="off"
        spellCheck={false}
        placeholder="hf_… write token (kept in memory only)"
        value={token}
        onChange={(e) => setToken(e.target.value)}
      />
      <label>
        <input type="checkbox" data-testid="publish-private" checked={isPrivate} onChange={(e) => setPrivate(e.target.checked)} /> private
      </label>
      <button type="button" data-testid="publish-button" disabled={busy || why !== undefined} title={why} onClick={publish}>
        {busy ? 'Publishing…' : 'Publish'}
      </button>
      <details>
        <summary>Hub</summary>
        <input aria-label="Hub endpoint" data-testid="publish-endpoint" value={endpoint} onChange={(e) => setEndpoint(e.target.value)} />
      </details>
      {status && (
        <span className="hint" data-testid="publish-status">
          {status}
          {busy && fraction !== null ? ` ${Math.round(fraction * 100)}%` : ''}
        </span>
      )}
      {url && (
        <a data-testid="publish-url" href={url} target="_blank" rel="noreferrer">
          {url}
        </a>
      )}
      {error && (
        <span className="error-text" role="alert" data-testid="publish-error">
          {error}
        </span>
      )}
    </div>
  );
}
