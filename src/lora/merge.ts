// Merge a PEFT LoRA adapter into its base model and write a full Hugging Face model folder
// (config.json, generation_config.json, tokenizer files, model.safetensors), on the CPU: no GPU.
//
// Every LoRA site gets W' = W + s·B·A, computed in float64 from the widened base weight (the same
// arithmetic, in the same order, as `mergeLoraRef`) and rounded once to the output dtype with
// round-to-nearest-even. For f16/bf16 the float64 value is first rounded to f32 with round-to-odd,
// which makes the following f32 -> 16-bit round-to-nearest-even (f32ToBf16Bits / f32ToF16Bits)
// equal to a single direct rounding (f32 keeps ≥ 2 more bits than either 16-bit format), so no
// double-rounding error. Every other tensor is converted to the output dtype (a bit copy when the
// dtype already matches). Embeddings and lm_head are never touched (LoRA does not target them), so
// a tied model stays tied.
//
// Memory: the source is read one file (shard) at a time, as ModelSource hands out whole files, and
// tensors are converted in slices of at most SLICE values. The output data is streamed to disk.
// Node only (writes files); node: modules are imported lazily so the module can be bundled.

import type { ModelConfig } from '../model/types.ts';
import type { ModelSource } from '../io/source.ts';
import { readModelConfig } from '../model/weights.ts';
import { expectedTensors, LM_HEAD } from '../model/config.ts';
import {
  DTYPE_BYTES,
  f32ToBf16Bits,
  f32ToF16Bits,
  parseSafetensors,
  READABLE_DTYPES,
  safetensorsHeader,
  toFloat32,
  type SafetensorsDType,
  type TensorEntry,
} from '../io/safetensors.ts';
import { ADAPTER_CONFIG_FILE, ADAPTER_WEIGHTS_FILE, parsePeftConfig, peftModulePath, peftSites } from './adapter.ts';
import { loraScale, type LoraConfig, type TargetModule } from './config.ts';

export type MergeDType = 'bf16' | 'f16' | 'f32';

export interface MergeOptions {
  /**
   * Output dtype. Default: the source config's `torch_dtype` (or `dtype`) when it is float32,
   * float16 or bfloat16, else bf16.
   */
  dtype?: MergeDType;
  /**
   * Write into an existing non-empty outDir. Files this merge writes are replaced; stale checkpoint
   * files that would shadow or confuse the new model.safetensors (model.safetensors.index.json,
   * other *.safetensors, pytorch_model*.bin*) and copied-file names absent from the source are
   * removed. Other files are left alone.
   */
  overwrite?: boolean;
  /** Called after each tensor written: (tensors done, tensors in all). */
  onProgress?: (done: number, total: number) => void;
}

/** Files copied unchanged from the model source when present (config.json is rewritten). */
const MERGE_COPIED_FILES = [
  'generation_config.json',
  'tokenizer.json',
  'tokenizer_config.json',
  'special_tokens_map.json',
  'vocab.json',
  'merges.txt',
  'chat_template.json',
  'chat_template.jinja',
  'added_tokens.json',
  'tokenizer.model',
];

const INDEX = 'model.safetensors.index.json';
const SINGLE = 'model.safetensors';
/** Values converted per slice (bounds the temporary f32/f64 arrays). */
const SLICE = 1 << 20;

const TORCH_DTYPE: Record<MergeDType, string> = { f32: 'float32', f16: 'float16', bf16: 'bfloat16' };
const FILE_DTYPE: Record<MergeDType, 'F32' | 'F16' | 'BF16'> = { f32: 'F32', f16: 'F16', bf16: 'BF16' };

type Json = Record<string, unknown>;
type Fs = typeof import('node:fs/promises');

/** One LoRA site read from a PEFT adapter on the CPU. */
export interface CpuLoraSite {
  layer: number;
  module: TargetModule;
  /** [r, in] */
  A: Float32Array;
  /** [out, r] */
  B: Float32Array;
}

