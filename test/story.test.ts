// Story tasks for stories260K: the four rewards, the `stories:<task>` generator and its spec, the
// built-in stories260k model in the run config.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { loadDataset, parseDatasetSpec } from '../src/data/dataset.ts';
import { STORY_OPENINGS, STORY_WORDS } from '../src/data/stories.ts';
import {
  BUILTIN_REWARDS,
  happyEndingReward,
  mentionWordReward,
  noRepeatReward,
  storySentences,
  storySuccess,
  targetLengthReward,
} from '../src/rl/rewards/index.ts';
import { accuracyReward } from '../src/rl/run.ts';
import { defaultRunConfig, modelSpec, parseModelSpec, runConfigFromJson, runConfigToJson } from '../src/rl/run-config.ts';

test('mention_word: a whole word, any case, plurals; null without a word', () => {
  assert.equal(mentionWordReward(' She saw a big, red Ball.', 'ball'), 1);
  assert.equal(mentionWordReward(' They played with balls all day', 'ball'), 1);
  assert.equal(mentionWordReward(' The balloon flew away.', 'ball'), 0);
  assert.equal(mentionWordReward(' A football.', 'ball'), 0);
  assert.equal(mentionWordReward('', 'ball'), 0);
  assert.equal(BUILTIN_REWARDS.mention_word(' a dog', { word: 'dog' }), 1);
  assert.equal(BUILTIN_REWARDS.mention_word(' a dog', {}), null);
});

test('happy_ending: the last sentence holds a happy word', () => {
  assert.equal(happyEndingReward(' Tom was sad. Then he smiled.'), 1);
  assert.equal(happyEndingReward(' Tom was happy. Then it rained.'), 0);
  // An unfinished last piece is the last sentence.
  assert.equal(happyEndingReward(' Tom was sad. They were happy and'), 1);
  assert.equal(happyEndingReward(''), 0);
  assert.equal(happyEndingReward(' They were unhappy.'), 0);
  assert.deepEqual(storySentences('A b. C d! E?  f'), ['A b.', 'C d!', 'E?', 'f']);
});

test('target_length: 1 at the target, falling linearly to 0 at 0 and 2T', () => {
  const words = (n: number) => Array.from({ length: n }, () => 'la').join(' ');
  assert.equal(targetLengthReward(words(20), 20), 1);
  assert.equal(targetLengthReward(words(15), 20), 0.75);
  assert.equal(targetLengthReward(words(25), 20), 0.75);
  assert.equal(targetLengthReward(words(45), 20), 0);
  assert.equal(targetLengthReward('', 20), 0);
  assert.equal(BUILTIN_REWARDS.target_length(words(30), {}), 1, 'default target 30 words');
  assert.equal(BUILTIN_REWARDS.target_length(words(10), { target_words: 10 }), 1);
  assert.throws(() => targetLengthReward('a', 0));
});

test('no_repeat: no sentence twice (by its words, any case)', () => {
  assert.equal(noRepeatReward(' Lily ran. She played. Lily ran!'), 0);
  assert.equal(noRepeatReward(' Lily ran. She played. lily RAN.'), 0);
  assert.equal(noRepeatReward(' Lily ran. She played.'), 1);
  assert.equal(noRepeatReward('  '), 0);
});

test('pass@k success of a story task: binary tasks as they are, target_length within 20%', () => {
  const words = (n: number) => Array.from({ length: n }, () => 'la').join(' ');
  const ok = storySuccess('target_length');
  assert.equal(ok(words(17), { target_words: 20 }), 1);
  assert.equal(ok(words(15), { target_words: 20 }), 0);
  assert.equal(storySuccess('mention_word')(' a cat', { word: 'cat' }), 1);
  assert.equal(accuracyReward({ kind: 'builtin', spec: 'stories:no_repeat' })(' A. A.', {}), 0);
  assert.equal(accuracyReward({ kind: 'builtin', spec: 'arithmetic:2' }), BUILTIN_REWARDS.math);
});

test('stories:<task> specs', () => {
  assert.deepEqual(parseDatasetSpec('stories:happy_ending'), { kind: 'stories', task: 'happy_ending' });
  assert.deepEqual(parseDatasetSpec('stories:mention_word:Ball'), { kind: 'stories', task: 'mention_word', word: 'ball' });
  assert.throws(() => parseDatasetSpec('stories:dragons'), /stories:mention_word/);
  assert.throws(() => parseDatasetSpec('stories:no_repeat:ball'), /bad dataset spec/);
  assert.throws(() => parseDatasetSpec('stories:mention_word:two words'), /bad dataset spec/);
});

test('the story generator: openings as plain prompts, the row naming what the task checks, seeded and restorable', async () => {
  const ds = await loadDataset('stories:mention_word', { seed: 3 });
  assert.equal(ds.size, null);
  const rows = Array.from({ length: 40 }, () => ds.next());
  for (const p of rows) {
    assert.ok(STORY_OPENINGS.includes(p.question), p.question);
    assert.ok(STORY_WORDS.includes(p.row.word as string));
    assert.equal(p.answer, p.row.word);
    assert.equal(p.source, 'stories:mention_word');
  }
  assert.ok(new Set(rows.map((p) => p.row.word)).size > 3, 'words vary');
  const again = await loadDataset('stories:mention_word', { seed: 3 });
  assert.deepEqual(again.next(), rows[0]);
  const cursor = ds.cursor();
  const next = ds.next();
  again.restore(cursor);
  assert.deepEqual(again.next(), next);

  const fixed = await loadDataset('stories:mention_word:tree');
  assert.equal(fixed.next().row.word, 'tree');
  const length = (await loadDataset('stories:target_length')).next();
  assert.equal(typeof length.row.target_words, 'number');
  assert.equal(length.answer, String(length.row.target_words));
  const happy = (await loadDataset('stories:happy_ending')).next();
  assert.equal(happy.answer, '');
});

test('the built-in stories260k model: config.json names public/models/stories260k; {kind: builtin} stays tiny-arith', () => {
  assert.equal(modelSpec({ kind: 'builtin' }), 'public/models/tiny-arith');
  assert.equal(modelSpec({ kind: 'builtin', name: 'stories260k' }), 'public/models/stories260k');
  assert.deepEqual(parseModelSpec('public/models/tiny-arith'), { kind: 'builtin' });
  assert.deepEqual(parseModelSpec('public/models/stories260k/'), { kind: 'builtin', name: 'stories260k' });
  const cfg = {
    ...defaultRunConfig(),
    model: { kind: 'builtin' as const, name: 'stories260k' as const },
    data: { kind: 'builtin' as const, spec: 'stories:happy_ending' },
  };
  const json = runConfigToJson(cfg);
  assert.equal(json.model, 'public/models/stories260k');
  assert.deepEqual(runConfigFromJson(JSON.parse(JSON.stringify(json))), cfg);
});
