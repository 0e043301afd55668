/**
 * Sampling inside the decode graph, for GPUs: the host then receives two numbers per row (the token and
 * its log-prob) instead of a [batch, vocab] logits block, and the per-token JavaScript pass over the
 * vocabulary disappears. Measured on an H100 (bench:rollout, 0.5B Qwen2, vocab 151,936, batch 32): the
 * host sampler took ≈100 ms of a ≈130 ms decode step.
 *
 * The draw is the host sampler's (sampling.ts) for plain temperature sampling: the inverse CDF of
 * softmax(logits / T) at the row's counter-based uniform u, i.e. the first token whose running sum of
 * exp((logit − max) / T) exceeds u · total. The running sum is float32 in the graph (float64 on the host),
 * so a draw within rounding of a token boundary can pick the neighbour: tokens agree with the host sampler
 * except at such boundaries, log-probs to float32 rounding. Truncation (top-k / top-p) stays on the host.
 */
import type { Graph, Value } from '../graph/graph.ts';
import { op } from '../graph/index.ts';
import type { SamplingParams } from './sampling.ts';

export const samplingHeadNames = {
  /** [batch] float32: the row's uniform in [0, 1) from the counter-based RNG. */
  uniform: 'sample_uniform',
  /** [batch] float32: 1 / T (1 for greedy rows). */
  inverseTemperature: 'inverse_temperature',
  /** [batch] int64 / float32: the drawn token and log softmax(logits / T) at it. */
  token: 'sampled_token',
  logprob: 'sampled_logprob',
  /** [batch] int64 / float32: the argmax token and log softmax(logits) at it (greedy decoding). */
  greedyToken: 'greedy_token',
  greedyLogprob: 'greedy_logprob',
} as const;

/** The outputs the host fetches instead of the logits. */
export const SAMPLING_HEAD_OUTPUTS = [
  samplingHeadNames.token,
  samplingHeadNames.logprob,
  samplingHeadNames.greedyToken,
  samplingHeadNames.greedyLogprob,
] as const;

/** Whether the head can draw for these settings exactly as the host sampler defines the draw. */
export function headSupports(params: SamplingParams): boolean {
  const truncated = (params.topK ?? 0) > 0 || (params.topP ?? 1) < 1;
  // rawLogprob (log softmax at T = 1) differs from the returned log-prob only when T is not 0 or 1.
  const needsRaw = !!params.rawLogprob && params.temperature !== 0 && params.temperature !== 1;
  return !truncated && !needsRaw;
}

/** Adds the head to a graph whose `logits` are [batch, vocab]; declares its inputs and outputs. */
export function addSamplingHead(graph: Graph, logits: Value): void {
  const batch = logits.shape[0];
  const u = graph.input(samplingHeadNames.uniform, 'float32', [batch]);
  const invT = graph.input(samplingHeadNames.inverseTemperature, 'float32', [batch]);
  const max = op.reduceMax(logits, [1], true);
  const shifted = op.sub(logits, max); // ≤ 0, exactly 0 at the argmax
  const scaled = op.mul(shifted, op.unsqueeze(invT, [1]));
  const running = op.cumSum(op.exp(scaled), 1);
  const total = op.slice(running, [-1], [op.SLICE_END], [1]); // [batch, 1]
  const target = op.mul(op.unsqueeze(u, [1]), total);
  // The first index whose running sum exceeds the target = how many running sums do not.
  const below = op.reduceSum(op.cast(op.lessOrEqual(running, target), 'int64'), [1], true);
  const last = graph.scalar(Number(logits.shape[1]) - 1, 'int64');
  const token = typeof logits.shape[1] === 'number' ? op.minimum(below, last) : below;
  const logTotal = op.log(total);
  const logprob = op.sub(op.gatherElements(scaled, token, 1), logTotal);
  graph.output(op.squeeze(token, [1]), samplingHeadNames.token);
  graph.output(op.squeeze(logprob, [1]), samplingHeadNames.logprob);

  const best = op.argMax(logits, 1, true);
  const partition = op.log(op.reduceSum(op.exp(shifted), [1], true));
  graph.output(op.squeeze(best, [1]), samplingHeadNames.greedyToken);
  graph.output(op.squeeze(op.neg(partition), [1]), samplingHeadNames.greedyLogprob);
}
