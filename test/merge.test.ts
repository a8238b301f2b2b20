import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openSource } from '../src/io/source.ts';
import { loadCpuWeights, loadModel, destroyWeights } from '../src/model/weights.ts';
import { writeRandomModel, type RandomModelOptions } from '../src/model/random-model.ts';
import { referenceScore, type CpuAdapter } from '../src/model/reference.ts';
import {
  bf16BitsToF32,
  bf16BitsToNumber,
  f16BitsToNumber,
  f32ToBf16Bits,
  parseSafetensors,
  toFloat32,
  writeSafetensors,
  type WritableTensor,
} from '../src/io/safetensors.ts';
import type { ModelConfig } from '../src/model/types.ts';
import { ALL_TARGETS, type TargetModule } from '../src/lora/config.ts';
import { mergeLoraRef } from '../src/kernels/lora.ts';
import { moduleDims, peftModulePath } from '../src/lora/adapter.ts';
import { f64ToF32RoundOdd, mergeAdapter, roundToDtype } from '../src/lora/merge.ts';
import { charTokenizerFiles } from '../src/io/tokenizer.ts';
import { rng, testGpu } from './helpers/gpu.ts';

const tmp = (tag: string) => mkdtempSync(join(tmpdir(), `webgrpo-merge-${tag}-`));

/** A random model with a char tokenizer's tokenizer.json / tokenizer_config.json beside it. */
function makeModel(opts: RandomModelOptions): { dir: string; config: ModelConfig } {
  const dir = tmp('model');
  const config = writeRandomModel(dir, opts);
  const { tokenizerJson, tokenizerConfig } = charTokenizerFiles('abcdefghij \n');
  writeFileSync(join(dir, 'tokenizer.json'), JSON.stringify(tokenizerJson));
  writeFileSync(join(dir, 'tokenizer_config.json'), JSON.stringify(tokenizerConfig, null, 2));
  return { dir, config };
}

interface AdapterSpec {
  r?: number;
  alpha?: number;
  rslora?: boolean;
  targets?: TargetModule[];
  seed?: number;
  dtype?: 'F32' | 'BF16';
  /** Model the adapter's shapes come from (default: the base model). */
  shapesFrom?: ModelConfig;
  /** Extra layer index to add a site for (out of range tests). */
  extraLayer?: number;
}

/** A PEFT adapter folder written by hand (random A and B), and the same adapter for the reference. */
function makeAdapter(model: ModelConfig, spec: AdapterSpec = {}): { dir: string; cpu: CpuAdapter; scale: number } {
  const r = spec.r ?? 4;
  const alpha = spec.alpha ?? 8;
  const targets = spec.targets ?? [...ALL_TARGETS];
  const scale = spec.rslora ? alpha / Math.sqrt(r) : alpha / r;
  const shapes = spec.shapesFrom ?? model;
  const next = rng(spec.seed ?? 7);
  const tensors: WritableTensor[] = [];
  const cpu: CpuAdapter = new Map();
  const layers = [...Array(model.numLayers).keys()];
  if (spec.extraLayer !== undefined) layers.push(spec.extraLayer);
  for (const layer of layers) {
    for (const module of targets) {
      const { inDim, outDim } = moduleDims(shapes, module);
      const a = new Float32Array(r * inDim).map(() => (2 * next() - 1) / Math.sqrt(inDim));
      const b = new Float32Array(outDim * r).map(() => (2 * next() - 1) * 0.15);
      const p = peftModulePath(layer, module);
      if (spec.dtype === 'BF16') {
        const ab = f32ToBf16Bits(a);
        const bb = f32ToBf16Bits(b);
        tensors.push({ name: `${p}.lora_A.weight`, dtype: 'BF16', shape: [r, inDim], data: ab });
        tensors.push({ name: `${p}.lora_B.weight`, dtype: 'BF16', shape: [outDim, r], data: bb });
        cpu.set(`${layer}.${module}`, { A: bf16BitsToF32(ab), B: bf16BitsToF32(bb), r, scale });
      } else {
        tensors.push({ name: `${p}.lora_A.weight`, dtype: 'F32', shape: [r, inDim], data: a });
        tensors.push({ name: `${p}.lora_B.weight`, dtype: 'F32', shape: [outDim, r], data: b });
        cpu.set(`${layer}.${module}`, { A: a, B: b, r, scale });
      }
    }
  }
  const dir = tmp('adapter');
  const config = {
    peft_type: 'LORA',
    task_type: 'CAUSAL_LM',
    base_model_name_or_path: 'test/base',
    r,
    lora_alpha: alpha,
    lora_dropout: 0.05,
    target_modules: targets,
    bias: 'none',
    fan_in_fan_out: false,
    inference_mode: true,
    use_rslora: !!spec.rslora,
    use_dora: false,
    modules_to_save: null,
  };
  writeFileSync(join(dir, 'adapter_config.json'), JSON.stringify(config, null, 2));
  writeFileSync(join(dir, 'adapter_model.safetensors'), writeSafetensors(tensors, { format: 'pt' }));
  return { dir, cpu, scale };
}

