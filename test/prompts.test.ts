// How questions become prompts: chat template with an optional system turn, or plain text.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { charTokenizerFiles, ModelTokenizer } from '../src/io/tokenizer.ts';
import { chatPromptIds } from '../src/rl/evaluate.ts';

const { tokenizerJson, tokenizerConfig } = charTokenizerFiles('abcdefghijklmnopqrstuvwxyz0123456789 ?+=.\n');
const tokenizer = ModelTokenizer.fromJson(tokenizerJson, tokenizerConfig);
const text = (ids: number[]) => tokenizer.decode(ids);

test('the chat template renders the question, with a system turn when given', () => {
  assert.equal(text(chatPromptIds(tokenizer, 'what is 1+1?')), '<|im_start|>user\nwhat is 1+1?<|im_end|>\n<|im_start|>assistant\n');
  assert.equal(
    text(chatPromptIds(tokenizer, 'what is 1+1?', { systemPrompt: 'be brief.' })),
    '<|im_start|>system\nbe brief.<|im_end|>\n<|im_start|>user\nwhat is 1+1?<|im_end|>\n<|im_start|>assistant\n',
  );
});

test('plain prompts skip the template', () => {
  assert.equal(text(chatPromptIds(tokenizer, '1+1=', { plain: true })), '1+1=');
  assert.equal(text(chatPromptIds(tokenizer, '1+1=', { plain: true, systemPrompt: 'add.' })), 'add.\n1+1=');
});
