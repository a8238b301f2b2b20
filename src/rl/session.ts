// One GRPO run, for the CLI and the page alike: create or resume it, evaluate before, every N steps
// and after, train step by step with pause/continue/stop, checkpoint, and report through events.
// What differs between the two lives behind RunStorage (run folders on disk, OPFS in the page) and
// in what the caller loads (model, tokenizer, rewards). Run folder layout: DESIGN.md §13; the session: §14.3.

import type { Gpu } from '../gpu/runtime.ts';
import { LoraAdapter } from '../lora/adapter.ts';
import type { LanguageModel } from '../model/model.ts';
import type { ModelSource } from '../io/source.ts';
import type { ModelTokenizer } from '../io/tokenizer.ts';
import { checkpointFiles, parseCheckpoint } from './checkpoint.ts';
import { UcbCurriculum } from './curriculum.ts';
import { GrpoTrainer, type Prompt, type Rollout, type StepMetrics } from './grpo.ts';
import { inspectionFile } from './inspect.ts';
import { accuracyReward, heldOutPassAtK, problemReward, promptFormat, type NamedReward, type RunData } from './run.ts';
import { describeData, modelSpec, runConfigToJson, type RunConfig } from './run-config.ts';

export type PassAtK = Record<number, number>;

/** passk.json: the base model's held-out pass@k and the adapter's at each evaluated step. */
export interface StoredPassAtK {
  base: PassAtK | null;
  adapter: { step: number; passAtK: PassAtK }[];
}

/** A complete checkpoint of a run: its step, where it is (for messages), its files and its adapter. */
export interface StoredCheckpoint {
  step: number;
  where: string;
  read(file: string): Promise<Uint8Array>;
  adapter: ModelSource;
}

/** A run's folder: files by relative path ("adapter/adapter_config.json"), and its checkpoints. */
export interface RunStorage {
  /** The file's text, or null when it does not exist. */
  readText(file: string): Promise<string | null>;
  write(file: string, data: string | Uint8Array): Promise<void>;
  append(file: string, text: string): Promise<void>;
  /** Write checkpoint-<step>/ so that it counts only once complete; returns where it is. */
  saveCheckpoint(step: number, files: Record<string, Uint8Array>): Promise<string>;
  newestCheckpoint(): Promise<StoredCheckpoint | null>;
}

type SessionPhase = 'evaluating' | 'training' | 'paused';

export interface SessionEvents {
  phase?(phase: SessionPhase, note?: string): void;
  /** A resumed run: the history up to its checkpoint (later steps are trained again). */
  restored?(checkpoint: StoredCheckpoint, history: { metrics: StepMetrics[]; passAtK: StoredPassAtK }): void;
  step?(update: { metrics: StepMetrics; rollouts: Rollout[]; etaSeconds: number }): void | Promise<void>;
  passAtK?(step: number, which: 'base' | 'adapter', passAtK: PassAtK): void;
  checkpoint?(step: number, where: string): void;
}

export interface SessionParts {
  gpu: Gpu;
  /** The base model, loaded; the session attaches its adapter. */
  model: LanguageModel;
  tokenizer: ModelTokenizer;
  config: RunConfig;
  data: RunData;
  rewards: NamedReward[];
  storage: RunStorage;
  /** Where --init-adapter is read from (when the config names one). */
  initAdapter?: ModelSource;
  /** Checkpoint a fresh run at step 0, so that it can resume before its first save (the page). */
  checkpointAtStart?: boolean;
}

/** How a run() ended: finished all steps, stopped early (adapter saved and evaluated), or interrupted (checkpoint only). */
export interface SessionResult {
  outcome: 'finished' | 'stopped' | 'interrupted';
  step: number;
  before: PassAtK;
  after: PassAtK;
  /** The checkpoint an interrupted run left. */
  checkpoint?: string;
}

const METRICS = 'metrics.jsonl';
const ROLLOUTS = 'rollouts.jsonl';
const PASSK = 'passk.json';

/** Lines of a JSONL file whose `step` is at most `step`. */
function linesUpTo(text: string | null, step: number): string {
  return (text ?? '')
    .split('\n')
    .filter((l) => l && (JSON.parse(l) as { step: number }).step <= step)
    .map((l) => `${l}\n`)
    .join('');
}

export class GrpoSession {
  private paused = false;
  private wake: (() => void) | null = null;
  private request: 'stop' | 'interrupt' | null = null;
  /** Seconds of held-out evaluation since the last step's metrics line (reported in the next one as timing/eval). */
  private evalSeconds = 0;

  private constructor(
    private readonly parts: SessionParts,
    readonly config: RunConfig,
    readonly adapter: LoraAdapter,
    private readonly trainer: GrpoTrainer,
    private passk: StoredPassAtK,
    private readonly events: SessionEvents,
    private readonly resumedFrom: StoredCheckpoint | null,
  ) {}

