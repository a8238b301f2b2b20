// The web app's state: every worker message through the pure reducer, progress/ETA and the CSV export.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { applyMessage, createAppStore, initialData, metricsCsv, newRun, runProgress, type AppData } from '../src/app/store.ts';
import type { CompletionView, FromWorker } from '../src/app/protocol.ts';
import { defaultSettings } from '../src/app/recipe.ts';
import type { StepMetrics } from '../src/rl/grpo.ts';

const RUN = 'run-1';

function withRun(): AppData {
  return { ...initialData(), run: newRun(RUN, defaultSettings()) };
}

function metrics(step: number, extra: Partial<StepMetrics> = {}): StepMetrics {
  return { step, reward: step / 10, step_time: 2, num_tokens: 1000 * step, ...extra } as StepMetrics;
}

function completion(step: number, reward: number): CompletionView {
  return {
    step,
    group: 0,
    prompt: 'What is 1 + 2?',
    answer: '3',
    tokens: ['\\boxed{3}'],
    entropies: [0.5],
    reward,
    rewards: { math: reward },
    advantage: reward - 0.5,
  };
}

function applyAll(state: AppData, msgs: FromWorker[]): AppData {
  return msgs.reduce(applyMessage, state);
}

test('device and no-webgpu messages set the device panel state', () => {
  const info = { adapter: 'google swiftshader', features: ['subgroups'], limits: { maxBufferSize: 2 ** 30 }, cpu: true };
  let s = applyMessage(initialData(), { type: 'no-webgpu', message: 'navigator.gpu is missing' });
  assert.equal(s.noWebGpu, 'navigator.gpu is missing');
  assert.equal(s.device, null);
  s = applyMessage(s, { type: 'device', info });
  assert.deepEqual(s.device, info);
  assert.equal(s.noWebGpu, null, 'a device clears an earlier no-webgpu message');
});

test('preview replaces the preview; errors with and without a run id', () => {
  let s = applyMessage(withRun(), { type: 'preview', rows: [{ question: 'What is 2 + 3?', answer: '5' }], size: null, prompt: '<p>' });
  assert.deepEqual(s.preview, { rows: [{ question: 'What is 2 + 3?', answer: '5' }], size: null, prompt: '<p>' });
  s = applyMessage(s, { type: 'error', message: 'no tokenizer' });
  assert.equal(s.error, 'no tokenizer');
  assert.equal(s.run!.phase, 'loading', 'an error without a run id leaves the run alone');
  s = applyMessage(s, { type: 'error', runId: 'other', message: 'other run failed' });
  assert.equal(s.error, 'other run failed');
  assert.equal(s.run!.phase, 'loading', "another run's error does not fail the shown run");
  s = applyMessage(s, { type: 'error', runId: RUN, message: 'device lost' });
  assert.equal(s.run!.phase, 'error');
  assert.equal(s.run!.message, 'device lost');
  assert.equal(s.error, 'device lost');
});

test('progress, phase and checkpoint messages update the shown run', () => {
  let s = applyMessage(withRun(), { type: 'progress', runId: RUN, file: 'model.safetensors', loaded: 50, total: 200 });
  assert.deepEqual(s.run!.download, { file: 'model.safetensors', loaded: 50, total: 200 });
  s = applyMessage(s, { type: 'phase', runId: RUN, phase: 'loading', message: 'tokenizer' });
  assert.deepEqual(s.run!.download, { file: 'model.safetensors', loaded: 50, total: 200 }, 'loading keeps the download bar');
  assert.equal(s.run!.message, 'tokenizer');
  s = applyMessage(s, { type: 'phase', runId: RUN, phase: 'training' });
  assert.equal(s.run!.phase, 'training');
  assert.equal(s.run!.message, null);
  assert.equal(s.run!.download, null, 'leaving the loading phase hides the download bar');
  s = applyMessage(s, { type: 'checkpoint', runId: RUN, step: 4 });
  assert.equal(s.run!.lastCheckpoint, 4);
});

