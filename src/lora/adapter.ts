// A set of LoRA layers over a model's projections, with PEFT-compatible export and import
// (adapter_config.json + adapter_model.safetensors, F32), as loaded by PEFT, vLLM and llama.cpp's
// convert_lora_to_gguf.py.

import type { Gpu } from '../gpu/runtime.ts';
import { Tensor } from '../gpu/tensor.ts';
import type { ModelConfig } from '../model/types.ts';
import type { ModelSource } from '../io/source.ts';
import { parseSafetensors, toFloat32, writeSafetensors, type TensorEntry, type WritableTensor } from '../io/safetensors.ts';
import { zeroFill, zeroTensor } from '../gpu/param.ts';
import { seededRandom } from '../gpu/random.ts';
import { LoraLayer } from '../kernels/lora.ts';
import { ALL_TARGETS, loraScale, validateLoraConfig, type LoraConfig, type TargetModule } from './config.ts';

export const ADAPTER_CONFIG_FILE = 'adapter_config.json';
export const ADAPTER_WEIGHTS_FILE = 'adapter_model.safetensors';

/** The [in, out] features of a target projection in one decoder layer. */
export function moduleDims(model: ModelConfig, module: TargetModule): { inDim: number; outDim: number } {
  const h = model.hiddenSize;
  const q = model.numHeads * model.headDim;
  const kv = model.numKvHeads * model.headDim;
  const m = model.intermediateSize;
  switch (module) {
    case 'q_proj':
      return { inDim: h, outDim: q };
    case 'k_proj':
    case 'v_proj':
      return { inDim: h, outDim: kv };
    case 'o_proj':
      return { inDim: q, outDim: h };
    case 'gate_proj':
    case 'up_proj':
      return { inDim: h, outDim: m };
    case 'down_proj':
      return { inDim: m, outDim: h };
  }
}

/** The PEFT tensor name prefix of one site, e.g. base_model.model.model.layers.3.self_attn.q_proj. */
export function peftModulePath(layer: number, module: TargetModule): string {
  const group = module === 'gate_proj' || module === 'up_proj' || module === 'down_proj' ? 'mlp' : 'self_attn';
  return `base_model.model.model.layers.${layer}.${group}.${module}`;
}

function siteSeed(seed: number, layer: number, module: TargetModule): number {
  let h = (seed >>> 0) ^ 0x85ebca6b;
  for (const v of [layer, ALL_TARGETS.indexOf(module)]) {
    h = Math.imul(h ^ (v + 0x9e3779b9), 0xc2b2ae35) >>> 0;
    h ^= h >>> 16;
  }
  return h >>> 0;
}

type Json = Record<string, unknown>;

const key = (layer: number, module: TargetModule) => `${layer}:${module}`;

export class LoraAdapter {
  private readonly sites: Map<string, { layer: number; module: TargetModule; lora: LoraLayer }>;

  private constructor(
    readonly gpu: Gpu,
    readonly model: ModelConfig,
    readonly config: LoraConfig,
    readonly baseModel: string,
    sites: { layer: number; module: TargetModule; lora: LoraLayer }[],
  ) {
    sites.sort((a, b) => a.layer - b.layer || ALL_TARGETS.indexOf(a.module) - ALL_TARGETS.indexOf(b.module));
    this.sites = new Map(sites.map((s) => [key(s.layer, s.module), s]));
  }

  /** The LoRA scale s of every site (alpha / r, or alpha / sqrt(r) with rsLoRA). */
  get scale(): number {
    return loraScale(this.config);
  }

