/**
 * Keep-alive heartbeats: every activity scheduled with a heartbeat timeout heartbeats from a timer while
 * it runs, so a worker process that dies (kill -9, OOM, a lost machine) is noticed after
 * `heartbeatTimeoutSeconds` whatever the activity was doing — scoring, preparing a run, writing a
 * checkpoint — and not at its start-to-close timeout hours later. Activities that heartbeat at their own
 * milestones (sampleRollouts, updatePolicy, sftSteps) keep doing so; the timer covers the stretches between
 * them (a long reference forward pass, a large checkpoint hashed) that would otherwise look like a death.
 *
 * A timer proves the worker's event loop turns, not that the work advances: a process alive but stuck
 * is bounded by the activity's start-to-close timeout (docs/orchestration.md, Failures).
 */
import type { ActivityInterceptorsFactory } from '@temporalio/worker';

/** Heartbeats per heartbeat timeout: a late tick or a slow RPC still lands well inside it. */
export const BEATS_PER_TIMEOUT = 4;

/** The timer's period for an activity's heartbeat timeout; undefined when it has none. */
export function keepAlivePeriodMs(heartbeatTimeoutMs: number | undefined): number | undefined {
  if (!heartbeatTimeoutMs || heartbeatTimeoutMs <= 0) return undefined;
  return Math.max(1, Math.floor(heartbeatTimeoutMs / BEATS_PER_TIMEOUT));
}

/** The worker interceptor (`interceptors.activity` of Worker.create). */
export const keepAlive: ActivityInterceptorsFactory = (ctx) => ({
  inbound: {
    async execute(input, next) {
      const period = keepAlivePeriodMs(ctx.info.heartbeatTimeoutMs);
      if (period === undefined) return next(input);
      // The SDK throttles heartbeats to one per ~0.8 heartbeat timeout; the extra ticks cost nothing.
      const timer = setInterval(() => ctx.heartbeat(), period);
      try {
        return await next(input);
      } finally {
        clearInterval(timer);
      }
    },
  },
});
