// The training worker: owns the GPU device and the model, runs a GrpoSession over the run's OPFS
// folder and reports to the page through the typed messages of protocol.ts. After a tab reload (the
// page sends `resume`) or a lost GPU device (the worker re-acquires one) the run continues from its
// newest checkpoint exactly as an uninterrupted run would.

/// <reference lib="webworker" />
/// <reference types="vite/client" />

import { acquireGpu, describeDevice, WebGpuUnavailableError } from '../gpu/device.ts';
import { GpuDeviceLostError, type Gpu } from '../gpu/runtime.ts';
import { LoraAdapter } from '../lora/adapter.ts';
import { LanguageModel } from '../model/model.ts';
import { destroyWeights, loadModel } from '../model/weights.ts';
import { chatPromptIds, comparePassAtK, EvaluationCancelled } from '../rl/evaluate.ts';
import { extractGold } from '../rl/rewards/math.ts';
import { accuracyGrade, accuracyReward, builtinRewards, checkRunFits, openRunData, promptFormat, promptNotice } from '../rl/run.ts';
import { defaultRunConfig } from '../rl/run-config.ts';
import { GrpoSession } from '../rl/session.ts';
import { ModelTokenizer } from '../io/tokenizer.ts';
import { completionViews, type FromWorker, type RunConfig, type ToWorker } from './protocol.ts';
import { modelSource } from './model-source.ts';
import * as storage from './storage.ts';

declare const self: DedicatedWorkerGlobalScope;

/** A lost device is re-acquired and the run resumed at most this many times in a row. */
const MAX_DEVICE_RECOVERIES = 3;

const post = (msg: FromWorker) => self.postMessage(msg);

let gpu: Gpu | null = null;
/** The run in progress, and what the page asked of it before its session opened. */
let active: { runId: string; session: GrpoSession | null; paused: boolean; stop: boolean } | null = null;

/** The pass@k explorer's comparison in progress, and whether the page cancelled it. */
let exploring: { runId: string; cancelled: boolean } | null = null;

async function device(): Promise<Gpu> {
  if (!gpu || gpu.lost) gpu = await acquireGpu();
  return gpu;
}

async function runTraining(runId: string, cfg: RunConfig, resume: boolean): Promise<void> {
  post({ type: 'phase', runId, phase: 'loading' });
  const g = await device();
  const source = modelSource(cfg.model, (loaded, total, file) => post({ type: 'progress', runId, file, loaded, total }));
  const tokenizer = await ModelTokenizer.load(source);
  const data = await openRunData(cfg, { readUpload: storage.readUpload });
  const sample = data.heldOut.length ? data.heldOut : [data.sources[0].next()];
  const fits = await checkRunFits(
    source,
    g.limits.maxStorageBufferBindingSize,
    cfg,
    tokenizer,
    sample.map((p) => p.question),
  );
  const notice = promptNotice(cfg, tokenizer);
  post({ type: 'phase', runId, phase: 'loading', message: notice ? `${fits} Note: ${notice}` : fits });
  const { config, weights } = await loadModel(source, g);
  let session: GrpoSession | null = null;
  // The GPU buffers of this run are freed however it ends (a lost device has freed them already).
  try {
    const model = new LanguageModel(g, config, weights);
    session = await GrpoSession.open(
      { gpu: g, model, tokenizer, config: cfg, data, rewards: builtinRewards(cfg.rewards), storage: storage.runStorage(runId), checkpointAtStart: true },
      {
        resume,
        events: {
          restored: (_, history) => {
            for (const metrics of history.metrics) post({ type: 'step', runId, metrics, completions: [] });
            for (const p of history.passAtK.adapter) post({ type: 'passk', runId, step: p.step, which: 'adapter', passAtK: p.passAtK });
          },
          phase: (phase, note) => post({ type: 'phase', runId, phase, message: phase === 'evaluating' ? note : undefined }),
          step: async ({ metrics, rollouts }) => {
            const completions = completionViews(rollouts, tokenizer);
            await storage.writeCompletions(runId, completions);
            await storage.updateRunInfo(runId, { steps: metrics.step });
            post({ type: 'step', runId, metrics, completions });
          },
          passAtK: (step, which, passAtK) => post({ type: 'passk', runId, step, which, passAtK }),
          checkpoint: (step) => post({ type: 'checkpoint', runId, step }),
        },
      },
    );
    if (session.resumed) post({ type: 'checkpoint', runId, step: session.resumed.step });
    if (active) {
      active.session = session;
      if (active.paused) session.pause();
      if (active.stop) session.stop();
    }
    const { outcome, step } = await session.run();
    const status = outcome === 'finished' ? 'done' : 'stopped';
    await storage.updateRunInfo(runId, { status, steps: step });
    post({ type: 'phase', runId, phase: status });
  } finally {
    session?.destroy();
    destroyWeights(weights);
  }
}

/** Run (or resume) with recovery from lost devices: re-acquire a device and resume from the newest checkpoint. */
async function startRun(runId: string, cfg: RunConfig, resume: boolean): Promise<void> {
  if (active) {
    post({ type: 'error', runId, message: `Run ${active.runId} is still training: stop it before starting another.` });
    return;
  }
  if (exploring) {
    post({ type: 'error', runId, message: `The pass@k explorer is sampling run ${exploring.runId}: cancel it before starting a run.` });
    return;
  }
  active = { runId, session: null, paused: false, stop: false };
  try {
    for (let recoveries = 0; ; recoveries++) {
      try {
        await runTraining(runId, cfg, resume);
        return;
      } catch (e) {
        const lost = e instanceof GpuDeviceLostError ? e : gpu?.lost;
        if (!lost || recoveries >= MAX_DEVICE_RECOVERIES) throw e;
        post({ type: 'phase', runId, phase: 'loading', message: `The GPU device was lost (${lost.reason}); resuming from the last checkpoint.` });
        gpu = null;
        resume = true;
        active.session = null;
      }
    }
  } catch (e) {
    await storage.updateRunInfo(runId, { status: 'error' }).catch(() => {});
    post({ type: 'error', runId, message: e instanceof Error ? e.message : String(e) });
  } finally {
    active = null;
  }
}

