// GPU-resident data: f32 activation tensors and weight matrices stored as f32 or as packed
// 16-bit pairs (f16 or bf16, two per u32, decoded in the shader), split into row chunks so that no
// binding exceeds the device's maxStorageBufferBindingSize.

import type { Gpu } from './runtime.ts';

/** A dense row-major f32 tensor on the GPU. */
export class Tensor {
  constructor(
    readonly gpu: Gpu,
    readonly buffer: GPUBuffer,
    readonly shape: readonly number[],
  ) {}

  get size(): number {
    return this.shape.reduce((a, b) => a * b, 1);
  }

  static empty(gpu: Gpu, shape: readonly number[], label = 'tensor'): Tensor {
    const size = shape.reduce((a, b) => a * b, 1);
    return new Tensor(gpu, gpu.buffer(size * 4, label), shape);
  }

  static from(gpu: Gpu, data: ArrayLike<number>, shape: readonly number[], label = 'tensor'): Tensor {
    const size = shape.reduce((a, b) => a * b, 1);
    if (data.length !== size) throw new Error(`Tensor ${label}: ${data.length} values for shape [${shape}]`);
    const f32 = data instanceof Float32Array ? data : Float32Array.from(data);
    return new Tensor(gpu, gpu.upload(f32, label), shape);
  }

  async read(): Promise<Float32Array> {
    return this.gpu.readF32(this.buffer, this.size);
  }

  /** Give the buffer back to the pool. The tensor must not be used afterwards. */
  release(): void {
    this.gpu.release(this.buffer);
  }
}

/** How a weight matrix is stored on the GPU. f16 and bf16 pack two values per u32 (low half first). */
export type WeightDType = 'f32' | 'f16' | 'bf16';

export interface WeightChunk {
  buffer: GPUBuffer;
  /** First row of the matrix held in this chunk. */
  rowStart: number;
  rows: number;
}

/** A [rows, cols] row-major weight matrix (PyTorch Linear layout [out, in]) in row chunks. */
export class WeightMatrix {
  constructor(
    readonly rows: number,
    readonly cols: number,
    readonly dtype: WeightDType,
    readonly chunks: readonly WeightChunk[],
    readonly name: string,
    /** The GPU holding the chunks (set by `upload`), for kernels whose other operands are raw buffers. */
    readonly gpu?: Gpu,
  ) {}

  /** Bytes per row as stored. */
  static rowBytes(cols: number, dtype: WeightDType): number {
    return dtype === 'f32' ? cols * 4 : cols * 2;
  }

  /**
   * Upload a matrix. `data` is f32 values (dtype f32), or raw 16-bit patterns (dtype f16/bf16),
   * row-major. Rows are split into chunks no larger than `maxChunkBytes` (default: the device's
   * storage binding limit).
   */
  static upload(
    gpu: Gpu,
    name: string,
    data: Float32Array | Uint16Array,
    rows: number,
    cols: number,
    dtype: WeightDType,
    maxChunkBytes = gpu.limits.maxStorageBufferBindingSize,
  ): WeightMatrix {
    if (dtype !== 'f32' && cols % 2 !== 0) {
      throw new Error(`Weight ${name}: packed ${dtype} storage needs an even number of columns, got ${cols}.`);
    }
    if ((dtype === 'f32') !== data instanceof Float32Array) {
      throw new Error(`Weight ${name}: dtype ${dtype} does not match the ${data.constructor.name} given.`);
    }
    if (data.length !== rows * cols) throw new Error(`Weight ${name}: ${data.length} values for [${rows}, ${cols}].`);
    const rowBytes = WeightMatrix.rowBytes(cols, dtype);
    const rowsPerChunk = Math.max(1, Math.floor(maxChunkBytes / rowBytes));
    const chunks: WeightChunk[] = [];
    const elemBytes = dtype === 'f32' ? 4 : 2;
    for (let rowStart = 0; rowStart < rows; rowStart += rowsPerChunk) {
      const n = Math.min(rowsPerChunk, rows - rowStart);
      const view = new Uint8Array(data.buffer, data.byteOffset + rowStart * cols * elemBytes, n * cols * elemBytes);
      chunks.push({ buffer: gpu.upload(view, `${name}[${rowStart}:${rowStart + n}]`), rowStart, rows: n });
    }
    return new WeightMatrix(rows, cols, dtype, chunks, name, gpu);
  }

  destroy(): void {
    for (const c of this.chunks) c.buffer.destroy();
  }
}
