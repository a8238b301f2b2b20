// Decode throughput and what one steady-state decode token costs the GPU runtime (dispatches,
// submits, read-backs, objects created, uniform bytes, CPU encode time), on the bench model
// (bench/models.ts), bare and with the GRPO step's LoRA r16 adapter. Quick: batch 8, 8 timed decode steps. --full / --device: batches 1 and 8, 56 timed
// tokens, and prefill throughput at 512 tokens. --small: a small model of the same family.

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { acquireGpu } from '../src/gpu/device.ts';
import { countersSince, type Gpu, type GpuCounters } from '../src/gpu/runtime.ts';
import { LanguageModel } from '../src/model/model.ts';
import { generate, STOP_CHECK_EVERY } from '../src/model/generate.ts';
import { openSource } from '../src/io/source.ts';
import { loadModel } from '../src/model/weights.ts';
import { LoraAdapter } from '../src/lora/adapter.ts';
import { ALL_TARGETS } from '../src/model/types.ts';
import { benchModelName, writeBenchModel } from './models.ts';

/**
 * Steps before the timed window: pipelines compiled and bind groups cached (the buffer pool hands
 * the residual stream a 3-token cycle of buffers). Any window of a multiple of 8 steps that ends
 * before the last step holds exactly one eos-check read per STOP_CHECK_EVERY (8) steps.
 */
const WARM_STEPS = 4;
const PREFILL_TOKENS = 512;

interface PerToken {
  dispatches: number;
  submits: number;
  readbacks: number;
  buffers_created: number;
  bind_groups_created: number;
  pipelines_created: number;
  uniform_bytes: number;
  cpu_encode_ms: number;
}

interface DecodeFigures {
  model: string;
  layers: number;
  batch: number;
  tokens_per_s: number;
  per_token: PerToken;
}

function perToken(c: GpuCounters, steps: number): PerToken {
  const r = (v: number) => Math.round((v / steps) * 1000) / 1000;
  return {
    dispatches: r(c.dispatches),
    submits: r(c.submits),
    readbacks: r(c.readbacks),
    buffers_created: r(c.buffersCreated),
    bind_groups_created: r(c.bindGroupsCreated),
    pipelines_created: r(c.pipelinesCreated),
    uniform_bytes: r(c.uniformBytes),
    cpu_encode_ms: r(c.cpuEncodeMs),
  };
}

/** Decode `timed` steps after WARM_STEPS at `batch`; the window ends before the final read-back of the log-probs. */
async function timeDecode(gpu: Gpu, model: LanguageModel, batch: number, timed: number): Promise<{ seconds: number; counters: GpuCounters }> {
  const marks = new Map<number, { t: number; c: GpuCounters }>();
  const last = WARM_STEPS + timed - 1;
  const afterStep = (step: number) => {
    if (step === WARM_STEPS - 1 || step === last) marks.set(step, { t: performance.now(), c: gpu.counters() });
  };
  // One-token prompts: no prefill, which would cost more than the window on a CPU adapter.
  const prompts = Array.from({ length: batch }, (_, i) => [1 + i]);
  // The first eos check's read-back staging buffer is created once per size: make it here, outside
  // the window (test/generate.test.ts shows that none is created once one exists).
  const scratch = gpu.buffer(STOP_CHECK_EVERY * batch * 4, 'scratch');
  await gpu.read(scratch, 0, STOP_CHECK_EVERY * batch * 4);
  gpu.release(scratch);
  // One step past the window: the last step's read-back of the log-probs stays outside it.
  await generate(model, prompts, { maxNewTokens: last + 2, temperature: 1, seed: 3, eosTokenIds: [], afterStep });
  const a = marks.get(WARM_STEPS - 1)!;
  const b = marks.get(last)!;
  return { seconds: (b.t - a.t) / 1000, counters: countersSince(a.c, b.c) };
}