test('messages about another run (or when no run is shown) change nothing', () => {
  const s0 = withRun();
  const others: FromWorker[] = [
    { type: 'progress', runId: 'old', file: 'x', loaded: 1, total: 2 },
    { type: 'phase', runId: 'old', phase: 'done' },
    { type: 'step', runId: 'old', metrics: metrics(1), completions: [completion(1, 1)] },
    { type: 'passk', runId: 'old', step: 0, which: 'base', passAtK: { 1: 0.5 } },
    { type: 'passk', runId: 'old', step: 3, which: 'adapter', passAtK: { 1: 0.6 } },
    { type: 'checkpoint', runId: 'old', step: 1 },
  ];
  for (const m of others) {
    assert.equal(applyMessage(s0, m), s0, `${m.type} for another run`);
    const none = initialData();
    assert.equal(applyMessage(none, { ...m, runId: RUN } as FromWorker), none, `${m.type} with no run shown`);
  }
});

test('steps append in order; a step re-sent after a resume replaces it and drops later ones', () => {
  let s = applyAll(
    withRun(),
    [1, 2, 3].map((i) => ({ type: 'step', runId: RUN, metrics: metrics(i), completions: [completion(i, i)] }) as FromWorker),
  );
  assert.deepEqual(
    s.run!.metrics.map((m) => m.step),
    [1, 2, 3],
  );
  assert.equal(s.run!.completions[0].step, 3, 'completions are the newest step');
  // The run resumed from the checkpoint after step 2: step 3 is trained again.
  s = applyMessage(s, { type: 'step', runId: RUN, metrics: metrics(3, { reward: 0.9 }), completions: [completion(3, 1)] });
  assert.deepEqual(
    s.run!.metrics.map((m) => m.step),
    [1, 2, 3],
  );
  assert.equal(s.run!.metrics[2].reward, 0.9);
  // A resume from step 1 re-sends step 2: steps 2 and 3 of the lost timeline go.
  s = applyMessage(s, { type: 'step', runId: RUN, metrics: metrics(2, { reward: 0.7 }), completions: [] });
  assert.deepEqual(
    s.run!.metrics.map((m) => [m.step, m.reward]),
    [
      [1, 0.1],
      [2, 0.7],
    ],
  );
  assert.deepEqual(s.run!.completions, []);
});

test('pass@k: base is kept apart, adapter points are ordered by step and replaced per step', () => {
  const s = applyAll(withRun(), [
    { type: 'passk', runId: RUN, step: 0, which: 'base', passAtK: { 1: 0.4, 8: 0.8 } },
    { type: 'passk', runId: RUN, step: 10, which: 'adapter', passAtK: { 1: 0.5 } },
    { type: 'passk', runId: RUN, step: 5, which: 'adapter', passAtK: { 1: 0.45 } },
    { type: 'passk', runId: RUN, step: 20, which: 'adapter', passAtK: { 1: 0.6 } },
    { type: 'passk', runId: RUN, step: 10, which: 'adapter', passAtK: { 1: 0.55 } },
  ]);
  assert.deepEqual(s.run!.basePassAtK, { 1: 0.4, 8: 0.8 });
  assert.deepEqual(s.run!.passAtK, [
    { step: 5, passAtK: { 1: 0.45 } },
    { step: 10, passAtK: { 1: 0.55 } },
    { step: 20, passAtK: { 1: 0.6 } },
  ]);
});

test('the reducer never mutates the state it is given', () => {
  const s0 = withRun();
  const frozen = JSON.stringify(s0);
  applyAll(s0, [
    { type: 'step', runId: RUN, metrics: metrics(1), completions: [completion(1, 1)] },
    { type: 'passk', runId: RUN, step: 1, which: 'adapter', passAtK: { 1: 1 } },
    { type: 'phase', runId: RUN, phase: 'done' },
  ]);
  assert.equal(JSON.stringify(s0), frozen);
});

