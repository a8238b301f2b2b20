// The GPU runtime every kernel wrapper uses: pipeline cache, buffer pool, bind-group cache, batched
// dispatch with per-dispatch uniform parameters, read-back, counters of what all that cost, and
// errors that name the kernel.
//
// Binding convention for every kernel: @group(0) @binding(0) is the uniform parameter block (when
// the kernel has parameters), and the storage buffers follow at bindings 1, 2, … in the order the
// wrapper passes them. Kernels without parameters start their storage buffers at binding 0.

class GpuError extends Error {
  constructor(
    message: string,
    readonly kernel?: string,
  ) {
    super(message);
    this.name = 'GpuError';
  }
}

export class GpuDeviceLostError extends GpuError {
  constructor(readonly reason: string) {
    super(`The GPU device was lost (${reason}). Training can resume from its last checkpoint.`);
    this.name = 'GpuDeviceLostError';
  }
}

/** A buffer binding: a whole buffer, or a byte range of one (offset a multiple of 256). */
export type Binding = GPUBuffer | { buffer: GPUBuffer; offset: number; size: number };

/** Parameter words for a uniform block: plain numbers are u32 (or i32 if negative), {f32} floats. */
export type ParamValue = number | { f32: number };

const PARAM_SLOT_BYTES = 256; // minUniformBufferOffsetAlignment on every adapter
// One slot per dispatch between submits: a decode token of a 24-layer model with LoRA on every
// projection records ~750 dispatches, and a token should be one submit (docs/DESIGN.md §6.2).
const PARAM_SLOTS = 2048;
// Bind groups are cached per (pipeline, parameter slot, bindings); past this many the cache is
// dropped, so groups of destroyed buffers do not pile up.
const MAX_CACHED_BIND_GROUPS = 16384;
const PROFILE_SLOTS = 2048;

// GPUBufferUsage bits, spelled out because Node only defines the globals once a device is acquired.
const STORAGE_USAGE = 0x80 /* STORAGE */ | 0x04 /* COPY_SRC */ | 0x08 /* COPY_DST */;

export interface AdapterSummary {
  vendor: string;
  architecture: string;
  description: string;
  backend: 'node' | 'browser';
}

/** What the runtime has done since the device was acquired (docs/DESIGN.md §6.2). */
export interface GpuCounters {
  dispatches: number;
  submits: number;
  /** mapAsync calls: each waits for the queue to drain. */
  readbacks: number;
  /** GPU buffers allocated (pool misses, staging and KV caches), not pool reuses. */
  buffersCreated: number;
  bindGroupsCreated: number;
  pipelinesCreated: number;
  /** Bytes written to the uniform parameter buffer. */
  uniformBytes: number;
  /** CPU milliseconds spent recording dispatches and submitting them. */
  cpuEncodeMs: number;
}

/** `after − before`, field by field. */
export function countersSince(before: GpuCounters, after: GpuCounters): GpuCounters {
  const out = { ...after };
  for (const k of Object.keys(out) as (keyof GpuCounters)[]) out[k] -= before[k];
  return out;
}

export class Gpu {
  readonly limits: GPUSupportedLimits;
  readonly hasF16: boolean;
  readonly hasSubgroups: boolean;
  /** The adapter's smallest subgroup size (0 when it does not say). */
  readonly subgroupMinSize: number;
  readonly isCpuAdapter: boolean;
  readonly adapter: AdapterSummary;
  /** Set once the device is lost; every later call throws GpuDeviceLostError. */
  lost: GpuDeviceLostError | null = null;

  private readonly pipelines = new Map<string, GPUComputePipeline>();
  private readonly modules = new Map<string, GPUShaderModule>();
  private readonly pool = new Map<string, GPUBuffer[]>();
  private encoder: GPUCommandEncoder | null = null;
  private pass: GPUComputePassEncoder | null = null;
  private readonly paramBuffer: GPUBuffer;
  private readonly paramStaging = new Uint32Array((PARAM_SLOTS * PARAM_SLOT_BYTES) / 4);
  private paramSlotsUsed = 0;
  private readonly bindGroups = new Map<string, GPUBindGroup>();
  /** Small integer ids of pipelines and buffers, for bind-group cache keys. */
  private readonly objectIds = new WeakMap<object, number>();
  private nextObjectId = 1;
  private readonly counts: GpuCounters = {
    dispatches: 0,
    submits: 0,
    readbacks: 0,
    buffersCreated: 0,
    bindGroupsCreated: 0,
    pipelinesCreated: 0,
    uniformBytes: 0,
    cpuEncodeMs: 0,
  };

