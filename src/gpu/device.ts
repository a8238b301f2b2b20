// Device acquisition: `navigator.gpu` in the browser, the `webgpu` (Dawn) package in Node.
// The same Gpu object comes out of both, so nothing above this file knows where it runs.

import { Gpu } from './runtime.ts';

const SWIFTSHADER_ICD = '/usr/lib/chromium/vk_swiftshader_icd.json';

export interface AcquireOptions {
  /** Limits the caller needs; each is requested up to what the adapter offers. */
  wantLimits?: Partial<Record<LimitName, number>>;
  /** Limits below which we refuse to run, with a message naming the limit. */
  needLimits?: Partial<Record<LimitName, number>>;
  powerPreference?: GPUPowerPreference;
  /** Wrap every dispatch in error scopes and name the failing kernel (slow; tests turn it on). */
  debug?: boolean;
  /** Optional features to leave off even where the adapter has them (tests of the fallback paths). */
  withoutFeatures?: GPUFeatureName[];
}

type LimitName =
  | 'maxBufferSize'
  | 'maxStorageBufferBindingSize'
  | 'maxComputeWorkgroupStorageSize'
  | 'maxComputeInvocationsPerWorkgroup'
  | 'maxComputeWorkgroupSizeX'
  | 'maxComputeWorkgroupsPerDimension'
  | 'maxStorageBuffersPerShaderStage';

/** Limits worth having for LLM work: big weight buffers and full workgroups. */
const DEFAULT_WANTED: LimitName[] = [
  'maxBufferSize',
  'maxStorageBufferBindingSize',
  'maxComputeWorkgroupStorageSize',
  'maxComputeInvocationsPerWorkgroup',
  'maxComputeWorkgroupSizeX',
  'maxStorageBuffersPerShaderStage',
];

export class WebGpuUnavailableError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'WebGpuUnavailableError';
  }
}

/**
 * The Vulkan loader's window-system probes print "error: XDG_RUNTIME_DIR is invalid or not set in
 * the environment." when it is missing (containers, CI): give the process a fresh private one
 * (mode 0700, removed at exit) before Dawn starts. An existing directory is kept.
 */
async function privateRuntimeDir(): Promise<void> {
  const { existsSync, mkdtempSync, rmSync } = await import('node:fs');
  const current = process.env.XDG_RUNTIME_DIR;
  if (current && existsSync(current)) return;
  const { tmpdir } = await import('node:os');
  const { join } = await import('node:path');
  const dir = mkdtempSync(join(tmpdir(), 'webgrpo-xdg-'));
  process.env.XDG_RUNTIME_DIR = dir;
  process.on('exit', () => rmSync(dir, { recursive: true, force: true }));
}

async function nodeGpu(powerPreference?: GPUPowerPreference): Promise<{ adapter: GPUAdapter; backend: 'node'; release: () => void }> {
  await privateRuntimeDir();
  const webgpu = await import('webgpu');
  Object.assign(globalThis, webgpu.globals);
  // Every Dawn instance stays referenced until the device is destroyed: a failed probe instance
  // finalized by the garbage collector while another is in use crashes the process.
  const instances: GPU[] = [];
  const tryAdapter = async () => {
    const instance = webgpu.create([]);
    instances.push(instance);
    return instance.requestAdapter({ powerPreference });
  };

  let adapter = await tryAdapter();
  // No usable Vulkan driver (no GPU, or only Mesa lavapipe which Dawn rejects): fall back to the
  // SwiftShader CPU driver shipped with Debian's chromium, unless the user chose a driver.
  if (!adapter && process.env.VK_ICD_FILENAMES === undefined && process.env.VK_DRIVER_FILES === undefined) {
    const { existsSync } = await import('node:fs');
    if (existsSync(SWIFTSHADER_ICD)) {
      process.env.VK_ICD_FILENAMES = SWIFTSHADER_ICD;
      adapter = await tryAdapter();
    }
  }
  if (!adapter) {
    throw new WebGpuUnavailableError(
      'No WebGPU adapter found. Install a Vulkan driver for your GPU, or `apt-get install chromium libvulkan1` ' +
        `for the SwiftShader CPU driver (${SWIFTSHADER_ICD}), or point VK_ICD_FILENAMES at an ICD json.`,
    );
  }
  return { adapter, backend: 'node', release: () => void instances.splice(0) };
}

