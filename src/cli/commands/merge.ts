// webgrpo merge: a model folder with a LoRA adapter merged into its weights.

import { mergeAdapter } from '../../lora/merge.ts';
import { openSource } from '../../io/source.ts';
import { choice, MODEL_OPTIONS, output, progressBar, UsageError, type Command } from '../flags.ts';
import { modelSource } from '../model.ts';

export const merge: Command = {
  usage: 'merge     --model M --adapter DIR --out DIR [--dtype bf16|f16|f32] [--overwrite]',
  options: { ...MODEL_OPTIONS, out: { type: 'string' }, dtype: { type: 'string' }, overwrite: { type: 'boolean', default: false } },
  async run(values) {
    const src = modelSource(values);
    if (typeof values.adapter !== 'string') throw new UsageError('merge needs --adapter DIR.');
    if (typeof values.out !== 'string') throw new UsageError('merge needs --out DIR.');
    const dtype = values.dtype === undefined ? undefined : choice(values, 'dtype', ['bf16', 'f16', 'f32'] as const, 'bf16');
    const files = await mergeAdapter(src, openSource(values.adapter, { folderKind: 'adapter' }), values.out, {
      dtype,
      overwrite: values.overwrite === true,
      onProgress: (done, total) => process.stderr.write(`\r${progressBar(done, total)} ${done}/${total} tensors`),
    });
    process.stderr.write('\n');
    output(values, { out: values.out, files }, `wrote ${files.length} files to ${values.out}`);
  },
};
