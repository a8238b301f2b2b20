// The charts' pure data helpers: TensorBoard's debiased EMA, smoothing that leaves rows untouched,
// and several runs overlaid by step.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mergeRuns, overlayRuns, runKey, runSettingsLabel, smoothSeries, smoothedKey, withSmoothed } from '../src/app/series.ts';
import { defaultSettings } from '../src/app/recipe.ts';
import { createAppStore } from '../src/app/store.ts';

const close = (a: (number | undefined)[], b: (number | undefined)[]) => {
  assert.equal(a.length, b.length);
  a.forEach((x, i) => {
    if (b[i] === undefined) assert.equal(x, undefined, `index ${i}`);
    else assert.ok(Math.abs((x as number) - (b[i] as number)) < 1e-12, `index ${i}: ${x} vs ${b[i]}`);
  });
};

test('smoothSeries: the debiased EMA, by hand', () => {
  const w = 0.6;
  // ema1 = 0.4·1 = 0.4 → /0.4 = 1; ema2 = 0.6·0.4 + 0.4·3 = 1.44 → /(1−0.36) = 2.25;
  // ema3 = 0.6·1.44 + 0.4·2 = 1.664 → /(1−0.216) = 2.12244…
  close(smoothSeries([1, 3, 2], w), [1, 2.25, 1.664 / 0.784]);
  // The first point is its own value (debiased), a constant stays constant.
  close(smoothSeries([5, 5, 5, 5], 0.9), [5, 5, 5, 5]);
  // Missing values stay missing and do not advance t.
  close(smoothSeries([1, undefined, 3, Number.NaN, 2], w), [1, undefined, 2.25, undefined, 1.664 / 0.784]);
  // w = 0 is the raw series.
  assert.deepEqual(smoothSeries([1, 3, 2], 0), [1, 3, 2]);
  assert.throws(() => smoothSeries([1], 1), /weight/);
  assert.throws(() => smoothSeries([1], -0.1), /weight/);
});

test('smoothSeries follows a step with the expected lag and never overshoots', () => {
  const xs = [...Array(10).fill(0), ...Array(10).fill(1)];
  const s = smoothSeries(xs, 0.5) as number[];
  assert.ok(s.every((v) => v >= 0 && v <= 1));
  assert.ok(s[10] > 0 && s[10] < 1 && s[19] > 0.99);
});

test('withSmoothed adds smoothed keys in new rows and leaves the given rows as they are', () => {
  const rows = [
    { step: 1, reward: 1 },
    { step: 2, reward: 3 },
    { step: 3, reward: 2, kl: 0.5 },
  ];
  const copy = structuredClone(rows);
  const out = withSmoothed(rows, ['reward', 'kl'], 0.6);
  assert.deepEqual(rows, copy, 'stored rows unchanged');
  assert.equal(out[1].reward, 3, 'raw values kept');
  assert.equal(out[1][smoothedKey('reward')], 2.25);
  assert.equal(out[0][smoothedKey('kl')], undefined);
  assert.equal(out[2][smoothedKey('kl')], 0.5);
});

test('mergeRuns and overlayRuns: one row per step, each run under its own key', () => {
  const a = [
    { step: 1, reward: 0.1 },
    { step: 2, reward: 0.2 },
  ];
  const b = [
    { step: 2, reward: 0.5 },
    { step: 3, reward: 0.7, kl: 1 },
  ];
  assert.deepEqual(
    mergeRuns(
      [
        { id: 'a', rows: a },
        { id: 'b', rows: b },
      ],
      ['reward'],
    ),
    [
      { step: 1, [runKey('a', 'reward')]: 0.1 },
      { step: 2, [runKey('a', 'reward')]: 0.2, [runKey('b', 'reward')]: 0.5 },
      { step: 3, [runKey('b', 'reward')]: 0.7 },
    ],
  );
  const shown = [{ step: 3, reward: 0.9, entropy: 2 }];
  assert.deepEqual(overlayRuns(shown, [{ id: 'b', rows: b }], ['reward']), [
    { step: 2, [runKey('b', 'reward')]: 0.5 },
    { step: 3, [runKey('b', 'reward')]: 0.7, reward: 0.9, entropy: 2 },
  ]);
  assert.deepEqual(overlayRuns(shown, [], ['reward']), shown);
});

test('a run legend names its loss type, learning rate and G', () => {
  const s = defaultSettings();
  assert.equal(runSettingsLabel({ ...s, grpo: { ...s.grpo, lossType: 'dr_grpo', learningRate: 0.01, numGenerations: 8 } }), 'dr_grpo · lr 0.01 · G 8');
});

test('the store keeps the smoothing weight in [0, 0.99] and one entry per compared run', () => {
  const store = createAppStore();
  assert.equal(store.getState().smoothing, 0);
  store.getState().setSmoothing(2);
  assert.equal(store.getState().smoothing, 0.99);
  store.getState().setSmoothing(0.6);
  assert.equal(store.getState().smoothing, 0.6);
  const settings = defaultSettings();
  store.getState().setCompare('a', { id: 'a', settings, metrics: [] });
  store.getState().setCompare('b', { id: 'b', settings, metrics: [] });
  store.getState().setCompare('a', { id: 'a', settings, metrics: [] });
  assert.deepEqual(
    store.getState().compare.map((c) => c.id),
    ['b', 'a'],
  );
  store.getState().setCompare('b', null);
  assert.deepEqual(
    store.getState().compare.map((c) => c.id),
    ['a'],
  );
});
