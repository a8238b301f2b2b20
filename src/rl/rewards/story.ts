// Story rewards (DESIGN.md §10.7): simple, visible checks on a short story, for shaping the
// pretrained stories260K model. Each reads only the completion and a field of the row.

import type { StoryTask } from '../../data/stories.ts';

/** Words that make the last sentence a happy ending (lower case; matched as whole words). */
const HAPPY_WORDS: readonly string[] = [
  'happy',
  'happily',
  'smile',
  'smiled',
  'smiling',
  'laugh',
  'laughed',
  'love',
  'loved',
  'fun',
  'glad',
  'joy',
  'hug',
  'hugged',
  'friends',
  'best',
  'safe',
  'thank',
];

/** Target length of `target_length` when the row gives none (words). */
const DEFAULT_TARGET_WORDS = 30;

const escapeRegExp = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/** The words of a text: runs of letters, digits and apostrophes, lower case. */
function storyWords(text: string): string[] {
  return text.toLowerCase().match(/[a-z0-9']+/g) ?? [];
}

/** The sentences of a text: pieces ending at `.`, `!` or `?` (and a final unfinished piece), trimmed, non-empty. */
export function storySentences(text: string): string[] {
  return text
    .split(/(?<=[.!?])/)
    .map((s) => s.trim())
    .filter((s) => storyWords(s).length > 0);
}

/** 1 when the story mentions `word` (whole word, any case, also with a plural -s/-es), else 0. */
export function mentionWordReward(completion: string, word: string): number {
  const w = word.trim().toLowerCase();
  if (!w) return 0;
  return new RegExp(`(^|[^a-z])${escapeRegExp(w)}(s|es)?([^a-z]|$)`, 'i').test(completion) ? 1 : 0;
}

/** 1 when the story's last sentence holds a word of `happyWords`, else 0 (also 0 for an empty story). */
export function happyEndingReward(completion: string, happyWords: readonly string[] = HAPPY_WORDS): number {
  const last = storySentences(completion).at(-1);
  if (last === undefined) return 0;
  const happy = new Set(happyWords);
  return storyWords(last).some((w) => happy.has(w)) ? 1 : 0;
}

/** Closeness of the story's word count n to a target T: max(0, 1 − |n − T| / T). */
export function targetLengthReward(completion: string, target: number): number {
  if (!(target > 0)) throw new Error(`targetLengthReward: target must be > 0, got ${target}`);
  const n = storyWords(completion).length;
  return Math.max(0, 1 - Math.abs(n - target) / target);
}

/** 1 when no sentence occurs twice (compared by their words, any case), else 0; 0 for an empty story. */
export function noRepeatReward(completion: string): number {
  const sentences = storySentences(completion).map((s) => storyWords(s).join(' '));
  if (sentences.length === 0) return 0;
  return new Set(sentences).size === sentences.length ? 1 : 0;
}

type Row = { [k: string]: unknown };

/** The story rewards by name, as the registry takes them: `mention_word` is null without `row.word`. */
export const STORY_REWARDS: Record<StoryTask, (completion: string, row: Row) => number | null> = {
  mention_word: (completion, row) => (typeof row.word === 'string' && row.word.trim() ? mentionWordReward(completion, row.word) : null),
  happy_ending: (completion) => happyEndingReward(completion),
  target_length: (completion, row) => {
    const t = row.target_words;
    return targetLengthReward(completion, typeof t === 'number' && t > 0 ? t : DEFAULT_TARGET_WORDS);
  },
  no_repeat: (completion) => noRepeatReward(completion),
};

/**
 * Held-out grading of a story task for pass@k (1 = a success): the task's reward, with
 * `target_length` counted a success within 20% of the target.
 */
export function storySuccess(task: StoryTask): (completion: string, row: Row) => number | null {
  if (task !== 'target_length') return STORY_REWARDS[task];
  return (completion, row) => {
    const r = STORY_REWARDS.target_length(completion, row);
    return r === null ? null : r >= 0.8 ? 1 : 0;
  };
}
