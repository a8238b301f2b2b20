// TinyZero Countdown reward (DESIGN.md §10.3): reach `target` with an arithmetic equation that uses
// each of `numbers` exactly once. Parsed by a small recursive-descent parser, never eval.

/** Value of an arithmetic expression over + - * / and parentheses (unary ±), or null if malformed. */
export function evaluateArithmetic(expr: string): number | null {
  const toks = expr.match(/\d+(?:\.\d+)?|[-+*/()]|\S/g) ?? [];
  let i = 0;
  const peek = () => toks[i];
  function primary(): number | null {
    const t = toks[i++];
    if (t === undefined) return null;
    if (t === '(') {
      const v = sum();
      if (v === null || toks[i++] !== ')') return null;
      return v;
    }
    if (t === '-' || t === '+') {
      const v = primary();
      return v === null ? null : t === '-' ? -v : v;
    }
    return /^\d+(\.\d+)?$/.test(t) ? Number(t) : null;
  }
  function product(): number | null {
    let v = primary();
    while (v !== null && (peek() === '*' || peek() === '/')) {
      const op = toks[i++];
      if (peek() === '*' || peek() === '/') return null; // ** and // are not allowed
      const r = primary();
      if (r === null) return null;
      v = op === '*' ? v * r : v / r;
    }
    return v;
  }
  function sum(): number | null {
    let v = product();
    while (v !== null && (peek() === '+' || peek() === '-')) {
      const op = toks[i++];
      const r = product();
      if (r === null) return null;
      v = op === '+' ? v + r : v - r;
    }
    return v;
  }
  if (toks.length === 0) return null;
  const v = sum();
  return v !== null && i === toks.length ? v : null;
}

export interface CountdownScores {
  /** Reward for a correct equation. */
  score: number;
  /** Reward for an answer that is present but wrong (wrong value, wrong numbers or malformed). */
  formatScore: number;
}

/**
 * TinyZero's `compute_score`: the last `<answer>…</answer>` is the equation. No answer → 0. If it
 * has only digits, + - * / ( ) . and spaces, uses exactly the given numbers (each once, as a
 * multiset) and evaluates to within 1e-5 of the target → `score` (1.0); any other answer →
 * `formatScore` (0.1), as in TinyZero. An equation with "=" is not accepted (TinyZero rejects it too).
 */
export function countdownReward(
  completion: string,
  numbers: readonly number[],
  target: number,
  { score = 1.0, formatScore = 0.1 }: Partial<CountdownScores> = {},
): number {
  let equation: string | null = null;
  for (const m of completion.matchAll(/<answer>([\s\S]*?)<\/answer>/g)) equation = m[1]!.trim();
  if (equation === null) return 0;
  if (!/^[\d+\-*/().\s]+$/.test(equation)) return formatScore;
  const used = (equation.match(/\d+/g) ?? []).map(Number).sort((a, b) => a - b);
  const given = [...numbers].sort((a, b) => a - b);
  if (used.length !== given.length || used.some((u, k) => u !== given[k])) return formatScore;
  const value = evaluateArithmetic(equation);
  if (value === null || !Number.isFinite(value)) return formatScore;
  return Math.abs(value - target) < 1e-5 ? score : formatScore;
}
