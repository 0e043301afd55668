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
import { graphOf } from '../graph/ops/util.ts';
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

/**
 * Vocabulary block of the two-level draw, as the host sampler's DRAW_BLOCK: block sums, a running sum over
 * blocks, then a running sum inside one block. ORT's CUDA CumSum computes each output by its own loop over
 * the axis (O(n²) per row): over a whole 151,936-token row it took 91 ms of a 113 ms decode step on an H100;
 * over 149 blocks and then 1,024 tokens it is negligible.
 */
export const HEAD_BLOCK = 1024;
/** Fills the padded tail of the last block: exp((PAD − max) / T) is exactly 0 and no NaN can arise. */
const PAD_LOGIT = -3.4e38;
/** Keeps a target strictly below the sum it is drawn from, so float32 rounding never selects an empty tail. */
const BELOW_ONE = 1 - 2 ** -20;

/** The head's draws for one row batch: each [batch]. */
export interface HeadDraws {
  token: Value;
  logprob: Value;
  greedyToken: Value;
  greedyLogprob: Value;
}

/**
 * Adds the head to a graph whose `logits` are [batch, vocab]; declares its inputs and outputs and returns
 * the draws and 1/T (which a decode loop reads again).
 */
export function addSamplingHead(graph: Graph, logits: Value): HeadDraws & { inverseTemperature: Value } {
  const [batch] = logits.shape;
  const u = graph.input(samplingHeadNames.uniform, 'float32', [batch]);
  const invT = graph.input(samplingHeadNames.inverseTemperature, 'float32', [batch]);
  const draws = drawTokens(logits, u, invT);
  graph.output(draws.token, samplingHeadNames.token);
  graph.output(draws.logprob, samplingHeadNames.logprob);
  graph.output(draws.greedyToken, samplingHeadNames.greedyToken);
  graph.output(draws.greedyLogprob, samplingHeadNames.greedyLogprob);
  return { ...draws, inverseTemperature: invT };
}

/**
 * The draw itself, from [batch, vocab] logits, the rows' uniforms [batch] and 1/T [batch] (1 for greedy
 * rows); usable inside a Loop body (decodeLoop.ts), where the inputs are loop values.
 */
export function drawTokens(logits: Value, u: Value, invT: Value): HeadDraws {
  const graph = graphOf(logits, u, invT);
  const [batch, vocab] = logits.shape;
  if (typeof vocab !== 'number') throw new Error('the sampling head needs a static vocabulary size');
  const blocks = Math.ceil(vocab / HEAD_BLOCK);
  const pad = blocks * HEAD_BLOCK - vocab;
  const i64 = (n: number) => graph.scalar(n, 'int64');
  const padded =
    pad === 0
      ? logits
      : op.concat(
          [logits, op.expand(graph.constant(new Float32Array(pad).fill(PAD_LOGIT), [1, pad]), [batch, pad])],
          1,
        );
  const blocked = op.reshape(padded, [batch, blocks, HEAD_BLOCK]);
  // Max and argmax in two stages too: one reduction over a 151,936-wide row took 12.8 ms on the H100.
  const blockMax = op.reduceMax(blocked, [2]); // [B, blocks]
  const max = op.reduceMax(blockMax, [1], true); // [B, 1]
  const weights = op.exp(op.mul(op.sub(blocked, op.unsqueeze(max, [2])), op.unsqueeze(invT, [1, 2])));
  const blockSums = op.reduceSum(weights, [2]); // [B, blocks]
  const blockRun = op.cumSum(blockSums, 1);
  const total = op.slice(blockRun, [-1], [op.SLICE_END], [1]); // [B, 1]
  const target = op.minimum(op.mul(op.unsqueeze(u, [1]), total), op.mul(total, BELOW_ONE));
  // The first block whose running sum exceeds the target = how many running sums do not.
  const block = op.minimum(
    op.reduceSum(op.cast(op.lessOrEqual(blockRun, target), 'int64'), [1], true),
    i64(blocks - 1),
  );
  const before = op.gatherElements(op.sub(blockRun, blockSums), block, 1); // [B, 1]
  const inBlock = op.reshape(
    op.gatherElements(weights, op.expand(op.unsqueeze(block, [2]), [batch, 1, HEAD_BLOCK]), 1),
    [batch, HEAD_BLOCK],
  );
  const inRun = op.cumSum(inBlock, 1);
  const blockTotal = op.slice(inRun, [-1], [op.SLICE_END], [1]);
  const remaining = op.minimum(op.sub(target, before), op.mul(blockTotal, BELOW_ONE));
  const offset = op.reduceSum(op.cast(op.lessOrEqual(inRun, remaining), 'int64'), [1], true);
  const token = op.minimum(op.add(op.mul(block, i64(HEAD_BLOCK)), offset), i64(vocab - 1));
  const logTotal = op.log(total);
  const scaledAt = op.mul(op.sub(op.gatherElements(logits, token, 1), max), op.unsqueeze(invT, [1]));
  const drawnToken = op.squeeze(token, [1]);
  const drawnLogprob = op.squeeze(op.sub(scaledAt, logTotal), [1]);

  // Greedy rows are fed 1/T = 1, so `total` is then the partition function at T = 1.
  const bestBlock = op.argMax(blockMax, 1, true); // first block holding the maximum
  const bestInBlock = op.gatherElements(op.argMax(blocked, 2), bestBlock, 1);
  return {
    token: drawnToken,
    logprob: drawnLogprob,
    greedyToken: op.squeeze(op.add(op.mul(bestBlock, i64(HEAD_BLOCK)), bestInBlock), [1]),
    greedyLogprob: op.squeeze(op.neg(logTotal), [1]),
  };
}