  constructor(
    readonly device: GPUDevice,
    info: GPUAdapterInfo,
    backend: 'node' | 'browser',
    readonly debug: boolean,
  ) {
    this.limits = device.limits;
    this.hasF16 = device.features.has('shader-f16');
    this.hasSubgroups = device.features.has('subgroups');
    this.subgroupMinSize = this.hasSubgroups ? ((info as { subgroupMinSize?: number }).subgroupMinSize ?? 0) : 0;
    // CPU rasterisers (SwiftShader) run each workgroup barrier as a costly thread sync: kernels
    // pick barrier-free variants there, and workgroup-memory tiling on real GPUs.
    this.isCpuAdapter = info.architecture === 'swiftshader' || /swiftshader|llvmpipe|lavapipe/i.test(info.description ?? '');
    this.adapter = {
      vendor: info.vendor ?? '',
      architecture: info.architecture ?? '',
      description: info.description ?? '',
      backend,
    };
    this.paramBuffer = this.createBuffer({
      label: 'params',
      size: PARAM_SLOTS * PARAM_SLOT_BYTES,
      usage: GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST,
    });
    device.lost.then((info) => {
      if (info.reason !== 'destroyed') this.lost = new GpuDeviceLostError(info.message || String(info.reason));
    });
  }

  private checkAlive(): void {
    if (this.lost) throw this.lost;
  }

  /** A snapshot of the counters; `countersSince(a, b)` gives what happened between two. */
  counters(): GpuCounters {
    return { ...this.counts };
  }

  /** Every buffer the runtime allocates goes through here, so buffersCreated counts it. */
  createBuffer(descriptor: GPUBufferDescriptor): GPUBuffer {
    this.counts.buffersCreated++;
    return this.device.createBuffer(descriptor);
  }

  private objectId(o: object): number {
    let id = this.objectIds.get(o);
    if (id === undefined) {
      id = this.nextObjectId++;
      this.objectIds.set(o, id);
    }
    return id;
  }

  /** A compiled pipeline, cached by shader source, entry point and override constants. */
  pipeline(label: string, code: string, entryPoint: string, constants: Record<string, number> = {}): GPUComputePipeline {
    const constKey = Object.entries(constants)
      .sort(([a], [b]) => (a < b ? -1 : 1))
      .map(([k, v]) => `${k}=${v}`)
      .join(',');
    const key = `${code}\u0000${entryPoint}\u0000${constKey}`;
    let pipeline = this.pipelines.get(key);
    if (pipeline) return pipeline;
    this.checkAlive();
    let module = this.modules.get(code);
    if (!module) {
      module = this.device.createShaderModule({ label, code });
      this.modules.set(code, module);
    }
    this.counts.pipelinesCreated++;
    pipeline = this.device.createComputePipeline({
      label: `${label}:${entryPoint}`,
      layout: 'auto',
      compute: { module, entryPoint, constants },
    });
    this.pipelines.set(key, pipeline);
    return pipeline;
  }

  /** A storage buffer of at least `bytes` bytes (rounded up to 4), reused from the pool when possible. */
  buffer(bytes: number, label = 'buffer', usage: number = STORAGE_USAGE): GPUBuffer {
    this.checkAlive();
    const size = Math.max(4, Math.ceil(bytes / 4) * 4);
    const limit = this.limits.maxBufferSize;
    if (size > limit) {
      throw new GpuError(`Buffer "${label}" needs ${size} bytes but this device allows at most ${limit} (maxBufferSize).`);
    }
    const free = this.pool.get(`${size}:${usage}`);
    const reused = free?.pop();
    if (reused) return reused;
    return this.createBuffer({ label, size, usage });
  }

