// A character-level tokenizer in the Hugging Face tokenizer.json format, for tiny test models and
// the built-in tiny model. It is a plain BPE model with no merges (so every character of the
// alphabet is its own token), a Split pre-tokenizer that isolates every character, and a Fuse
// decoder that joins tokens without spaces. It loads in the Rust/Python `tokenizers` library
// (Tokenizer.from_str) and in @huggingface/tokenizers alike.

/** ChatML, as Qwen/SmolLM2 write it, without any default system prompt. */
const CHATML_TEMPLATE =
  '{%- for message in messages %}' +
  "{{- '<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>' + '\\n' }}" +
  '{%- endfor %}' +
  "{%- if add_generation_prompt %}{{- '<|im_start|>assistant\\n' }}{%- endif %}";

const CHATML_SPECIALS = ['<|endoftext|>', '<|im_start|>', '<|im_end|>'];

/**
 * Builds `{tokenizerJson, tokenizerConfig}` for a character-level tokenizer.
 *
 * Ids: the distinct characters (code points) of `alphabet` in first-occurrence order get ids
 * 0..n-1 (a repeated character keeps its first id); then the special tokens follow: always
 * `<|endoftext|>`, `<|im_start|>`, `<|im_end|>` (ids n, n+1, n+2; ChatML needs them), then any extra
 * `opts.specialTokens` not already listed.
 *
 * There is no unk token: ModelTokenizer.encode throws a clear error naming a character that is not
 * in the alphabet (rather than silently mapping it to an unk id). Note that encoding a ChatML
 * render needs '\n' and the letters of the role names in the alphabet.
 *
 * The config has eos_token `<|im_end|>`, pad_token `<|endoftext|>`, no bos_token, and a ChatML
 * chat_template.
 */
export function charTokenizerFiles(alphabet: string, opts: { specialTokens?: string[] } = {}): { tokenizerJson: object; tokenizerConfig: object } {
  const vocab: Record<string, number> = {};
  let next = 0;
  for (const ch of alphabet) {
    if (!Object.hasOwn(vocab, ch)) vocab[ch] = next++;
  }
  if (next === 0) throw new Error('charTokenizerFiles: the alphabet is empty');

  const specials: string[] = [];
  for (const s of [...CHATML_SPECIALS, ...(opts.specialTokens ?? [])]) {
    if (s.length === 0) throw new Error('charTokenizerFiles: a special token is empty');
    if (!specials.includes(s)) specials.push(s);
  }
  const addedTokens = specials.map((content) => {
    if (Object.hasOwn(vocab, content)) {
      throw new Error(`charTokenizerFiles: special token ${JSON.stringify(content)} is also an alphabet character`);
    }
    const id = next++;
    vocab[content] = id;
    return { id, content, single_word: false, lstrip: false, rstrip: false, normalized: false, special: true };
  });

  const tokenizerJson = {
    version: '1.0',
    truncation: null,
    padding: null,
    added_tokens: addedTokens,
    normalizer: null,
    // '.' in Oniguruma does not match '\n'; [\s\S] matches every character.
    pre_tokenizer: { type: 'Split', pattern: { Regex: '[\\s\\S]' }, behavior: 'Isolated', invert: false },
    post_processor: null,
    decoder: { type: 'Fuse' },
    model: {
      type: 'BPE',
      dropout: null,
      unk_token: null,
      continuing_subword_prefix: null,
      end_of_word_suffix: null,
      fuse_unk: false,
      byte_fallback: false,
      ignore_merges: false,
      vocab,
      merges: [],
    },
  };

  const addedTokensDecoder: Record<string, object> = {};
  for (const t of addedTokens) {
    const { id, ...rest } = t;
    addedTokensDecoder[String(id)] = rest;
  }
  const tokenizerConfig = {
    add_bos_token: false,
    add_prefix_space: false,
    added_tokens_decoder: addedTokensDecoder,
    additional_special_tokens: specials.filter((s) => s !== '<|endoftext|>'),
    bos_token: null,
    eos_token: '<|im_end|>',
    pad_token: '<|endoftext|>',
    unk_token: null,
    chat_template: CHATML_TEMPLATE,
    clean_up_tokenization_spaces: false,
    model_max_length: 1 << 20,
    tokenizer_class: 'PreTrainedTokenizerFast',
  };
  return { tokenizerJson, tokenizerConfig };
}
