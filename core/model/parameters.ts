/**
 * The parameters of a Qwen2ForCausalLM, by their Hugging Face tensor names, in one fixed order (the order
 * of `model.named_parameters()` in transformers), plus seeded random initialisation as HF does it.
 */
import type { Qwen2Config } from './config.ts';
import { Prng, hashString } from '../random.ts';

export interface ParameterSpec {
  name: string;
  shape: number[];
  /** How HF's `Qwen2PreTrainedModel._init_weights` initialises it. */
  init: 'normal' | 'ones' | 'zeros';
}

export const EMBED_TOKENS = 'model.embed_tokens.weight';
export const FINAL_NORM = 'model.norm.weight';
export const LM_HEAD = 'lm_head.weight';

/** Prefix of layer `i`'s tensors. */
export function layerPrefix(i: number): string {
  return `model.layers.${i}`;
}

/** Every parameter of the model, embeddings first, then each layer, final norm, and lm_head unless tied. */
export function qwen2Parameters(config: Qwen2Config): ParameterSpec[] {
  const { vocabSize: V, hiddenSize: H, intermediateSize: I, headDim: D } = config;
  const qDim = config.numAttentionHeads * D;
  const kvDim = config.numKeyValueHeads * D;
  // nn.Linear(in, out) stores its weight as [out, in].
  const specs: ParameterSpec[] = [{ name: EMBED_TOKENS, shape: [V, H], init: 'normal' }];
  for (let i = 0; i < config.numHiddenLayers; i++) {
    const p = layerPrefix(i);
    specs.push(
      { name: `${p}.self_attn.q_proj.weight`, shape: [qDim, H], init: 'normal' },
      { name: `${p}.self_attn.q_proj.bias`, shape: [qDim], init: 'zeros' },
      { name: `${p}.self_attn.k_proj.weight`, shape: [kvDim, H], init: 'normal' },
      { name: `${p}.self_attn.k_proj.bias`, shape: [kvDim], init: 'zeros' },
      { name: `${p}.self_attn.v_proj.weight`, shape: [kvDim, H], init: 'normal' },
      { name: `${p}.self_attn.v_proj.bias`, shape: [kvDim], init: 'zeros' },
      { name: `${p}.self_attn.o_proj.weight`, shape: [H, qDim], init: 'normal' },
      { name: `${p}.mlp.gate_proj.weight`, shape: [I, H], init: 'normal' },
      { name: `${p}.mlp.up_proj.weight`, shape: [I, H], init: 'normal' },
      { name: `${p}.mlp.down_proj.weight`, shape: [H, I], init: 'normal' },
      { name: `${p}.input_layernorm.weight`, shape: [H], init: 'ones' },
      { name: `${p}.post_attention_layernorm.weight`, shape: [H], init: 'ones' },
    );
  }
  specs.push({ name: FINAL_NORM, shape: [H], init: 'ones' });
  if (!config.tieWordEmbeddings) specs.push({ name: LM_HEAD, shape: [V, H], init: 'normal' });
  return specs;
}

export function elementCount(shape: readonly number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

/** Number of trainable scalars (a tied lm_head counts once, as HF's `num_parameters()` does). */
export function qwen2ParameterCount(config: Qwen2Config): number {
  return qwen2Parameters(config).reduce((n, p) => n + elementCount(p.shape), 0);
}

/**
 * Fresh weights: normal(0, initializer_range) for Linear and Embedding weights, ones for RMSNorm weights,
 * zeros for biases (HF `_init_weights`). Each tensor draws from its own stream keyed by (seed, name), so
 * a tensor's values do not depend on which other tensors exist (tied or not, more layers or fewer).
 */
export function initQwen2Weights(config: Qwen2Config, seed: number): Map<string, Float32Array> {
  const weights = new Map<string, Float32Array>();
  for (const spec of qwen2Parameters(config)) weights.set(spec.name, initQwen2Tensor(config, spec, seed));
  return weights;
}

/** One tensor of `initQwen2Weights`, alone: real-size models are made one tensor at a time. */
export function initQwen2Tensor(config: Qwen2Config, spec: ParameterSpec, seed: number): Float32Array {
  const data = new Float32Array(elementCount(spec.shape));
  if (spec.init === 'ones') data.fill(1);
  else if (spec.init === 'normal') {
    const rng = new Prng(seed, hashString(spec.name));
    for (let i = 0; i < data.length; i++) data[i] = rng.nextNormal() * config.initializerRange;
  }
  return data;
}