function randomIds(n: number, vocab: number, seed: number): number[] {
  const next = rng(seed);
  return Array.from({ length: n }, () => Math.floor(next() * vocab));
}

function maxDiff(a: number[], b: number[]): number {
  return Math.max(...a.map((x, i) => Math.abs(x - b[i])));
}

/** The checkpoint tensors of a folder (single file or shards), raw. */
function readTensors(dir: string) {
  const files = readdirSync(dir).filter((f) => f.endsWith('.safetensors'));
  const out = new Map<string, ReturnType<typeof parseSafetensors>['tensors'] extends Map<string, infer T> ? T : never>();
  for (const f of files) for (const [k, v] of parseSafetensors(new Uint8Array(readFileSync(join(dir, f))), f).tensors) out.set(k, v);
  return out;
}

const bytesEqual = (a: Uint8Array, b: Uint8Array) => a.byteLength === b.byteLength && Buffer.from(a).equals(Buffer.from(b));

/**
 * Independent single rounding of a float64 to a 16-bit format: of the representable neighbours
 * around x pick the nearest, ties to the even bit pattern (exact: x - v is exact for neighbours).
 */
function nearest16(x: number, fmt: 'bf16' | 'f16'): number {
  const decode = fmt === 'bf16' ? bf16BitsToNumber : f16BitsToNumber;
  const maxMag = fmt === 'bf16' ? 0x7f80 : 0x7c00;
  const sign = x < 0 || Object.is(x, -0) ? 0x8000 : 0;
  const ax = Math.abs(x);
  // Binary search the largest magnitude pattern with value <= |x| (patterns are monotonic).
  let lo = 0,
    hi = maxMag;
  while (lo < hi) {
    const mid = (lo + hi + 1) >> 1;
    if (decode(mid) <= ax) lo = mid;
    else hi = mid - 1;
  }
  let m = lo;
  if (m < maxMag) {
    const dLo = ax - decode(m);
    // Past the largest finite value, the next step (max + ulp) stands for infinity (IEEE overflow).
    const up = m + 1 === maxMag ? 2 * decode(m) - decode(m - 1) : decode(m + 1);
    const dHi = up - ax;
    if (dHi < dLo || (dHi === dLo && (m & 1) === 1)) m = m + 1;
  }
  return sign | m;
}