  /**
   * A new run (config.json and empty logs written), or with `resume` the run in `storage` continued
   * from its newest checkpoint: adapter, optimizer, trainer position and data cursor restored, logs
   * cut back to the checkpoint's step.
   */
  static async open(parts: SessionParts, opts: { resume: boolean; events?: SessionEvents }): Promise<GrpoSession> {
    const { gpu, model, storage, data } = parts;
    const events = opts.events ?? {};
    const checkpoint = opts.resume ? await storage.newestCheckpoint() : null;
    if (opts.resume && !checkpoint) throw new Error('this run has no checkpoint to resume from');
    const adapterSource = checkpoint?.adapter ?? parts.initAdapter;
    const adapter = adapterSource
      ? await LoraAdapter.load(adapterSource, gpu, model.config)
      : LoraAdapter.init(gpu, model.config, parts.config.lora, { seed: parts.config.grpo.seed, baseModel: modelSpec(parts.config.model) });
    // The run records the adapter it trains (an --init-adapter brings its own LoRA settings).
    const config: RunConfig = { ...parts.config, lora: adapter.config };
    model.adapter = adapter;
    try {
      const trainer = GrpoSession.trainer(parts, config, data);
      let passk: StoredPassAtK = { base: null, adapter: [] };
      if (checkpoint) {
        const restored = parseCheckpoint(
          await checkpoint.read('optimizer.safetensors'),
          new TextDecoder().decode(await checkpoint.read('trainer_state.json')),
          `${checkpoint.where}/optimizer.safetensors`,
        );
        trainer.restore({ ...restored.trainer, optimizer: restored.optimizer });
        data.sources[0].restore(restored.trainer.dataCursor);
        const step = trainer.step;
        const metricsText = linesUpTo(await storage.readText(METRICS), step);
        await storage.write(METRICS, metricsText);
        await storage.write(ROLLOUTS, linesUpTo(await storage.readText(ROLLOUTS), step));
        const stored = await storage.readText(PASSK);
        if (stored) passk = JSON.parse(stored) as StoredPassAtK;
        passk.adapter = passk.adapter.filter((p) => p.step <= step);
        await storage.write(PASSK, JSON.stringify(passk));
        const metrics = metricsText
          .split('\n')
          .filter(Boolean)
          .map((l) => JSON.parse(l) as StepMetrics)
          .filter((m) => !Object.keys(m).some((k) => k.startsWith('eval/')));
        events.restored?.(checkpoint, { metrics, passAtK: passk });
      } else {
        await storage.write('config.json', `${JSON.stringify(runConfigToJson(config), null, 2)}\n`);
        await storage.write(METRICS, '');
        await storage.write(ROLLOUTS, '');
        await storage.write(PASSK, JSON.stringify(passk));
      }
      const session = new GrpoSession(parts, config, adapter, trainer, passk, events, checkpoint);
      if (!checkpoint && parts.checkpointAtStart) await session.saveCheckpoint();
      return session;
    } catch (e) {
      model.adapter = null;
      adapter.destroy();
      throw e;
    }
  }

  private static trainer(parts: SessionParts, config: RunConfig, data: RunData): GrpoTrainer {
    const { sources } = data;
    // Several sources are mixed by the DUMP UCB curriculum over their mean |advantage|.
    const curriculum =
      sources.length > 1
        ? new UcbCurriculum(
            sources.map((_, i) => describeData(config.data.kind === 'mix' ? config.data.sources[i] : config.data)),
            config.grpo.seed,
          )
        : null;
    const origin = new WeakMap<Prompt, number>();
    return new GrpoTrainer(
      parts.model,
      parts.tokenizer,
      config.grpo,
      () => {
        const source = curriculum ? curriculum.pick() : 0;
        const problem = sources[source].next();
        origin.set(problem, source);
        return problem;
      },
      problemReward(parts.rewards, parts.tokenizer, config.grpo.maxCompletionLength),
      {
        promptFormat: promptFormat(config, parts.tokenizer),
        groupFilter: { accuracy: config.filterAccuracy ?? undefined, dropZeroStd: config.dynamicSampling },
        onGroup: curriculum ? (prompt, meanAbs) => curriculum.update(origin.get(prompt)!, meanAbs) : undefined,
      },
    );
  }

  get step(): number {
    return this.trainer.step;
  }

  /** The checkpoint this session resumed from, or null for a new run. */
  get resumed(): StoredCheckpoint | null {
    return this.resumedFrom;
  }

  pause(): void {
    this.paused = true;
  }

  continue(): void {
    this.paused = false;
    this.wake?.();
  }

  /** End after the step in flight: checkpoint, save the adapter and evaluate it. */
  stop(): void {
    this.request = 'stop';
    this.continue();
  }

  /** End after the step in flight with a checkpoint only (Ctrl-C): the run resumes from it later. */
  interrupt(): void {
    this.request = 'interrupt';
    this.continue();
  }

