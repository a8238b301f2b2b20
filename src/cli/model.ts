// Opening the --model (and --adapter) of a command: local folders or hf: repos, with download
// progress on stderr, on a fresh GPU device that is freed when the command is done.

import { acquireGpu } from '../gpu/device.ts';
import type { Gpu } from '../gpu/runtime.ts';
import { LoraAdapter } from '../lora/adapter.ts';
import { LanguageModel } from '../model/model.ts';
import { openSource, type ModelSource } from '../io/source.ts';
import { loadModel } from '../model/weights.ts';
import type { ModelTokenizer } from '../io/tokenizer.ts';
import { log, UsageError, type Values } from './flags.ts';

/** A folder or hf: repo given as a flag, with the command's Hub endpoint and cache. */
export function openFlagSource(values: Values, spec: string, folderKind = 'model'): ModelSource {
  let lastShown = 0;
  return openSource(spec, {
    folderKind,
    endpoint: values['hub-endpoint'] as string | undefined,
    cacheDir: values['cache-dir'] as string | undefined,
    onProgress: (loaded, total, file) => {
      if (!spec.startsWith('hf:')) return;
      const now = Date.now();
      if (now - lastShown < 500 && loaded !== total) return;
      lastShown = now;
      const mb = (x: number) => (x / 1e6).toFixed(1);
      log(`downloading ${file}: ${mb(loaded)}${total ? ` / ${mb(total)}` : ''} MB`);
    },
  });
}

/** The --model source (required). */
export function modelSource(values: Values): ModelSource {
  if (typeof values.model !== 'string') throw new UsageError('--model is required (a folder or hf:owner/repo[@revision]).');
  return openFlagSource(values, values.model);
}

/** Load the model (and the --adapter, when given) on a fresh device, run, and free the device. */
export async function withModel<T>(
  values: Values,
  src: ModelSource,
  run: (model: LanguageModel, gpu: Gpu) => Promise<T>,
  opts: { f32Weights?: boolean } = {},
): Promise<T> {
  const gpu = await acquireGpu();
  try {
    const { config, weights } = await loadModel(src, gpu, opts.f32Weights ? { weightDtype: 'f32' } : {});
    const model = new LanguageModel(gpu, config, weights);
    if (typeof values.adapter === 'string') model.adapter = await LoraAdapter.load(openFlagSource(values, values.adapter, 'adapter'), gpu, config);
    return await run(model, gpu);
  } finally {
    gpu.destroy();
  }
}

/**
 * A prompt's ids (ModelTokenizer.promptIds, DESIGN.md §5.2): the text with the tokenizer's special
 * tokens (none with `addSpecialTokens: false`), or with --chat as the user turn of the chat template.
 */
export function promptIds(tokenizer: ModelTokenizer, text: string, chat: boolean, opts: { addSpecialTokens?: boolean } = {}): number[] {
  return chat ? tokenizer.promptIds([{ role: 'user', content: text }]) : tokenizer.promptIds(text, opts);
}