  /**
   * A fresh adapter with PEFT's default init on every layer's target modules: A ~ U(-1/√in, 1/√in)
   * (kaiming-uniform with a = √5), B = 0, gradients 0. Seeded: the same seed gives the same A.
   */
  static init(gpu: Gpu, model: ModelConfig, cfg: LoraConfig, opts: { seed: number; baseModel?: string }): LoraAdapter {
    validateLoraConfig(cfg);
    const config: LoraConfig = { ...cfg, targetModules: ALL_TARGETS.filter((m) => cfg.targetModules.includes(m)) };
    const scale = loraScale(config);
    const r = config.r;
    const sites: { layer: number; module: TargetModule; lora: LoraLayer }[] = [];
    gpu.flush();
    for (let layer = 0; layer < model.numLayers; layer++) {
      for (const module of config.targetModules) {
        const { inDim, outDim } = moduleDims(model, module);
        const next = seededRandom(siteSeed(opts.seed, layer, module)); // one stream per site: sites do not depend on each other
        const bound = 1 / Math.sqrt(inDim);
        const a = new Float32Array(r * inDim);
        for (let i = 0; i < a.length; i++) a[i] = (2 * next() - 1) * bound;
        const name = peftModulePath(layer, module);
        const lora = new LoraLayer(
          inDim,
          outDim,
          r,
          scale,
          Tensor.from(gpu, a, [r, inDim], `${name}.lora_A`),
          zeroTensor(gpu, [outDim, r], `${name}.lora_B`),
          zeroTensor(gpu, [r, inDim], `${name}.lora_A.grad`),
          zeroTensor(gpu, [outDim, r], `${name}.lora_B.grad`),
        );
        sites.push({ layer, module, lora });
      }
    }
    return new LoraAdapter(gpu, model, config, opts.baseModel ?? '', sites);
  }

  get(layer: number, module: TargetModule): LoraLayer | undefined {
    return this.sites.get(key(layer, module))?.lora;
  }

  /** Every site, by layer then in ALL_TARGETS order. */
  layers(): { layer: number; module: TargetModule; lora: LoraLayer }[] {
    return [...this.sites.values()];
  }

  /**
   * The trainable parameters with their gradient accumulators, named by their PEFT keys (the
   * `Param` shape of src/gpu/param.ts): A then B of every site, in `layers()` order.
   */
  params(): { name: string; value: Tensor; grad: Tensor }[] {
    const out: { name: string; value: Tensor; grad: Tensor }[] = [];
    for (const { layer, module, lora } of this.sites.values()) {
      const p = peftModulePath(layer, module);
      out.push({ name: `${p}.lora_A.weight`, value: lora.A, grad: lora.gradA });
      out.push({ name: `${p}.lora_B.weight`, value: lora.B, grad: lora.gradB });
    }
    return out;
  }

  /** Number of trainable values. */
  parameterCount(): number {
    let n = 0;
    for (const { lora } of this.sites.values()) n += lora.r * (lora.inDim + lora.outDim);
    return n;
  }

  /** Set every gradient accumulator to 0 (ordered after the work already recorded). */
  zeroGrads(): void {
    for (const { lora } of this.sites.values()) zeroFill(this.gpu, [lora.gradA, lora.gradB]);
  }

  /** The adapter_config.json object PEFT writes for this adapter. */
  peftConfig(opts: { llamaCppCompat?: boolean } = {}): Json {
    const c = this.config;
    // llama.cpp's converter ignores use_rslora: bake √r into alpha so alpha'/r = alpha/√r.
    const compat = !!opts.llamaCppCompat && c.useRslora;
    return {
      alpha_pattern: {},
      auto_mapping: null,
      base_model_name_or_path: this.baseModel || null,
      bias: 'none',
      fan_in_fan_out: false,
      inference_mode: true,
      init_lora_weights: true,
      layers_pattern: null,
      layers_to_transform: null,
      lora_alpha: compat ? c.alpha * Math.sqrt(c.r) : c.alpha,
      lora_dropout: c.dropout,
      modules_to_save: null,
      peft_type: 'LORA',
      r: c.r,
      rank_pattern: {},
      revision: null,
      target_modules: [...c.targetModules],
      task_type: 'CAUSAL_LM',
      use_dora: false,
      use_rslora: compat ? false : c.useRslora,
    };
  }

  /**
   * PEFT files: the adapter_config.json object and adapter_model.safetensors bytes (F32) with keys
   * base_model.model.model.layers.{i}.self_attn.{q,k,v,o}_proj.lora_{A,B}.weight and
   * ...mlp.{gate,up,down}_proj.lora_{A,B}.weight. `llamaCppCompat` exports rsLoRA as lora_alpha·√r
   * with use_rslora false (same scale, for converters that ignore use_rslora).
   */
  async toPeft(opts: { llamaCppCompat?: boolean } = {}): Promise<{ adapterConfig: Json; safetensors: Uint8Array }> {
    const tensors: WritableTensor[] = [];
    for (const { layer, module, lora } of this.sites.values()) {
      const p = peftModulePath(layer, module);
      tensors.push({ name: `${p}.lora_A.weight`, dtype: 'F32', shape: [lora.r, lora.inDim], data: await lora.A.read() });
      tensors.push({ name: `${p}.lora_B.weight`, dtype: 'F32', shape: [lora.outDim, lora.r], data: await lora.B.read() });
    }
    return { adapterConfig: this.peftConfig(opts), safetensors: writeSafetensors(tensors, { format: 'pt' }) };
  }

