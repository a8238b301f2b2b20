import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { BUILTIN_REWARDS, mathAccuracyReward, normalizeGold } from '../src/rl/rewards/index.ts';

const rows = readFileSync('../shared/datasets/gsm8k-test.jsonl', 'utf8')
  .split('\n')
  .filter((l) => l.trim().length > 0)
  .map((l) => JSON.parse(l) as { question: string; answer: string });

/** Index of the next row (cyclically) whose normalised gold differs from row k's. */
function otherRow(k: number): number {
  for (let d = 1; d < rows.length; d++) {
    const j = (k + d) % rows.length;
    if (Number(normalizeGold(rows[j]!.answer)) !== Number(normalizeGold(rows[k]!.answer))) return j;
  }
  throw new Error('no differing row');
}

test('GSM8K test set: 1,319 rows with integer golds after ####', () => {
  assert.equal(rows.length, 1319);
  for (const r of rows) assert.match(normalizeGold(r.answer), /^-?\d+(\.\d+)?$/);
});

test('every GSM8K gold solution scores 1 against its own answer and 0 against another problem', () => {
  const failures: string[] = [];
  for (let k = 0; k < rows.length; k++) {
    const { answer } = rows[k]!;
    const other = rows[otherRow(k)]!.answer;
    const raw = answer.slice(answer.lastIndexOf('####') + 4).trim(); // as written, e.g. "2,125"
    const gold = normalizeGold(answer);
    const completions = [
      answer, // the worked solution itself, "… #### N"
      `${answer.split('####')[0]}So the answer is \\boxed{${raw}}.`,
      `<think>${answer.split('####')[0]}</think>\n<answer>${raw}</answer>`,
      `The answer is $\\boxed{\\$${gold}}$`,
    ];
    for (const [c, completion] of completions.entries()) {
      if (mathAccuracyReward(completion, answer) !== 1) failures.push(`row ${k} form ${c}: expected 1`);
      if (mathAccuracyReward(completion, other) !== 0) failures.push(`row ${k} form ${c}: expected 0 vs other`);
    }
    // near misses of the right answer are wrong
    if (mathAccuracyReward(`\\boxed{${Number(gold) + 1}}`, answer) !== 0) failures.push(`row ${k}: gold+1 accepted`);
    if (mathAccuracyReward(`\\boxed{${Number(gold) / 10}}`, answer) !== 0) failures.push(`row ${k}: gold/10 accepted`);
  }
  assert.deepEqual(failures.slice(0, 20), []);
});

test('the registry math reward reads GSM8K rows directly', async () => {
  for (const row of rows.slice(0, 50)) {
    assert.equal(await BUILTIN_REWARDS.math!(row.answer, row), 1);
  }
});
