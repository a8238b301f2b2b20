// Tokenizers and chat templates: a thin, browser-safe wrapper over @huggingface/tokenizers (reads a
// model's tokenizer.json) and @huggingface/jinja (renders the model's own chat_template from
// tokenizer_config.json the way transformers' apply_chat_template does).
import { Tokenizer } from '@huggingface/tokenizers';
import { Template } from '@huggingface/jinja';

export { charTokenizerFiles } from './char-tokenizer.ts';

export interface ChatMessage {
  role: 'system' | 'user' | 'assistant';
  content: string;
}

type Json = Record<string, unknown>;

function isObject(x: unknown): x is Json {
  return typeof x === 'object' && x !== null && !Array.isArray(x);
}

/** A special token in tokenizer_config.json is a string or an AddedToken dict `{content, ...}`. */
function tokenString(x: unknown): string | undefined {
  if (typeof x === 'string') return x;
  if (isObject(x) && typeof x.content === 'string') return x.content;
  return undefined;
}

/** tokenizer_config.chat_template is a string, or (older files) a list of `{name, template}`. */
function pickChatTemplate(x: unknown): string | undefined {
  if (typeof x === 'string') return x.length > 0 ? x : undefined;
  if (Array.isArray(x)) {
    const named = x.filter((t): t is { name: string; template: string } => isObject(t) && typeof t.template === 'string');
    return (named.find((t) => t.name === 'default') ?? named[0])?.template;
  }
  return undefined;
}

export class ModelTokenizer {
  readonly hasChatTemplate: boolean;
  /** Tokens the tokenizer knows, added tokens included (max id + 1): 151669 for Qwen3, 151665 for Qwen2.5. */
  readonly vocabSize: number;
  /**
   * Ids that end a generation: the tokenizer_config `eos_token`, plus `<|im_end|>` and
   * `<|endoftext|>` when the tokenizer has them as special tokens (ChatML turn end and document end
   * both stop sampling in transformers' generation configs of Qwen/SmolLM2). The caller merges the
   * model's config/generation_config eos ids.
   */
  readonly eosTokenIds: number[];

  private readonly tok: Tokenizer;
  private readonly config: Json;
  private readonly chatTemplate: string | undefined;
  private compiled: Template | undefined;
  private readonly idToToken: (id: number) => string | undefined;
  /** Character-level model with no unk token: text outside the alphabet would silently vanish, so encode checks it. */
  private readonly strictChars: boolean;
  private readonly addedContents: string[];

  private constructor(tokenizerJson: Json, tokenizerConfig: Json) {
    this.config = tokenizerConfig;
    // The library reads clean_up_tokenization_spaces as true when absent; transformers' current
    // default is false, and a lossy decode would corrupt completions, so only honour an explicit true.
    const cfgForLib: Json = {
      ...tokenizerConfig,
      clean_up_tokenization_spaces: tokenizerConfig.clean_up_tokenization_spaces === true,
    };
    this.tok = new Tokenizer(tokenizerJson, cfgForLib);
    this.idToToken = (id) => this.tok.id_to_token(id);

    let maxId = -1;
    for (const id of this.tok.get_vocab(true).values()) if (id > maxId) maxId = id;
    this.vocabSize = maxId + 1;

    const added = Array.isArray(tokenizerJson.added_tokens) ? tokenizerJson.added_tokens : [];
    this.addedContents = added
      .map((t) => tokenString(t))
      .filter((s): s is string => s !== undefined && s.length > 0)
      .sort((a, b) => b.length - a.length);
    const specialAdded = new Set(added.filter((t) => isObject(t) && t.special === true).map((t) => tokenString(t)));

    const eos: number[] = [];
    const pushEos = (tokenText: string | undefined) => {
      if (tokenText === undefined) return;
      const id = this.tok.token_to_id(tokenText);
      if (id !== undefined && !eos.includes(id)) eos.push(id);
    };
    // eos_token is a string or an AddedToken; a list of them is accepted too.
    for (const t of Array.isArray(tokenizerConfig.eos_token) ? tokenizerConfig.eos_token : [tokenizerConfig.eos_token]) pushEos(tokenString(t));
    for (const t of ['<|im_end|>', '<|endoftext|>']) if (specialAdded.has(t)) pushEos(t);
    this.eosTokenIds = eos;

    this.chatTemplate = pickChatTemplate(tokenizerConfig.chat_template);
    this.hasChatTemplate = this.chatTemplate !== undefined;

    const model = isObject(tokenizerJson.model) ? tokenizerJson.model : {};
    this.strictChars =
      model.type === 'BPE' &&
      Array.isArray(model.merges) &&
      model.merges.length === 0 &&
      (model.unk_token === null || model.unk_token === undefined) &&
      model.byte_fallback !== true;
  }