  /**
   * Build an adapter from PEFT files. Rejects, naming the problem: peft_type not LORA, DoRA, LoRA
   * biases, modules_to_save, fan_in_fan_out, rank/alpha patterns, target modules other than the
   * seven projections (regex target_modules strings too, except a plain module name or
   * "all-linear"), tensors for unknown modules or layers ≥ numLayers, shape mismatches, and lora_A
   * without lora_B (or the reverse). F32/F16/BF16 tensors are accepted. Sites listed in
   * target_modules but absent from the file (e.g. layers_to_transform) get no LoRA.
   */
  static fromPeft(gpu: Gpu, model: ModelConfig, adapterConfig: unknown, safetensors: Uint8Array, fileName = ADAPTER_WEIGHTS_FILE): LoraAdapter {
    const config = parsePeftConfig(adapterConfig);
    const { r } = config;
    const scale = loraScale(config);
    const found = peftSites(model, config, safetensors, fileName);
    gpu.flush();
    const sites: { layer: number; module: TargetModule; lora: LoraLayer }[] = [];
    try {
      for (const f of found) {
        const p = peftModulePath(f.layer, f.module);
        const { inDim, outDim } = f;
        const lora = new LoraLayer(
          inDim,
          outDim,
          r,
          scale,
          Tensor.from(gpu, toFloat32(f.A), [r, inDim], `${p}.lora_A`),
          Tensor.from(gpu, toFloat32(f.B), [outDim, r], `${p}.lora_B`),
          zeroTensor(gpu, [r, inDim], `${p}.lora_A.grad`),
          zeroTensor(gpu, [outDim, r], `${p}.lora_B.grad`),
        );
        sites.push({ layer: f.layer, module: f.module, lora });
      }
    } catch (e) {
      for (const s of sites) destroyLayer(s.lora);
      throw e;
    }
    const base = (adapterConfig as Json).base_model_name_or_path;
    return new LoraAdapter(gpu, model, config, typeof base === 'string' ? base : '', sites);
  }

  /** Load adapter_config.json + adapter_model.safetensors from a folder or hf: source. */
  static async load(source: ModelSource, gpu: Gpu, model: ModelConfig): Promise<LoraAdapter> {
    if (!(await source.has(ADAPTER_WEIGHTS_FILE))) {
      if (await source.has('adapter_model.bin')) {
        throw new Error(
          `${source.id}: adapter_model.bin (PyTorch pickle) is not supported; save the adapter with safe_serialization=True (adapter_model.safetensors).`,
        );
      }
      throw new Error(`${source.id}: no ${ADAPTER_WEIGHTS_FILE} found (is this a PEFT LoRA adapter folder?).`);
    }
    const adapterConfig = await source.readJson(ADAPTER_CONFIG_FILE);
    const bytes = await source.read(ADAPTER_WEIGHTS_FILE);
    return LoraAdapter.fromPeft(gpu, model, adapterConfig, bytes, `${source.id}/${ADAPTER_WEIGHTS_FILE}`);
  }

  /** Node: write adapter_config.json and adapter_model.safetensors into `dir` (created if needed). */
  async save(dir: string, opts: { llamaCppCompat?: boolean } = {}): Promise<void> {
    const { adapterConfig, safetensors } = await this.toPeft(opts);
    const fs = await import('node:fs/promises');
    const { join } = await import('node:path');
    await fs.mkdir(dir, { recursive: true });
    await fs.writeFile(join(dir, ADAPTER_CONFIG_FILE), `${JSON.stringify(adapterConfig, null, 2)}\n`);
    await fs.writeFile(join(dir, ADAPTER_WEIGHTS_FILE), safetensors);
  }

  /** Free the GPU buffers of every site. The adapter must not be used afterwards. */
  destroy(): void {
    for (const { lora } of this.sites.values()) destroyLayer(lora);
    this.sites.clear();
  }
}

function destroyLayer(l: LoraLayer): void {
  for (const t of [l.A, l.B, l.gradA, l.gradB]) t.buffer.destroy();
}

