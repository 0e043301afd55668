/**
 * Per-token log-probs and entropies of given sequences — what the trainer recomputes for the PPO ratio
 * and the KL/entropy terms. Position t scores token t+1; the logits are divided by the sampling
 * temperature first, so on-policy the ratio against the sampler's log-probs starts at exactly 1.
 */
import { Graph, op } from '../graph/index.ts';
import type { DType, Value } from '../graph/index.ts';
import type { Qwen2Config } from './config.ts';
import { declareQwen2Inputs, lmHeadWeight, linear, qwen2Hidden } from './qwen2.ts';

/** log softmax(logits)[target] along the last axis: [..., V] and [...] int64 → [...]. */
export function gatherLogProbs(logProbs: Value, targets: Value): Value {
  return op.squeeze(op.gatherElements(logProbs, op.unsqueeze(targets, [-1]), -1), [-1]);
}

/** Entropy −Σ p·log p of each row of log-probs. */
export function entropyFromLogProbs(logProbs: Value): Value {
  return op.neg(op.reduceSum(op.mul(op.exp(logProbs), logProbs), [-1], false));
}

export interface TokenLogProbsGraph {
  graph: Graph;
  params: Map<string, Value>;
  /** [batch, seq − 1]: log-prob of input_ids[:, t+1] given the prefix up to t. */
  logProbs: Value;
  /** [batch, seq − 1]: entropy of the next-token distribution at t. */
  entropy: Value;
}

/** The forward graph of per-token log-probs (inputs as buildQwen2Logits, plus a `temperature` scalar). */
export function buildTokenLogProbs(config: Qwen2Config, dtype: DType = 'float32'): TokenLogProbsGraph {
  const graph = new Graph('qwen2TokenLogProbs');
  const { inputs, params } = declareQwen2Inputs(graph, config, dtype);
  const temperature = graph.input('temperature', dtype, []);
  const { logProbs, entropy } = tokenLogProbs(graph, inputs, params, config, temperature);
  graph.output(logProbs, 'logprobs');
  graph.output(entropy, 'entropy');
  return { graph, params, logProbs, entropy };
}

/** The same computation inside another graph (the train step builds its loss on it). */
export function tokenLogProbs(
  graph: Graph,
  inputs: Parameters<typeof qwen2Hidden>[0],
  params: Map<string, Value>,
  config: Qwen2Config,
  temperature: Value,
): { logProbs: Value; entropy: Value } {
  const { hidden } = qwen2Hidden(inputs, params, config);
  const scoring = op.slice(hidden, [0], [-1], [1]); // positions 0 … seq−2 predict tokens 1 … seq−1
  const logits = op.div(linear(scoring, lmHeadWeight(params, config)), temperature);
  const logProbs = graph.scope('logprobs', () => op.logSoftmax(logits, -1));
  const targets = op.slice(inputs.inputIds, [1], [op.SLICE_END], [1]);
  return { logProbs: gatherLogProbs(logProbs, targets), entropy: entropyFromLogProbs(logProbs) };
}