  /** Builds a tokenizer from parsed tokenizer.json and (optional) tokenizer_config.json. */
  static fromJson(tokenizerJson: unknown, tokenizerConfig?: unknown): ModelTokenizer {
    if (!isObject(tokenizerJson) || !isObject(tokenizerJson.model)) {
      throw new Error('tokenizer.json: expected an object with a "model" field (a Hugging Face fast-tokenizer file)');
    }
    if (tokenizerConfig !== undefined && tokenizerConfig !== null && !isObject(tokenizerConfig)) {
      throw new Error('tokenizer_config.json: expected a JSON object');
    }
    const full: Json = {
      normalizer: null,
      pre_tokenizer: null,
      post_processor: null,
      decoder: null,
      added_tokens: [],
      ...tokenizerJson,
    };
    return new ModelTokenizer(full, isObject(tokenizerConfig) ? tokenizerConfig : {});
  }

  /**
   * Reads `tokenizer.json` (required) and `tokenizer_config.json` (optional; without it there is no
   * chat template and no eos token) from a model source (folder, Hub, URL or OPFS).
   * When tokenizer_config.json has no chat_template, a `chat_template.json` `{chat_template}` is used.
   */
  static async load(source: { readJson(file: string): Promise<unknown>; has(file: string): Promise<boolean> }): Promise<ModelTokenizer> {
    if (!(await source.has('tokenizer.json'))) {
      throw new Error('tokenizer.json not found: this model repository has no fast-tokenizer file (tokenizer.json), which is required');
    }
    const tokenizerJson = await source.readJson('tokenizer.json');
    let config: unknown = (await source.has('tokenizer_config.json')) ? await source.readJson('tokenizer_config.json') : {};
    if (isObject(config) && pickChatTemplate(config.chat_template) === undefined && (await source.has('chat_template.json'))) {
      const extra = await source.readJson('chat_template.json');
      if (isObject(extra) && pickChatTemplate(extra.chat_template) !== undefined) {
        config = { ...config, chat_template: extra.chat_template };
      }
    }
    return ModelTokenizer.fromJson(tokenizerJson, config);
  }

  /**
   * Text → ids. `addSpecialTokens` (default false) runs the tokenizer's post-processor (e.g. a BOS
   * for Llama-style tokenizers; Qwen and SmolLM2 add nothing). Default false because text rendered
   * by applyChatTemplate already holds every special token it needs, as in transformers'
   * apply_chat_template(tokenize=True). Special-token strings in the text map to their single ids.
   * For a character-level tokenizer without an unk token (charTokenizerFiles), a character outside
   * the alphabet throws.
   */
  encode(text: string, opts: { addSpecialTokens?: boolean } = {}): number[] {
    if (text.length === 0 && !opts.addSpecialTokens) return [];
    if (this.strictChars && opts.addSpecialTokens) this.encode(text); // the alphabet check, on the text alone
    const enc = this.tok.encode(text, { add_special_tokens: opts.addSpecialTokens ?? false });
    if (this.strictChars && !opts.addSpecialTokens && enc.tokens.join('') !== text) this.throwUnknownChar(text);
    for (let i = 0; i < enc.ids.length; i++) {
      if (enc.ids[i] === undefined) this.throwUnknownChar(text);
    }
    return enc.ids;
  }

