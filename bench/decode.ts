// Decode throughput of a small random Llama-family model on the current adapter.

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { acquireGpu } from '../src/gpu/device.ts';
import { LanguageModel } from '../src/model/model.ts';
import { generate } from '../src/model/generate.ts';
import { writeRandomModel } from '../src/model/random-model.ts';
import { openSource } from '../src/io/source.ts';
import { loadModel } from '../src/model/weights.ts';

export async function benchDecode(args: string[]): Promise<void> {
  const full = args.includes('--full');
  const gpu = await acquireGpu({ debug: false });
  const dir = mkdtempSync(join(tmpdir(), 'webgrpo-bench-'));
  const shape = full
    ? { hiddenSize: 896, numLayers: 24, numHeads: 14, numKvHeads: 2, intermediateSize: 4864, vocabSize: 151936 }
    : { hiddenSize: 256, numLayers: 4, numHeads: 4, numKvHeads: 2, intermediateSize: 768, vocabSize: 4096 };
  writeRandomModel(dir, { architecture: 'qwen2', dtype: 'BF16', tied: true, ...shape, seed: 1 });
  const { config, weights } = await loadModel(openSource(dir), gpu);
  const model = new LanguageModel(gpu, config, weights);
  const label = `qwen2-shaped ${config.numLayers}L h${config.hiddenSize} vocab ${config.vocabSize} (bf16)`;
  console.log(`decode bench (${full ? 'full' : 'quick'}): ${gpu.adapter.description || gpu.adapter.architecture}, ${label}`);
  console.log('batch  new tokens  seconds  tokens/s');
  const newTokens = full ? 64 : 16;
  for (const batch of [1, 8]) {
    const prompts = Array.from({ length: batch }, (_, i) => [1 + i, 2, 3, 4]);
    const opts = { maxNewTokens: newTokens, temperature: 1, seed: 3, eosTokenIds: [] };
    await generate(model, prompts, { ...opts, maxNewTokens: 2 }); // warm-up: compile pipelines
    const start = performance.now();
    const out = await generate(model, prompts, opts);
    const seconds = (performance.now() - start) / 1000;
    const tokens = out.reduce((a, c) => a + c.ids.length, 0);
    console.log(
      `${String(batch).padStart(5)}  ${String(tokens).padStart(10)}  ${seconds.toFixed(2).padStart(7)}  ${(tokens / seconds).toFixed(1).padStart(8)}`,
    );
  }
  rmSync(dir, { recursive: true, force: true });
  gpu.destroy();
}
