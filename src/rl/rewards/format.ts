// R1-style format reward (DESIGN.md §10.2).

/**
 * 1 when the completion is exactly one `<think>…</think>` block followed by one
 * `<answer>…</answer>` block (whitespace allowed around and between them, nothing else), else 0.
 * Looser than open-r1's `^<think>\n.*?\n</think>\n<answer>\n.*?\n</answer>$` about newlines, and
 * stricter about repeated tags (each tag must occur exactly once).
 */
export function formatReward(completion: string): number {
  for (const tag of ['<think>', '</think>', '<answer>', '</answer>']) {
    if (completion.split(tag).length !== 2) return 0;
  }
  return /^\s*<think>[\s\S]*?<\/think>\s*<answer>[\s\S]*?<\/answer>\s*$/.test(completion) ? 1 : 0;
}
