// webgrpo info: a model's shape, its memory, a training step's memory, and the device.

import { acquireGpu } from '../../gpu/device.ts';
import { parameterCount, parseConfig, withGenerationConfig } from '../../model/config.ts';
import { trainingMemory, type TrainingShape } from '../../train/memory.ts';
import { MODEL_OPTIONS, numberFlag, output, positiveInt, type Command } from '../flags.ts';
import { modelSource } from '../model.ts';

export const info: Command = {
  usage: `info      --model <dir|hf:repo> [--batch-size 8] [--seq-len 384] [--lora-r 16] [--full]
            [--no-gradient-checkpointing] [--json]   (memory a training step needs)`,
  options: {
    ...MODEL_OPTIONS,
    'batch-size': { type: 'string' },
    'seq-len': { type: 'string' },
    'lora-r': { type: 'string' },
    full: { type: 'boolean', default: false },
    'gradient-checkpointing': { type: 'boolean', default: true },
  },
  async run(values) {
    const src = modelSource(values);
    const config = withGenerationConfig(
      parseConfig(await src.readJson('config.json'), 'config.json'),
      (await src.has('generation_config.json')) ? await src.readJson('generation_config.json') : {},
    );
    const raw = (await src.readJson('config.json')) as { torch_dtype?: string };
    const bytesPerParam = raw.torch_dtype === 'float32' ? 4 : 2;
    const params = parameterCount(config);
    const kvBytesPerToken = config.numLayers * 2 * config.numKvHeads * config.headDim * 4;
    const shape: TrainingShape = {
      batch: numberFlag(values, 'batch-size', 8, positiveInt, 'an integer ≥ 1'),
      tokens: numberFlag(values, 'seq-len', 384, positiveInt, 'an integer ≥ 1'),
      loraRank: numberFlag(values, 'lora-r', 16, positiveInt, 'an integer ≥ 1'),
      full: values.full === true,
      checkpoint: values['gradient-checkpointing'] !== false,
      weightBytes: bytesPerParam,
    };
    const training = trainingMemory(config, shape);
    const gpu = await acquireGpu();
    const limits = gpu.limits;
    const result = {
      architecture: config.architecture,
      model_type: config.modelType,
      parameters: params,
      layers: config.numLayers,
      hidden_size: config.hiddenSize,
      heads: config.numHeads,
      kv_heads: config.numKvHeads,
      head_dim: config.headDim,
      vocab_size: config.vocabSize,
      weight_bytes: params * bytesPerParam,
      kv_cache_bytes_per_token: kvBytesPerToken,
      training: { ...shape, bytes: training },
      device: gpu.adapter,
      features: { 'shader-f16': gpu.hasF16, subgroups: gpu.hasSubgroups },
      limits: {
        maxBufferSize: limits.maxBufferSize,
        maxStorageBufferBindingSize: limits.maxStorageBufferBindingSize,
        maxComputeWorkgroupStorageSize: limits.maxComputeWorkgroupStorageSize,
        maxComputeInvocationsPerWorkgroup: limits.maxComputeInvocationsPerWorkgroup,
      },
    };
    gpu.destroy();
    const mb = (x: number) => `${(x / 2 ** 20).toFixed(1)} MiB`;
    output(
      values,
      result,
      [
        `model         ${src.id} (${config.architecture}, ${(params / 1e6).toFixed(2)}M parameters)`,
        `shape         ${config.numLayers} layers, hidden ${config.hiddenSize}, heads ${config.numHeads}/${config.numKvHeads}, head_dim ${config.headDim}, vocab ${config.vocabSize}`,
        `memory        weights ${mb(result.weight_bytes)}, KV cache ${mb(kvBytesPerToken * 1024)} per 1k tokens of context`,
        `training      ${mb(training.total)} for ${shape.batch} × ${shape.tokens} tokens, ${shape.full ? 'full-parameter' : `LoRA r=${shape.loraRank}`}${shape.checkpoint ? ', checkpointing' : ''} ` +
          `(weights ${mb(training.weights)}, optimizer ${mb(training.optimizer)}, activations ${mb(training.activations)}, KV ${mb(training.kvCache)}, logits ${mb(training.logits)})`,
        `device        ${gpu.adapter.description || gpu.adapter.architecture} (${gpu.adapter.vendor}, ${gpu.adapter.backend})`,
        `features      shader-f16 ${gpu.hasF16 ? 'yes' : 'no'}, subgroups ${gpu.hasSubgroups ? 'yes' : 'no'}`,
        `limits        buffer ${mb(result.limits.maxBufferSize)}, storage binding ${mb(result.limits.maxStorageBufferBindingSize)}, workgroup memory ${result.limits.maxComputeWorkgroupStorageSize} B`,
      ].join('\n'),
    );
  },
};
