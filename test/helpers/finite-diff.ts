// Finite-difference gradient checks: central differences of a scalar function, by coordinate or
// along a direction, and an assertion that names the worst coordinate.

/** An array whose elements can be perturbed in place (Float64Array, Float32Array, number[]). */
export interface MutableArray {
  [index: number]: number;
  readonly length: number;
}

/** Central difference (f(h) − f(−h)) / (2h) of `f` at 0: `f(delta)` evaluates at a point moved by `delta`. */
export function centralDifference(f: (delta: number) => number, h: number): number {
  return (f(h) - f(-h)) / (2 * h);
}

/**
 * ∂f/∂x[i] by central differences: x[i] is set to x[i] + h, then x[i] − h, in place (f reads x),
 * and restored exactly afterwards.
 */
export function partialDerivative(f: () => number, x: MutableArray, i: number, h: number): number {
  const x0 = x[i];
  try {
    return centralDifference((delta) => {
      x[i] = x0 + delta;
      return f();
    }, h);
  } finally {
    x[i] = x0;
  }
}

/** The numeric gradient of `f` with respect to every coordinate of `x` (perturbed in place, see partialDerivative). */
export function numericGradient(f: () => number, x: MutableArray, h: number): Float64Array {
  const out = new Float64Array(x.length);
  for (let i = 0; i < x.length; i++) out[i] = partialDerivative(f, x, i, h);
  return out;
}

/**
 * Directional derivative of `f` along `direction` (one array per array of `values`) by central
 * differences: every values[k][j] is set to its own value + delta · direction[k][j] in place for
 * delta = ±h, and all are restored exactly afterwards.
 */
export function directionalDerivative(f: () => number, values: readonly MutableArray[], direction: readonly ArrayLike<number>[], h: number): number {
  const saved = values.map((t) => Float64Array.from({ length: t.length }, (_, j) => t[j]));
  const restore = () => values.forEach((t, k) => saved[k].forEach((v, j) => (t[j] = v)));
  try {
    return centralDifference((delta) => {
      values.forEach((t, k) => saved[k].forEach((v, j) => (t[j] = v + delta * direction[k][j])));
      return f();
    }, h);
  } finally {
    restore();
  }
}

/**
 * Throws unless |analytic[i] − numeric[i]| ≤ tol for every i (`tol` a number, or a function of
 * both values for per-coordinate tolerances). The message names the worst coordinate (largest
 * error relative to its tolerance), its values, and its absolute and relative errors.
 */
export function assertGradient(
  analytic: ArrayLike<number>,
  numeric: ArrayLike<number>,
  tol: number | ((analytic: number, numeric: number) => number),
  what = 'gradient',
): void {
  if (analytic.length !== numeric.length) throw new Error(`${what}: length ${analytic.length} vs ${numeric.length}`);
  let worst = -1,
    worstRatio = 0,
    failed = 0;
  for (let i = 0; i < analytic.length; i++) {
    const t = typeof tol === 'number' ? tol : tol(analytic[i], numeric[i]);
    const err = Math.abs(analytic[i] - numeric[i]);
    if (err <= t) continue;
    failed++;
    const ratio = Number.isNaN(err) ? Infinity : err / t;
    if (worst < 0 || ratio > worstRatio) (worst = i), (worstRatio = ratio);
  }
  if (failed === 0) return;
  const a = analytic[worst],
    n = numeric[worst];
  const err = Math.abs(a - n);
  throw new Error(
    `${what}: ${failed} of ${analytic.length} coordinates off; worst at [${worst}]: analytic ${a} vs finite differences ${n} ` +
      `(abs error ${err}, relative ${err / Math.abs(n)}, tolerance ${typeof tol === 'number' ? tol : tol(a, n)})`,
  );
}
