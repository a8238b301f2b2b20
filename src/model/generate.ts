// Batched, seeded generation on the KV cache. Sampling runs on the GPU; only the sampled ids are
// read back, once per step, to detect the end of each sequence.

import { sampleTokens } from '../kernels/sample.ts';
import type { LanguageModel } from './model.ts';

interface SamplingOptions {
  /** 0 = greedy. */
  temperature: number;
  topP?: number;
  topK?: number;
  minP?: number;
  seed: number;
}

export interface GenerateOptions extends SamplingOptions {
  maxNewTokens: number;
  /** Completions per prompt (GRPO's num_generations). */
  n?: number;
  eosTokenIds: number[];
  /** Ids at or above this are never sampled (embedding rows beyond the tokenizer's vocabulary). */
  validVocab?: number;
}

export interface Completion {
  /** Index of the prompt this completion continues. */
  prompt: number;
  /** New tokens, including the eos token when generation stopped on one. */
  ids: number[];
  /** Sampler log-prob of each id: log_softmax(logits / T) before top-k/top-p/min-p (T = 1 when greedy). */
  logprobs: number[];
  finishReason: 'eos' | 'length';
}

/**
 * Generate `n` completions for each prompt (prompt-major order). Each prompt is prefilled once
 * and its KV cache copied to its `n` sequences; all sequences then decode together, each at its
 * own position.
 */
export async function generate(model: LanguageModel, prompts: number[][], opts: GenerateOptions): Promise<Completion[]> {
  const { gpu, config } = model;
  const n = opts.n ?? 1;
  if (prompts.length === 0 || n < 1) return [];
  if (!(opts.maxNewTokens >= 1)) throw new Error(`maxNewTokens must be at least 1, got ${opts.maxNewTokens}.`);
  for (const p of prompts) {
    if (p.length === 0) throw new Error('Cannot generate from an empty prompt.');
    model.checkIds(p);
  }
  const batch = prompts.length * n;
  const maxSeq = Math.max(...prompts.map((p) => p.length)) + opts.maxNewTokens;
  const caches = model.createCaches(batch, maxSeq);
  const owned: GPUBuffer[] = [];
  const upload = (data: Uint32Array, label: string) => {
    const b = gpu.upload(data, label);
    owned.push(b);
    return b;
  };
  try {
    // Prefill all but the last prompt token into a one-sequence cache, then copy it to the
    // prompt's n slots. The last prompt token is fed by the first decode step, so every
    // sequence's first new token is sampled in the batched step.
    const scratch = model.createCaches(1, maxSeq);
    prompts.forEach((prompt, p) => {
      if (prompt.length > 1) {
        const prefix = prompt.slice(0, -1);
        const hidden = model.hidden(upload(Uint32Array.from(prefix), 'prompt'), 1, prefix.length, upload(new Uint32Array([0]), 'positions'), scratch);
        hidden.release();
      }
      for (let j = 0; j < n; j++) {
        const slot = p * n + j;
        scratch.forEach((src, l) => {
          const dst = caches[l];
          const bytes = src.k.size;
          gpu.copy(src.k, 0, dst.k, slot * bytes, bytes);
          gpu.copy(src.v, 0, dst.v, slot * bytes, bytes);
        });
      }
    });
    await gpu.sync();
    for (const c of scratch) c.destroy();

    const lengths = prompts.flatMap((p) => Array<number>(n).fill(p.length));
    let current = upload(Uint32Array.from(prompts.flatMap((p) => Array<number>(n).fill(p[p.length - 1]))), 'ids');
    const positions = upload(Uint32Array.from(lengths.map((len) => len - 1)), 'positions');
    const outputs: number[][] = Array.from({ length: batch }, () => []);
    const outputLogprobs: number[][] = Array.from({ length: batch }, () => []);
    const done: ('eos' | 'length' | null)[] = Array(batch).fill(null);
    const eos = new Set(opts.eosTokenIds);
    for (let step = 0; step < opts.maxNewTokens && done.includes(null); step++) {
      const hidden = model.hidden(current, batch, 1, positions, caches);
      const logits = model.logits(hidden);
      hidden.release();
      const sampled = sampleTokens(logits, {
        rows: batch,
        vocab: config.vocabSize,
        validVocab: opts.validVocab ?? config.vocabSize,
        temperature: opts.temperature,
        topK: opts.topK,
        topP: opts.topP,
        minP: opts.minP,
        seed: opts.seed,
        step,
      });
      logits.release();
      owned.push(sampled.ids, sampled.logprobs);
      const ids = await gpu.readU32(sampled.ids, batch);
      const logprobs = await gpu.readF32(sampled.logprobs, batch);
      ids.forEach((id, b) => {
        if (done[b]) return;
        outputs[b].push(id);
        outputLogprobs[b].push(logprobs[b]);
        if (eos.has(id)) done[b] = 'eos';
        else if (outputs[b].length === opts.maxNewTokens) done[b] = 'length';
      });
      current = sampled.ids;
      gpu.write(positions, Uint32Array.from(lengths.map((len, b) => len - 1 + outputs[b].length)));
    }
    return outputs.map((ids, b) => ({ prompt: Math.floor(b / n), ids, logprobs: outputLogprobs[b], finishReason: done[b] ?? 'length' }));
  } finally {
    for (const c of caches) c.destroy();
    for (const b of owned) gpu.release(b);
  }
}
