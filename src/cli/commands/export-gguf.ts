// webgrpo export-gguf: a llama.cpp GGUF of the model (adapter merged in when given), or with --lora
// the adapter alone in llama.cpp's LoRA adapter format (DESIGN.md §15).

import { exportGgufLora, exportGgufModel, GGUF_DTYPES } from '../../lora/gguf-export.ts';
import { choice, MODEL_OPTIONS, output, UsageError, type Command } from '../flags.ts';
import { modelSource, openFlagSource } from '../model.ts';

export const exportGguf: Command = {
  usage: 'export-gguf --model M [--adapter A] --out FILE.gguf [--dtype f32|f16|q8_0] [--lora] [--overwrite]',
  options: {
    ...MODEL_OPTIONS,
    out: { type: 'string' },
    dtype: { type: 'string' },
    lora: { type: 'boolean', default: false },
    overwrite: { type: 'boolean', default: false },
  },
  help: () =>
    [
      '  --dtype     f32, f16 (default) or q8_0 for the weights; norms and biases stay f32.',
      '              With --lora: f32 (default) or f16 for lora_a/lora_b.',
      '  --adapter   a PEFT LoRA adapter folder: merged into the weights, or exported alone with --lora.',
      '  --lora      write only the adapter (general.type "adapter"), for llama.cpp --lora.',
    ].join('\n'),
  async run(values) {
    const src = modelSource(values);
    if (typeof values.out !== 'string') throw new UsageError('export-gguf needs --out FILE.gguf.');
    const fs = await import('node:fs/promises');
    if (!values.overwrite) {
      const exists = await fs.stat(values.out).then(
        () => true,
        () => false,
      );
      if (exists) throw new UsageError(`export-gguf: ${values.out} exists; pass --overwrite or choose another --out.`);
    }
    let parts: Uint8Array[];
    if (values.lora) {
      if (typeof values.adapter !== 'string') throw new UsageError('export-gguf --lora needs --adapter DIR.');
      const dtype = choice(values, 'dtype', ['f32', 'f16'] as const, 'f32');
      parts = await exportGgufLora(src, openFlagSource(values, values.adapter), { dtype });
    } else {
      const dtype = choice(values, 'dtype', GGUF_DTYPES, 'f16');
      const adapter = typeof values.adapter === 'string' ? openFlagSource(values, values.adapter) : undefined;
      parts = await exportGgufModel(src, { dtype, adapter });
    }
    const tmp = `${values.out}.partial`;
    const fh = await fs.open(tmp, 'w');
    let bytes = 0;
    try {
      for (const p of parts) {
        await fh.write(p);
        bytes += p.byteLength;
      }
    } finally {
      await fh.close();
    }
    await fs.rename(tmp, values.out);
    output(values, { out: values.out, bytes }, `wrote ${values.out} (${(bytes / 2 ** 20).toFixed(1)} MiB)`);
  },
};