test('rounding: float64 -> bf16/f16 is one round-to-nearest-even (no double rounding through f32)', () => {
  // 1 + 2^-8 is the bf16 midpoint between 1 and 1 + 2^-7; + 2^-30 is lost in f32, so f64 -> f32 ->
  // bf16 would tie to even (1.0) while the correct single rounding goes up.
  const cases: [number, 'bf16' | 'f16', number][] = [
    [1 + 2 ** -8 + 2 ** -30, 'bf16', 0x3f81],
    [-(1 + 2 ** -8 + 2 ** -30), 'bf16', 0xbf81],
    [1 + 2 ** -8, 'bf16', 0x3f80], // exact tie -> even
    [1 + 3 * 2 ** -8, 'bf16', 0x3f82], // exact tie -> even (up)
    [1 + 2 ** -8 - 2 ** -40, 'bf16', 0x3f80],
    [1 + 2 ** -11 + 2 ** -40, 'f16', 0x3c01],
    [1 + 2 ** -11, 'f16', 0x3c00],
    [2 ** -25 + 2 ** -60, 'f16', 0x0001], // above half the smallest subnormal
    [2 ** -25, 'f16', 0x0000], // exactly half: ties to even (zero)
    [70000, 'f16', 0x7c00],
    [1e39, 'bf16', 0x7f80],
  ];
  for (const [x, fmt, want] of cases) {
    const got = (roundToDtype([x], fmt) as Uint16Array)[0];
    assert.equal(got, want, `${x} -> ${fmt}: got 0x${got.toString(16)}, want 0x${want.toString(16)}`);
    assert.equal(nearest16(x, fmt), want, `test rounder on ${x}`);
  }
  // The double-rounding case really does differ through plain f32.
  assert.equal(f32ToBf16Bits(new Float32Array([1 + 2 ** -8 + 2 ** -30]))[0], 0x3f80);
  // Fuzz near midpoints against the independent rounder.
  const next = rng(3);
  const xs: number[] = [];
  for (let i = 0; i < 20000; i++) {
    const e = Math.floor(next() * 30) - 15;
    const mant = Math.floor(next() * 256);
    const jitter = [0, 2 ** -30, -(2 ** -30), 2 ** -24, next() * 2 ** -8][i % 5];
    xs.push((next() < 0.5 ? -1 : 1) * (1 + (mant + 0.5) / 256 + jitter) * 2 ** e);
  }
  const bf = roundToDtype(xs, 'bf16') as Uint16Array;
  const f16 = roundToDtype(xs, 'f16') as Uint16Array;
  for (let i = 0; i < xs.length; i++) {
    assert.equal(bf[i], nearest16(xs[i], 'bf16'), `bf16 of ${xs[i]}`);
    assert.equal(f16[i], nearest16(xs[i], 'f16'), `f16 of ${xs[i]}`);
  }
  // Round-to-odd leaves exact values alone and marks inexact ones odd.
  const odd = f64ToF32RoundOdd([0.5, 1 + 2 ** -30, -(1 + 2 ** -30)]);
  assert.deepEqual([...new Uint32Array(odd.buffer)], [0x3f000000, 0x3f800001, 0xbf800001]);
});