  /** Return a buffer to the pool; it may be handed out again after the work already recorded. */
  release(buffer: GPUBuffer): void {
    const key = `${buffer.size}:${buffer.usage}`;
    let free = this.pool.get(key);
    if (!free) {
      free = [];
      this.pool.set(key, free);
    }
    free.push(buffer);
  }

  /** Upload typed data into a new storage buffer. */
  upload(data: ArrayBufferView, label = 'upload'): GPUBuffer {
    const buffer = this.buffer(data.byteLength, label);
    this.write(buffer, data);
    return buffer;
  }

  write(buffer: GPUBuffer, data: ArrayBufferView, offsetBytes = 0): void {
    this.checkAlive();
    // queue.writeBuffer runs before any work still being recorded: submit that work first, since
    // it may read this buffer (a pooled buffer, or one rewritten between steps).
    this.flush();
    // writeBuffer needs a size that is a multiple of 4: pad the tail when it is not.
    const bytes = new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
    if (bytes.byteLength % 4 === 0) {
      this.device.queue.writeBuffer(buffer, offsetBytes, bytes);
    } else {
      const padded = new Uint8Array(Math.ceil(bytes.byteLength / 4) * 4);
      padded.set(bytes);
      this.device.queue.writeBuffer(buffer, offsetBytes, padded);
    }
  }

  /**
   * Record one compute dispatch. Work is batched into one command encoder until `flush()` (or a
   * read) submits it. In debug mode every dispatch is submitted alone inside error scopes, so a
   * validation or out-of-memory error names the kernel that caused it.
   */
  dispatch(kernel: string, pipeline: GPUComputePipeline, buffers: Binding[], workgroups: [number, number?, number?], params?: ParamValue[]): void {
    this.checkAlive();
    const start = performance.now();
    const [x, y = 1, z = 1] = workgroups;
    const maxGroups = this.limits.maxComputeWorkgroupsPerDimension;
    if (x > maxGroups || y > maxGroups || z > maxGroups) {
      throw new GpuError(`Kernel ${kernel} needs ${x}×${y}×${z} workgroups; this device allows ${maxGroups} per dimension.`, kernel);
    }
    if (x === 0 || y === 0 || z === 0) return;
    if (params && this.paramSlotsUsed === PARAM_SLOTS) this.flush();

    const entries: GPUBindGroupEntry[] = [];
    let binding = 0;
    let key = String(this.objectId(pipeline));
    if (params) {
      const slot = this.paramSlotsUsed++;
      key += `|p${slot}:${params.length}`;
      const base = (slot * PARAM_SLOT_BYTES) / 4;
      const asF32 = new Float32Array(this.paramStaging.buffer);
      const asI32 = new Int32Array(this.paramStaging.buffer);
      params.forEach((value, i) => {
        if (typeof value === 'number') {
          if (value < 0) asI32[base + i] = value;
          else this.paramStaging[base + i] = value;
        } else asF32[base + i] = value.f32;
      });
      entries.push({
        binding: binding++,
        resource: { buffer: this.paramBuffer, offset: slot * PARAM_SLOT_BYTES, size: Math.max(16, Math.ceil(params.length / 4) * 16) },
      });
    }
    for (const b of buffers) {
      const resource: GPUBufferBinding = 'buffer' in b ? b : { buffer: b };
      entries.push({ binding: binding++, resource });
      key += `|${this.objectId(resource.buffer)}:${resource.offset ?? 0}:${resource.size ?? ''}`;
    }
    if (this.debug) this.device.pushErrorScope('validation'), this.device.pushErrorScope('out-of-memory');
    // Same pipeline, parameter slot and buffers: the same bind group (the slot's contents change
    // per submit, not its place), so a steady decode loop creates none.
    let bindGroup = this.bindGroups.get(key);
    if (!bindGroup) {
      if (this.bindGroups.size >= MAX_CACHED_BIND_GROUPS) this.bindGroups.clear();
      bindGroup = this.device.createBindGroup({ label: kernel, layout: pipeline.getBindGroupLayout(0), entries });
      this.bindGroups.set(key, bindGroup);
      this.counts.bindGroupsCreated++;
    }
    if (!this.encoder) this.encoder = this.device.createCommandEncoder({ label: 'batch' });
    if (this.profiler) {
      // One pass per dispatch, timestamped at its start and end.
      this.endPass();
      if (this.profiler.names.length === PROFILE_SLOTS) this.flush();
      if (!this.encoder) this.encoder = this.device.createCommandEncoder({ label: 'batch' });
      const slot = this.profiler.names.push(kernel) - 1;
      this.pass = this.encoder.beginComputePass({
        label: kernel,
        timestampWrites: { querySet: this.profiler.querySet, beginningOfPassWriteIndex: 2 * slot, endOfPassWriteIndex: 2 * slot + 1 },
      });
    }
    if (!this.pass) this.pass = this.encoder.beginComputePass({ label: 'compute' });
    this.pass.setPipeline(pipeline);
    this.pass.setBindGroup(0, bindGroup);
    this.pass.dispatchWorkgroups(x, y, z);
    this.counts.dispatches++;
    if (this.profiler) this.endPass();
    this.counts.cpuEncodeMs += performance.now() - start;
    if (this.debug) {
      this.flush();
      const oom = this.device.popErrorScope();
      const validation = this.device.popErrorScope();
      this.pendingChecks.push(
        Promise.all([oom, validation]).then(([o, v]) => {
          const error = v ?? o;
          if (error) throw new GpuError(`Kernel ${kernel} failed on the GPU: ${error.message}`, kernel);
        }),
      );
    }
  }

