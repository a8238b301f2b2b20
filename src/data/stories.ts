// Story prompts for the pretrained stories260K model (DESIGN.md §11): plain story openings, each row
// naming what its story task checks (`stories:<task>`, rewards in src/rl/rewards/story.ts).

/** The story tasks, each a reward of the same name (src/rl/rewards/story.ts) and a `stories:<task>` dataset. */
const STORY_TASKS = ['mention_word', 'happy_ending', 'target_length', 'no_repeat'] as const;
export type StoryTask = (typeof STORY_TASKS)[number];

export interface StoryProblem {
  /** The story opening the model continues (a plain prompt: stories260K has no chat template). */
  question: string;
  /** What the task checks, shown as the row's answer: the target word, the target length, or ''. */
  answer: string;
  row: Record<string, unknown>;
}

/** Openings in TinyStories' style. */
export const STORY_OPENINGS: readonly string[] = [
  'Once upon a time, there was a',
  'Once upon a time, there was a little',
  'One day, a little girl named Lily',
  'One day, a boy named Tom',
  'Once upon a time, in a big forest, there lived a',
  'Lily and Ben were best friends. One day,',
  'There was a small dog named Max. He',
  'Once upon a time, a little bird',
];

/** Words `mention_word` asks for when the spec names none: ones TinyStories uses often. */
export const STORY_WORDS: readonly string[] = ['ball', 'dog', 'cat', 'tree', 'park', 'friend', 'sun', 'toy', 'bird', 'mom'];

/** Target lengths (words) of `target_length`. */
export const STORY_TARGET_WORDS: readonly number[] = [15, 20, 25, 30];

export interface StorySpec {
  task: StoryTask;
  /** `mention_word` only: the one word every row asks for (default: a word of STORY_WORDS per row). */
  word?: string;
}

/** "stories:<task>" or "stories:mention_word:<word>"; null when the task is not a story task. */
export function parseStorySpec(rest: string): StorySpec | null {
  const [task, word, ...more] = rest.split(':');
  if (!(STORY_TASKS as readonly string[]).includes(task) || more.length > 0) return null;
  if (word === undefined) return { task: task as StoryTask };
  if (task !== 'mention_word' || !/^[a-z]+$/i.test(word)) return null;
  return { task: 'mention_word', word: word.toLowerCase() };
}

/** One story prompt for a task, drawn with `random`. */
export function storyProblem(spec: StorySpec, random: () => number): StoryProblem {
  const pick = <T>(xs: readonly T[]) => xs[Math.floor(random() * xs.length)];
  const question = pick(STORY_OPENINGS);
  const row: Record<string, unknown> = { question, task: spec.task };
  let answer = '';
  if (spec.task === 'mention_word') {
    const word = spec.word ?? pick(STORY_WORDS);
    row.word = word;
    answer = word;
  } else if (spec.task === 'target_length') {
    const target = pick(STORY_TARGET_WORDS);
    row.target_words = target;
    answer = String(target);
  }
  row.answer = answer;
  return { question, answer, row };
}
