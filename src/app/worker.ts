// The training worker: owns the GPU device, the model and the run, and reports to the page through
// the typed messages of protocol.ts. A run is checkpointed to OPFS every `saveEvery` steps; after a
// tab reload (the page sends `resume`) or a lost GPU device (the worker itself re-acquires one) it
// continues from its newest checkpoint exactly as an uninterrupted run would.

/// <reference lib="webworker" />
/// <reference types="vite/client" />

import { acquireGpu, WebGpuUnavailableError } from '../gpu/device.ts';
import { GpuDeviceLostError, type Gpu } from '../gpu/runtime.ts';
import { destroyWeights, loadModel, readModelConfig } from '../model/weights.ts';
import { bindingLimitProblem, trainingMemory } from '../train/memory.ts';
import { LanguageModel } from '../model/model.ts';
import { openSource, openUrlFolder, type ModelSource } from '../io/source.ts';
import { ModelTokenizer } from '../io/tokenizer.ts';
import { LoraAdapter } from '../lora/adapter.ts';
import { datasetFromBytes, loadDataset, oneShotDataset, type Dataset, type Problem } from '../data/dataset.ts';
import { GrpoTrainer, type Rollout } from '../rl/grpo.ts';
import { checkpointFiles, parseCheckpoint } from '../rl/checkpoint.ts';
import { chatPromptIds, type PromptFormat } from '../rl/evaluate.ts';
import { accuracyReward, builtinRewards, heldOutPassAtK, heldOutProblems, problemReward, runConfigJson, takeProblems } from '../rl/run.ts';
import type { CompletionView, DataChoice, FromWorker, ModelChoice, RunPhase, RunSettings, ToWorker } from './protocol.ts';
import * as storage from './storage.ts';

declare const self: DedicatedWorkerGlobalScope;

const BUILTIN_MODEL_PATH = 'models/tiny-arith/';
/** A lost device is re-acquired and the run resumed at most this many times in a row. */
const MAX_DEVICE_RECOVERIES = 3;

function post(msg: FromWorker): void {
  self.postMessage(msg);
}

let gpu: Gpu | null = null;

async function device(): Promise<Gpu> {
  if (gpu && !gpu.lost) return gpu;
  gpu = await acquireGpu();
  return gpu;
}

function modelSource(choice: ModelChoice, onProgress?: (loaded: number, total: number | null, file: string) => void): ModelSource {
  switch (choice.kind) {
    case 'builtin':
      return openUrlFolder(new URL(import.meta.env.BASE_URL + BUILTIN_MODEL_PATH, self.location.origin).href, { onProgress });
    case 'hub':
      return openSource(`hf:${choice.repo}${choice.revision ? `@${choice.revision}` : ''}`, { onProgress });
    case 'local':
      return storage.opfsSource(storage.localModelFolder(choice.name));
  }
}

function modelName(choice: ModelChoice): string {
  return choice.kind === 'builtin' ? BUILTIN_MODEL_PATH.slice(0, -1) : choice.kind === 'hub' ? `hf:${choice.repo}` : choice.name;
}

/** The training data and the held-out problems of pass@k. */
async function openData(data: DataChoice, seed: number, evalProblems: number): Promise<{ train: Dataset; heldOut: Problem[]; heldOutNote: string | null }> {
  switch (data.kind) {
    case 'builtin': {
      const heldOut = await heldOutProblems(data.spec, evalProblems, seed);
      return { train: await loadDataset(data.spec, { seed }), heldOut, heldOutNote: null };
    }
    case 'one-shot': {
      const train = oneShotDataset(data.question, data.answer);
      return { train, heldOut: takeProblems(train, evalProblems), heldOutNote: 'pass@k is measured on the one training problem (a one-shot set has no held-out split)' };
    }
    case 'upload': {
      const train = await datasetFromBytes(data.fileName, await storage.readUpload(data.fileName), {
        seed, questionField: data.questionField || undefined, answerField: data.answerField || undefined, onBadRows: data.skipBadRows ? 'skip' : 'error',
      });
      return { train, heldOut: takeProblems(train, evalProblems), heldOutNote: `pass@k is measured on the first ${evalProblems} training rows (the file has no held-out split)` };
    }
    case 'hub': {
      const train = await loadDataset(data.spec, { seed });
      return { train, heldOut: takeProblems(train, evalProblems), heldOutNote: `pass@k is measured on the first ${evalProblems} rows of ${data.spec}` };
    }
  }
}