export interface CpuPeftAdapter {
  config: LoraConfig;
  scale: number;
  /** Keyed by the base weight's tensor name, e.g. model.layers.0.self_attn.q_proj.weight. */
  sites: Map<string, CpuLoraSite>;
}

// -------------------------------------------------------------------------------------------------
// Adapter (CPU)

/**
 * Parse and validate PEFT adapter files on the CPU against a model config: the same checks as
 * LoraAdapter.fromPeft (config, tensor names, layers, target modules, A/B pairs, shapes against
 * the model's projections), plus finite values. A and B come back as f32 (widened from F16/BF16).
 */
export function parsePeftAdapterCpu(
  model: ModelConfig,
  adapterConfig: unknown,
  safetensors: Uint8Array,
  fileName = ADAPTER_WEIGHTS_FILE,
  configName = ADAPTER_CONFIG_FILE,
): CpuPeftAdapter {
  const config = parsePeftConfig(adapterConfig, configName);
  const sites = new Map<string, CpuLoraSite>();
  for (const f of peftSites(model, config, safetensors, fileName)) {
    const p = peftModulePath(f.layer, f.module);
    const A = toFloat32(f.A);
    const B = toFloat32(f.B);
    for (const [t, v] of [
      [f.A, A],
      [f.B, B],
    ] as const) {
      for (let i = 0; i < v.length; i++) {
        if (!Number.isFinite(v[i])) throw new Error(`${fileName}: tensor '${t.name}' holds a non-finite value (${v[i]}) at index ${i}.`);
      }
    }
    sites.set(`${p.replace(/^base_model\.model\./, '')}.weight`, { layer: f.layer, module: f.module, A, B });
  }
  return { config, scale: loraScale(config), sites };
}

// -------------------------------------------------------------------------------------------------
// Rounding

/**
 * Round float64 values to f32 with round-to-odd: an inexact result gets the neighbour whose last
 * mantissa bit is 1. A later round-to-nearest-even to bf16 or f16 then equals one direct rounding of
 * the float64 value (the intermediate has ≥ 2 extra bits), including ties and overflow to inf.
 */
export function f64ToF32RoundOdd(src: ArrayLike<number>, dst: Float32Array = new Float32Array(src.length)): Float32Array {
  const bits = new Uint32Array(dst.buffer, dst.byteOffset, dst.length);
  for (let i = 0; i < src.length; i++) {
    const x = src[i];
    dst[i] = x;
    const f = dst[i];
    if (f === x || Number.isNaN(x) || (bits[i] & 1) !== 0) continue;
    // f is even and inexact: step one ulp toward x (sign-magnitude, so ±1 on the bits changes the
    // magnitude; f = ±0 gets x's sign from Math.fround; f = ±inf steps down to ±max, which is odd).
    bits[i] += Math.abs(x) > Math.abs(f) ? 1 : -1;
  }
  return dst;
}

/** Float64 values rounded once (nearest, ties to even) to the output dtype's storage. */
export function roundToDtype(values: ArrayLike<number>, dtype: MergeDType): Float32Array | Uint16Array {
  if (dtype === 'f32') return Float32Array.from(values as ArrayLike<number>);
  const odd = f64ToF32RoundOdd(values);
  return dtype === 'bf16' ? f32ToBf16Bits(odd) : f32ToF16Bits(odd);
}

// -------------------------------------------------------------------------------------------------
// Merge

