// Answer extraction shared by datasets (gold answers) and the math reward (completions).

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
