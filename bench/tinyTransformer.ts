/**
 * The benchmark workload of the graph engine: a one-layer pre-norm transformer language model (RMSNorm,
 * causal multi-head attention, ReLU MLP, untied output head) with a mean next-token cross-entropy, built
 * on core/graph. bench/plainTransformer.ts implements the very same step by hand on Float32Arrays.
 */
import { Graph, buildTrainStep, op } from '../core/graph/index.ts';
import type { HostTensor, Value } from '../core/graph/index.ts';

export interface TinyTransformerConfig {
  vocab: number;
  dim: number;
  heads: number;
  ffn: number;
  batch: number;
  seq: number;
}

/** ≈1M parameters (issue: "≈1M-parameter one-layer transformer, batch 8, sequence 64"). */
export const CONFIG_1M: TinyTransformerConfig = {
  vocab: 2048,
  dim: 160,
  heads: 4,
  ffn: 640,
  batch: 8,
  seq: 64,
};
/** ≈10M parameters, same batch. */
export const CONFIG_10M: TinyTransformerConfig = {
  vocab: 8192,
  dim: 448,
  heads: 7,
  ffn: 1792,
  batch: 8,
  seq: 64,
};

/** RMSNorm epsilon, as Qwen2's rms_norm_eps. */
export const RMS_EPS = 1e-6;
/** Additive mask value for future positions: large enough that exp underflows to exactly 0 in float32. */
export const MASK_VALUE = -1e9;

export function parameterShapes(c: TinyTransformerConfig): Record<string, number[]> {
  return {
    embed: [c.vocab, c.dim],
    norm1: [c.dim],
    wq: [c.dim, c.dim],
    wk: [c.dim, c.dim],
    wv: [c.dim, c.dim],
    wo: [c.dim, c.dim],
    norm2: [c.dim],
    w1: [c.dim, c.ffn],
    w2: [c.ffn, c.dim],
    norm3: [c.dim],
    head: [c.dim, c.vocab],
  };
}

export function parameterCount(c: TinyTransformerConfig): number {
  return Object.values(parameterShapes(c)).reduce((n, s) => n + s.reduce((a, b) => a * b, 1), 0);
}

/** Deterministic initial weights: uniform(±1/√fan_in) for matrices, 1 for norms, 0.02-scaled embeddings. */
export function initialParameters(c: TinyTransformerConfig, seed = 0): Record<string, HostTensor> {
  let s = (seed * 2654435761 + 1) >>> 0;
  const next = () => {
    s ^= s << 13;
    s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5;
    s >>>= 0;
    return s / 4294967296;
  };
  const out: Record<string, HostTensor> = {};
  for (const [name, dims] of Object.entries(parameterShapes(c))) {
    const n = dims.reduce((a, b) => a * b, 1);
    const data = new Float32Array(n);
    if (name.startsWith('norm')) data.fill(1);
    else {
      const lim = name === 'embed' ? 0.02 * Math.sqrt(3) : 1 / Math.sqrt(dims[0]);
      for (let i = 0; i < n; i++) data[i] = (2 * next() - 1) * lim;
    }
    out[name] = { data, dims };
  }
  return out;
}

export function batchTokens(
  c: TinyTransformerConfig,
  seed = 1,
): { tokens: BigInt64Array; targets: BigInt64Array } {
  let s = (seed * 40503 + 7) >>> 0;
  const n = c.batch * c.seq;
  const tokens = new BigInt64Array(n);
  const targets = new BigInt64Array(n);
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    tokens[i] = BigInt(s % c.vocab);
  }
  // Next-token targets; the last position of each row predicts its own token (keeps shapes simple).
  for (let b = 0; b < c.batch; b++)
    for (let t = 0; t < c.seq; t++) targets[b * c.seq + t] = tokens[b * c.seq + Math.min(t + 1, c.seq - 1)];
  return { tokens, targets };
}

function rmsNorm(x: Value, weight: Value): Value {
  const ms = op.reduceMean(op.mul(x, x), [-1], true);
  return op.mul(op.mul(x, op.reciprocal(op.sqrt(op.add(ms, RMS_EPS)))), weight);
}

/** The forward pass and loss; returns the graph's loss value and parameter inputs. */
export function buildLoss(c: TinyTransformerConfig): { graph: Graph; loss: Value; params: Value[] } {
  const g = new Graph('tinyTransformer');
  const tokens = g.input('tokens', 'int64', [c.batch, c.seq]);
  const targets = g.input('targets', 'int64', [c.batch, c.seq]);
  const p: Record<string, Value> = {};
  for (const [name, dims] of Object.entries(parameterShapes(c))) p[name] = g.input(name, 'float32', dims);
  const dh = c.dim / c.heads;

  const x = op.gather(p.embed, tokens, 0); // [B,T,D]
  const n1 = rmsNorm(x, p.norm1);
  const heads = (v: Value) => op.transpose(op.reshape(v, [c.batch, c.seq, c.heads, dh]), [0, 2, 1, 3]);
  const q = heads(op.matmul(n1, p.wq));
  const k = heads(op.matmul(n1, p.wk));
  const v = heads(op.matmul(n1, p.wv));
  const scores = op.mul(op.matmul(q, op.transposeLast2(k)), 1 / Math.sqrt(dh)); // [B,H,T,T]
  const causal = op.cast(
    op.trilu(g.constant(new Float32Array(c.seq * c.seq).fill(1), [c.seq, c.seq]), 0, false),
    'bool',
  );
  const probs = op.softmax(op.where(causal, scores, MASK_VALUE), -1);
  const att = op.reshape(op.transpose(op.matmul(probs, v), [0, 2, 1, 3]), [c.batch, c.seq, c.dim]);
  const h1 = op.add(x, op.matmul(att, p.wo));
  const n2 = rmsNorm(h1, p.norm2);
  const h2 = op.add(h1, op.matmul(op.relu(op.matmul(n2, p.w1)), p.w2));
  const logits = op.matmul(rmsNorm(h2, p.norm3), p.head); // [B,T,V]
  const logp = op.gatherElements(op.logSoftmax(logits, -1), op.unsqueeze(targets, [-1]), -1);
  const loss = op.neg(op.meanAll(logp));
  return { graph: g, loss, params: Object.values(p) };
}

export function buildTinyTransformerStep(c: TinyTransformerConfig, maxGradNorm = 1.0): Graph {
  const { graph, loss, params } = buildLoss(c);
  return buildTrainStep({ graph, loss, params, maxGradNorm });
}