/**
 * Write a merged model in Hugging Face layout to outDir: config.json (torch_dtype — and `dtype`,
 * when the source config uses the newer key — set to the output dtype), generation_config.json and
 * tokenizer files (MERGE_COPIED_FILES, whichever exist in the source) copied unchanged, and
 * model.safetensors with every base tensor (extra tensors too: a stored lm_head of a tied model,
 * non-float buffers, which are copied raw) where each LoRA site holds W' = W + s·B·A (float64 from
 * the widened base weight, rounded once to the output dtype) and every other float tensor is
 * converted to the output dtype. A sharded source is written as one model.safetensors file (as
 * large as the whole model in the output dtype: ~2 bytes per parameter for bf16/f16, 4 for f32).
 *
 * The adapter is parsed and validated on the CPU (same rules as LoraAdapter.fromPeft: wrong
 * shapes, i.e. an adapter for another model, unknown modules, layers out of range, …) before
 * anything is written. Refuses a non-empty outDir unless opts.overwrite, and an outDir that is the
 * model or adapter folder. On failure the partial files are removed (and outDir, if it created it).
 * Returns the paths written (outDir joined with each file name), model.safetensors first.
 */
export async function mergeAdapter(model: ModelSource, adapter: ModelSource, outDir: string, opts: MergeOptions = {}): Promise<string[]> {
  const fs: Fs = await import('node:fs/promises');
  const { join, resolve } = await import('node:path');

  // 1. Model config and adapter, validated before touching outDir.
  const config = await readModelConfig(model);
  const configJson = await model.readJson<Json>('config.json');
  if (!(await adapter.has(ADAPTER_WEIGHTS_FILE))) {
    if (await adapter.has('adapter_model.bin')) {
      throw new Error(
        `${adapter.id}: adapter_model.bin (PyTorch pickle) is not supported; save the adapter with safe_serialization=True (adapter_model.safetensors).`,
      );
    }
    throw new Error(`${adapter.id}: no ${ADAPTER_WEIGHTS_FILE} found (is this a PEFT LoRA adapter folder?).`);
  }
  if (!(await adapter.has(ADAPTER_CONFIG_FILE))) throw new Error(`${adapter.id}: no ${ADAPTER_CONFIG_FILE} found (is this a PEFT LoRA adapter folder?).`);
  const lora = parsePeftAdapterCpu(
    config,
    await adapter.readJson(ADAPTER_CONFIG_FILE),
    await adapter.read(ADAPTER_WEIGHTS_FILE),
    `${adapter.id}/${ADAPTER_WEIGHTS_FILE}`,
    `${adapter.id}/${ADAPTER_CONFIG_FILE}`,
  );
  const dtype = opts.dtype ?? defaultDtype(configJson);
  if (!(dtype in FILE_DTYPE)) throw new Error(`merge: unknown dtype '${String(dtype)}' (bf16, f16 or f32).`);

  // 2. The checkpoint plan: which files, in which order, hold which tensors.
  const plan = await checkpointPlan(model, config);

  // 3. outDir.
  const out = resolve(outDir);
  for (const src of [model, adapter]) {
    if (!src.id.startsWith('hf:') && resolve(src.id) === out) {
      throw new Error(`merge: the output folder ${outDir} is the ${src === model ? 'model' : 'adapter'} folder; choose another --out.`);
    }
  }
  let created = false;
  let existing: string[] = [];
  try {
    const st = await fs.stat(out);
    if (!st.isDirectory()) throw new Error(`merge: ${outDir} exists and is not a folder.`);
    existing = await fs.readdir(out);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
    await fs.mkdir(out, { recursive: true });
    created = true;
  }
  if (existing.length > 0 && !opts.overwrite) {
    throw new Error(
      `merge: the output folder ${outDir} exists and is not empty (${existing.length} entries); pass overwrite (--overwrite) or choose an empty folder.`,
    );
  }

  const dataTmp = join(out, `.${SINGLE}.data.partial`);
  const finalTmp = join(out, `.${SINGLE}.partial`);
  try {
    // 4. Tensor data, streamed to a temporary file (the header needs every shard's entries first).
    const header: Json = { __metadata__: { format: 'pt' } };
    let offset = 0;
    let done = 0;
    let total = plan.total;
    const dataFile = await fs.open(dataTmp, 'w');
    const usedSites = new Set<string>();
    try {
      for (const { file, names } of plan.files) {
        const where = `${model.id}/${file}`;
        const { tensors } = parseSafetensors(await model.read(file), where);
        const order = names ?? [...tensors.values()].sort((a, b) => a.data.byteOffset - b.data.byteOffset).map((t) => t.name);
        if (!plan.sharded) total = order.length;
        checkTensors(where, tensors, order, plan.expected, plan.sharded);
        for (const name of order) {
          const entry = tensors.get(name)!;
          const site = lora.sites.get(name);
          let outDtype: SafetensorsDType = entry.dtype;
          let bytes = 0;
          const write = async (data: ArrayBufferView) => {
            await writeAll(dataFile, new Uint8Array(data.buffer, data.byteOffset, data.byteLength));
            bytes += data.byteLength;
          };
          if (site) {
            outDtype = FILE_DTYPE[dtype];
            await mergeSite(entry, site, lora.scale, dtype, write);
            usedSites.add(name);
          } else if (READABLE_DTYPES.includes(entry.dtype)) {
            outDtype = FILE_DTYPE[dtype];
            await convertTensor(entry, dtype, write);
          } else {
            await write(entry.data); // non-float buffers (e.g. I64) are copied as they are
          }
          header[name] = { dtype: outDtype, shape: entry.shape, data_offsets: [offset, offset + bytes] };
          offset += bytes;
          done++;
          opts.onProgress?.(done, total);
        }
      }
    } finally {
      await dataFile.close();
    }
    for (const name of lora.sites.keys()) {
      if (!usedSites.has(name)) throw new Error(`merge: the checkpoint has no tensor '${name}' for the adapter's LoRA site.`);
    }

    // 5. model.safetensors = header + data, then the small files.
    const head = safetensorsHeader(header);
    const fh = await fs.open(finalTmp, 'w');
    try {
      await writeAll(fh, head);
      const src = await fs.open(dataTmp, 'r');
      try {
        const buf = new Uint8Array(Math.min(64 << 20, Math.max(1, offset)));
        for (let pos = 0; pos < offset; ) {
          const { bytesRead } = await src.read(buf, 0, Math.min(buf.byteLength, offset - pos), pos);
          if (bytesRead === 0) throw new Error(`merge: ${dataTmp} ended early`);
          await writeAll(fh, buf.subarray(0, bytesRead));
          pos += bytesRead;
        }
      } finally {
        await src.close();
      }
    } finally {
      await fh.close();
    }
    await fs.rm(dataTmp, { force: true });

    // Stale files an HF loader would read instead of (or besides) the new model.safetensors.
    const copied: string[] = [];
    for (const f of MERGE_COPIED_FILES) if (await model.has(f)) copied.push(f);
    for (const name of existing) {
      const stale =
        (name.endsWith('.safetensors') && name !== SINGLE) ||
        name === INDEX ||
        /^pytorch_model.*\.bin(\.index\.json)?$/.test(name) ||
        (MERGE_COPIED_FILES.includes(name) && !copied.includes(name));
      if (stale) await fs.rm(join(out, name), { force: true });
    }
    await fs.rename(finalTmp, join(out, SINGLE));
    const written = [join(out, SINGLE)];

    const newConfig: Json = { ...configJson, torch_dtype: TORCH_DTYPE[dtype] };
    if ('dtype' in configJson) newConfig.dtype = TORCH_DTYPE[dtype];
    await fs.writeFile(join(out, 'config.json'), `${JSON.stringify(newConfig, null, 2)}\n`);
    written.push(join(out, 'config.json'));
    for (const f of copied) {
      await fs.writeFile(join(out, f), await model.read(f));
      written.push(join(out, f));
    }
    return written;
  } catch (e) {
    await fs.rm(dataTmp, { force: true }).catch(() => {});
    await fs.rm(finalTmp, { force: true }).catch(() => {});
    if (created) await fs.rm(out, { recursive: true, force: true }).catch(() => {});
    throw e;
  }
}

