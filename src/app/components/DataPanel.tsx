// Which problems to train on: a built-in generator, one problem (1-shot RLVR), an uploaded file or a
// Hub dataset; and a preview of rows and of the exact prompt the model will see.

import { useState, type ChangeEvent } from 'react';
import type { DataSource } from '../protocol.ts';
import { oneShotExample } from '../recipe.ts';
import { saveUpload } from '../storage.ts';
import { appStore, sendToWorker, useApp } from '../store.ts';
import { HUB_DATASET } from './knobs.ts';
import { reportError } from './run-actions.ts';

const BUILTIN_SETS = [
  { spec: 'arithmetic:1', label: 'Arithmetic 1: one-digit sums' },
  { spec: 'arithmetic:2', label: 'Arithmetic 2: two-digit sums (the tiny model’s level)' },
  { spec: 'arithmetic:3', label: 'Arithmetic 3: differences and products' },
  { spec: 'countdown', label: 'Countdown: reach a target with + − × ÷' },
  { spec: 'stories:mention_word', label: 'Stories: mention the row’s word (stories260K)' },
  { spec: 'stories:mention_word:ball', label: 'Stories: mention “ball” (stories260K)' },
  { spec: 'stories:happy_ending', label: 'Stories: a happy last sentence (stories260K)' },
  { spec: 'stories:target_length', label: 'Stories: close to a target word count (stories260K)' },
  { spec: 'stories:no_repeat', label: 'Stories: no sentence twice (stories260K)' },
];

const setData = (data: DataSource) => appStore.getState().setData(data);

function BuiltinSets({ data }: { data: DataSource }) {
  const [spec, setSpec] = useState(data.kind === 'builtin' ? data.spec : BUILTIN_SETS[1].spec);
  const shown = data.kind === 'builtin' ? data.spec : spec;
  return (
    <li>
      <label>
        <input type="radio" name="data" checked={data.kind === 'builtin'} onChange={() => setData({ kind: 'builtin', spec: shown })} />
        Built-in set
      </label>
      <select
        data-testid="data-builtin"
        aria-label="Built-in problem set"
        value={shown}
        onChange={(e) => {
          setSpec(e.target.value);
          setData({ kind: 'builtin', spec: e.target.value });
        }}
      >
        {BUILTIN_SETS.map((set) => (
          <option key={set.spec} value={set.spec}>
            {set.label}
          </option>
        ))}
      </select>
    </li>
  );
}

function OneShotEditor({ data }: { data: DataSource }) {
  const model = useApp((s) => s.settings.model);
  const [draft, setDraft] = useState(data.kind === 'one-shot' ? { question: data.question, answer: data.answer } : oneShotExample(model));
  const shown = data.kind === 'one-shot' ? data : draft;
  const edit = (change: Partial<typeof draft>) => {
    const next = { question: shown.question, answer: shown.answer, ...change };
    setDraft(next);
    setData({ kind: 'one-shot', ...next });
  };
  return (
    <li>
      <label>
        <input type="radio" name="data" checked={data.kind === 'one-shot'} onChange={() => setData({ kind: 'one-shot', ...draft })} />
        One problem (1-shot RLVR)
      </label>
      <label className="stacked">
        Problem
        <textarea data-testid="one-shot-question" rows={2} value={shown.question} onChange={(e) => edit({ question: e.target.value })} />
      </label>
      <label className="stacked">
        Answer <span className="hint">(graded against this text)</span>
        <textarea data-testid="one-shot-answer" rows={1} value={shown.answer} onChange={(e) => edit({ answer: e.target.value })} />
      </label>
    </li>
  );
}

function FileUpload({ data }: { data: DataSource }) {
  const upload = data.kind === 'upload' ? data : null;
  const [saving, setSaving] = useState(false);

  async function pickFile(e: ChangeEvent<HTMLInputElement>) {
    const file = e.target.files?.[0];
    if (!file) return;
    setSaving(true);
    try {
      await saveUpload(file.name, new Uint8Array(await file.arrayBuffer()));
      setData({
        kind: 'upload',
        fileName: file.name,
        questionField: upload?.questionField,
        answerField: upload?.answerField,
        skipBadRows: upload?.skipBadRows ?? false,
      });
    } catch (err) {
      reportError(err);
    } finally {
      setSaving(false);
    }
  }

  const setField = (field: 'questionField' | 'answerField', value: string) => {
    if (upload) setData({ ...upload, [field]: value.trim() || undefined });
  };

  return (
    <li>
      <label>
        <input type="radio" name="data" checked={upload !== null} disabled={upload === null} readOnly />
        File
        {upload && (
          <>
            : <strong>{upload.fileName}</strong>
          </>
        )}
      </label>
      <input type="file" accept=".jsonl,.ndjson,.json,.csv,.parquet" aria-label="Dataset file" onChange={pickFile} />
      {saving && <p className="muted">Saving into browser storage…</p>}
      <div className="row">
        <label>
          Question field
          <input
            type="text"
            placeholder="question"
            disabled={!upload}
            value={upload?.questionField ?? ''}
            onChange={(e) => setField('questionField', e.target.value)}
          />
        </label>
        <label>
          Answer field
          <input
            type="text"
            placeholder="answer"
            disabled={!upload}
            value={upload?.answerField ?? ''}
            onChange={(e) => setField('answerField', e.target.value)}
          />
        </label>
      </div>
      <label>
        <input
          type="checkbox"
          disabled={!upload}
          checked={upload?.skipBadRows === true}
          onChange={(e) => upload && setData({ ...upload, skipBadRows: e.target.checked })}
        />
        Skip malformed rows (otherwise they are listed as an error)
      </label>
      <p className="hint">JSONL, JSON, CSV or Parquet. Fields default to question/problem/prompt and answer/solution/ground_truth.</p>
    </li>
  );
}