function promptFormat(s: Pick<RunSettings, 'systemPrompt' | 'plainPrompt'>): PromptFormat {
  return { systemPrompt: s.systemPrompt || undefined, plain: s.plainPrompt };
}

function completionViews(rollouts: Rollout[], tokenizer: ModelTokenizer): CompletionView[] {
  return rollouts.map((r) => ({
    step: r.step, group: r.group, prompt: r.prompt, answer: r.answer,
    tokens: r.completion_ids.map((id) => tokenizer.decode([id])),
    entropies: r.completion_entropies,
    reward: r.reward, rewards: r.rewards, advantage: r.advantage,
  }));
}

// -------------------------------------------------------------------------------------------------
// The run

/** Requests from the page that the training loop reads between steps. */
const control = { paused: false, stop: false, wake: null as (() => void) | null };
let activeRun: string | null = null;

async function runTraining(runId: string, settings: RunSettings, resume: boolean): Promise<void> {
  const phase = (p: RunPhase, message?: string) => post({ type: 'phase', runId, phase: p, message });
  phase('loading');
  const g = await device();
  const source = modelSource(settings.model, (loaded, total, file) => post({ type: 'progress', runId, file, loaded, total }));
  const tokenizer = await ModelTokenizer.load(source);
  const cfg = settings.grpo;
  const { train, heldOut, heldOutNote } = await openData(settings.data, cfg.seed, settings.evalProblems);
  await checkFits(source, g, settings, tokenizer, heldOut.length ? heldOut : [train.next()], (message) => phase('loading', message));
  const { config, weights } = await loadModel(source, g);
  // The GPU buffers of this run are freed however it ends (a lost device has freed them already).
  let adapter: LoraAdapter | null = null;
  try {
    const model = new LanguageModel(g, config, weights);
    const checkpoint = resume ? await storage.newestRunCheckpoint(runId) : null;
    adapter = checkpoint
      ? await LoraAdapter.load(storage.opfsSource(`${checkpoint.folder}/adapter`), g, config)
      : LoraAdapter.init(g, config, settings.lora, { seed: cfg.seed, baseModel: modelName(settings.model) });
    const trained = adapter;
    model.adapter = trained;

    const format = promptFormat(settings);
    const datasetSpec = settings.data.kind === 'builtin' || settings.data.kind === 'hub' ? settings.data.spec : 'math';
    const evaluate = () =>
      heldOutPassAtK(model, tokenizer, heldOut, { samples: settings.evalSamples, temperature: cfg.temperature, maxNewTokens: cfg.maxCompletionLength, promptFormat: format, accuracy: accuracyReward(datasetSpec) });
    const trainer = new GrpoTrainer(
      model, tokenizer,
      { ...cfg, promptFormat: format, groupFilter: { accuracy: settings.filterAccuracy ?? undefined, dropZeroStd: settings.dynamicSampling } },
      () => train.next(),
      problemReward(builtinRewards(settings.rewards), tokenizer, cfg.maxCompletionLength),
    );

    let metrics = await storage.readMetrics(runId);
    const passk = await storage.readPassAtK(runId);
    if (checkpoint) {
      const dir = checkpoint.folder;
      const optimizer = await storage.readFile(`${dir}/optimizer.safetensors`);
      const state = await storage.readText(`${dir}/trainer_state.json`);
      const restored = parseCheckpoint(optimizer!, state!, `${dir}/optimizer.safetensors`);
      trainer.loadOptimizerState(restored.optimizer);
      trainer.step = restored.trainer.step;
      trainer.tokensSeen = restored.trainer.tokensSeen;
      train.restore(restored.trainer.dataCursor);
      // History continues from the checkpoint: steps after it are trained again.
      metrics = metrics.filter((m) => m.step <= trainer.step);
      passk.adapter = passk.adapter.filter((p) => p.step <= trainer.step);
      await storage.writeMetrics(runId, metrics);
      await storage.writePassAtK(runId, passk);
      for (const m of metrics) post({ type: 'step', runId, metrics: m, completions: [] });
      for (const p of passk.adapter) post({ type: 'passk', runId, step: p.step, which: 'adapter', passAtK: p.passAtK });
      post({ type: 'checkpoint', runId, step: trainer.step });
    } else {
      await storage.writeMetrics(runId, (metrics = []));
      passk.adapter = [];
      await storage.writeRunFile(runId, 'config.json', JSON.stringify(runConfigJson({
        model: modelName(settings.model),
        dataset: settings.data.kind === 'one-shot' ? { one_shot_problem: settings.data.question, one_shot_answer: settings.data.answer } : datasetSpec,
        rewardNames: settings.rewards, filterAccuracy: settings.filterAccuracy, dynamicSampling: settings.dynamicSampling,
        grpo: cfg, lora: trained.config,
        extra: { system_prompt: settings.systemPrompt || null, plain_prompt: settings.plainPrompt, eval_problems: settings.evalProblems, eval_samples: settings.evalSamples },
      }), null, 2));
    }

    const evalAt = async (step: number) => {
      phase('evaluating', heldOutNote ?? undefined);
      const result = await evaluate();
      passk.adapter = [...passk.adapter.filter((p) => p.step !== step), { step, passAtK: result }];
      await storage.writePassAtK(runId, passk);
      post({ type: 'passk', runId, step, which: 'adapter', passAtK: result });
    };
    if (settings.evalProblems > 0) {
      if (passk.base) post({ type: 'passk', runId, step: 0, which: 'base', passAtK: passk.base });
      else {
        phase('evaluating', heldOutNote ?? undefined);
        model.adapter = null;
        passk.base = await evaluate();
        model.adapter = trained;
        await storage.writePassAtK(runId, passk);
        post({ type: 'passk', runId, step: 0, which: 'base', passAtK: passk.base });
      }
    }

    const save = async () => {
      const files = checkpointFiles({
        adapter: await trained.toPeft(),
        optimizer: await trainer.optimizerState(),
        trainer: { step: trainer.step, tokensSeen: trainer.tokensSeen, dataCursor: train.cursor() },
      });
      await storage.saveRunCheckpoint(runId, trainer.step, files);
      post({ type: 'checkpoint', runId, step: trainer.step });
    };
    // A run that starts fresh gets a checkpoint at step 0, so even a reload before the first save resumes it.
    if (!checkpoint) await save();

    while (trainer.step < cfg.maxSteps && !control.stop) {
      if (control.paused) {
        phase('paused');
        await new Promise<void>((wake) => (control.wake = wake));
        continue;
      }
      phase('training');
      const { metrics: m, rollouts } = await trainer.trainStep();
      const completions = completionViews(rollouts, tokenizer);
      metrics.push(m);
      await storage.writeMetrics(runId, metrics);
      await storage.writeCompletions(runId, completions);
      await storage.updateRunInfo(runId, { steps: trainer.step });
      post({ type: 'step', runId, metrics: m, completions });
      if (settings.evalEvery > 0 && settings.evalProblems > 0 && trainer.step % settings.evalEvery === 0 && trainer.step < cfg.maxSteps) await evalAt(trainer.step);
      if (trainer.step % settings.saveEvery === 0 || trainer.step === cfg.maxSteps || control.stop) await save();
    }

    const finished = trainer.step >= cfg.maxSteps;
    const { adapterConfig, safetensors } = await trained.toPeft();
    await storage.writeRunFile(runId, 'adapter/adapter_config.json', JSON.stringify(adapterConfig, null, 2));
    await storage.writeRunFile(runId, 'adapter/adapter_model.safetensors', safetensors);
    if (settings.evalProblems > 0 && !passk.adapter.some((p) => p.step === trainer.step)) await evalAt(trainer.step);
    await storage.updateRunInfo(runId, { status: finished ? 'done' : 'stopped', steps: trainer.step });
    phase(finished ? 'done' : 'stopped');
  } finally {
    adapter?.destroy();
    destroyWeights(weights);
  }
}