function defaultDtype(configJson: Json): MergeDType {
  const t = configJson.torch_dtype ?? configJson.dtype;
  if (t === 'float32') return 'f32';
  if (t === 'float16') return 'f16';
  return 'bf16';
}

interface Plan {
  sharded: boolean;
  /** Files in order; names null: every tensor of the file, in data order. */
  files: { file: string; names: string[] | null }[];
  expected: Map<string, number[]>;
  /** Tensors to write (for progress). */
  total: number;
}

async function checkpointPlan(model: ModelSource, config: ModelConfig): Promise<Plan> {
  const expected = expectedTensors(config);
  if (await model.has(INDEX)) {
    const index = await model.readJson<{ weight_map?: Record<string, unknown> }>(INDEX);
    const map = index?.weight_map;
    if (!map || typeof map !== 'object') throw new Error(`${model.id}/${INDEX}: no weight_map object.`);
    for (const name of expected.keys()) {
      if (!(name in map)) throw new Error(`${model.id}/${INDEX}: missing tensor '${name}' (not in weight_map).`);
    }
    const files = new Map<string, string[]>();
    for (const [name, file] of Object.entries(map)) {
      if (typeof file !== 'string') throw new Error(`${model.id}/${INDEX}: weight_map['${name}'] is not a file name.`);
      if (!files.has(file)) files.set(file, []);
      files.get(file)!.push(name);
    }
    const sorted = [...files.keys()].sort();
    return { sharded: true, files: sorted.map((file) => ({ file, names: files.get(file)! })), expected, total: Object.keys(map).length };
  }
  if (await model.has(SINGLE)) return { sharded: false, files: [{ file: SINGLE, names: null }], expected, total: 0 };
  throw new Error(`${model.id}: no ${SINGLE} or ${INDEX} (only safetensors checkpoints are supported).`);
}