function HubDataset({ data }: { data: DataSource }) {
  const [spec, setSpec] = useState(data.kind === 'hub' ? data.spec : '');
  const invalid = spec !== '' && !HUB_DATASET.test(spec.trim());
  return (
    <li>
      <label>
        <input
          type="radio"
          name="data"
          checked={data.kind === 'hub'}
          disabled={spec === '' || invalid}
          onChange={() => setData({ kind: 'hub', spec: spec.trim() })}
        />
        Hub dataset
      </label>
      <input
        type="text"
        className="wide"
        placeholder="hf:openai/gsm8k:main:train"
        aria-label="Hub dataset id"
        aria-invalid={invalid}
        value={spec}
        onChange={(e) => {
          setSpec(e.target.value);
          if (HUB_DATASET.test(e.target.value.trim())) setData({ kind: 'hub', spec: e.target.value.trim() });
        }}
      />
      {invalid && <p className="hint error-text">Expected hf:owner/repo:config:split.</p>}
    </li>
  );
}

function Preview() {
  const settings = useApp((s) => s.settings);
  const preview = useApp((s) => s.preview);
  const error = useApp((s) => s.error);
  const [requested, setRequested] = useState(false);

  function requestPreview() {
    const { model, data, systemPrompt, plainPrompt } = settings;
    setRequested(true);
    sendToWorker({ type: 'preview', model, data, systemPrompt, plainPrompt });
  }

  return (
    <div className="preview">
      <button type="button" data-testid="preview-button" onClick={requestPreview}>
        Preview
      </button>
      {requested && !preview && !error && <span className="muted"> Loading the tokenizer and the data…</span>}
      {preview && (
        <>
          <p className="muted">{preview.size === null ? 'A generator: new problems every step.' : `${preview.size} problems.`} The first rows:</p>
          <table>
            <thead>
              <tr>
                <th>Question</th>
                <th>Answer</th>
                <th title="The gold's final answer as the math reward reads it">Graded as</th>
              </tr>
            </thead>
            <tbody>
              {preview.rows.map((row, i) => (
                // biome-ignore lint/suspicious/noArrayIndexKey: preview rows have no id and the whole table is replaced on each preview
                <tr key={i}>
                  <td>{row.question}</td>
                  <td>{row.answer}</td>
                  <td data-testid="preview-gold">{row.gold ?? <span className="muted">no answer found: the math reward does not apply</span>}</td>
                </tr>
              ))}
            </tbody>
          </table>
          <p className="muted">The first problem exactly as the model sees it:</p>
          <pre data-testid="preview-prompt">{preview.prompt}</pre>
        </>
      )}
    </div>
  );
}

export function DataPanel() {
  const data = useApp((s) => s.settings.data);
  const rewards = useApp((s) => s.settings.rewards);
  return (
    <section className="panel" aria-labelledby="data-heading">
      <h2 id="data-heading">Data</h2>
      <ul className="choices">
        <BuiltinSets data={data} />
        <OneShotEditor data={data} />
        <FileUpload data={data} />
        <HubDataset data={data} />
      </ul>
      {data.kind === 'builtin' && data.spec === 'countdown' && !rewards.includes('countdown') && (
        <p className="warning">Countdown answers are graded by the countdown reward: tick it under Recipe → Rewards.</p>
      )}
      {data.kind === 'builtin' && data.spec.startsWith('stories:') && !rewards.includes(data.spec.split(':')[1]) && (
        <p className="warning">These story prompts are graded by the {data.spec.split(':')[1]} reward: tick it under Recipe → Rewards.</p>
      )}
      <Preview />
    </section>
  );
}