  private pendingChecks: Promise<void>[] = [];

  /** Copy between buffers (recorded in order with the dispatches). */
  copy(src: GPUBuffer, srcOffset: number, dst: GPUBuffer, dstOffset: number, bytes: number): void {
    this.checkAlive();
    this.endPass();
    if (!this.encoder) this.encoder = this.device.createCommandEncoder({ label: 'batch' });
    this.encoder.copyBufferToBuffer(src, srcOffset, dst, dstOffset, bytes);
  }

  /** Zero `bytes` bytes of a buffer from `offset` (recorded in order with the dispatches; both multiples of 4). */
  clear(buffer: GPUBuffer, offset: number, bytes: number): void {
    this.checkAlive();
    this.endPass();
    if (!this.encoder) this.encoder = this.device.createCommandEncoder({ label: 'batch' });
    this.encoder.clearBuffer(buffer, offset, bytes);
  }

  private endPass(): void {
    if (this.pass) {
      this.pass.end();
      this.pass = null;
    }
  }

  /** Submit everything recorded so far. */
  flush(): void {
    this.checkAlive();
    if (!this.encoder) return;
    const start = performance.now();
    this.endPass();
    if (this.paramSlotsUsed > 0) {
      this.device.queue.writeBuffer(this.paramBuffer, 0, this.paramStaging, 0, (this.paramSlotsUsed * PARAM_SLOT_BYTES) / 4);
      this.counts.uniformBytes += this.paramSlotsUsed * PARAM_SLOT_BYTES;
      this.paramSlotsUsed = 0;
    }
    const profiled = this.profiler?.names.length ? this.profiler : null;
    let resolved: GPUBuffer | null = null;
    let readBack: (() => void) | null = null;
    if (profiled) {
      const n = profiled.names.length;
      resolved = this.createBuffer({ size: n * 16, usage: GPUBufferUsage.QUERY_RESOLVE | GPUBufferUsage.COPY_SRC });
      const staging = this.createBuffer({ size: n * 16, usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST });
      this.encoder.resolveQuerySet(profiled.querySet, 0, 2 * n, resolved, 0);
      this.encoder.copyBufferToBuffer(resolved, 0, staging, 0, n * 16);
      const names = profiled.names.splice(0);
      readBack = () =>
        profiled.pending.push(
          this.mapForRead(staging).then(() => {
            const ticks = new BigUint64Array(staging.getMappedRange());
            names.forEach((kernel, i) => {
              const name = kernel.replace(/\(.*?\)/g, ''); // one row per kernel, not per weight
              const entry = profiled.totals.get(name) ?? { count: 0, ms: 0 };
              entry.count++;
              entry.ms += Number(ticks[2 * i + 1] - ticks[2 * i]) / 1e6;
              profiled.totals.set(name, entry);
            });
            staging.destroy();
          }),
        );
    }
    this.device.queue.submit([this.encoder.finish()]);
    this.counts.submits++;
    this.encoder = null;
    this.counts.cpuEncodeMs += performance.now() - start;
    resolved?.destroy();
    readBack?.();
  }

