// An independent float64 CPU implementation of the Llama / Qwen2 / Qwen3 forward pass, written
// straight from the Hugging Face modelling code (no GPU code shared). It is slow and meant for
// tiny models: it is the yardstick the WebGPU engine is tested against, end to end.

import type { ModelConfig } from './types.ts';

export interface CpuTensor {
  shape: number[];
  data: ArrayLike<number>;
}

function tensor(tensors: Map<string, CpuTensor>, name: string): ArrayLike<number> {
  const t = tensors.get(name);
  if (!t) throw new Error(`reference: missing tensor ${name}`);
  return t.data;
}

/** y[t, o] = Σ_i x[t, i] · w[o, i] (+ b[o]); w is [out, in] like torch.nn.Linear. */
function linear(x: Float64Array, w: ArrayLike<number>, rows: number, inDim: number, outDim: number, bias?: ArrayLike<number>): Float64Array {
  const y = new Float64Array(rows * outDim);
  for (let t = 0; t < rows; t++) {
    for (let o = 0; o < outDim; o++) {
      let acc = bias ? bias[o] : 0;
      const xo = t * inDim,
        wo = o * inDim;
      for (let i = 0; i < inDim; i++) acc += x[xo + i] * w[wo + i];
      y[t * outDim + o] = acc;
    }
  }
  return y;
}

/** RMSNorm over consecutive groups of `dim` values. */
function rmsNorm(x: Float64Array, weight: ArrayLike<number>, dim: number, eps: number): Float64Array {
  const y: Float64Array = new Float64Array(x.length);
  for (let r = 0; r < x.length / dim; r++) {
    let ss = 0;
    for (let i = 0; i < dim; i++) ss += x[r * dim + i] ** 2;
    const inv = 1 / Math.sqrt(ss / dim + eps);
    for (let i = 0; i < dim; i++) y[r * dim + i] = x[r * dim + i] * inv * weight[i];
  }
  return y;
}

/** HF rotate_half RoPE on [tokens, heads, headDim], token t at position t. */
function rope(x: Float64Array, tokens: number, heads: number, headDim: number, theta: number): Float64Array {
  const y = new Float64Array(x.length);
  const half = headDim / 2;
  for (let t = 0; t < tokens; t++) {
    for (let h = 0; h < heads; h++) {
      const base = (t * heads + h) * headDim;
      for (let i = 0; i < half; i++) {
        const angle = t * theta ** ((-2 * i) / headDim);
        const c = Math.cos(angle),
          s = Math.sin(angle);
        const a = x[base + i],
          b = x[base + i + half];
        y[base + i] = a * c - b * s;
        y[base + i + half] = b * c + a * s;
      }
    }
  }
  return y;
}

function causalAttention(q: Float64Array, k: Float64Array, v: Float64Array, tokens: number, cfg: ModelConfig): Float64Array {
  const { numHeads: H, numKvHeads: KV, headDim: D } = cfg;
  const out = new Float64Array(tokens * H * D);
  const scale = 1 / Math.sqrt(D);
  const scores = new Float64Array(tokens);
  for (let h = 0; h < H; h++) {
    const kvh = Math.floor(h / (H / KV));
    for (let t = 0; t < tokens; t++) {
      let max = -Infinity;
      for (let s = 0; s <= t; s++) {
        let dot = 0;
        for (let d = 0; d < D; d++) dot += q[(t * H + h) * D + d] * k[(s * KV + kvh) * D + d];
        scores[s] = dot * scale;
        max = Math.max(max, scores[s]);
      }
      let sum = 0;
      for (let s = 0; s <= t; s++) sum += scores[s] = Math.exp(scores[s] - max);
      for (let d = 0; d < D; d++) {
        let acc = 0;
        for (let s = 0; s <= t; s++) acc += scores[s] * v[(s * KV + kvh) * D + d];
        out[(t * H + h) * D + d] = acc / sum;
      }
    }
  }
  return out;
}

/** A LoRA site for the reference: y += scale · (x·Aᵀ)·Bᵀ, A [r, in], B [out, r]. */
interface CpuLora {
  A: ArrayLike<number>;
  B: ArrayLike<number>;
  r: number;
  scale: number;
}

/** LoRA sites keyed `${layer}.${module}` (module as in PEFT: q_proj … down_proj). */
export type CpuAdapter = Map<string, CpuLora>;

function addLora(y: Float64Array, x: Float64Array, rows: number, inDim: number, outDim: number, lora?: CpuLora): Float64Array {
  if (!lora) return y;
  const d = linear(x, lora.A, rows, inDim, lora.r);
  const delta = linear(d, lora.B, rows, lora.r, outDim);
  for (let i = 0; i < y.length; i++) y[i] += lora.scale * delta[i];
  return y;
}

