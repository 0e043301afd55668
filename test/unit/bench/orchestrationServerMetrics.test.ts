/** bench:orchestration's reading of the dev server's persistence metrics (Prometheus text). */
import assert from 'node:assert/strict';
import { it } from 'node:test';
import { persistenceBetween, persistenceTotals } from '../../../bench/orchestration/serverMetrics.ts';

const EXPOSITION = `# HELP persistence_latency persistence_latency histogram
# TYPE persistence_latency histogram
persistence_latency_bucket{namespace="default",operation="UpdateWorkflowExecution",service_name="history",le="0.001"} 3
persistence_latency_sum{namespace="default",operation="UpdateWorkflowExecution",service_name="history"} 0.25
persistence_latency_count{namespace="default",operation="UpdateWorkflowExecution",service_name="history"} 10
persistence_latency_sum{namespace="default",operation="GetTasks",service_name="matching"} 0.5
persistence_latency_count{namespace="default",operation="GetTasks",service_name="matching"} 2
persistence_errors{namespace="default",operation="GetTasks"} 7
persistence_latency_summary_sum 99
`;

it('sums the persistence_latency histogram over operations and services, buckets and other metrics left out', () => {
  assert.deepEqual(persistenceTotals(EXPOSITION), { seconds: 0.75, operations: 12 });
});

it('a server without the metric, or a value that is not a number, is an error rather than zero', () => {
  assert.throws(() => persistenceTotals('up 1\n'), /no persistence_latency metric/);
  assert.throws(() => persistenceTotals('persistence_latency_sum{a="b"} x\n'), /not a number/);
});

it('the difference between two readings', () => {
  assert.deepEqual(persistenceBetween({ seconds: 1, operations: 10 }, { seconds: 1.5, operations: 25 }), {
    seconds: 0.5,
    operations: 15,
  });
});