  private profiler: { querySet: GPUQuerySet; names: string[]; totals: Map<string, { count: number; ms: number }>; pending: Promise<void>[] } | null = null;

  /** Start timing every dispatch on the GPU (needs the timestamp-query feature). */
  startProfile(): void {
    if (!this.device.features.has('timestamp-query')) throw new GpuError('Profiling needs the timestamp-query feature, which this device lacks.');
    this.flush();
    this.profiler = { querySet: this.device.createQuerySet({ type: 'timestamp', count: 2 * PROFILE_SLOTS }), names: [], totals: new Map(), pending: [] };
  }

  /** Stop profiling; GPU time and dispatch count per kernel name, slowest first. */
  async stopProfile(): Promise<{ kernel: string; count: number; ms: number }[]> {
    const profiler = this.profiler;
    if (!profiler) return [];
    await this.sync();
    await Promise.all(profiler.pending);
    this.profiler = null;
    profiler.querySet.destroy();
    return [...profiler.totals].map(([kernel, t]) => ({ kernel, ...t })).sort((a, b) => b.ms - a.ms);
  }

  /** Wait for submitted work and surface any error found by the debug error scopes. */
  async sync(): Promise<void> {
    this.flush();
    await this.device.queue.onSubmittedWorkDone();
    const checks = this.pendingChecks;
    this.pendingChecks = [];
    await Promise.all(checks);
    this.checkAlive();
  }

  /** Read `bytes` bytes from `buffer` at `offset` after all recorded work has run. */
  async read(buffer: GPUBuffer, offset = 0, bytes = buffer.size - offset): Promise<ArrayBuffer> {
    const size = Math.ceil(bytes / 4) * 4;
    // Staging buffers come from the pool too: a decode loop reading every few tokens allocates none.
    const staging = this.buffer(size, 'readback', GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST);
    this.copy(buffer, offset, staging, 0, size);
    await this.sync();
    await this.mapForRead(staging);
    const out = staging.getMappedRange(0, size).slice(0, bytes);
    staging.unmap();
    this.release(staging);
    return out;
  }

  private mapForRead(staging: GPUBuffer): Promise<void> {
    this.counts.readbacks++;
    return staging.mapAsync(GPUMapMode.READ);
  }

  async readF32(buffer: GPUBuffer, count?: number, offsetElements = 0): Promise<Float32Array> {
    const n = count ?? buffer.size / 4 - offsetElements;
    return new Float32Array(await this.read(buffer, offsetElements * 4, n * 4));
  }

  async readU32(buffer: GPUBuffer, count?: number, offsetElements = 0): Promise<Uint32Array> {
    const n = count ?? buffer.size / 4 - offsetElements;
    return new Uint32Array(await this.read(buffer, offsetElements * 4, n * 4));
  }

  /**
   * Destroy the device. In Node the Dawn instance keeps the process alive until it is garbage
   * collected, so drop our references and collect when `--expose-gc` allows it; the CLI exits
   * explicitly instead.
   */
  destroy(): void {
    for (const list of this.pool.values()) for (const b of list) b.destroy();
    this.pool.clear();
    this.bindGroups.clear();
    this.pipelines.clear();
    this.modules.clear();
    this.device.destroy();
    this.onDestroy?.();
    const gc = (globalThis as { gc?: () => void }).gc;
    if (gc) setTimeout(gc, 0);
  }

  /** Set by device acquisition to release the platform's GPU instance. */
  onDestroy?: () => void;
}
