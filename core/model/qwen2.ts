/**
 * The Qwen2 decoder as a graph, in the order of the forward pass of HF transformers' modeling_qwen2.py:
 * embed_tokens → N × (input_layernorm → self-attention with RoPE and grouped-query heads → residual →
 * post_attention_layernorm → SwiGLU MLP → residual) → norm → lm_head (tied to embed_tokens or not).
 * Parameters are graph inputs named exactly as the HF tensors, so a checkpoint's safetensors feed it as is.
 */
import { Graph, checkpoint, isFileRegion, keep, op, type FileRegion } from '../graph/index.ts';
import { dimMul, dimSub } from '../graph/index.ts';
import type { DType, Dim, Value } from '../graph/index.ts';
import { toFloat16 } from '../graph/dtype.ts';
import type { WeightDtype } from './weightDtype.ts';
import type { Qwen2Config } from './config.ts';
import { EMBED_TOKENS, FINAL_NORM, LM_HEAD, layerPrefix, qwen2Parameters } from './parameters.ts';
import { declareLoraInputs } from './loraGraph.ts';
import type { LoraSpec } from './lora.ts';
import { isMatrixWeight, linear, loraLinear, type HalfWeightUse } from './linear.ts';

export { WEIGHT_DTYPES, type WeightDtype } from './weightDtype.ts';
export { isMatrixWeight, linear, loraLinear, upcastWeight, type HalfWeightUse } from './linear.ts';

/**
 * Added to the scores of masked positions. HF adds finfo(float32).min; any value whose exp underflows to 0
 * gives identical probabilities, and every query sees at least its own key (causalPaddingMask).
 */
export const MASKED_SCORE = -1e9;

export interface Qwen2Inputs {
  /** [batch, seq] token ids. */
  inputIds: Value;
  /** [batch, seq] 1 for real tokens, 0 for padding. */
  attentionMask: Value;
  /** [batch, seq] RoPE positions (with left padding: cumulative sum of the mask minus one, as HF's generate). */
  positionIds: Value;
}

export interface Qwen2Forward extends Qwen2Inputs {
  graph: Graph;
  params: Map<string, Value>;
  /** [batch, seq, vocab] */
  logits: Value;
}

/** Declares the token inputs and the parameters (HF names) of a decoder graph. */
export function declareQwen2Inputs(
  g: Graph,
  config: Qwen2Config,
  dtype: DType = 'float32',
  batch: Dim = 'batch',
  seq: Dim = 'seq',
  /** "float16": the matrices are half-precision inputs (a trainer's frozen LoRA base, fed as stored). */
  weightDtype: WeightDtype = 'float32',
) {
  const inputs: Qwen2Inputs = {
    inputIds: g.input('input_ids', 'int64', [batch, seq]),
    attentionMask: g.input('attention_mask', 'int64', [batch, seq]),
    positionIds: g.input('position_ids', 'int64', [batch, seq]),
  };
  const params = new Map<string, Value>();
  for (const p of qwen2Parameters(config)) {
    const half = weightDtype === 'float16' && isMatrixWeight(p.shape);
    params.set(p.name, g.input(p.name, half ? 'float16' : dtype, p.shape));
  }
  return { inputs, params };
}

/** Qwen2RMSNorm: weight · x / √(mean(x²) + ε). */
export function rmsNorm(x: Value, weight: Value, eps: number): Value {
  const variance = op.reduceMean(op.mul(x, x), [-1], true);
  return op.mul(weight, op.mul(x, op.reciprocal(op.sqrt(op.add(variance, eps)))));
}