  /**
   * The one rule for a prompt's ids (DESIGN.md §5.2), as transformers does it. Plain text is
   * encoded with the post-processor's special tokens (`addSpecialTokens`, default true, as
   * `tokenizer(text)`: `<s>` first for Llama/SentencePiece tokenizers, nothing for Qwen). Messages
   * are rendered with the chat template (`addGenerationPrompt` default true; the template has
   * `bos_token` etc.) and the render is encoded without adding special tokens again, as
   * `apply_chat_template(tokenize=True)`.
   */
  promptIds(prompt: string | ChatMessage[], opts: { addSpecialTokens?: boolean; addGenerationPrompt?: boolean; enableThinking?: boolean } = {}): number[] {
    if (typeof prompt === 'string') return this.encode(prompt, { addSpecialTokens: opts.addSpecialTokens ?? true });
    const rendered = this.applyChatTemplate(prompt, { addGenerationPrompt: opts.addGenerationPrompt ?? true, enableThinking: opts.enableThinking });
    return this.encode(rendered, { addSpecialTokens: false });
  }

  private throwUnknownChar(text: string): never {
    let i = 0;
    outer: while (i < text.length) {
      for (const a of this.addedContents) {
        if (text.startsWith(a, i)) {
          i += a.length;
          continue outer;
        }
      }
      const ch = String.fromCodePoint(text.codePointAt(i)!);
      if (this.tok.token_to_id(ch) === undefined) {
        const cp = ch.codePointAt(0)!.toString(16).toUpperCase().padStart(4, '0');
        throw new Error(`tokenizer: character ${JSON.stringify(ch)} (U+${cp}) at index ${i} is not in the tokenizer's alphabet and it has no unk token`);
      }
      i += ch.length;
    }
    throw new Error('tokenizer: the text did not tokenize losslessly (unknown characters)');
  }

  /** Ids → text. `skipSpecialTokens` (default false) drops special tokens. Ids outside the vocabulary throw. */
  decode(ids: number[], opts: { skipSpecialTokens?: boolean } = {}): string {
    if (ids.length === 0) return '';
    for (const id of ids) {
      if (!Number.isInteger(id) || this.idToToken(id) === undefined) {
        throw new RangeError(`tokenizer: id ${id} is not in the vocabulary (size ${this.vocabSize})`);
      }
    }
    return this.tok.decode(ids, { skip_special_tokens: opts.skipSpecialTokens ?? false });
  }

  tokenToId(token: string): number | undefined {
    return this.tok.token_to_id(token);
  }

  /**
   * Renders the model's own chat_template with jinja, passing what transformers passes: `messages`,
   * `add_generation_prompt` (default false, as in transformers), the special tokens (`bos_token`,
   * `eos_token`, `pad_token`, `unk_token`, `additional_special_tokens`) as strings where set, and
   * `enable_thinking` only when given (Qwen3 tests `enable_thinking is defined`). Throws when the
   * model has no chat template.
   */
  applyChatTemplate(messages: ChatMessage[], opts: { addGenerationPrompt?: boolean; enableThinking?: boolean } = {}): string {
    if (this.chatTemplate === undefined) {
      throw new Error(
        'tokenizer: this model has no chat template (tokenizer_config.json has no "chat_template"); ' +
          'use an Instruct/chat model or format prompts as plain text',
      );
    }
    this.compiled ??= new Template(this.chatTemplate);
    const ctx: Record<string, unknown> = {
      messages: messages.map((m) => ({ role: m.role, content: m.content })),
      add_generation_prompt: opts.addGenerationPrompt ?? false,
    };
    for (const key of ['bos_token', 'eos_token', 'pad_token', 'unk_token', 'sep_token', 'cls_token', 'mask_token']) {
      const s = tokenString(this.config[key]);
      if (s !== undefined) ctx[key] = s;
    }
    if (Array.isArray(this.config.additional_special_tokens)) {
      ctx.additional_special_tokens = this.config.additional_special_tokens.map((t) => tokenString(t)).filter((s) => s !== undefined);
    }
    if (opts.enableThinking !== undefined) ctx.enable_thinking = opts.enableThinking;
    return this.compiled.render(ctx);
  }
}