/** Prefill throughput: one sequence of `tokens` tokens through every layer (to the final norm). */
async function timePrefill(gpu: Gpu, model: LanguageModel, tokens: number): Promise<number> {
  const ids = gpu.upload(
    Uint32Array.from({ length: tokens }, (_, i) => 1 + (i % 40)),
    'prefill-ids',
  );
  const positions = gpu.upload(new Uint32Array(1), 'positions');
  const run = async () => {
    const caches = model.createCaches(1, tokens);
    const start = performance.now();
    model.hidden(ids, 1, tokens, positions, caches).release();
    await gpu.sync();
    const seconds = (performance.now() - start) / 1000;
    for (const c of caches) c.destroy();
    return seconds;
  };
  await run(); // compile the prefill-shaped pipelines
  const seconds = await run();
  gpu.release(ids);
  gpu.release(positions);
  return tokens / seconds;
}

export async function benchDecode(args: string[]): Promise<Record<string, unknown>> {
  const long = args.includes('--full') || args.includes('--device');
  const small = args.includes('--small');
  const timed = long ? 56 : 8;
  const dir = mkdtempSync(join(tmpdir(), 'webgrpo-bench-'));
  const layers = writeBenchModel(dir, small);
  const gpu = await acquireGpu({ debug: false });
  const { config, weights } = await loadModel(openSource(dir), gpu);
  const model = new LanguageModel(gpu, config, weights);
  const name = benchModelName(small);
  console.log(
    `decode bench (${long ? 'full' : 'quick'}): ${gpu.adapter.description || gpu.adapter.architecture}, ${name} ${layers}L h${config.hiddenSize} vocab ${config.vocabSize} (bf16)`,
  );
  console.log(`${timed} decode steps timed after ${WARM_STEPS}; counters per decode step (one token per sequence)`);
  console.log('    batch  tokens/s  dispatches (÷ layers)  submits  readbacks  buffers  bind groups  pipelines  uniform B  cpu encode ms');
  // bench/device.sh checks from this that a GPU, not SwiftShader, ran the bench.
  const figures: Record<string, unknown> = args.includes('--device') ? { adapter: gpu.adapter } : {};
  // The base model at each batch, then batch 8 with the GRPO step's adapter (LoRA r16 on every
  // projection), which is how GRPO's generation decodes.
  const runs: { batch: number; lora: boolean; key: string }[] = [
    ...(long ? [{ batch: 1, lora: false, key: 'decode_batch1' }] : []),
    { batch: 8, lora: false, key: 'decode' },
    { batch: 8, lora: true, key: 'decode_lora_r16' },
  ];
  for (const { batch, lora, key } of runs) {
    model.adapter = lora ? LoraAdapter.init(gpu, config, { r: 16, alpha: 32, dropout: 0, useRslora: false, targetModules: ALL_TARGETS }, { seed: 1 }) : null;
    const { seconds, counters } = await timeDecode(gpu, model, batch, timed);
    const per = perToken(counters, timed);
    const result: DecodeFigures = { model: name, layers, batch, tokens_per_s: Math.round(((batch * timed) / seconds) * 100) / 100, per_token: per };
    figures[key] = lora ? { ...result, lora: { r: 16, target_modules: ALL_TARGETS } } : result;
    console.log(
      [
        `${batch}${lora ? ' +LoRA' : ''}`.padStart(9),
        result.tokens_per_s.toFixed(2).padStart(8),
        `${per.dispatches} (${(per.dispatches / layers).toFixed(1)})`.padStart(21),
        String(per.submits).padStart(7),
        String(per.readbacks).padStart(9),
        String(per.buffers_created).padStart(7),
        String(per.bind_groups_created).padStart(11),
        String(per.pipelines_created).padStart(9),
        String(per.uniform_bytes).padStart(9),
        per.cpu_encode_ms.toFixed(2).padStart(13),
      ].join('  '),
    );
  }
  if (long) {
    const tokensPerS = await timePrefill(gpu, model, PREFILL_TOKENS);
    figures.prefill = { tokens: PREFILL_TOKENS, tokens_per_s: Math.round(tokensPerS * 10) / 10 };
    console.log(`prefill ${PREFILL_TOKENS} tokens: ${tokensPerS.toFixed(1)} tokens/s`);
  }
  await gpu.sync();
  gpu.destroy();
  rmSync(dir, { recursive: true, force: true });
  return figures;
}