test('the zustand store applies messages and settings actions', () => {
  const store = createAppStore();
  assert.equal(store.getState().preset, 'quick');
  store.getState().showRun(newRun(RUN, defaultSettings()));
  store.getState().apply({ type: 'step', runId: RUN, metrics: metrics(1), completions: [] });
  assert.equal(store.getState().run!.metrics.length, 1);
  store.getState().apply({ type: 'preview', rows: [], size: 3, prompt: 'p' });
  store.getState().setData({ kind: 'builtin', spec: 'countdown' });
  assert.deepEqual(store.getState().settings.data, { kind: 'builtin', spec: 'countdown' });
  assert.equal(store.getState().preview, null, 'changing the data clears the preview');
  store.getState().setSettings((s) => ({ ...s, grpo: { ...s.grpo, maxSteps: 5 } }));
  assert.equal(store.getState().settings.grpo.maxSteps, 5);
  store.getState().apply({ type: 'error', message: 'x' });
  store.getState().clearError();
  assert.equal(store.getState().error, null);
  assert.equal(store.getState().notice, null);
  store.getState().setNotice('Resumed run run-1 from its checkpoint at step 2');
  assert.equal(store.getState().notice, 'Resumed run run-1 from its checkpoint at step 2');
  store.getState().setPreset('dapo', { ...defaultSettings(), dynamicSampling: true });
  assert.equal(store.getState().preset, 'dapo');
  assert.equal(store.getState().settings.dynamicSampling, true);
  store.getState().showRun(null);
  assert.equal(store.getState().run, null);
});

test('runProgress: step, seconds per step over the last 5 steps, ETA and tokens/s', () => {
  const run = newRun(RUN, { ...defaultSettings(), grpo: { ...defaultSettings().grpo, maxSteps: 20 } });
  assert.deepEqual(runProgress(run), { step: 0, maxSteps: 20, secondsPerStep: null, etaSeconds: null, tokensPerSecond: null });
  run.metrics = [metrics(1, { step_time: 4, num_tokens: 500 })];
  assert.deepEqual(runProgress(run), { step: 1, maxSteps: 20, secondsPerStep: 4, etaSeconds: 76, tokensPerSecond: null });
  // steps 1..7, step_time = step, 100 tokens per second of step time
  run.metrics = [];
  let tokens = 0;
  for (let i = 1; i <= 7; i++) {
    tokens += 100 * i;
    run.metrics.push(metrics(i, { step_time: i, num_tokens: tokens }));
  }
  const p = runProgress(run);
  assert.equal(p.step, 7);
  assert.equal(p.secondsPerStep, (3 + 4 + 5 + 6 + 7) / 5);
  assert.equal(p.etaSeconds, 5 * 13);
  // tokens of steps 4..7 over their step times
  assert.equal(p.tokensPerSecond, (100 * (4 + 5 + 6 + 7)) / (4 + 5 + 6 + 7));
});

test('metricsCsv: a header of every metric seen, one row per step, blanks for missing and NaN', () => {
  const csv = metricsCsv([
    { step: 1, reward: 0.25, 'rewards/math/mean': 0.25 },
    { step: 2, reward: 0.5, kl: Number.NaN, grad_norm: 1e-3 },
  ]);
  assert.equal(csv, 'step,reward,rewards/math/mean,kl,grad_norm\n1,0.25,0.25,,\n2,0.5,,,0.001\n');
  assert.equal(metricsCsv([]), 'step\n');
});

test('the pass@k explorer: progress, result and stop messages of its run update it; other runs are ignored', () => {
  const store = createAppStore(withRun());
  store.getState().startExplorer(RUN);
  assert.deepEqual(store.getState().explorer, { runId: RUN, status: 'running', done: 0, total: 0, result: null, message: null });
  store.getState().apply({ type: 'explore-progress', runId: RUN, done: 16, total: 64 });
  store.getState().apply({ type: 'explore-progress', runId: 'other', done: 1, total: 2 });
  assert.deepEqual([store.getState().explorer?.done, store.getState().explorer?.total], [16, 64]);
  const result = {
    samples: 2,
    seed: 0,
    problems: [],
    curves: { base: [0, 0], adapter: [0, 0] },
    sizes: { both: 0, 'base-only': 0, 'adapter-only': 0, neither: 0 },
    crossing: null,
  };
  store.getState().apply({ type: 'explore-result', runId: RUN, result });
  assert.equal(store.getState().explorer?.status, 'done');
  assert.equal(store.getState().explorer?.done, 64);
  assert.equal(store.getState().explorer?.result, result);
  // The run itself is untouched by explorer messages.
  assert.equal(store.getState().run?.phase, 'loading');
  store.getState().startExplorer(RUN);
  store.getState().apply({ type: 'explore-stopped', runId: RUN, message: 'Cancelled.' });
  assert.deepEqual([store.getState().explorer?.status, store.getState().explorer?.message, store.getState().explorer?.result], ['stopped', 'Cancelled.', null]);
});