/**
 * Before downloading weights: the training step's memory (reported) and the device's storage-binding
 * limit (checked), with prompts as long as the longest sample prompt plus a full completion.
 */
async function checkFits(source: ModelSource, g: Gpu, settings: RunSettings, tokenizer: ModelTokenizer, sample: Problem[], report: (message: string) => void): Promise<void> {
  const config = await readModelConfig(source);
  const { torch_dtype: dtype } = await source.readJson<{ torch_dtype?: string }>('config.json');
  const promptTokens = Math.max(...sample.map((p) => chatPromptIds(tokenizer, p.question, promptFormat(settings)).length));
  const shape = {
    batch: (settings.grpo.promptsPerStep * settings.grpo.numGenerations) / settings.grpo.gradientAccumulationSteps,
    tokens: promptTokens + settings.grpo.maxCompletionLength,
    loraRank: settings.lora.r, full: false, checkpoint: true, weightBytes: dtype === 'float32' ? 4 : 2,
  };
  const problem = bindingLimitProblem(config, shape, g.limits.maxStorageBufferBindingSize);
  if (problem) throw new Error(`This run does not fit this device: ${problem}`);
  report(`A training step needs about ${(trainingMemory(config, shape).total / 2 ** 30).toFixed(2)} GiB of GPU memory.`);
}

