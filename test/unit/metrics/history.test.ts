/** A run's metrics log in the store (core/metrics/history.ts), on a local folder store. */
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import {
  metricSeries,
  metricsKey,
  runMetricsHistory,
  writeStepMetrics,
} from '../../../core/metrics/history.ts';
import { openStore } from '../../../core/store/index.ts';

function tempStore() {
  return openStore(mkdtempSync(join(tmpdir(), 'reasonloop-history-')));
}

describe('metrics history', () => {
  it('round-trips the records of each checkpoint, steps ascending, other runs left out', async () => {
    const store = tempStore();
    // Written out of order: the history sorts by step, not by write order.
    await writeStepMetrics(store, 'run-a', 4, [
      { step: 3, metrics: { loss: 3 } },
      { step: 4, metrics: { loss: 4 } },
    ]);
    await writeStepMetrics(store, 'run-a', 2, [
      { step: 1, metrics: { loss: 1, lr: 0.1 } },
      { step: 2, metrics: { loss: 2 } },
    ]);
    await writeStepMetrics(store, 'run-a2', 1, [{ step: 1, metrics: { loss: 99 } }]);
    assert.ok(await store.head(metricsKey('run-a', 4)));
    assert.deepEqual(await runMetricsHistory(store, 'run-a'), [
      { step: 1, metrics: { loss: 1, lr: 0.1 } },
      { step: 2, metrics: { loss: 2 } },
      { step: 3, metrics: { loss: 3 } },
      { step: 4, metrics: { loss: 4 } },
    ]);
    assert.deepEqual(await runMetricsHistory(store, 'run-a2'), [{ step: 1, metrics: { loss: 99 } }]);
    assert.deepEqual(await runMetricsHistory(store, 'no-such-run'), []);
  });

  it('a step recorded twice takes the record of the later checkpoint, and rewriting an object replaces it', async () => {
    const store = tempStore();
    // A chunk 0→2 recorded, then (after a crash before its checkpoint) re-run as 0→4.
    await writeStepMetrics(store, 'r', 2, [
      { step: 1, metrics: { loss: 10 } },
      { step: 2, metrics: { loss: 20 } },
    ]);
    await writeStepMetrics(store, 'r', 4, [
      { step: 1, metrics: { loss: 1 } },
      { step: 2, metrics: { loss: 2 } },
      { step: 3, metrics: { loss: 3 } },
      { step: 4, metrics: { loss: 4 } },
    ]);
    assert.deepEqual(
      (await runMetricsHistory(store, 'r')).map((h) => h.metrics.loss),
      [1, 2, 3, 4],
    );
    await writeStepMetrics(store, 'r', 4, [{ step: 4, metrics: { loss: 40 } }]);
    const history = await runMetricsHistory(store, 'r');
    assert.deepEqual(
      history.map((h) => [h.step, h.metrics.loss]),
      [
        [1, 10],
        [2, 20],
        [4, 40],
      ],
    );
  });

  it('metricSeries keeps finite values only (NaN comes back from JSON as null)', async () => {
    const store = tempStore();
    await writeStepMetrics(store, 'r', 5, [
      { step: 1, metrics: { loss: 1.5, kl: 0 } },
      { step: 2, metrics: { loss: NaN } },
      { step: 3, metrics: { loss: Infinity } },
      { step: 4, metrics: {} },
      { step: 5, metrics: { loss: -0.25 } },
    ]);
    const history = await runMetricsHistory(store, 'r');
    assert.deepEqual(metricSeries(history, 'loss'), [
      { x: 1, y: 1.5 },
      { x: 5, y: -0.25 },
    ]);
    assert.deepEqual(metricSeries(history, 'kl'), [{ x: 1, y: 0 }]);
    assert.deepEqual(metricSeries(history, 'missing'), []);
    // In memory (no JSON), NaN and ±Infinity are dropped too.
    assert.deepEqual(
      metricSeries(
        [
          { step: 1, metrics: { a: NaN } },
          { step: 2, metrics: { a: -Infinity } },
          { step: 3, metrics: { a: 2 } },
        ],
        'a',
      ),
      [{ x: 3, y: 2 }],
    );
  });
});
