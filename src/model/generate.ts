// Batched, seeded generation on the KV cache. Sampling runs on the GPU and feeds the next step
// there; the sampled ids are read back once per STOP_CHECK_EVERY steps to detect the end of each
// sequence (docs/DESIGN.md §6.2).

import { sampleTokens } from '../kernels/sample.ts';
import type { LanguageModel } from './model.ts';

/** Decode steps between reads of the sampled ids (the end-of-sequence check). */
export const STOP_CHECK_EVERY = 8;

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
  /** Called after decode step `step` (0-based) is submitted: the bench and tests read GPU counters here. */
  afterStep?: (step: number) => void;
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
  const longest = Math.max(...prompts.map((p) => p.length));
  const maxSeq = longest + opts.maxNewTokens;
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

    // The decode loop (docs/DESIGN.md §6.2): each step is one submit; the sampler writes its ids and
    // log-probs into [maxNewTokens × batch] buffers and feeds the next step's ids and positions on
    // the GPU. Ids are read back every STOP_CHECK_EVERY steps to see whether every sequence ended.
    const steps = opts.maxNewTokens;
    const current = upload(Uint32Array.from(prompts.flatMap((p) => Array<number>(n).fill(p[p.length - 1]))), 'ids');
    const positions = upload(Uint32Array.from(prompts.flatMap((p) => Array<number>(n).fill(p.length - 1))), 'positions');
    const history = { ids: gpu.buffer(steps * batch * 4, 'generated-ids'), logprobs: gpu.buffer(steps * batch * 4, 'generated-logprobs'), offset: 0 };
    owned.push(history.ids, history.logprobs);
    const outputs: number[][] = Array.from({ length: batch }, () => []);
    const done: ('eos' | 'length' | null)[] = Array(batch).fill(null);
    const eos = new Set(opts.eosTokenIds);
    let checked = 0; // steps whose ids have been read back
    let ran = 0;
    while (ran < steps && done.includes(null)) {
      // Step `ran` attends to at most longest prompt + ran positions: attention walks only those.
      const hidden = model.hidden(current, batch, 1, positions, caches, longest + ran);
      const logits = model.logits(hidden);
      hidden.release();
      sampleTokens(logits, {
        rows: batch,
        vocab: config.vocabSize,
        validVocab: opts.validVocab ?? config.vocabSize,
        temperature: opts.temperature,
        topK: opts.topK,
        topP: opts.topP,
        minP: opts.minP,
        seed: opts.seed,
        step: ran,
        out: { ...history, offset: ran * batch },
        next: { ids: current, positions },
      });
      logits.release();
      ran++;
      if (ran % STOP_CHECK_EVERY === 0 || ran === steps) {
        // The read is recorded behind this step's work, so the step is still a single submit.
        const ids = await gpu.readU32(history.ids, (ran - checked) * batch, checked * batch);
        for (let s = 0; s < ran - checked; s++) {
          for (let b = 0; b < batch; b++) {
            if (done[b]) continue;
            const id = ids[s * batch + b];
            outputs[b].push(id);
            if (eos.has(id)) done[b] = 'eos';
            else if (outputs[b].length === steps) done[b] = 'length';
          }
        }
        checked = ran;
      } else {
        gpu.flush();
      }
      opts.afterStep?.(ran - 1);
    }
    const logprobs = await gpu.readF32(history.logprobs, ran * batch);
    return outputs.map((ids, b) => ({
      prompt: Math.floor(b / n),
      ids,
      logprobs: ids.map((_, s) => logprobs[s * batch + b]),
      finishReason: done[b] ?? 'length',
    }));
  } finally {
    for (const c of caches) c.destroy();
    // Last taken, first returned: the pool hands the next call the same buffers in the same roles,
    // so its cached bind groups still match.
    for (const b of owned.reverse()) gpu.release(b);
  }
}