/**
 * The pass@k explorer (DESIGN.md §9.3): the first `problems` held-out problems of a stored run, n
 * samples each from the base model and from the run's adapter, at the run's temperature, completion
 * length and prompt format, graded by its accuracy reward; comparePassAtK is what `webgrpo eval
 * --compare-base` runs, so the same problems and seed give the same counts.
 */
async function explore(msg: Extract<ToWorker, { type: 'explore' }>): Promise<void> {
  const { runId } = msg;
  if (active || exploring) {
    post({ type: 'explore-stopped', runId, message: `The GPU is busy with run ${active?.runId ?? exploring?.runId}: wait for it to finish.` });
    return;
  }
  const job = { runId, cancelled: false };
  exploring = job;
  try {
    const run = await storage.readRunInfo(runId);
    if (!run) throw new Error(`Run ${runId} is not in browser storage.`);
    const cfg = run.settings;
    const data = await openRunData(cfg, { readUpload: storage.readUpload });
    const problems = data.heldOut.slice(0, msg.problems);
    if (problems.length === 0) throw new Error(`Run ${runId} has no held-out problems (eval_problems is 0).`);
    const g = await device();
    const source = modelSource(cfg.model);
    const tokenizer = await ModelTokenizer.load(source);
    const { config, weights } = await loadModel(source, g);
    const model = new LanguageModel(g, config, weights);
    let adapter: LoraAdapter | null = null;
    try {
      adapter = await LoraAdapter.load(await storage.adapterSource(runId), g, config);
      model.adapter = adapter;
      const result = await comparePassAtK(model, tokenizer, problems, {
        samples: msg.samples,
        temperature: cfg.grpo.temperature,
        maxNewTokens: cfg.grpo.maxCompletionLength,
        seed: msg.seed,
        promptFormat: promptFormat(cfg, tokenizer),
        grade: accuracyGrade(accuracyReward(cfg.data)),
        onProgress: (done, total) => post({ type: 'explore-progress', runId, done, total }),
        isCancelled: () => job.cancelled,
      });
      post({ type: 'explore-result', runId, result });
    } finally {
      adapter?.destroy();
      destroyWeights(weights);
    }
  } catch (e) {
    const message = e instanceof EvaluationCancelled ? 'Cancelled.' : e instanceof Error ? e.message : String(e);
    post({ type: 'explore-stopped', runId, message });
  } finally {
    exploring = null;
  }
}

async function preview(msg: Extract<ToWorker, { type: 'preview' }>): Promise<void> {
  const tokenizer = await ModelTokenizer.load(modelSource(msg.model));
  const { sources } = await openRunData({ ...defaultRunConfig(), data: msg.data, evalProblems: 0 }, { readUpload: storage.readUpload });
  const train = sources[0];
  const rows = train.problems?.slice(0, 5) ?? Array.from({ length: 5 }, () => train.next());
  const prompt = tokenizer.decode(chatPromptIds(tokenizer, rows[0].question, promptFormat(msg, tokenizer)));
  post({ type: 'preview', rows: rows.map((r) => ({ question: r.question, answer: r.answer, gold: extractGold(r.answer) })), size: train.size, prompt });
}

async function hello(): Promise<void> {
  try {
    post({ type: 'device', info: describeDevice(await device()) });
  } catch (e) {
    if (e instanceof WebGpuUnavailableError) post({ type: 'no-webgpu', message: e.message });
    else throw e;
  }
}

self.onmessage = (event: MessageEvent<ToWorker>) => {
  const msg = event.data;
  const fail = (e: unknown) => post({ type: 'error', message: e instanceof Error ? e.message : String(e) });
  switch (msg.type) {
    case 'hello':
      hello().catch(fail);
      break;
    case 'preview':
      preview(msg).catch(fail);
      break;
    case 'start':
      storage
        .saveRunInfo({ id: msg.runId, settings: msg.settings, status: 'running', created: new Date().toISOString(), steps: 0 })
        .then(() => startRun(msg.runId, msg.settings, false))
        .catch(fail);
      break;
    case 'resume':
      storage
        .readRunInfo(msg.runId)
        .then(async (run) => {
          if (!run) throw new Error(`Run ${msg.runId} is not in browser storage.`);
          await storage.updateRunInfo(msg.runId, { status: 'running' });
          await startRun(msg.runId, run.settings, true);
        })
        .catch(fail);
      break;
    case 'pause':
      if (active) active.paused = true;
      active?.session?.pause();
      break;
    case 'continue':
      if (active) active.paused = false;
      active?.session?.continue();
      break;
    case 'stop':
      if (active) active.stop = true;
      active?.session?.stop();
      break;
    case 'explore':
      explore(msg).catch(fail);
      break;
    case 'explore-cancel':
      if (exploring) exploring.cancelled = true;
      break;
    case 'lose-device':
      // As a driver reset would: the device reports loss and every later call fails.
      if (gpu) {
        gpu.lost = new GpuDeviceLostError('simulated loss');
        gpu.device.destroy();
      }
  }
};
