/**
 * stepMetrics: the metrics a step's checkpoint records, assembled from its activities' summaries — the
 * update's first, then rewards, lengths over all shards, tool use only when a tool ran, the refill counts
 * only when the run refills, and the phase timings (sampling as long as its slowest shard).
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { stepMetrics, type ShardSummary } from '../../../core/metrics/stepMetrics.ts';

const scored = {
  meanTaskReward: 0.5,
  meanReward: 0.4,
  accuracy: 0.25,
  keptFraction: 1,
  klToReference: 0.01,
  completionRatio: 0.75,
  seconds: 0.5,
};
const shard = (over: Partial<ShardSummary>): ShardSummary => ({
  responses: 4,
  meanResponseLength: 10,
  maxResponseLength: 12,
  promptTokens: 20,
  toolCalls: 0,
  toolErrors: 0,
  sandboxMs: 0,
  seconds: 1,
  ...over,
});

describe('stepMetrics', () => {
  it('assembles a plain step: the update first, lengths weighted by responses, the slowest shard', () => {
    const m = stepMetrics({
      shards: [shard({}), shard({ responses: 2, meanResponseLength: 4, maxResponseLength: 30, seconds: 3 })],
      scored,
      update: { metrics: { loss: 1 }, seconds: 2 },
      referenceSeconds: 0.25,
      rounds: 1,
      refill: false,
    });
    assert.equal(Object.keys(m)[0], 'loss');
    assert.equal(m.meanResponseLength, (4 * 10 + 2 * 4) / 6);
    assert.equal(m.maxResponseLength, 30);
    assert.equal(m.clipRatio, 0.25);
    assert.equal(m['timing/sample'], 3);
    assert.equal(m['timing/step'], 3 + 0.25 + 0.5 + 2);
    assert.equal(m['perf/updateTokensPerSecond'], (40 + 48) / 2);
    for (const absent of ['toolCallsPerResponse', 'refillRounds', 'baselineValue', 'oldLogprobDiffMean']) {
      assert.ok(!(absent in m), absent);
    }
  });

  it('records tool use, the baseline, the recompute mismatch and the refill counts when there are some', () => {
    const m = stepMetrics({
      shards: [
        shard({ toolCalls: 6, toolErrors: 2, sandboxMs: 1500, groupsKept: 1 }),
        shard({ groupsKept: 2 }),
      ],
      scored: {
        ...scored,
        baseline: { value: 0.3, count: 5 },
        oldLogprobDiffMean: 1e-6,
        oldLogprobDiffMax: 1e-5,
      },
      update: { metrics: {} },
      rounds: 3,
      refill: true,
    });
    assert.equal(m.toolCallsPerResponse, 6 / 8);
    assert.equal(m.toolErrorsPerResponse, 2 / 8);
    assert.equal(m.sandboxSeconds, 1.5);
    assert.equal(m.baselineValue, 0.3);
    assert.equal(m.baselineCount, 5);
    assert.equal(m.oldLogprobDiffMax, 1e-5);
    assert.equal(m.refillRounds, 2);
    // Without scoring's own count, the shards' kept groups.
    assert.equal(m.groupsWithSignal, 3);
  });
});