function checkShape(fileName: string, entry: TensorEntry, want: number[], what: string): void {
  if (entry.shape.length !== want.length || entry.shape.some((d, i) => d !== want[i])) {
    throw new Error(
      `${fileName}: tensor '${entry.name}' has shape [${entry.shape.join(', ')}] but this model needs [${want.join(', ')}] (${what}; is the adapter for a different base model?).`,
    );
  }
}

/** One LoRA site of a PEFT adapter_model.safetensors, its lora_A [r, in] and lora_B [out, r] checked. */
export interface PeftSite {
  layer: number;
  module: TargetModule;
  A: TensorEntry;
  B: TensorEntry;
  inDim: number;
  outDim: number;
}

/**
 * The LoRA sites of PEFT adapter weights for a model: every tensor name parsed (parseTensorName),
 * lora_A and lora_B paired, their shapes checked against the model's projections; throws naming the
 * problem. The file is parsed at the first step of the iteration and each site checked as it is
 * reached. Shared by LoraAdapter.fromPeft (GPU) and the CPU merge.
 */
export function* peftSites(model: ModelConfig, config: LoraConfig, safetensors: Uint8Array, fileName: string): Generator<PeftSite> {
  const { r } = config;
  const parsed = parseSafetensors(safetensors, fileName);
  const found = new Map<string, { layer: number; module: TargetModule; A?: TensorEntry; B?: TensorEntry }>();
  for (const [name, entry] of parsed.tensors) {
    const site = parseTensorName(name, fileName, config.targetModules, model.numLayers);
    const k = key(site.layer, site.module);
    let f = found.get(k);
    if (!f) {
      f = { layer: site.layer, module: site.module };
      found.set(k, f);
    }
    if (f[site.which]) throw new Error(`${fileName}: tensor '${name}' duplicates another lora_${site.which} of the same module.`);
    f[site.which] = entry;
  }
  if (found.size === 0) throw new Error(`${fileName}: no LoRA tensors (lora_A/lora_B weights) found.`);
  for (const f of found.values()) {
    const p = peftModulePath(f.layer, f.module);
    if (!f.A) throw new Error(`${fileName}: '${p}.lora_B.weight' has no matching lora_A ('${p}.lora_A.weight' is missing).`);
    if (!f.B) throw new Error(`${fileName}: '${p}.lora_A.weight' has no matching lora_B ('${p}.lora_B.weight' is missing).`);
    const { inDim, outDim } = moduleDims(model, f.module);
    checkShape(fileName, f.A, [r, inDim], `lora_A of ${f.module} is [r, in_features]`);
    checkShape(fileName, f.B, [outDim, r], `lora_B of ${f.module} is [out_features, r]`);
    yield { layer: f.layer, module: f.module, A: f.A, B: f.B, inDim, outDim };
  }
}

const ATTN = new Set<string>(['q_proj', 'k_proj', 'v_proj', 'o_proj']);

/** Parse one PEFT tensor name into its site, or throw naming what is unsupported. */
function parseTensorName(
  name: string,
  fileName: string,
  targets: readonly TargetModule[],
  numLayers: number,
): { layer: number; module: TargetModule; which: 'A' | 'B' } {
  const where = `${fileName}: tensor '${name}'`;
  if (/lora_magnitude_vector/.test(name)) throw new Error(`${where}: DoRA (lora_magnitude_vector) is not supported.`);
  if (/lora_embedding_[AB]/.test(name)) {
    throw new Error(`${where}: LoRA on embeddings is not supported (target modules: ${ALL_TARGETS.join(', ')}).`);
  }
  const m = /^(?:base_model\.model\.)?(.*)\.lora_([AB])(?:\.default)?\.(weight|bias)$/.exec(name);
  if (!m) {
    throw new Error(
      `${where} is not a LoRA weight (expected base_model.model.model.layers.{i}.{self_attn|mlp}.<module>.lora_{A|B}.weight; modules_to_save copies are not supported).`,
    );
  }
  const [, path, which, kind] = m;
  if (kind === 'bias') throw new Error(`${where}: LoRA biases (bias != "none" / lora_bias) are not supported.`);
  const pm = /^model\.layers\.(\d+)\.(self_attn|mlp)\.(\w+)$/.exec(path);
  if (!pm) {
    const last = path.split('.').pop();
    throw new Error(`${where}: unknown target module '${last}' (supported: ${ALL_TARGETS.join(', ')}).`);
  }
  const layer = Number(pm[1]);
  const group = pm[2];
  const module = pm[3];
  if (!(ALL_TARGETS as string[]).includes(module)) {
    throw new Error(`${where}: unknown target module '${module}' (supported: ${ALL_TARGETS.join(', ')}).`);
  }
  if ((group === 'self_attn') !== ATTN.has(module)) {
    throw new Error(`${where}: ${module} belongs under ${ATTN.has(module) ? 'self_attn' : 'mlp'}, not ${group}.`);
  }
  if (layer >= numLayers) {
    throw new Error(`${where}: layer index ${layer} is out of range (the model has ${numLayers} layers).`);
  }
  if (!targets.includes(module as TargetModule)) {
    throw new Error(`${where}: module ${module} is not in the adapter's target_modules [${targets.join(', ')}].`);
  }
  return { layer, module: module as TargetModule, which: which as 'A' | 'B' };
}

