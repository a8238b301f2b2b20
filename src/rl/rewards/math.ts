// Final-answer extraction and checking for math completions (DESIGN.md §10.1), with the verdicts of
// TRL's math verifier: the same extraction targets and priorities on both sides, then the
// equivalence rules of latex.ts.
import { lastBoxed } from '../../data/answer.ts';
import { answersEqual, judgeAnswers, normalizeAnswer, parseAnswer } from './latex.ts';

export { lastBoxed };

/** An extracted final answer and where it came from. */
type Extracted = { answer: string; source: string; at: number };

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

/** Every brace-matched `\boxed{…}` / `\fbox{…}`: content and span. */
function allBoxes(text: string): { content: string; start: number; end: number }[] {
  const out: { content: string; start: number; end: number }[] = [];
  const re = /\\(?:boxed|fbox)\s*\{/g;
  for (let m = re.exec(text); m; m = re.exec(text)) {
    let depth = 0;
    let end = -1;
    for (let i = m.index + m[0].length - 1; i < text.length; i++) {
      const c = text[i];
      if (c === '\\') i++;
      else if (c === '{') depth++;
      else if (c === '}' && --depth === 0) {
        end = i;
        break;
      }
    }
    if (end < 0) break; // unbalanced: no complete box from here on
    out.push({ content: text.slice(m.index + m[0].length, end), start: m.index, end: end + 1 });
    re.lastIndex = end + 1;
  }
  return out;
}

/** Text between two boxes that joins them into one answer ("\boxed{-2} and \boxed{1}"). */
const BOX_JOINER = /^(?:\s|[,;$]|\\[[\]()]|\\q?quad|\\[,;!]|\\text\s*\{\s*(?:and|or|,)?\s*\}|and|or)*$/;

/** The last run of adjacent boxes: one box, or several joined as a list "a, b". */
function lastBoxRun(text: string): Extracted | null {
  const boxes = allBoxes(text);
  if (boxes.length === 0) return null;
  let k = boxes.length - 1;
  const joined = (a: { end: number }, b: { start: number }) => b.start - a.end <= 200 && BOX_JOINER.test(text.slice(a.end, b.start));
  while (k > 0 && boxes[k - 1]!.end <= boxes[k]!.start && joined(boxes[k - 1]!, boxes[k]!)) k--;
  const run = boxes.slice(k);
  return { answer: run.map((b) => b.content).join(', '), source: run.length > 1 ? `${run.length} adjacent \\boxed{}` : '\\boxed{}', at: run[0]!.start };
}

/** Math environments: $$…$$ and \[…\] may span lines, $…$ and \(…\) may not. */
const LATEX_ENV = /\$\$([\s\S]{1,2000}?)\$\$|\\\[([\s\S]{1,2000}?)\\\]|\\\(([^\n]{1,1000}?)\\\)|(?<!\\)\$((?:\\\$|[^$\n]){1,1000}?)\$/g;

/** A number written in prose: 7,425,000 · 1 000 · 1,000.99 · 2,74 (decimal comma) · .4 · 2/3 · 28%. */
const PLAIN_NUMBER =
  /(?<![A-Za-z0-9.,\\])[-+]?(?:(?:\d{1,3}(?: \d{3})+|\d+) \d+\/\d+(?!\d|[.,]\d|\/)|0,\d+|\d{1,3}(?:,\d{3})+(?:\.\d+)?|\d{1,3}(?: \d{3})+(?!\d|[.,]\d)|\d+(?:[.,]\d+)?|\.\d+)(?:\s*\/\s*\d+(?!\d|[.,]\d))?/g;

const wholeNumber = new RegExp(`^${PLAIN_NUMBER.source}$`);

/** The plain-number text as a parseable number (separators removed, decimal comma → point). */
function plainValue(s: string): string {
  const mixed = /^([-+]?)([\d ]+) (\d+)\/(\d+)$/.exec(s);
  if (mixed) {
    // 4 4/9 = 40/9; an improper or undefined fraction part (11 6/6, 4 4/0) is no number (kept as text)
    const [, sign, whole, num, den] = mixed as unknown as [string, string, string, string, string];
    if (Number(den) === 0 || Number(num) >= Number(den)) return s;
    return `${sign === '-' ? '-' : ''}(${whole.replace(/ /g, '')}+${num}/${den})`;
  }
  let v = s.replace(/\s+(?=\d{3})/g, '');
  if (/^-?0,\d+$/.test(v) || /^-?\d+,\d{1,2}$/.test(v) || /^-?\d{4,},\d+$/.test(v)) v = v.replace(',', '.');
  return v.replace(/,/g, '').replace(/\s+/g, '');
}

/** The first math environment or plain number at the start of `rest`, or null. */
function leadingAnswer(rest: string): string | null {
  const s = rest.replace(/^[\s:]+/, '');
  LATEX_ENV.lastIndex = 0;
  const m = LATEX_ENV.exec(s);
  if (m && m.index === 0) return m[1] ?? m[2] ?? m[3] ?? m[4] ?? null;
  const boxed = /^\\boxed\s*\{/.exec(s);
  if (boxed) return allBoxes(s.slice(0, 2000))[0]?.content ?? null;
  PLAIN_NUMBER.lastIndex = 0;
  const n = PLAIN_NUMBER.exec(s);
  return n && n.index === 0 ? plainValue(n[0]) : null;
}

/** "The final answer is X. I hope it is correct" (tier 0) and "final answer … is X" / "answer is X" (tier 1), last of each. */
function anchoredAnswers(text: string): { hope: Extracted | null; plain: Extracted | null } {
  let hope: Extracted | null = null;
  let plain: Extracted | null = null;
  const re = /(?:final answer[^\n]{0,100}?\s|answer\s)is\b:?/gi;
  for (let m = re.exec(text); m; m = re.exec(text)) {
    const rest = text.slice(m.index + m[0].length, m.index + m[0].length + 2100);
    const ans = leadingAnswer(rest);
    if (ans === null || !parses(ans)) continue; // an anchored answer that does not parse gives way to the others
    const hoped = /^[\s:]*(?:\$\$[\s\S]*?\$\$|\\\[[\s\S]*?\\\]|\\\([^\n]*?\\\)|\$[^$\n]*\$|[^\s]+)\s?\.?\s?I hope/.test(rest);
    const e = { answer: ans, source: hoped ? '"final answer is … I hope"' : '"answer is …"', at: m.index };
    if (hoped) hope = e;
    else plain = e;
  }
  return { hope, plain };
}

const parses = (s: string) => {
  const n = normalizeAnswer(s);
  return n.length > 0 && parseAnswer(n) !== null;
};

/** The last math environment or prose number (by position) that parses, or null. */
function lastExpression(text: string): Extracted | null {
  const found: Extracted[] = [];
  let prose = '';
  let last = 0;
  LATEX_ENV.lastIndex = 0;
  for (let m = LATEX_ENV.exec(text); m; m = LATEX_ENV.exec(text)) {
    found.push({ answer: (m[1] ?? m[2] ?? m[3] ?? m[4])!, source: 'last math expression', at: m.index });
    if (found.length > 100) found.splice(0, 50);
    prose += text.slice(last, m.index) + ' '.repeat(m[0].length); // mask math out of the prose
    last = m.index + m[0].length;
  }
  prose += text.slice(last);
  const numbers: { raw: string; at: number }[] = [];
  PLAIN_NUMBER.lastIndex = 0;
  for (let m = PLAIN_NUMBER.exec(prose); m; m = PLAIN_NUMBER.exec(prose)) {
    numbers.push({ raw: m[0], at: m.index });
    if (numbers.length > 100) numbers.splice(0, 50); // only the last ones can win
  }
  for (const n of numbers.slice(-50)) found.push({ answer: plainValue(n.raw), source: 'last number', at: n.at });
  found.sort((a, b) => b.at - a.at);
  for (const e of found.slice(0, 50)) if (parses(e.answer)) return e;
  return found.find((e) => e.source === 'last math expression') ?? null; // unparsed: compared as text
}

/** Completions longer than this are graded on their last 64 KiB (the final answer is at the end). */
const MAX_SCAN = 65_536;

/**
 * The final answer of a text (a completion or a gold), first found: the last `<answer>…</answer>`
 * block (its own final answer, else all of it); the later of the last run of adjacent \boxed{} and
 * the last "final answer is X. I hope…"; the last `#### N`; the last "final answer … is X" /
 * "answer is X"; the whole text when it is one short expression; the last math environment or
 * prose number that parses. A gold may also be a short text answer ("Evelyn"). Null when the text
 * states none.
 */
function extractFinal(text0: string, gold = false): Extracted | null {
  const text = text0.length > MAX_SCAN ? text0.slice(-MAX_SCAN) : text0;
  const tagged = lastAnswerTag(text);
  if (tagged !== null) {
    const inner = extractFinal(tagged);
    return { answer: inner?.answer ?? tagged, source: `<answer> block${inner ? `, ${inner.source}` : ''}`, at: 0 };
  }
  const box = lastBoxRun(text);
  const { hope, plain } = anchoredAnswers(text);
  if (box && hope) return box.at > hope.at ? box : hope;
  if (box ?? hope) return (box ?? hope)!;
  const hash = lastHashAnswer(text);
  if (hash !== null) return { answer: hash.replace(/[$]/g, ''), source: '#### N', at: 0 };
  if (plain) return plain;
  const whole = text.trim();
  const prose = /(^|[^\\a-zA-Z])[a-zA-Z]{2,}\s+[a-zA-Z]{2,}/.test(whole);
  if (whole.length > 0 && whole.length <= 300 && !whole.includes('\n') && !prose && (parses(whole) || (gold && normalizeAnswer(whole).split(' ').length <= 2)))
    return { answer: wholeNumber.test(whole) ? plainValue(whole) : whole, source: 'whole text', at: 0 };
  return lastExpression(text);
}

/** The final answer string of a completion (see extractFinal), or null. */
export function extractAnswer(completion: string): string | null {
  return extractFinal(completion)?.answer ?? null;
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

/** The gold's final answer (extractFinal on the gold text), or null when it states none. */
export function extractGold(gold: string): string | null {
  if (gold.includes('####')) return normalizeGold(gold);
  const hit = goldCache.get(gold);
  if (hit !== undefined) return hit;
  const answer = extractFinal(gold, true)?.answer ?? null;
  if (goldCache.size >= 4096) goldCache.clear();
  goldCache.set(gold, answer);
  return answer;
}

/** Golds repeat across a group's completions: their extraction is cached. */
const goldCache = new Map<string, string | null>();

/** True when the answer string is equivalent to the gold (the gold's final answer is extracted first). */
export function mathEquivalent(answer: string, gold: string): boolean {
  const g = extractGold(gold);
  return g !== null && answersEqual(answer, g);
}

/** 1 when the completion's last \boxed{} answer is equivalent to `gold`, else 0 (no box: 0). */
export function boxedAnswerReward(completion: string, gold: string): number {
  const answer = lastBoxed(completion.length > MAX_SCAN ? completion.slice(-MAX_SCAN) : completion);
  if (answer === null) return 0;
  return mathEquivalent(answer, gold) ? 1 : 0;
}

/**
 * Math accuracy reward: 1 when the completion's final answer (extractFinal) is equivalent to the
 * gold's final answer, else 0 (also 0 when it states no answer).
 */
export function mathAccuracyReward(completion: string, gold: string): number {
  const answer = extractAnswer(completion);
  if (answer === null) return 0;
  return mathEquivalent(answer, gold) ? 1 : 0;
}

/** A readable account of a grading: what was extracted on each side and why they (do not) match. */
export type Explanation = {
  reward: number | null;
  answer: string | null;
  answerSource: string | null;
  gold: string | null;
  goldSource: string | null;
  why: string;
};

export function explainMath(completion: string, gold: string, boxedOnly = false): Explanation {
  const g = gold.includes('####') ? { answer: normalizeGold(gold), source: '#### N', at: 0 } : extractFinal(gold, true);
  const a = boxedOnly ? ((x) => (x === null ? null : { answer: x, source: 'last \\boxed{}', at: 0 }))(lastBoxed(completion)) : extractFinal(completion);
  if (g === null)
    return {
      reward: null,
      answer: a?.answer ?? null,
      answerSource: a?.source ?? null,
      gold: null,
      goldSource: null,
      why: 'the gold states no answer: not applicable',
    };
  if (a === null) return { reward: 0, answer: null, answerSource: null, gold: g.answer, goldSource: g.source, why: 'the completion states no final answer' };
  const j = judgeAnswers(a.answer, g.answer);
  return { reward: j.equal ? 1 : 0, answer: j.answer, answerSource: a.source, gold: j.gold, goldSource: g.source, why: j.how };
}
