// Downloads for the shown run: the PEFT adapter (two files or a zip), metrics, and a TRL script.

import { useState } from 'react';
import type { GgufDType } from '../../lora/gguf-export.ts';
import { downloadBlob, downloadBytes, downloadText, zipFiles } from '../export.ts';
import { modelSource } from '../model-source.ts';
import { adapterFiles, adapterSource, runConfigJson } from '../storage.ts';
import { metricsCsv, useApp, type RunView } from '../store.ts';
import { PublishPanel } from './PublishPanel.tsx';
import { reportError } from './run-actions.ts';

const ADAPTER_CONFIG = 'adapter_config.json';
const ADAPTER_WEIGHTS = 'adapter_model.safetensors';

async function downloadAdapterFile(runId: string, name: string): Promise<void> {
  const file = (await adapterFiles(runId)).find((f) => f.name === name);
  if (!file) throw new Error(`Run ${runId} has no ${name} yet.`);
  downloadBytes(name, file.bytes, name.endsWith('.json') ? 'application/json' : 'application/octet-stream');
}

async function downloadAdapterZip(runId: string): Promise<void> {
  downloadBytes(`${runId}-adapter.zip`, zipFiles(await adapterFiles(runId)), 'application/zip');
}

function downloadMetricsJson(run: RunView): void {
  const { id, settings, metrics, basePassAtK, passAtK } = run;
  downloadText(`${id}-metrics.json`, JSON.stringify({ id, settings, metrics, basePassAtK, passAtK }, null, 2), 'application/json');
}

async function downloadTrlScript(runId: string): Promise<void> {
  // Loaded on demand: the exporter is only needed for this download.
  const { trlScript } = await import('../../rl/export-trl.ts');
  downloadText(`train_${runId}.py`, trlScript(await runConfigJson(runId)), 'text/x-python');
}

/** The run's model with its adapter merged (`lora: false`), or the adapter alone, as llama.cpp GGUF (the same bytes as `webgrpo export-gguf`). */
async function downloadGguf(run: RunView, lora: boolean, dtype: GgufDType): Promise<void> {
  // Loaded on demand: the exporter is only needed for this download.
  const { exportGgufLora, exportGgufModel } = await import('../../lora/gguf-export.ts');
  const source = modelSource(run.settings.model);
  const adapter = await adapterSource(run.id);
  const parts = lora ? await exportGgufLora(source, adapter) : await exportGgufModel(source, { adapter, dtype });
  downloadBlob(
    `${run.id}-${lora ? 'lora' : `merged-${dtype}`}.gguf`,
    new Blob(
      parts.map((p) => p.slice()),
      { type: 'application/octet-stream' },
    ),
  );
}

const GGUF_CHOICES: GgufDType[] = ['f16', 'f32', 'q8_0'];

export function ExportPanel() {
  const [ggufDtype, setGgufDtype] = useState<GgufDType>('f16');
  const run = useApp((s) => s.run);
  if (!run) return null;
  // The adapter exists once a checkpoint is saved or the run has finished.
  const hasAdapter = run.lastCheckpoint !== null || run.phase === 'done' || run.phase === 'stopped';
  const noAdapter = hasAdapter ? undefined : 'Available after the first checkpoint';
  const hasMetrics = run.metrics.length > 0;
  const act = (action: () => void | Promise<void>) => () => {
    Promise.resolve().then(action).catch(reportError);
  };

  return (
    <section className="panel" aria-labelledby="export-heading">
      <h2 id="export-heading">Export {run.id}</h2>
      <div className="export-row">
        <span className="label">LoRA adapter (PEFT)</span>
        <button
          type="button"
          data-testid="export-adapter-config"
          disabled={!hasAdapter}
          title={noAdapter}
          onClick={act(() => downloadAdapterFile(run.id, ADAPTER_CONFIG))}
        >
          {ADAPTER_CONFIG}
        </button>
        <button
          type="button"
          data-testid="export-adapter-weights"
          disabled={!hasAdapter}
          title={noAdapter}
          onClick={act(() => downloadAdapterFile(run.id, ADAPTER_WEIGHTS))}
        >
          {ADAPTER_WEIGHTS}
        </button>
        <button type="button" data-testid="export-adapter-zip" disabled={!hasAdapter} title={noAdapter} onClick={act(() => downloadAdapterZip(run.id))}>
          both as .zip
        </button>
      </div>
      <div className="export-row">
        <span className="label">llama.cpp (GGUF)</span>
        <label>
          type{' '}
          <select data-testid="export-gguf-dtype" value={ggufDtype} onChange={(e) => setGgufDtype(e.target.value as GgufDType)}>
            {GGUF_CHOICES.map((d) => (
              <option key={d}>{d}</option>
            ))}
          </select>
        </label>
        <button
          type="button"
          data-testid="export-gguf-merged"
          disabled={!hasAdapter}
          title={noAdapter ?? 'The model with the adapter merged in, for llama.cpp, Ollama, LM Studio'}
          onClick={act(() => downloadGguf(run, false, ggufDtype))}
        >
          GGUF (merged)
        </button>
        <button
          type="button"
          data-testid="export-gguf-lora"
          disabled={!hasAdapter}
          title={noAdapter ?? 'The adapter alone, for llama.cpp --lora'}
          onClick={act(() => downloadGguf(run, true, ggufDtype))}
        >
          GGUF LoRA
        </button>
      </div>
      <div className="export-row">
        <span className="label">Metrics</span>
        <button
          type="button"
          data-testid="export-metrics-csv"
          disabled={!hasMetrics}
          onClick={act(() => downloadText(`${run.id}-metrics.csv`, metricsCsv(run.metrics), 'text/csv'))}
        >
          CSV
        </button>
        <button type="button" data-testid="export-metrics-json" disabled={!hasMetrics} onClick={act(() => downloadMetricsJson(run))}>
          JSON
        </button>
        <span className="hint">Charts: the PNG button on each chart.</span>
      </div>
      <div className="export-row">
        <span className="label">Hugging Face TRL</span>
        <button type="button" data-testid="export-trl" onClick={act(() => downloadTrlScript(run.id))} title="The same run as a TRL GRPOTrainer + PEFT script">
          train_{run.id}.py
        </button>
      </div>
      <PublishPanel key={run.id} runId={run.id} hasAdapter={hasAdapter} />
    </section>
  );
}