test('merge to f32: merged model without adapter scores like the base model with it; files copied; loadModel loads it', async () => {
  const t0 = Date.now();
  const { dir: modelDir, config } = makeModel({
    architecture: 'llama',
    dtype: 'F32',
    tied: false,
    hiddenSize: 32,
    numLayers: 2,
    numHeads: 4,
    numKvHeads: 2,
    intermediateSize: 48,
    vocabSize: 64,
    seed: 11,
  });
  const { dir: adapterDir, cpu, scale } = makeAdapter(config, { r: 4, alpha: 8, seed: 21 });
  const outDir = join(tmp('out'), 'merged'); // does not exist yet: created
  const progress: [number, number][] = [];
  const files = await mergeAdapter(openSource(modelDir), openSource(adapterDir), outDir, {
    dtype: 'f32',
    onProgress: (d, t) => progress.push([d, t]),
  });
  assert.deepEqual(files.map((f) => f.slice(outDir.length + 1)).sort(), [
    'config.json',
    'generation_config.json',
    'model.safetensors',
    'tokenizer.json',
    'tokenizer_config.json',
  ]);
  assert.deepEqual(readdirSync(outDir).sort(), files.map((f) => f.slice(outDir.length + 1)).sort(), 'no temporary files left');
  for (const f of ['generation_config.json', 'tokenizer.json', 'tokenizer_config.json']) {
    assert.ok(bytesEqual(readFileSync(join(outDir, f)), readFileSync(join(modelDir, f))), `${f} copied unchanged`);
  }
  const srcCfg = JSON.parse(readFileSync(join(modelDir, 'config.json'), 'utf8'));
  const outCfg = JSON.parse(readFileSync(join(outDir, 'config.json'), 'utf8'));
  assert.equal(outCfg.torch_dtype, 'float32');
  assert.deepEqual({ ...outCfg, torch_dtype: srcCfg.torch_dtype }, srcCfg, 'only torch_dtype changes');

  // Tensors: LoRA sites exactly mergeLoraRef (f32), everything else bit-identical.
  const src = readTensors(modelDir);
  const out = readTensors(outDir);
  assert.deepEqual([...out.keys()].sort(), [...src.keys()].sort());
  assert.equal(progress.length, src.size);
  assert.deepEqual(progress.at(-1), [src.size, src.size]);
  for (const [name, entry] of out) {
    assert.equal(entry.dtype, 'F32', name);
    assert.deepEqual(entry.shape, src.get(name)!.shape, name);
    const m = /^model\.layers\.(\d+)\.\w+\.(\w+_proj)\.weight$/.exec(name);
    if (!m) {
      assert.ok(bytesEqual(entry.data, src.get(name)!.data), `${name} unchanged`);
      continue;
    }
    const lora = cpu.get(`${m[1]}.${m[2]}`)!;
    const [o, i] = entry.shape;
    const want = mergeLoraRef(toFloat32(src.get(name)!), lora.A, lora.B, o, i, lora.r, scale);
    assert.deepEqual(toFloat32(entry), want, `${name} = W + s·B·A`);
  }

  // Scores: merged (no adapter) vs base + adapter, float64 reference.
  const base = await loadCpuWeights(openSource(modelDir));
  const merged = await loadCpuWeights(openSource(outDir));
  for (const seed of [1, 2]) {
    const ids = randomIds(12, config.vocabSize, seed);
    const withAdapter = referenceScore(config, base.tensors, ids, 1, cpu);
    const plain = referenceScore(config, base.tensors, ids, 1);
    const fromMerged = referenceScore(merged.config, merged.tensors, ids, 1);
    assert.ok(maxDiff(withAdapter.logprobs, plain.logprobs) > 0.05, 'the adapter changes the scores (test not vacuous)');
    const d = maxDiff(fromMerged.logprobs, withAdapter.logprobs);
    assert.ok(d <= 1e-6, `f32 merge: max |Δ logprob| ${d} > 1e-6`);
    assert.ok(maxDiff(fromMerged.entropies, withAdapter.entropies) <= 1e-6);
  }

  // The engine's loader takes the merged folder.
  const gpu = await testGpu();
  const loaded = await loadModel(openSource(outDir), gpu);
  assert.deepEqual(loaded.config, base.config);
  assert.equal(loaded.weights.layers.length, 2);
  assert.equal(loaded.weights.layers[0].q.dtype, 'f32');
  destroyWeights(loaded.weights);
  console.log(`f32 merge test: ${Date.now() - t0} ms`);
});