/** Run (or resume) with recovery from lost devices: re-acquire a device and resume from the newest checkpoint. */
async function startRun(runId: string, settings: RunSettings, resume: boolean): Promise<void> {
  if (activeRun) {
    post({ type: 'error', runId, message: `Run ${activeRun} is still training: stop it before starting another.` });
    return;
  }
  activeRun = runId;
  Object.assign(control, { paused: false, stop: false, wake: null });
  try {
    for (let recoveries = 0; ; recoveries++) {
      try {
        await runTraining(runId, settings, resume);
        return;
      } catch (e) {
        const lost = e instanceof GpuDeviceLostError ? e : gpu?.lost;
        if (!lost || recoveries >= MAX_DEVICE_RECOVERIES) throw e;
        post({ type: 'phase', runId, phase: 'loading', message: `The GPU device was lost (${lost.reason}); resuming from the last checkpoint.` });
        gpu = null;
        resume = true;
      }
    }
  } catch (e) {
    const message = e instanceof Error ? e.message : String(e);
    await storage.updateRunInfo(runId, { status: 'error' }).catch(() => {});
    post({ type: 'error', runId, message });
  } finally {
    activeRun = null;
  }
}

async function preview(msg: Extract<ToWorker, { type: 'preview' }>): Promise<void> {
  const tokenizer = await ModelTokenizer.load(modelSource(msg.model));
  const { train } = await openData(msg.data, 0, 0);
  const rows = train.problems?.slice(0, 5) ?? Array.from({ length: 5 }, () => train.next());
  const prompt = tokenizer.decode(chatPromptIds(tokenizer, rows[0].question, promptFormat(msg)));
  post({ type: 'preview', rows: rows.map((r) => ({ question: r.question, answer: r.answer })), size: train.size, prompt });
}

async function hello(): Promise<void> {
  try {
    const g = await device();
    post({
      type: 'device',
      info: {
        adapter: `${g.adapter.description || g.adapter.architecture || 'WebGPU adapter'} (${g.adapter.vendor || 'unknown vendor'})`,
        features: [g.hasF16 ? 'shader-f16' : 'no shader-f16', g.hasSubgroups ? 'subgroups' : 'no subgroups'],
        limits: {
          maxBufferSize: g.limits.maxBufferSize,
          maxStorageBufferBindingSize: g.limits.maxStorageBufferBindingSize,
          maxComputeWorkgroupStorageSize: g.limits.maxComputeWorkgroupStorageSize,
          maxComputeInvocationsPerWorkgroup: g.limits.maxComputeInvocationsPerWorkgroup,
        },
        cpu: g.isCpuAdapter,
      },
    });
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
      control.paused = true;
      break;
    case 'continue':
      control.paused = false;
      control.wake?.();
      break;
    case 'stop':
      control.stop = true;
      control.paused = false;
      control.wake?.();
      break;
    case 'lose-device':
      // As a driver reset would: the device reports loss and every later call fails.
      if (gpu) {
        gpu.lost = new GpuDeviceLostError('simulated loss');
        gpu.device.destroy();
      }
      break;
  }
};