  private async evaluate(withAdapter: boolean): Promise<PassAtK> {
    const { model, tokenizer, data } = this.parts;
    const cfg = this.config;
    this.events.phase?.('evaluating', data.heldOutNote ?? undefined);
    model.adapter = withAdapter ? this.adapter : null;
    const start = performance.now();
    try {
      return await heldOutPassAtK(model, tokenizer, data.heldOut, {
        samples: cfg.evalSamples,
        temperature: cfg.grpo.temperature,
        maxNewTokens: cfg.grpo.maxCompletionLength,
        promptFormat: promptFormat(cfg, tokenizer),
        accuracy: accuracyReward(cfg.data),
      });
    } finally {
      model.adapter = this.adapter;
      this.evalSeconds += (performance.now() - start) / 1000;
    }
  }

  private async evaluateAdapter(step: number): Promise<PassAtK> {
    const result = await this.evaluate(true);
    this.passk.adapter = [...this.passk.adapter.filter((p) => p.step !== step), { step, passAtK: result }];
    await this.parts.storage.write(PASSK, JSON.stringify(this.passk));
    this.events.passAtK?.(step, 'adapter', result);
    return result;
  }

  private async saveCheckpoint(): Promise<string> {
    const { optimizer, ...position } = await this.trainer.state();
    const files = checkpointFiles({
      adapter: await this.adapter.toPeft(),
      optimizer,
      trainer: { ...position, dataCursor: this.parts.data.sources[0].cursor() },
    });
    const where = await this.parts.storage.saveCheckpoint(position.step, files);
    this.events.checkpoint?.(position.step, where);
    return where;
  }

  /** Train to max_steps (or until stopped), evaluating held-out pass@k before, every eval_every steps and after. */
  async run(): Promise<SessionResult> {
    const { storage, data } = this.parts;
    const cfg = this.config;
    const maxSteps = cfg.grpo.maxSteps;
    const evaluating = cfg.evalProblems > 0 && data.heldOut.length > 0;
    if (evaluating) {
      if (!this.passk.base) {
        this.passk.base = await this.evaluate(false);
        await storage.write(PASSK, JSON.stringify(this.passk));
      }
      this.events.passAtK?.(0, 'base', this.passk.base);
    }
    const start = performance.now();
    const firstStep = this.trainer.step;
    while (this.trainer.step < maxSteps && this.request === null) {
      if (this.paused) {
        this.events.phase?.('paused');
        await new Promise<void>((wake) => (this.wake = wake));
        continue;
      }
      this.events.phase?.('training');
      const inspect = cfg.inspectEvery > 0 && (this.trainer.step + 1) % cfg.inspectEvery === 0;
      const { metrics, rollouts, inspection } = await this.trainer.trainStep({ inspect });
      metrics['timing/eval'] = this.evalSeconds;
      this.evalSeconds = 0;
      const step = this.trainer.step;
      await storage.append(METRICS, `${JSON.stringify(metrics)}\n`);
      await storage.append(ROLLOUTS, rollouts.map((r) => `${JSON.stringify(r)}\n`).join(''));
      if (inspection) await storage.write(inspectionFile(step), JSON.stringify(inspection));
      const elapsed = (performance.now() - start) / 1000;
      await this.events.step?.({ metrics, rollouts, etaSeconds: (elapsed / (step - firstStep)) * (maxSteps - step) });
      if (evaluating && cfg.evalEvery > 0 && step % cfg.evalEvery === 0 && step < maxSteps) {
        const during = await this.evaluateAdapter(step);
        await storage.append(METRICS, `${JSON.stringify({ step, ...Object.fromEntries(Object.entries(during).map(([k, v]) => [`eval/pass@${k}`, v])) })}\n`);
      }
      if ((cfg.saveEvery > 0 && step % cfg.saveEvery === 0) || this.request !== null) {
        const where = await this.saveCheckpoint();
        if (this.request === 'interrupt') return { outcome: 'interrupted', step, before: this.passk.base ?? {}, after: {}, checkpoint: where };
      }
    }
    const step = this.trainer.step;
    const { adapterConfig, safetensors } = await this.adapter.toPeft();
    await storage.write('adapter/adapter_config.json', `${JSON.stringify(adapterConfig, null, 2)}\n`);
    await storage.write('adapter/adapter_model.safetensors', safetensors);
    let after: PassAtK = {};
    if (evaluating) after = this.passk.adapter.find((p) => p.step === step)?.passAtK ?? (await this.evaluateAdapter(step));
    const before = this.passk.base ?? {};
    const passAtKNames = (p: PassAtK) => Object.fromEntries(Object.entries(p).map(([k, v]) => [`pass@${k}`, v]));
    await storage.write(
      'summary.json',
      `${JSON.stringify({ before: passAtKNames(before), after: passAtKNames(after), steps: step, seconds: (performance.now() - start) / 1000 }, null, 2)}\n`,
    );
    return { outcome: step >= maxSteps ? 'finished' : 'stopped', step, before, after };
  }

  /** Detach and free the adapter (the caller owns the model's weights). */
  destroy(): void {
    this.parts.model.adapter = null;
    this.adapter.destroy();
  }
}