test('merge to bf16 (default from torch_dtype) and f16: tied sharded Qwen3, rsLoRA BF16 adapter; single rounding; tolerance', async () => {
  const { dir: modelDir, config } = makeModel({
    architecture: 'qwen3',
    dtype: 'BF16',
    tied: true,
    hiddenSize: 32,
    numLayers: 2,
    numHeads: 4,
    numKvHeads: 2,
    intermediateSize: 48,
    vocabSize: 64,
    shards: 2,
    seed: 12,
  });
  const targets: TargetModule[] = ['q_proj', 'v_proj', 'o_proj', 'down_proj'];
  const { dir: adapterDir, cpu, scale } = makeAdapter(config, { r: 4, alpha: 8, rslora: true, targets, dtype: 'BF16', seed: 22 });
  assert.equal(scale, 4); // rsLoRA: 8 / √4
  const src = readTensors(modelDir);
  const base = await loadCpuWeights(openSource(modelDir));

  const outBf16 = tmp('out-bf16'); // exists, empty: accepted
  const files = await mergeAdapter(openSource(modelDir), openSource(adapterDir), outBf16);
  assert.ok(!existsSync(join(outBf16, 'model.safetensors.index.json')), 'a sharded source becomes one file');
  assert.deepEqual(
    readdirSync(outBf16).filter((f) => f.endsWith('.safetensors')),
    ['model.safetensors'],
  );
  assert.equal(files.length, 5);
  assert.equal(JSON.parse(readFileSync(join(outBf16, 'config.json'), 'utf8')).torch_dtype, 'bfloat16');
  const out = readTensors(outBf16);
  assert.ok(!out.has('lm_head.weight'), 'tied: no lm_head written');
  assert.deepEqual([...out.keys()].sort(), [...src.keys()].sort());
  let sites = 0;
  for (const [name, entry] of out) {
    assert.equal(entry.dtype, 'BF16', name);
    const m = /^model\.layers\.(\d+)\.\w+\.(\w+_proj)\.weight$/.exec(name);
    const lora = m ? cpu.get(`${m[1]}.${m[2]}`) : undefined;
    if (!lora) {
      assert.ok(bytesEqual(entry.data, src.get(name)!.data), `${name} unchanged (embeddings included)`);
      continue;
    }
    sites++;
    // Independent float64 merge, rounded once by the test's own rounder.
    const w = toFloat32(src.get(name)!);
    const [o, i] = entry.shape;
    const bits = new Uint16Array(entry.data.buffer, entry.data.byteOffset, entry.data.byteLength / 2);
    for (let row = 0; row < o; row++) {
      for (let col = 0; col < i; col++) {
        let s = 0;
        for (let k = 0; k < lora.r; k++) s += lora.B[row * lora.r + k] * lora.A[k * i + col];
        const want = nearest16(w[row * i + col] + scale * s, 'bf16');
        if (bits[row * i + col] !== want) assert.fail(`${name}[${row}, ${col}]: 0x${bits[row * i + col].toString(16)} ≠ 0x${want.toString(16)}`);
      }
    }
  }
  assert.equal(sites, targets.length * config.numLayers);

  // Scores. The only error is the bf16 rounding of the merged LoRA-site weights (everything else
  // is a bit copy of the BF16 source): each moves by at most 2^-9 relative. Measured against the
  // same kind of perturbation applied to the base: scoring the base + adapter with the *base*
  // LoRA-site weights nudged by a random ±2^-9 relative (the bf16 error bound) gives the scale of
  // logprob change such an error causes; the merge must stay within 1.5x of it (a statistical
  // margin for the max over positions: a rounding error is at most that nudge and usually about half).
  const merged = await loadCpuWeights(openSource(outBf16));
  const nudged = new Map(base.tensors);
  const next = rng(99);
  for (const name of base.tensors.keys()) {
    const m = /^model\.layers\.(\d+)\.\w+\.(\w+_proj)\.weight$/.exec(name);
    if (!m || !cpu.has(`${m[1]}.${m[2]}`)) continue;
    const t = base.tensors.get(name)!;
    nudged.set(name, { shape: t.shape, data: t.data.map((v) => v * (1 + (next() < 0.5 ? -1 : 1) * 2 ** -9)) });
  }
  let worst = 0,
    worstNudge = 0;
  for (const seed of [3, 4]) {
    const ids = randomIds(12, config.vocabSize, seed);
    const withAdapter = referenceScore(config, base.tensors, ids, 1, cpu);
    worst = Math.max(worst, maxDiff(referenceScore(merged.config, merged.tensors, ids, 1).logprobs, withAdapter.logprobs));
    worstNudge = Math.max(worstNudge, maxDiff(referenceScore(config, nudged, ids, 1, cpu).logprobs, withAdapter.logprobs));
    assert.ok(maxDiff(withAdapter.logprobs, referenceScore(config, base.tensors, ids, 1).logprobs) > 0.05, 'adapter matters');
  }
  console.log(`bf16 merge: max |Δ logprob| ${worst.toExponential(2)} (±2^-9 nudge of the base: ${worstNudge.toExponential(2)})`);
  assert.ok(worst <= 1.5 * worstNudge, `bf16 merge: max |Δ logprob| ${worst} (nudge scale ${worstNudge})`);
  assert.ok(worst > 0, 'bf16 rounding is visible (the comparison is not vacuous)');

  // Same adapter to f32: exact up to f32 rounding; and f16 with the single-rounding check on one site.
  const outF32 = join(tmp('out-f32'), 'm');
  await mergeAdapter(openSource(modelDir), openSource(adapterDir), outF32, { dtype: 'f32' });
  const m32 = await loadCpuWeights(openSource(outF32));
  const ids = randomIds(12, config.vocabSize, 5);
  const d32 = maxDiff(referenceScore(m32.config, m32.tensors, ids).logprobs, referenceScore(config, base.tensors, ids, 1, cpu).logprobs);
  assert.ok(d32 <= 1e-6, `rsLoRA f32 merge: ${d32}`);

  const outF16 = join(tmp('out-f16'), 'm');
  await mergeAdapter(openSource(modelDir), openSource(adapterDir), outF16, { dtype: 'f16' });
  assert.equal(JSON.parse(readFileSync(join(outF16, 'config.json'), 'utf8')).torch_dtype, 'float16');
  const o16 = readTensors(outF16);
  const name = 'model.layers.1.mlp.down_proj.weight';
  const e = o16.get(name)!;
  assert.equal(e.dtype, 'F16');
  const lora = cpu.get('1.down_proj')!;
  const w = toFloat32(src.get(name)!);
  const [o, i] = e.shape;
  const bits = new Uint16Array(e.data.buffer, e.data.byteOffset, e.data.byteLength / 2);
  for (let row = 0; row < o; row++) {
    for (let col = 0; col < i; col++) {
      let s = 0;
      for (let k = 0; k < lora.r; k++) s += lora.B[row * lora.r + k] * lora.A[k * i + col];
      assert.equal(bits[row * i + col], nearest16(w[row * i + col] + scale * s, 'f16'));
    }
  }
  const emb = toFloat32(o16.get('model.embed_tokens.weight')!);
  assert.deepEqual(
    emb,
    toFloat32(src.get('model.embed_tokens.weight')!).map((v) => f16BitsToNumber(nearest16(v, 'f16'))),
  );
  const gpu = await testGpu();
  const loaded = await loadModel(openSource(outF16), gpu);
  assert.equal(loaded.weights.lmHead, loaded.weights.embed, 'tied embeddings stay tied');
  destroyWeights(loaded.weights);
});

