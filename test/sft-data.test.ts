// SFT rows: which tokens the loss is on.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { charTokenizerFiles, ModelTokenizer } from '../src/io/tokenizer.ts';
import { tokenizeSftRows } from '../src/train/sft.ts';

const { tokenizerJson, tokenizerConfig } = charTokenizerFiles('abcdefghijklmnopqrstuvwxyz0123456789 ?+=\n');
const tokenizer = ModelTokenizer.fromJson(tokenizerJson, tokenizerConfig);

test('prompt/completion rows put the loss on completion tokens only', () => {
  const [ex] = tokenizeSftRows('{"prompt": "1+1=", "completion": "2"}\n', 'rows.jsonl', tokenizer, false);
  assert.deepEqual(ex.ids, tokenizer.encode('1+1=2'));
  assert.deepEqual(ex.lossMask, [0, 0, 0, 0, 1]);
});

test('chat rows put the loss on every assistant turn, including its end token, and nothing else', () => {
  const messages = [
    { role: 'system', content: 'be brief' },
    { role: 'user', content: 'hi' },
    { role: 'assistant', content: 'yo' },
    { role: 'user', content: 'sum 1+1' },
    { role: 'assistant', content: '2' },
  ];
  const [ex] = tokenizeSftRows(`${JSON.stringify({ messages })}\n`, 'chat.jsonl', tokenizer, true);
  const text = tokenizer.applyChatTemplate(messages as never);
  assert.deepEqual(ex.ids, tokenizer.encode(text, { addSpecialTokens: false }));
  const trained = ex.ids.filter((_, t) => ex.lossMask[t] === 1);
  // ChatML: each assistant turn's content, its <|im_end|> and the newline the template adds after it.
  const imEnd = tokenizer.tokenToId('<|im_end|>')!;
  assert.deepEqual(trained, [...tokenizer.encode('yo'), imEnd, ...tokenizer.encode('\n'), ...tokenizer.encode('2'), imEnd, ...tokenizer.encode('\n')]);
});

test('chat rows without an assistant turn, or with bad roles, are reported by line', () => {
  const text = [JSON.stringify({ messages: [{ role: 'user', content: 'hi' }] }), JSON.stringify({ messages: [{ role: 'robot', content: 'hi' }] })].join('\n');
  assert.throws(() => tokenizeSftRows(text, 'chat.jsonl', tokenizer, true), /line 1: has no assistant message[\s\S]*line 2: needs "messages"/);
});