/** cos and sin of the rotary angles, [batch, 1, seq, headDim], from position ids (rope "default" type). */
export function rotaryCosSin(
  positionIds: Value,
  headDim: number,
  theta: number,
  dtype: DType,
): { cos: Value; sin: Value } {
  const g = positionIds.graph;
  const half = headDim / 2;
  const invFreq = new Float64Array(half).map((_, i) => 1 / theta ** ((2 * i) / headDim));
  const inv = g.constant(dtype === 'float32' ? Float32Array.from(invFreq) : invFreq, [half], dtype);
  const angles = op.mul(op.unsqueeze(op.cast(positionIds, dtype), [-1]), inv); // [B,T,half]
  const emb = op.unsqueeze(op.concat([angles, angles], -1), [1]); // [B,1,T,D]
  return { cos: op.cos(emb), sin: op.sin(emb) };
}

/** rotate_half(x) = cat(−x₂, x₁) over the last axis. */
function rotateHalf(x: Value): Value {
  const half = (x.shape[x.rank - 1] as number) / 2;
  const [x1, x2] = op.split(x, -1, [half, half]);
  return op.concat([op.neg(x2), x1], -1);
}

function applyRotary(x: Value, cos: Value, sin: Value): Value {
  return op.add(op.mul(x, cos), op.mul(rotateHalf(x), sin));
}

/** [batch, seq, heads·dim] → [batch, heads, seq, dim] */
function splitHeads(x: Value, heads: number, headDim: number): Value {
  const [b, t] = x.shape;
  return op.transpose(op.reshape(x, [b, t, heads, headDim]), [0, 2, 1, 3]);
}

/**
 * Grouped-query attention without copying K and V per query head (HF's repeat_kv): query heads are
 * kv-major (head h uses kv head ⌊h/rep⌋), so [B, H, T, D] reshapes to [B, kvHeads, rep·T, D] and each kv
 * head's keys serve its rep query heads in one matrix product.
 */
function groupQueries(q: Value, kvHeads: number): Value {
  const [b, h, t, d] = q.shape;
  return op.reshape(q, [b, kvHeads, dimMul((h as number) / kvHeads, t), d]);
}

function ungroup(x: Value, heads: number, queries: Dim): Value {
  const [b, , , last] = x.shape;
  return op.reshape(x, [b, heads, queries, last]);
}

/**
 * Visibility of key j from query i: causal and not padding, [batch, 1, new, past+new] bool. Query i sits at
 * absolute position past+i, so it sees keys j ≤ past+i: a lower triangle offset by the cache length.
 * A query always sees its own key, padding or not: a left-padding query, which would see nothing, then
 * attends to itself alone: a smooth function of the weights, whose gradient the additive mask gets right.
 * (With nothing visible, every score plus MASKED_SCORE would round to about MASKED_SCORE: a near-constant
 * the backward does not know of.) Real queries see their own key anyway: their outputs do not change.
 * Built from the inputs' own shapes so it works for any (symbolic) lengths.
 */
export function causalPaddingMask(attentionMask: Value, queries: Dim, pastLength?: Value): Value {
  const g = attentionMask.graph;
  const [b, total] = attentionMask.shape;
  const ones = op.constantOfShape(g, 'float32', [queries, total], 1);
  const causal = op.cast(op.trilu(ones, pastLength ?? 0, false), 'bool'); // [new, total]: j ≤ past+i
  const later = op.cast(op.trilu(ones, pastLength ?? 0, true), 'bool'); // j ≥ past+i
  const keys = op.unsqueeze(op.cast(attentionMask, 'bool'), [1, 2]); // [B,1,1,total]
  return op.or(op.and(op.expand(causal, [b, 1, queries, total]), keys), op.and(causal, later));
}

/** Per-layer keys and values after RoPE, [batch, kvHeads, length, headDim] (HF's past_key_values). */
export interface KvCache {
  keys: Value[];
  values: Value[];
}

export interface AttentionContext {
  cos: Value;
  sin: Value;
  /**
   * [B,1,T,L]: 0 where a query sees a key, MASKED_SCORE where not, added to every layer's scores. An Add
   * broadcast over the heads runs in a fraction of a Where's time and needs no backward of its own (the
   * softmax's gradient is already 0 where its probability is); made once for all layers.
   */
  maskBias: Value;
  past?: KvCache;
  /** Filled layer by layer with past + new keys/values. */
  present: KvCache;
  /** Filled layer by layer with the new positions' keys/values only. */
  fresh: KvCache;
  /** LoRA's alpha / r when adapters are among the parameters (lora_A/lora_B of a Linear add its branch). */
  loraScaling?: number;
  /** How the layers' float16 matrices are used (linear). */
  halfUse?: HalfWeightUse;
}

