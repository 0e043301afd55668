/**
 * Orchestration overhead from the time spent inside the activity functions: a step's wall time minus the
 * time during which at least one activity was computing. What is left is what Temporal and the workflow
 * add — workflow tasks, activity scheduling and dispatch, payload (de)serialisation, polling.
 */
import type { ActivityInterceptorsFactory } from '@temporalio/worker';

/** One activity execution as the worker ran it, timed inside the process (performance.now()). */
export interface ActivitySpan {
  activity: string;
  /** The activity's id in its workflow's history (ActivityTaskScheduled's activityId). */
  activityId?: string;
  /** The RL step the activity worked on (from its input); undefined for prepareRun. */
  step?: number;
  /** performance.now() milliseconds; performance.timeOrigin + these are the epoch times history events use. */
  start: number;
  end: number;
  /**
   * The main thread's event loop: milliseconds it had spent busy (performance.eventLoopUtilization().active,
   * since the process started) at the span's start and end. Between two activities, the difference is what
   * this process's main thread did during the hop — every activation and poll answer passes through it.
   */
  loopActiveStart?: number;
  loopActiveEnd?: number;
}

export interface OrchestrationTiming {
  /** Steps completed in the measured window (checkpoints written). */
  steps: number;
  /** Mean wall time per step. */
  stepMs: number;
  /** Mean time per step during which some activity was computing. */
  computeMs: number;
  /** stepMs − computeMs. */
  overheadMs: number;
  overheadPct: number;
  /** Idle gaps in the window: each one is a hop from one activity (or a parallel group) to the next. */
  hops: number;
  /** Mean, median and largest idle gap: the overhead of one activity hop. */
  hopMs: number;
  medianHopMs: number;
  maxHopMs: number;
  /** Mean hop before each activity type (the one that ends the idle gap), e.g. `{ scoreRollouts: 41 }`. */
  hopMsBefore: Record<string, number>;
  /** Hops before each activity type per step, e.g. `{ sampleRollouts: 1, trainerQueue: 0.1 }`. */
  hopsPerStepBefore: Record<string, number>;
  /** Each hop's interval (performance.now() milliseconds), in time order. */
  gaps: { start: number; end: number }[];
  /**
   * Mean milliseconds per hop the main thread's event loop was busy (loopActiveStart/End); undefined when
   * a span lacks them.
   */
  loopBusyMsPerHop?: number;
}

/** The activities that end a step by committing its checkpoint: checkpoint, or trainStep (fusedStep). */
export const STEP_ENDS: readonly string[] = ['checkpoint', 'trainStep'];

/** Merges overlapping spans (parallel shards) into disjoint intervals, in time order. */
export function mergeSpans(
  spans: readonly { start: number; end: number }[],
): { start: number; end: number }[] {
  const sorted = [...spans].sort((a, b) => a.start - b.start);
  const merged: { start: number; end: number }[] = [];
  for (const { start, end } of sorted) {
    const last = merged.at(-1);
    if (last && start <= last.end) last.end = Math.max(last.end, end);
    else merged.push({ start, end });
  }
  return merged;
}

function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

/**
 * The measured window runs from the end of prepareRun (the run is planned, the first step is next) to the
 * end of the last checkpoint (or trainStep, which ends with it): it holds exactly the run's steps, each ending when its checkpoint is written.
 * Every idle gap in it — before each activity or group of parallel activities — is one hop.
 */
export function orchestrationTiming(spans: readonly ActivitySpan[]): OrchestrationTiming {
  const prepared = spans.filter((s) => s.activity === 'prepareRun').at(-1);
  if (!prepared) throw new Error('no prepareRun among the timed activities: the run was not measured');
  const checkpoints = spans.filter((s) => STEP_ENDS.includes(s.activity) && s.start >= prepared.end);
  const steps = new Set(checkpoints.map((s) => s.step)).size;
  if (steps === 0) throw new Error('no checkpoint after prepareRun: the run made no step');
  const windowStart = prepared.end;
  const windowEnd = Math.max(...checkpoints.map((s) => s.end));
  const inWindow = spans.filter((s) => s !== prepared && s.start >= windowStart && s.end <= windowEnd);
  const busy = mergeSpans(inWindow);
  const gapIntervals = busy.map((b, i) => ({ start: i === 0 ? windowStart : busy[i - 1].end, end: b.start }));
  const gaps = gapIntervals.map((g) => g.end - g.start);
  // The loop's busy time at each gap's ends: from the span that ended it and the span that ended the gap.
  const loopAt = (t: number, side: 'start' | 'end') =>
    [prepared, ...inWindow].find((s) => s[side] === t)?.[
      side === 'start' ? 'loopActiveStart' : 'loopActiveEnd'
    ];
  const loopBusy = gapIntervals.map((g) => {
    const from = loopAt(g.start, 'end');
    const to = loopAt(g.end, 'start');
    return from === undefined || to === undefined ? undefined : to - from;
  });
  const before = new Map<string, number[]>();
  busy.forEach((b, i) => {
    const next = inWindow.find((s) => s.start === b.start)!.activity;
    before.set(next, [...(before.get(next) ?? []), gaps[i]]);
  });
  const wallMs = windowEnd - windowStart;
  const computeMs = busy.reduce((sum, b) => sum + (b.end - b.start), 0);
  const stepMs = wallMs / steps;
  const overheadMs = (wallMs - computeMs) / steps;
  return {
    steps,
    stepMs,
    computeMs: computeMs / steps,
    overheadMs,
    overheadPct: (100 * overheadMs) / stepMs,
    hops: gaps.length,
    hopMs: gaps.reduce((a, b) => a + b, 0) / gaps.length,
    medianHopMs: median(gaps),
    maxHopMs: Math.max(...gaps),
    hopMsBefore: Object.fromEntries(
      [...before].map(([activity, g]) => [activity, g.reduce((a, b) => a + b, 0) / g.length]),
    ),
    hopsPerStepBefore: Object.fromEntries([...before].map(([activity, g]) => [activity, g.length / steps])),
    gaps: gapIntervals,
    ...(loopBusy.every((b) => b !== undefined)
      ? { loopBusyMsPerHop: loopBusy.reduce((a, b) => a + b, 0) / loopBusy.length }
      : {}),
  };
}

/**
 * A worker interceptor that records the span of every activity execution: from the call into the activity
 * function (its arguments decoded) to its return or throw (before the result is encoded and reported).
 */
export function activityTiming(record: (span: ActivitySpan) => void): ActivityInterceptorsFactory {
  return (ctx) => ({
    inbound: {
      async execute(input, next) {
        const loopActiveStart = performance.eventLoopUtilization().active;
        const start = performance.now();
        try {
          return await next(input);
        } finally {
          const end = performance.now();
          const loopActiveEnd = performance.eventLoopUtilization().active;
          const step = (input.args[0] as { step?: unknown } | undefined)?.step;
          record({
            activity: ctx.info.activityType,
            activityId: ctx.info.activityId,
            ...(typeof step === 'number' ? { step } : {}),
            start,
            end,
            loopActiveStart,
            loopActiveEnd,
          });
        }
      },
    },
  });
}
