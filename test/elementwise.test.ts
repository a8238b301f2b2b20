import { test } from 'node:test';
import { add, addRef } from '../src/kernels/elementwise.ts';
import { Tensor } from '../src/gpu/tensor.ts';
import { assertClose, randomArray, testGpu } from './helpers/gpu.ts';

test('add matches the CPU reference at odd sizes', async () => {
  const gpu = await testGpu();
  for (const n of [1, 255, 1000, 70001]) {
    const a = randomArray(n, n),
      b = randomArray(n, n + 1);
    const out = await add(Tensor.from(gpu, a, [n]), Tensor.from(gpu, b, [n])).read();
    assertClose(out, addRef(a, b), 1e-6, `add n=${n}`);
  }
});