function selfAttention(
  x: Value,
  params: Map<string, Value>,
  i: number,
  c: Qwen2Config,
  ctx: AttentionContext,
): Value {
  // Every projection is kept under selective recomputation (recompute.ts): its backward re-runs the
  // attention around them, not the matmuls.
  const proj = (n: string, input: Value) =>
    keep(loraLinear(input, params, `${layerPrefix(i)}.self_attn.${n}`, ctx.loraScaling, ctx.halfUse));
  const [b, t] = x.shape;
  const q = applyRotary(splitHeads(proj('q_proj', x), c.numAttentionHeads, c.headDim), ctx.cos, ctx.sin);
  let k = applyRotary(splitHeads(proj('k_proj', x), c.numKeyValueHeads, c.headDim), ctx.cos, ctx.sin);
  let v = splitHeads(proj('v_proj', x), c.numKeyValueHeads, c.headDim);
  ctx.fresh.keys.push(k);
  ctx.fresh.values.push(v);
  if (ctx.past) {
    k = op.concat([ctx.past.keys[i], k], 2);
    v = op.concat([ctx.past.values[i], v], 2);
  }
  ctx.present.keys.push(k);
  ctx.present.values.push(v);
  const H = c.numAttentionHeads;
  const kvH = c.numKeyValueHeads;
  const grouped = op.matmul(groupQueries(q, kvH), op.transposeLast2(k)); // [B,kvH,rep·T,L]
  const scores = op.mul(ungroup(grouped, H, t), 1 / Math.sqrt(c.headDim)); // [B,H,T,L]
  const probs = op.softmax(op.add(scores, ctx.maskBias), -1);
  const out = ungroup(op.matmul(groupQueries(probs, kvH), v), H, t); // [B,H,T,D]
  const merged = op.reshape(op.transpose(out, [0, 2, 1, 3]), [b, t, c.numAttentionHeads * c.headDim]);
  return proj('o_proj', merged);
}

/** Qwen2MLP: down_proj(silu(gate_proj(x)) · up_proj(x)). */
function mlp(x: Value, params: Map<string, Value>, i: number, ctx: AttentionContext): Value {
  const proj = (n: string, input: Value) =>
    loraLinear(input, params, `${layerPrefix(i)}.mlp.${n}`, ctx.loraScaling, ctx.halfUse);
  // gate and up are kept under selective recomputation; down's output only feeds the residual sum, which
  // the backward never reads, so keeping it would hold bytes that save no work.
  const gate = keep(proj('gate_proj', x));
  const silu = op.mul(gate, op.sigmoid(gate));
  return proj('down_proj', op.mul(silu, keep(proj('up_proj', x))));
}

function decoderLayer(
  x: Value,
  params: Map<string, Value>,
  i: number,
  c: Qwen2Config,
  ctx: AttentionContext,
): Value {
  const norm = (n: string, v: Value) =>
    rmsNorm(v, params.get(`${layerPrefix(i)}.${n}.weight`)!, c.rmsNormEps);
  const h = x.graph.scope(`layers.${i}.self_attn`, () =>
    op.add(x, selfAttention(norm('input_layernorm', x), params, i, c, ctx)),
  );
  return x.graph.scope(`layers.${i}.mlp`, () =>
    op.add(h, mlp(norm('post_attention_layernorm', h), params, i, ctx)),
  );
}

/**
 * The final hidden states (after model.norm), [batch, new, hidden], and the layers' keys/values. With a
 * cache, `inputs.attentionMask` covers past + new positions and the queries are the new tokens only.
 */