/** The loader's checks on one file: listed tensors present, expected ones with the right shape and a float dtype. */
function checkTensors(where: string, tensors: Map<string, TensorEntry>, names: string[], expected: Map<string, number[]>, sharded: boolean): void {
  const want = new Set(names);
  if (!sharded) for (const name of expected.keys()) want.add(name);
  for (const name of want) {
    const entry = tensors.get(name);
    if (!entry) throw new Error(`${where}: missing tensor '${name}'${sharded ? ` (${INDEX} places it in this file).` : '.'}`);
    const shape = expected.get(name) ?? (name === LM_HEAD ? expected.get('model.embed_tokens.weight') : undefined);
    if (!shape) continue;
    if (entry.shape.length !== shape.length || entry.shape.some((d, i) => d !== shape[i])) {
      throw new Error(`${where}: tensor '${name}' has shape [${entry.shape.join(', ')}], expected [${shape.join(', ')}].`);
    }
    if (!READABLE_DTYPES.includes(entry.dtype)) {
      throw new Error(`${where}: tensor '${name}' has dtype ${entry.dtype}, which is not supported (supported: F32, F16, BF16).`);
    }
  }
}

async function writeAll(fh: import('node:fs/promises').FileHandle, bytes: Uint8Array): Promise<void> {
  for (let pos = 0; pos < bytes.byteLength; ) {
    const { bytesWritten } = await fh.write(bytes, pos, bytes.byteLength - pos);
    pos += bytesWritten;
  }
}

/** A view of elements [start, end) of an entry as its own TensorEntry. */
function sliceEntry(entry: TensorEntry, start: number, end: number): TensorEntry {
  const b = DTYPE_BYTES[entry.dtype];
  return { ...entry, shape: [end - start], data: entry.data.subarray(start * b, end * b) };
}