async function browserGpu(powerPreference?: GPUPowerPreference): Promise<{ adapter: GPUAdapter; backend: 'browser'; release?: () => void }> {
  if (!('gpu' in navigator) || !navigator.gpu) {
    throw new WebGpuUnavailableError(
      'This browser does not expose WebGPU (navigator.gpu is missing). Use a recent Chrome or Edge, ' +
        'Safari 26+, or Firefox 141+ on Windows; on Linux Chrome needs --enable-unsafe-webgpu. ' +
        'WebGPU also needs a secure context (https or localhost).',
    );
  }
  const adapter = await navigator.gpu.requestAdapter({ powerPreference });
  if (!adapter) {
    throw new WebGpuUnavailableError('navigator.gpu exists but no adapter was returned (GPU blocklisted or disabled).');
  }
  return { adapter, backend: 'browser' };
}

export async function acquireGpu(options: AcquireOptions = {}): Promise<Gpu> {
  const inBrowser = (typeof navigator !== 'undefined' && typeof window !== 'undefined') || typeof WorkerGlobalScope !== 'undefined';
  const { adapter, backend, release } = inBrowser ? await browserGpu(options.powerPreference) : await nodeGpu(options.powerPreference);

  for (const [name, need] of Object.entries(options.needLimits ?? {})) {
    const offered = adapter.limits[name as LimitName];
    if (need !== undefined && offered < need) {
      throw new WebGpuUnavailableError(`This GPU offers ${name} = ${offered}, but ${need} is needed. Choose a smaller model or batch.`);
    }
  }
  const requiredLimits: Record<string, number> = {};
  for (const name of DEFAULT_WANTED) requiredLimits[name] = adapter.limits[name];
  for (const [name, want] of Object.entries(options.wantLimits ?? {})) {
    if (want !== undefined) requiredLimits[name] = Math.min(want, adapter.limits[name as LimitName]);
  }
  const requiredFeatures: GPUFeatureName[] = [];
  for (const feature of ['shader-f16', 'subgroups', 'timestamp-query'] as GPUFeatureName[]) {
    if (adapter.features.has(feature) && !options.withoutFeatures?.includes(feature)) requiredFeatures.push(feature);
  }
  const device = await adapter.requestDevice({ requiredLimits, requiredFeatures });
  const debug = options.debug ?? (typeof process !== 'undefined' && process.env?.WEBGRPO_GPU_DEBUG === '1');
  const gpu = new Gpu(device, adapter.info, backend, debug);
  gpu.onDestroy = release;
  return gpu;
}

declare const WorkerGlobalScope: unknown;

/** What a page or a report shows of a device: the adapter, the features that matter, the main limits, and whether it is a CPU driver. */
export interface DeviceInfo {
  adapter: string;
  features: string[];
  limits: Record<string, number>;
  /** True on a CPU driver (SwiftShader): works, but ~1000× slower than a GPU. */
  cpu: boolean;
}

const SHOWN_LIMITS = ['maxBufferSize', 'maxStorageBufferBindingSize', 'maxComputeWorkgroupStorageSize', 'maxComputeInvocationsPerWorkgroup'] as const;

export function describeDevice(gpu: Gpu): DeviceInfo {
  return {
    adapter: `${gpu.adapter.description || gpu.adapter.architecture || 'WebGPU adapter'} (${gpu.adapter.vendor || 'unknown vendor'})`,
    features: [gpu.hasF16 ? 'shader-f16' : 'no shader-f16', gpu.hasSubgroups ? 'subgroups' : 'no subgroups'],
    limits: Object.fromEntries(SHOWN_LIMITS.map((name) => [name, gpu.limits[name]])),
    cpu: gpu.isCpuAdapter,
  };
}