export function qwen2Hidden(
  inputs: Qwen2Inputs,
  params: Map<string, Value>,
  c: Qwen2Config,
  past?: KvCache,
  /** LoRA's alpha / r: the adapters in `params` (see loraGraph.ts) add their branch, scaled by it. */
  loraScaling?: number,
  /** How float16 matrices are used (linear); the embedding is gathered at half and cast either way. */
  halfUse: HalfWeightUse = 'half',
): { hidden: Value; present: KvCache; fresh: KvCache } {
  const embed = params.get(EMBED_TOKENS)!;
  // Half-precision weights: the activations are float32 all the same.
  const dtype = embed.dtype === 'float16' ? 'float32' : embed.dtype;
  let x = op.gather(embed, inputs.inputIds, 0);
  if (x.dtype !== dtype) x = op.cast(x, dtype);
  const { cos, sin } = rotaryCosSin(inputs.positionIds, c.headDim, c.ropeTheta, dtype);
  const pastLength = past && op.squeeze(op.dimValue(x.graph, past.keys[0].shape[2]), [0]);
  const mask = causalPaddingMask(inputs.attentionMask, inputs.inputIds.shape[1], pastLength);
  const maskBias = op.where(mask, x.graph.scalar(0, dtype), x.graph.scalar(MASKED_SCORE, dtype));
  const ctx: AttentionContext = {
    cos,
    sin,
    maskBias,
    past,
    present: { keys: [], values: [] },
    fresh: { keys: [], values: [] },
    loraScaling,
    halfUse,
  };
  // Each layer is a recomputation segment from its input: a backward built with `recompute` keeps only
  // the layers' inputs from the forward pass (marking alone changes nothing in the graph).
  // A decode graph's layers may sit in a Loop body (the in-graph decode loop), which has no backward: only a
  // main graph marks segments.
  const marks = x.graph.parent === undefined;
  for (let i = 0; i < c.numHiddenLayers; i++) {
    const input = x;
    const layer = () => decoderLayer(input, params, i, c, ctx);
    x = marks ? checkpoint(`layers.${i}`, [input], layer) : layer();
  }
  return {
    hidden: rmsNorm(x, params.get(FINAL_NORM)!, c.rmsNormEps),
    present: ctx.present,
    fresh: ctx.fresh,
  };
}

export function lmHeadWeight(params: Map<string, Value>, c: Qwen2Config): Value {
  return params.get(c.tieWordEmbeddings ? EMBED_TOKENS : LM_HEAD)!;
}

/** A graph computing logits for a padded batch; with `lora`, its adapters are inputs too. */
export function buildQwen2Logits(
  config: Qwen2Config,
  dtype: DType = 'float32',
  lora?: LoraSpec,
): Qwen2Forward {
  const graph = new Graph('qwen2Logits');
  const { inputs, params } = declareQwen2Inputs(graph, config, dtype);
  const scaling = lora && declareLoraInputs(graph, config, lora, params, dtype).scaling;
  const hidden = qwen2Hidden(inputs, params, config, undefined, scaling).hidden;
  const logits = linear(hidden, lmHeadWeight(params, config));
  graph.output(logits, 'logits');
  return { graph, params, logits, ...inputs };
}

export const cacheNames = {
  pastKey: (i: number) => `past_key.${i}`,
  pastValue: (i: number) => `past_value.${i}`,
  presentKey: (i: number) => `present_key.${i}`,
  presentValue: (i: number) => `present_value.${i}`,
};

/**
 * The decode step on a fixed-capacity KV cache: per layer a buffer [batch, kvHeads, cap, headDim] of which
 * the first past = total − new positions are filled; new tokens [batch, new]; the attention mask covers
 * the total = past + new positions. Outputs the logits of the last new position [batch, vocab] and only
 * the new positions' keys/values [batch, kvHeads, new, headDim], which the caller writes into its buffer:
 * inputs reach onnxruntime without a copy but outputs are copied, so the whole cache never crosses.
 * With past = 0 it is the prefill of a (left-padded) prompt batch; with new = 1 one sampling step.
 */
