/** Sandbox limits and tool metrics: defaults from the paper, errors that name the field. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { DEFAULT_LIMITS, resolveLimits } from '../../../core/tools/limits.ts';
import {
  emptyToolMetrics,
  mergeToolMetrics,
  recordToolCall,
  toolMetricsPerResponse,
} from '../../../core/tools/metrics.ts';

test('limits: the paper’s 5 s and 400 characters by default; bad values are named', () => {
  assert.equal(DEFAULT_LIMITS.wallTimeMs, 5000);
  assert.equal(DEFAULT_LIMITS.outputChars, 400);
  assert.equal(resolveLimits({ wallTimeMs: 1000 }).wallTimeMs, 1000);
  assert.throws(() => resolveLimits({ wallTimeMs: -4 }), /sandbox\.limits\.wallTimeMs .* \(got -4\)/);
  assert.throws(() => resolveLimits({ outputChars: 1.5 }), /sandbox\.limits\.outputChars must be an integer/);
});

test('metrics: calls, errors by kind, time; merged and per response', () => {
  const m = emptyToolMetrics();
  recordToolCall(m, { errorKind: null, wallMs: 10 });
  recordToolCall(m, { errorKind: 'timeout', wallMs: 5000 });
  recordToolCall(m, { errorKind: 'exception', wallMs: 2 });
  assert.deepEqual([m.toolCalls, m.toolErrors, m.toolTimeouts, m.sandboxMs], [3, 2, 1, 5012]);
  const total = mergeToolMetrics([m, m]);
  assert.equal(total.toolCalls, 6);
  const per = toolMetricsPerResponse(total, 4);
  assert.equal(per.toolCallsPerResponse, 1.5);
  assert.equal(per.toolErrorRate, 4 / 6);
  assert.throws(() => toolMetricsPerResponse(total, 0), /responses must be a positive integer \(got 0\)/);
});
