// Update metrics over every mini-batch, against verl's reduce_metrics (verl/utils/metric/utils.py),
// transcribed: np.max for a key containing "max", np.min for one containing "min", np.mean otherwise.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { reduceMetrics } from '../../../core/metrics/reduce.ts';
import { stepTimingMetrics } from '../../../core/metrics/stepTiming.ts';

function verlReduceMetrics(metrics: Record<string, number[]>): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [key, val] of Object.entries(metrics)) {
    if (key.includes('max')) out[key] = Math.max(...val);
    else if (key.includes('min')) out[key] = Math.min(...val);
    else out[key] = val.reduce((a, b) => a + b, 0) / val.length;
  }
  return out;
}

test('mean over mini-batches, max and min where verl takes them', () => {
  const miniBatches = [
    { pgLoss: 0.5, gradNorm: 2, clipFracHigh: 0.1, response_length_max: 7, lr: 1e-6, advantages_min: -1 },
    { pgLoss: -0.25, gradNorm: 4, clipFracHigh: 0.3, response_length_max: 9, lr: 1e-6, advantages_min: -3 },
    { pgLoss: 1, gradNorm: 3, clipFracHigh: 0.2, response_length_max: 8, lr: 1e-6, advantages_min: -2 },
  ];
  const lists: Record<string, number[]> = {};
  for (const m of miniBatches) for (const [k, v] of Object.entries(m)) (lists[k] ??= []).push(v);
  const ours = reduceMetrics(miniBatches);
  const verl = verlReduceMetrics(lists);
  assert.deepEqual(Object.keys(ours).sort(), Object.keys(verl).sort());
  for (const k of Object.keys(verl))
    assert.ok(Math.abs(ours[k] - verl[k]) < 1e-15, `${k}: ${ours[k]} vs ${verl[k]}`);
  assert.equal(ours.response_length_max, 9);
  assert.equal(ours.advantages_min, -3);
  assert.ok(Math.abs(ours.pgLoss - 1.25 / 3) < 1e-15, 'not the last mini-batch (1) but the mean');
  assert.deepEqual(reduceMetrics([]), {});
  assert.deepEqual(reduceMetrics([{ a: 1 }, { a: 3, b: 5 }]), { a: 2, b: 5 });
});

test('timing: the slowest shard is the sampling phase; tokens per second per phase', () => {
  const m = stepTimingMetrics({
    sampleSeconds: [2, 4],
    scoreSeconds: 1,
    updateSeconds: 5,
    promptTokens: 100,
    responseTokens: 300,
  });
  assert.deepEqual(m, {
    'timing/sample': 4,
    'timing/score': 1,
    'timing/update': 5,
    'timing/step': 10,
    'perf/sampleTokensPerSecond': 75,
    'perf/updateTokensPerSecond': 80,
    'perf/throughput': 40,
  });
  const idle = stepTimingMetrics({
    sampleSeconds: [],
    scoreSeconds: 0,
    updateSeconds: 0,
    promptTokens: 0,
    responseTokens: 0,
  });
  assert.equal(idle['perf/throughput'], 0, 'no division by zero');
  // A run with a KL term: the reference log-probs are a phase of their own (verl's timing_s/ref).
  const withReference = stepTimingMetrics({
    sampleSeconds: [4],
    referenceSeconds: 2,
    scoreSeconds: 1,
    updateSeconds: 5,
    promptTokens: 100,
    responseTokens: 300,
  });
  assert.equal(withReference['timing/reference'], 2);
  assert.equal(withReference['timing/step'], 12);
  assert.equal(withReference['perf/throughput'], 400 / 12);
});
