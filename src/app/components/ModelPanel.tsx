// Which model to train: a built-in model (the tiny arithmetic model or the pretrained stories260K),
// a listed or any Hub model, or a local folder.

import { useState, type ChangeEvent } from 'react';
import type { ModelRef } from '../protocol.ts';
import { builtinModelName } from '../../rl/run-config.ts';
import { HUB_MODELS, hubModelMemory } from '../recipe.ts';
import { saveLocalModel } from '../storage.ts';
import { appStore, useApp } from '../store.ts';
import { formatBytes } from './format.ts';
import { HUB_REPO } from './knobs.ts';
import { reportError } from './run-actions.ts';

/** Above this a training step rarely fits what a browser grants one page of GPU memory. */
const MEMORY_WARNING_BYTES = 4 * 1024 ** 3;

function setModel(model: ModelRef): void {
  appStore.getState().setSettings((s) => ({ ...s, model }));
}

type HubChoice = Extract<ModelRef, { kind: 'hub' }>;

/** "owner/repo@rev" (optionally with a leading "hf:") → a Hub model choice. */
function hubChoice(text: string): HubChoice {
  const [repo, revision] = text.trim().replace(/^hf:/, '').split('@');
  return revision ? { kind: 'hub', repo, revision } : { kind: 'hub', repo };
}

function isListed(model: ModelRef): boolean {
  return model.kind === 'hub' && !model.revision && HUB_MODELS.some((m) => m.repo === model.repo);
}

function OtherHubModel({ model }: { model: ModelRef }) {
  const chosen = model.kind === 'hub' && !isListed(model);
  const [text, setText] = useState(chosen ? `${model.repo}${model.revision ? `@${model.revision}` : ''}` : '');
  const invalid = text !== '' && !HUB_REPO.test(hubChoice(text).repo);
  return (
    <li>
      <label>
        <input type="radio" name="model" checked={chosen} disabled={text === '' || invalid} onChange={() => setModel(hubChoice(text))} />
        Other Hub model
      </label>
      <input
        type="text"
        className="wide"
        placeholder="owner/repo[@revision]"
        aria-label="Hub repo id"
        aria-invalid={invalid}
        value={text}
        onChange={(e) => {
          setText(e.target.value);
          const valid = HUB_REPO.test(hubChoice(e.target.value).repo);
          if (valid) setModel(hubChoice(e.target.value));
        }}
      />
      {invalid && <p className="hint error-text">Expected owner/repo, optionally @revision (a branch, tag or commit).</p>}
    </li>
  );
}

function LocalFolder({ model }: { model: ModelRef }) {
  const [saving, setSaving] = useState<string | null>(null);

  async function pickFolder(e: ChangeEvent<HTMLInputElement>) {
    const files = [...(e.target.files ?? [])];
    if (files.length === 0) return;
    // webkitRelativePath is "<picked folder>/<path inside it>".
    const name = files[0].webkitRelativePath.split('/')[0] || 'local-model';
    setSaving(`Copying ${files.length} files of ${name} into browser storage…`);
    try {
      await saveLocalModel(name, files);
      setModel({ kind: 'local', name });
    } catch (err) {
      reportError(err);
    } finally {
      setSaving(null);
    }
  }

  return (
    <li>
      <label>
        <input type="radio" name="model" checked={model.kind === 'local'} disabled={model.kind !== 'local'} readOnly />
        Local folder
        {model.kind === 'local' && (
          <>
            : <strong>{model.name}</strong>
          </>
        )}
      </label>
      {/* webkitdirectory is not in React's input props; set it as a plain attribute. */}
      <input type="file" aria-label="Model folder" ref={(input) => input?.setAttribute('webkitdirectory', '')} onChange={pickFolder} />
      <p className="hint">A folder in Hugging Face layout (config.json, tokenizer files, *.safetensors), kept in the browser for resumes.</p>
      {saving && <p className="muted">{saving}</p>}
    </li>
  );
}

export function ModelPanel() {
  const settings = useApp((s) => s.settings);
  const { model } = settings;
  return (
    <section className="panel" aria-labelledby="model-heading">
      <h2 id="model-heading">Model</h2>
      <ul className="choices">
        <li>
          <label>
            <input
              type="radio"
              name="model"
              data-testid="model-builtin"
              checked={model.kind === 'builtin' && builtinModelName(model) === 'tiny-arith'}
              onChange={() => setModel({ kind: 'builtin' })}
            />
            Built-in tiny model <span className="muted">(offline, instant; learns arithmetic)</span>
          </label>
        </li>
        <li>
          <label>
            <input
              type="radio"
              name="model"
              data-testid="model-stories260k"
              checked={model.kind === 'builtin' && builtinModelName(model) === 'stories260k'}
              onChange={() => setModel({ kind: 'builtin', name: 'stories260k' })}
            />
            stories260K <span className="muted">(built in, 1 MB; Karpathy’s pretrained TinyStories model, MIT: shape its stories)</span>
          </label>
        </li>
        {HUB_MODELS.map((hub) => {
          const memory = hubModelMemory(hub, settings);
          return (
            <li key={hub.repo}>
              <label>
                <input
                  type="radio"
                  name="model"
                  checked={model.kind === 'hub' && isListed(model) && model.repo === hub.repo}
                  onChange={() => setModel({ kind: 'hub', repo: hub.repo })}
                />
                {hub.label}
              </label>
              <span className="muted">
                {' '}
                {formatBytes(hub.bytes)} download · ~{formatBytes(memory)} GPU memory
              </span>
              {memory > MEMORY_WARNING_BYTES && (
                <p className="warning">
                  Likely too big for a browser tab’s GPU memory: lower prompts per step, generations or max completion length, or raise gradient accumulation.
                </p>
              )}
            </li>
          );
        })}
        <OtherHubModel model={model} />
        <LocalFolder model={model} />
      </ul>
      <p className="hint">
        GPU memory is estimated for the current recipe. Hub models download when you press Start (with a progress bar) and stay cached for next time.
      </p>
    </section>
  );
}
