// Final-answer extraction and checking for math completions (DESIGN.md §10.1).
import { lastBoxed } from '../../data/answer.ts';
import { answersEqual } from './latex.ts';

export { lastBoxed };

/** The content of the last complete `<answer>…</answer>` block, trimmed, or null. */
function lastAnswerTag(text: string): string | null {
  let found: string | null = null;
  for (const m of text.matchAll(/<answer>([\s\S]*?)<\/answer>/g)) found = m[1]!.trim();
  return found;
}

/** The text after the last GSM8K-style `#### ` marker, up to the end of its line, or null. */
function lastHashAnswer(text: string): string | null {
  const k = text.lastIndexOf('####');
  if (k < 0) return null;
  const line = text
    .slice(k + 4)
    .split('\n')[0]!
    .trim();
  return line.length > 0 ? line : null;
}

/**
 * The final answer of a completion: the last `<answer>…</answer>` block (its last \boxed{} if it
 * has one, or its `#### N`), else the last \boxed{…} anywhere, else the last `#### N`. Null when
 * the completion states no final answer.
 */
export function extractAnswer(completion: string): string | null {
  const tagged = lastAnswerTag(completion);
  if (tagged !== null) return lastBoxed(tagged) ?? lastHashAnswer(tagged) ?? tagged;
  return lastBoxed(completion) ?? lastHashAnswer(completion);
}

/**
 * The gold answer string. A GSM8K solution ("… #### 1,234") gives the text after the last `####`
 * with `,` and `$` removed; anything else (MATH-style "\frac{14}{3}", One-shot RLVR's "12.8") is
 * used as given.
 */
export function normalizeGold(gold: string): string {
  const k = gold.lastIndexOf('####');
  if (k < 0) return gold.trim();
  return gold
    .slice(k + 4)
    .trim()
    .replace(/[,$]/g, '');
}

/** True when the answer string is equivalent to the gold string (see latex.ts for the rules). */
export function mathEquivalent(answer: string, gold: string): boolean {
  return answersEqual(answer, normalizeGold(gold));
}

/** 1 when the completion's last \boxed{} answer is equivalent to `gold`, else 0 (no box: 0). */
export function boxedAnswerReward(completion: string, gold: string): number {
  const answer = lastBoxed(completion);
  if (answer === null) return 0;
  return mathEquivalent(answer, gold) ? 1 : 0;
}

/**
 * Math accuracy reward: 1 when the completion's final answer (extractAnswer: `<answer>` tags,
 * \boxed{}, or `#### N`) is equivalent to `gold`, else 0 (also 0 when it states no answer).
 */
export function mathAccuracyReward(completion: string, gold: string): number {
  const answer = extractAnswer(completion);
  if (answer === null) return 0;
  return mathEquivalent(answer, gold) ? 1 : 0;
}