/** Final hidden states (after the last norm) for one sequence of token ids: [tokens, hidden]. */
function referenceHidden(cfg: ModelConfig, tensors: Map<string, CpuTensor>, ids: number[], adapter?: CpuAdapter): Float64Array {
  const T = ids.length,
    Hd = cfg.hiddenSize,
    D = cfg.headDim;
  const qDim = cfg.numHeads * D,
    kvDim = cfg.numKvHeads * D,
    F = cfg.intermediateSize;
  const embed = tensor(tensors, 'model.embed_tokens.weight');
  let x: Float64Array = new Float64Array(T * Hd);
  ids.forEach((id, t) => {
    if (id < 0 || id >= cfg.vocabSize) throw new Error(`reference: token id ${id} outside the vocabulary`);
    for (let i = 0; i < Hd; i++) x[t * Hd + i] = embed[id * Hd + i];
  });
  for (let l = 0; l < cfg.numLayers; l++) {
    const p = `model.layers.${l}.`;
    const w = (n: string) => tensor(tensors, p + n);
    const bias = (n: string) => (cfg.attentionBias ? w(n) : undefined);
    const proj = (module: string, group: string, input: Float64Array, inDim: number, outDim: number, b?: ArrayLike<number>) =>
      addLora(linear(input, w(`${group}.${module}.weight`), T, inDim, outDim, b), input, T, inDim, outDim, adapter?.get(`${l}.${module}`));
    const xn = rmsNorm(x, w('input_layernorm.weight'), Hd, cfg.rmsNormEps);
    let q = proj('q_proj', 'self_attn', xn, Hd, qDim, bias('self_attn.q_proj.bias'));
    let k = proj('k_proj', 'self_attn', xn, Hd, kvDim, bias('self_attn.k_proj.bias'));
    const v = proj('v_proj', 'self_attn', xn, Hd, kvDim, bias('self_attn.v_proj.bias'));
    if (cfg.qkNorm) {
      q = rmsNorm(q, w('self_attn.q_norm.weight'), D, cfg.rmsNormEps);
      k = rmsNorm(k, w('self_attn.k_norm.weight'), D, cfg.rmsNormEps);
    }
    q = rope(q, T, cfg.numHeads, D, cfg.ropeTheta);
    k = rope(k, T, cfg.numKvHeads, D, cfg.ropeTheta);
    const attn = causalAttention(q, k, v, T, cfg);
    const o = proj('o_proj', 'self_attn', attn, qDim, Hd);
    for (let i = 0; i < x.length; i++) x[i] += o[i];
    const xn2 = rmsNorm(x, w('post_attention_layernorm.weight'), Hd, cfg.rmsNormEps);
    const gate = proj('gate_proj', 'mlp', xn2, Hd, F);
    const up = proj('up_proj', 'mlp', xn2, Hd, F);
    for (let i = 0; i < gate.length; i++) gate[i] = (gate[i] / (1 + Math.exp(-gate[i]))) * up[i];
    const down = proj('down_proj', 'mlp', gate, F, Hd);
    for (let i = 0; i < x.length; i++) x[i] += down[i];
  }
  x = rmsNorm(x, tensor(tensors, 'model.norm.weight'), Hd, cfg.rmsNormEps);
  return x;
}

function lmHeadName(tensors: Map<string, CpuTensor>): string {
  return tensors.has('lm_head.weight') ? 'lm_head.weight' : 'model.embed_tokens.weight';
}

/** Logits [tokens, vocab] for one sequence. */
export function referenceLogits(cfg: ModelConfig, tensors: Map<string, CpuTensor>, ids: number[], adapter?: CpuAdapter): Float64Array {
  const hidden = referenceHidden(cfg, tensors, ids, adapter);
  return linear(hidden, tensor(tensors, lmHeadName(tensors)), ids.length, cfg.hiddenSize, cfg.vocabSize);
}

/**
 * What `webgrpo score` prints: logprobs[i] = ln p(ids[i+1] | ids[0..i]) and entropies[i] = the
 * entropy (nats) of that next-token distribution, for logits divided by `temperature`.
 */
export function referenceScore(
  cfg: ModelConfig,
  tensors: Map<string, CpuTensor>,
  ids: number[],
  temperature = 1,
  adapter?: CpuAdapter,
): { logprobs: number[]; entropies: number[] } {
  const logits = referenceLogits(cfg, tensors, ids, adapter);
  const V = cfg.vocabSize;
  const logprobs: number[] = [],
    entropies: number[] = [];
  for (let t = 0; t + 1 < ids.length; t++) {
    const row = logits.subarray(t * V, (t + 1) * V).map((z) => z / temperature);
    let max = -Infinity;
    for (const z of row) max = Math.max(max, z);
    let sum = 0;
    for (const z of row) sum += Math.exp(z - max);
    const logZ = max + Math.log(sum);
    let entropy = 0;
    for (const z of row) {
      const lp = z - logZ;
      entropy -= Math.exp(lp) * lp;
    }
    logprobs.push(row[ids[t + 1]] - logZ);
    entropies.push(entropy);
  }
  return { logprobs, entropies };
}