/** A weight compiled into the graph: its values, or float32 bytes left in their file (FileRegion). */
function embeddedWeight(
  graph: Graph,
  name: string,
  shape: number[],
  data: Float32Array | FileRegion,
  half: boolean,
): Value {
  if (isFileRegion(data)) {
    if (half) throw new Error(`weights: ${name} lies in a float32 file; float16 weights need its values`);
    return graph.fileConstant(data, shape, 'float32', name);
  }
  return half
    ? graph.constant(toFloat16(data), shape, 'float16', name)
    : graph.constant(data, shape, 'float32', name);
}

export function buildQwen2Decode(
  config: Qwen2Config,
  dtype: DType = 'float32',
  /** Weights to compile into the graph as constants; absent = parameters are inputs. */
  embedded?: Map<string, Float32Array | FileRegion>,
  /** false: leave the cache outputs to the caller (a decode loop continues from `present`). */
  cacheOutputs = true,
  /** "float16": the matrix weights are half precision (embedded ones converted here). */
  weightDtype: WeightDtype = 'float32',
  /** LoRA adapters as float32 inputs beside the weights: each adapted Linear adds s·(x·Aᵀ)·Bᵀ. */
  lora?: LoraSpec,
): Qwen2Decode {
  const graph = new Graph('qwen2Decode');
  const buffers: KvCache = { keys: [], values: [] };
  const cacheShape = ['batch', config.numKeyValueHeads, 'cap', config.headDim];
  for (let i = 0; i < config.numHiddenLayers; i++) {
    buffers.keys.push(graph.input(cacheNames.pastKey(i), dtype, cacheShape));
    buffers.values.push(graph.input(cacheNames.pastValue(i), dtype, cacheShape));
  }
  const inputs: Qwen2Inputs = {
    inputIds: graph.input('input_ids', 'int64', ['batch', 'new']),
    positionIds: graph.input('position_ids', 'int64', ['batch', 'new']),
    attentionMask: graph.input('attention_mask', 'int64', ['batch', 'total']),
  };
  const pastLength = dimSub('total', 'new');
  const filled = (b: Value) => op.sliceDims(b, [0], [pastLength], [2]);
  const past: KvCache = { keys: buffers.keys.map(filled), values: buffers.values.map(filled) };
  const params = new Map<string, Value>();
  for (const p of qwen2Parameters(config)) {
    const data = embedded?.get(p.name);
    if (embedded && !data) throw new Error(`weights: missing tensor ${p.name}`);
    const half = weightDtype === 'float16' && isMatrixWeight(p.shape);
    params.set(
      p.name,
      data
        ? embeddedWeight(graph, p.name, p.shape, data, half)
        : graph.input(p.name, half ? 'float16' : dtype, p.shape),
    );
  }
  const loraScaling = lora && declareLoraInputs(graph, config, lora, params).scaling;
  const { hidden, fresh, present } = qwen2Hidden(inputs, params, config, past, loraScaling);
  const last = op.squeeze(op.slice(hidden, [-1], [op.SLICE_END], [1]), [1]); // [B, hidden]
  const logits = linear(last, lmHeadWeight(params, config));
  graph.output(logits, 'logits');
  if (cacheOutputs)
    for (let i = 0; i < config.numHiddenLayers; i++) {
      graph.output(fresh.keys[i], cacheNames.presentKey(i));
      graph.output(fresh.values[i], cacheNames.presentValue(i));
    }
  return { graph, params, logits, inputs, present, loraScaling };
}

export interface Qwen2Decode {
  graph: Graph;
  params: Map<string, Value>;
  /** [batch, vocab]: the last new position's. */
  logits: Value;
  inputs: Qwen2Inputs;
  /** Past + new keys/values per layer, [batch, kvHeads, total, headDim]. */
  present: KvCache;
  /** LoRA's alpha / r when the graph adds adapters. */
  loraScaling?: number;
}