test('merge errors: wrong shapes, layers out of range, non-empty or source folder as output, missing adapter', async () => {
  const { dir: modelDir, config } = makeModel({
    architecture: 'llama',
    dtype: 'F32',
    tied: true,
    hiddenSize: 16,
    numLayers: 2,
    numHeads: 2,
    numKvHeads: 1,
    intermediateSize: 24,
    vocabSize: 32,
  });
  const other = { ...config, hiddenSize: 24, headDim: 12 };
  const wrong = makeAdapter(config, { shapesFrom: other, targets: ['q_proj'] });
  const fresh = join(tmp('err'), 'out');
  await assert.rejects(
    mergeAdapter(openSource(modelDir), openSource(wrong.dir), fresh),
    /lora_A\.weight' has shape \[4, 24\] but this model needs \[4, 16\].*different base model/,
  );
  assert.ok(!existsSync(fresh), 'nothing written for a rejected adapter');

  const tooDeep = makeAdapter(config, { extraLayer: 5, targets: ['v_proj'] });
  await assert.rejects(mergeAdapter(openSource(modelDir), openSource(tooDeep.dir), fresh), /layer index 5 is out of range \(the model has 2 layers\)/);

  await assert.rejects(mergeAdapter(openSource(modelDir), openSource(tmp('empty')), fresh), /no adapter_model\.safetensors/);

  const good = makeAdapter(config, { targets: ['q_proj', 'up_proj'] });
  const busy = tmp('busy');
  writeFileSync(join(busy, 'keep.txt'), 'hello');
  writeFileSync(join(busy, 'model.safetensors.index.json'), '{"weight_map": {}}');
  mkdirSync(join(busy, 'sub'));
  await assert.rejects(mergeAdapter(openSource(modelDir), openSource(good.dir), busy), /exists and is not empty.*overwrite/);
  assert.deepEqual(readdirSync(busy).sort(), ['keep.txt', 'model.safetensors.index.json', 'sub']);
  // overwrite: written, and the stale index (which loaders would prefer) is gone; other files kept.
  await mergeAdapter(openSource(modelDir), openSource(good.dir), busy, { overwrite: true, dtype: 'bf16' });
  assert.deepEqual(readdirSync(busy).sort(), [
    'config.json',
    'generation_config.json',
    'keep.txt',
    'model.safetensors',
    'sub',
    'tokenizer.json',
    'tokenizer_config.json',
  ]);
  const merged = await loadCpuWeights(openSource(busy));
  assert.ok(!merged.tensors.has('lm_head.weight'));

  await assert.rejects(mergeAdapter(openSource(modelDir), openSource(good.dir), modelDir, { overwrite: true }), /is the model folder/);
  rmSync(busy, { recursive: true, force: true });
});