/** Convert a float tensor to the output dtype in slices (a bit copy when the dtype matches). */
async function convertTensor(entry: TensorEntry, dtype: MergeDType, write: (d: ArrayBufferView) => Promise<void>): Promise<void> {
  if (entry.dtype === FILE_DTYPE[dtype]) return write(entry.data);
  const n = entry.data.byteLength / DTYPE_BYTES[entry.dtype];
  for (let start = 0; start < n; start += SLICE) {
    const part = sliceEntry(entry, start, Math.min(n, start + SLICE));
    if (dtype === 'f32') {
      await write(toFloat32(part));
      continue;
    }
    // The widened value is exact, so this is a single rounding.
    const f32 = toFloat32(part);
    const bits = dtype === 'bf16' ? f32ToBf16Bits(f32) : f32ToF16Bits(f32);
    if (dtype === 'f16') checkF16Overflow(entry.name, f32, bits, start);
    await write(bits);
  }
}

function checkF16Overflow(name: string, values: ArrayLike<number>, bits: Uint16Array, start: number): void {
  for (let i = 0; i < bits.length; i++) {
    if ((bits[i] & 0x7fff) === 0x7c00 && Number.isFinite(values[i])) {
      throw new Error(`merge: tensor '${name}' has value ${values[i]} at index ${start + i}, beyond the f16 range (±65504); use dtype bf16 or f32.`);
    }
  }
}

/**
 * W' = W + s·(B·A) for a whole [rows, cols] f32 weight, in float64 with the same sum order as
 * mergeSite (for exporters that round the result themselves, e.g. GGUF).
 */
export function mergeWeightF64(w: Float32Array, rows: number, cols: number, site: CpuLoraSite, scale: number): Float64Array {
  const r = site.A.length / cols;
  const At = new Float64Array(cols * r);
  for (let k = 0; k < r; k++) for (let i = 0; i < cols; i++) At[i * r + k] = site.A[k * cols + i];
  const merged = new Float64Array(rows * cols);
  const b = new Float64Array(r);
  for (let o = 0; o < rows; o++) {
    for (let k = 0; k < r; k++) b[k] = site.B[o * r + k];
    for (let i = 0; i < cols; i++) {
      let s = 0;
      const a = i * r;
      for (let k = 0; k < r; k++) s += b[k] * At[a + k];
      merged[o * cols + i] = w[o * cols + i] + scale * s;
    }
  }
  return merged;
}

/** W' = W + s·(B·A), row block by row block: float64 like mergeLoraRef, rounded once. */
async function mergeSite(entry: TensorEntry, site: CpuLoraSite, scale: number, dtype: MergeDType, write: (d: ArrayBufferView) => Promise<void>): Promise<void> {
  const [rows, cols] = entry.shape;
  const r = site.A.length / cols;
  // Aᵀ [in, r] in float64 so the k-sum reads contiguous memory (same sum order as mergeLoraRef).
  const At = new Float64Array(cols * r);
  for (let k = 0; k < r; k++) for (let i = 0; i < cols; i++) At[i * r + k] = site.A[k * cols + i];
  const blockRows = Math.max(1, Math.floor(SLICE / cols));
  const merged = new Float64Array(Math.min(rows, blockRows) * cols);
  const b = new Float64Array(r);
  for (let r0 = 0; r0 < rows; r0 += blockRows) {
    const r1 = Math.min(rows, r0 + blockRows);
    const w = toFloat32(sliceEntry(entry, r0 * cols, r1 * cols));
    for (let o = r0; o < r1; o++) {
      for (let k = 0; k < r; k++) b[k] = site.B[o * r + k];
      const base = (o - r0) * cols;
      for (let i = 0; i < cols; i++) {
        let s = 0;
        const a = i * r;
        for (let k = 0; k < r; k++) s += b[k] * At[a + k];
        merged[base + i] = w[base + i] + scale * s;
      }
    }
    const values = merged.subarray(0, (r1 - r0) * cols);
    const out = roundToDtype(values, dtype);
    if (dtype === 'f16') checkF16Overflow(entry.name, values, out as Uint16Array, r0 * cols);
    await write(out);
  }
}
