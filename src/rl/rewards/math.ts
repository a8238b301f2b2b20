// Final-answer extraction and checking for math completions (REFERENCE §6).

/** The content of the last brace-matched \boxed{…} in `text`, or null. */
export function lastBoxed(text: string): string | null {
  let found: string | null = null;
  let from = 0;
  for (;;) {
    const start = text.indexOf('\\boxed{', from);
    if (start < 0) return found;
    let depth = 0;
    let end = -1;
    for (let i = start + '\\boxed'.length; i < text.length; i++) {
      if (text[i] === '{') depth++;
      else if (text[i] === '}' && --depth === 0) {
        end = i;
        break;
      }
    }
    if (end < 0) return found; // unbalanced: no complete box from here on
    found = text.slice(start + '\\boxed{'.length, end);
    from = end + 1;
  }
}

/** A plain number written with optional sign, thousands separators, decimals or a leading $. */
function plainNumber(s: string): number | null {
  const cleaned = s.trim().replace(/^\\\$|^\$/, '').replace(/,(?=\d{3}\b)/g, '');
  return /^[-+]?(\d+\.?\d*|\.\d+)$/.test(cleaned) ? Number(cleaned) : null;
}

/** 1 when the completion's last \boxed{} answer equals `gold` as a number (or as text), else 0. */
export function boxedAnswerReward(completion: string, gold: string): number {
  const answer = lastBoxed(completion);
  if (answer === null) return 0;
  const a = plainNumber(answer), g = plainNumber(gold);
  if (a !== null && g !== null) return Math.abs(a - g) <= 1e-9 * Math.max(1, Math.abs(g)) ? 1 : 0;
  return answer.trim() === gold.trim() ? 1 : 0;
}
