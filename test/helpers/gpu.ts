// Shared test plumbing: one GPU device per test file, seeded random data, error measures.

import { after, test } from 'node:test';
import { acquireGpu } from '../../src/gpu/device.ts';
import type { Gpu } from '../../src/gpu/runtime.ts';
import type { WeightDType } from '../../src/gpu/tensor.ts';

let shared: Promise<Gpu> | null = null;

// Registered when a test file imports this module, so it runs once after the whole file: one
// device (and one set of compiled pipelines) per file.
after(async () => {
  if (!shared) return;
  const gpu = await shared;
  shared = null;
  // Destroying a device with work still in flight crashes Dawn: wait for it first.
  await gpu.sync();
  gpu.destroy();
});

/** The test file's GPU (SwiftShader here), in debug mode so kernel errors are named. */
export function testGpu(): Promise<Gpu> {
  shared ??= acquireGpu({ debug: true });
  return shared;
}

/** Deterministic PRNG (mulberry32) so failures reproduce. */
export { seededRandom as rng } from '../../src/gpu/random.ts';
import { seededRandom as rng } from '../../src/gpu/random.ts';

/** `n` uniform values in [-scale, scale). */
export function randomArray(n: number, seed: number, scale = 1): Float32Array {
  const next = rng(seed);
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) out[i] = (next() * 2 - 1) * scale;
  return out;
}

function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) throw new Error(`length ${a.length} vs ${b.length}`);
  let worst = 0;
  for (let i = 0; i < a.length; i++) {
    const d = Math.abs(a[i] - b[i]);
    if (!(d <= worst)) worst = Number.isNaN(d) ? Infinity : d;
  }
  return worst;
}

/** Throws with a useful message when `actual` differs from `expected` by more than `tol`. */
export function assertClose(actual: ArrayLike<number>, expected: ArrayLike<number>, tol: number, what = 'values'): void {
  const d = maxAbsDiff(actual, expected);
  if (!(d <= tol)) {
    let at = 0;
    for (let i = 0; i < actual.length; i++)
      if (!(Math.abs(actual[i] - expected[i]) <= tol)) {
        at = i;
        break;
      }
    throw new Error(`${what}: max abs diff ${d} > ${tol} (first at [${at}]: got ${actual[at]}, want ${expected[at]})`);
  }
}

/** Every WeightMatrix storage dtype, for kernels that read weights. */
export const WEIGHT_DTYPES: readonly WeightDType[] = ['f32', 'f16', 'bf16'];

/**
 * Registers one test per kernel variant (e.g. `['workgroup', 'flat']`, WEIGHT_DTYPES), named
 * `name (variant)` or `name(variant)` when `name` is a function.
 */
export function testEachVariant<V extends string>(
  variants: readonly V[],
  name: string | ((variant: V) => string),
  body: (variant: V) => Promise<void> | void,
): void {
  for (const variant of variants) test(typeof name === 'string' ? `${name} (${variant})` : name(variant), () => body(variant));
}

/**
 * Runs `body` for each variant in turn inside one test (awaiting each before the next); an error
 * is rethrown with the variant prefixed to its message.
 */
export async function forEachVariant<V extends string>(variants: readonly V[], body: (variant: V) => Promise<void> | void): Promise<void> {
  for (const variant of variants) {
    try {
      await body(variant);
    } catch (e) {
      if (e instanceof Error) e.message = `[${variant}] ${e.message}`;
      throw e;
    }
  }
}
