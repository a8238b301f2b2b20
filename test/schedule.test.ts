import { test } from 'node:test';
import assert from 'node:assert/strict';
import { learningRate, warmupSteps, type ScheduleConfig } from '../src/train/schedule.ts';

// Values below are worked out by hand from transformers' optimization.py lambdas:
//   warmup: step / max(1, W);  linear: max(0, (T − step) / max(1, T − W));
//   cosine: max(0, 0.5 (1 + cos(π · 2 · 0.5 · (step − W) / max(1, T − W)))).

function close(actual: number, expected: number, what: string): void {
  assert.ok(Math.abs(actual - expected) <= 1e-15 + 1e-12 * Math.abs(expected), `${what}: got ${actual}, want ${expected}`);
}

function pin(cfg: ScheduleConfig, total: number, pins: [number, number][]): void {
  for (const [step, want] of pins) close(learningRate(step, total, cfg), want, `${cfg.scheduler} step ${step}/${total}`);
}

test('linear: warmup from 0, then linear decay to 0 at totalSteps', () => {
  pin({ lr: 1e-3, scheduler: 'linear', warmupSteps: 10 }, 100, [
    [0, 0],
    [1, 1e-4],
    [5, 5e-4],
    [9, 9e-4],
    [10, 1e-3], // warmup boundary: (100 − 10) / 90 = 1
    [11, 1e-3 * (89 / 90)],
    [55, 5e-4], // 45 / 90
    [99, 1e-3 / 90],
    [100, 0],
    [130, 0], // past the end: clamped at 0 by max(0, ·)
  ]);
  // No warmup: decays from the full lr at step 0.
  pin({ lr: 2, scheduler: 'linear' }, 4, [
    [0, 2],
    [1, 1.5],
    [2, 1],
    [3, 0.5],
    [4, 0],
  ]);
});

test('cosine: warmup, then a half cosine (num_cycles 0.5) to 0', () => {
  pin({ lr: 1e-3, scheduler: 'cosine', warmupSteps: 10 }, 100, [
    [0, 0],
    [9, 9e-4],
    [10, 1e-3], // progress 0
    [40, 0.75e-3], // progress 1/3: 0.5 (1 + cos(π/3)) = 0.75
    [55, 0.5e-3], // progress 1/2: 0.5 (1 + cos(π/2)) = 0.5
    [70, 0.25e-3], // progress 2/3: 0.5 (1 + cos(2π/3)) = 0.25
    [100, 0], // progress 1
  ]);
  pin({ lr: 1, scheduler: 'cosine' }, 4, [
    [0, 1],
    [1, 0.5 * (1 + Math.SQRT1_2)], // progress 1/4: 0.5 (1 + cos(π/4))
    [2, 0.5],
    [3, 0.5 * (1 - Math.SQRT1_2)],
    [4, 0],
    [6, 0.5], // not clamped past the end (as transformers): progress 1.5 → 0.5 (1 + cos(1.5π))
  ]);
});

test('constant ignores warmup; constant_with_warmup warms up then holds', () => {
  pin({ lr: 3e-5, scheduler: 'constant', warmupSteps: 10 }, 50, [
    [0, 3e-5],
    [5, 3e-5],
    [49, 3e-5],
  ]);
  pin({ lr: 4e-5, scheduler: 'constant_with_warmup', warmupSteps: 4 }, 50, [
    [0, 0],
    [1, 1e-5],
    [2, 2e-5],
    [3, 3e-5],
    [4, 4e-5],
    [1000, 4e-5],
  ]);
});

test('warmup steps: explicit count wins, else ceil(total · warmupRatio); a fractional warmupSteps is a ratio', () => {
  assert.equal(warmupSteps(30, { warmupRatio: 0.05 }), 2); // ceil(1.5)
  assert.equal(warmupSteps(100, { warmupRatio: 0.1 }), 10);
  assert.equal(warmupSteps(100, { warmupSteps: 7, warmupRatio: 0.5 }), 7);
  assert.equal(warmupSteps(50, { warmupSteps: 0.1 }), 5);
  assert.equal(warmupSteps(50, {}), 0);
  pin({ lr: 1, scheduler: 'linear', warmupRatio: 0.05 }, 30, [
    [0, 0],
    [1, 0.5], // W = 2
    [2, 1], // (30 − 2) / 28
    [16, 0.5], // 14 / 28
  ]);
  // Warmup longer than training: warmup ramp, then 0 (linear) once past W.
  pin({ lr: 1, scheduler: 'linear', warmupSteps: 10 }, 5, [
    [7, 0.7],
    [10, 0],
  ]);
});

test('bad inputs are rejected', () => {
  assert.throws(() => learningRate(-1, 10, { lr: 1, scheduler: 'linear' }), /step/);
  assert.throws(() => learningRate(0, 10, { lr: 1, scheduler: 'polynomial' as never }), /Unknown lr scheduler/);
});