/** adapter_config.json -> LoraConfig, rejecting what this engine cannot represent. */
export function parsePeftConfig(json: unknown, fileName = ADAPTER_CONFIG_FILE): LoraConfig {
  if (json === null || typeof json !== 'object' || Array.isArray(json)) throw new Error(`${fileName}: expected a JSON object.`);
  const j = json as Json;
  const fail = (msg: string): never => {
    throw new Error(`${fileName}: ${msg}`);
  };
  if (j.peft_type !== 'LORA') fail(`peft_type ${JSON.stringify(j.peft_type)} is not supported (only "LORA").`);
  if (j.use_dora === true) fail('use_dora: true (DoRA) is not supported.');
  if (j.bias !== undefined && j.bias !== null && j.bias !== 'none') fail(`bias ${JSON.stringify(j.bias)} is not supported (only "none").`);
  if (j.lora_bias === true) fail('lora_bias: true is not supported.');
  const mts = j.modules_to_save;
  if (mts !== undefined && mts !== null && !(Array.isArray(mts) && mts.length === 0)) {
    fail(`modules_to_save ${JSON.stringify(mts)} is not supported (must be null).`);
  }
  if (j.fan_in_fan_out === true) fail('fan_in_fan_out: true is not supported (weights must be [out, in], as in Llama/Qwen).');
  for (const k of ['rank_pattern', 'alpha_pattern']) {
    const v = j[k];
    if (v !== undefined && v !== null && !(typeof v === 'object' && Object.keys(v as object).length === 0)) {
      fail(`${k} ${JSON.stringify(v)} is not supported (one r and lora_alpha for every module).`);
    }
  }
  const r = j.r ?? 8;
  if (typeof r !== 'number' || !Number.isSafeInteger(r) || r <= 0) fail(`r must be a positive integer, got ${JSON.stringify(j.r)}.`);
  const alpha = j.lora_alpha ?? 8;
  if (typeof alpha !== 'number' || !Number.isFinite(alpha)) fail(`lora_alpha must be a number, got ${JSON.stringify(j.lora_alpha)}.`);
  const dropout = j.lora_dropout ?? 0;
  if (typeof dropout !== 'number' || !(dropout >= 0 && dropout < 1)) fail(`lora_dropout must be in [0, 1), got ${JSON.stringify(j.lora_dropout)}.`);
  const rs = j.use_rslora ?? false;
  if (typeof rs !== 'boolean') fail(`use_rslora must be a boolean, got ${JSON.stringify(j.use_rslora)}.`);

  const tm = j.target_modules;
  let names: string[];
  if (typeof tm === 'string') {
    if (tm === 'all-linear') names = [...ALL_TARGETS];
    else if ((ALL_TARGETS as string[]).includes(tm)) names = [tm];
    else fail(`target_modules '${tm}' is a regular expression, which is not supported; list the modules (supported: ${ALL_TARGETS.join(', ')}).`);
  } else if (Array.isArray(tm) && tm.every((x) => typeof x === 'string')) {
    names = tm as string[];
  } else {
    fail(`target_modules must be a list of module names, got ${JSON.stringify(tm)}.`);
  }
  for (const n of names!) {
    if (!(ALL_TARGETS as string[]).includes(n)) {
      fail(`unknown target module '${n}' in target_modules (supported: ${ALL_TARGETS.join(', ')}; LoRA on embeddings or lm_head is not).`);
    }
  }
  if (names!.length === 0) fail('target_modules is empty.');
  const targetModules = ALL_TARGETS.filter((m) => names.includes(m));
  return { r: r as number, alpha: alpha as number, dropout: dropout as number, useRslora: rs as boolean, targetModules };
}
