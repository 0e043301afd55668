/** bench:orchestration's arithmetic: busy time as a union of spans, overhead per step and per hop. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Context as ActivityContext } from '@temporalio/activity';
import {
  activityTiming,
  mergeSpans,
  orchestrationTiming,
  type ActivitySpan,
} from '../../../bench/orchestration/timing.ts';

const span = (activity: string, start: number, end: number, step?: number): ActivitySpan => ({
  activity,
  start,
  end,
  ...(step === undefined ? {} : { step }),
});

describe('mergeSpans', () => {
  it('overlapping spans (parallel shards) count once; disjoint ones stay apart', () => {
    assert.deepEqual(
      mergeSpans([
        { start: 10, end: 20 },
        { start: 0, end: 5 },
        { start: 12, end: 30 },
        { start: 30, end: 31 },
      ]),
      [
        { start: 0, end: 5 },
        { start: 10, end: 31 },
      ],
    );
  });
});

describe('orchestrationTiming', () => {
  it('two steps: wall from prepareRun to the last checkpoint, compute the busy union, each gap a hop', () => {
    const spans = [
      span('prepareRun', 0, 100),
      // step 1: two shards in parallel, then score, update, checkpoint, each after a 10 ms gap
      span('sampleRollouts', 110, 200, 1),
      span('sampleRollouts', 115, 210, 1),
      span('scoreRollouts', 220, 250, 1),
      span('updatePolicy', 260, 300, 1),
      span('checkpoint', 310, 320, 1),
      // step 2: gaps of 20 ms
      span('sampleRollouts', 340, 400, 2),
      span('sampleRollouts', 340, 400, 2),
      span('scoreRollouts', 420, 450, 2),
      span('updatePolicy', 470, 500, 2),
      span('checkpoint', 520, 540, 2),
    ];
    const t = orchestrationTiming(spans);
    assert.equal(t.steps, 2);
    assert.equal(t.stepMs, 220);
    // busy: 100 + 30 + 40 + 10 (step 1), 60 + 30 + 30 + 20 (step 2) = 320 over 2 steps
    assert.equal(t.computeMs, 160);
    assert.equal(t.overheadMs, 60);
    assert.ok(Math.abs(t.overheadPct - (100 * 60) / 220) < 1e-12);
    assert.equal(t.hops, 8);
    assert.equal(t.hopMs, 15);
    assert.equal(t.medianHopMs, 15);
    assert.equal(t.maxHopMs, 20);
    assert.deepEqual(t.hopMsBefore, {
      sampleRollouts: 15,
      scoreRollouts: 15,
      updatePolicy: 15,
      checkpoint: 15,
    });
    assert.deepEqual(t.hopsPerStepBefore, {
      sampleRollouts: 1,
      scoreRollouts: 1,
      updatePolicy: 1,
      checkpoint: 1,
    });
  });

  it('a fused step (orchestration.fusedStep) ends with its trainStep: two hops a step', () => {
    const spans = [
      span('prepareRun', 0, 100),
      span('sampleRollouts', 110, 200, 1),
      span('sampleRollouts', 110, 205, 1),
      span('trainStep', 215, 300, 1),
      span('sampleRollouts', 320, 400, 2),
      span('sampleRollouts', 320, 400, 2),
      span('trainStep', 420, 500, 2),
    ];
    const t = orchestrationTiming(spans);
    assert.equal(t.steps, 2);
    assert.equal(t.stepMs, 200);
    assert.equal(t.overheadMs, 30);
    assert.equal(t.hops, 4);
    assert.deepEqual(t.hopMsBefore, { sampleRollouts: 15, trainStep: 15 });
    assert.deepEqual(t.hopsPerStepBefore, { sampleRollouts: 1, trainStep: 1 });
  });

  it("the main thread's busy time per hop: the loop-active counter from the end of one span to the start of the next", () => {
    const at = (s: ActivitySpan, loopActiveStart: number, loopActiveEnd: number): ActivitySpan => ({
      ...s,
      loopActiveStart,
      loopActiveEnd,
    });
    const spans = [
      at(span('prepareRun', 0, 100), 0, 50),
      // two shards: the gap after them starts where the later one ended (205), whose counter reads 150
      at(span('sampleRollouts', 110, 200, 1), 54, 140),
      at(span('sampleRollouts', 110, 205, 1), 54, 150),
      at(span('trainStep', 215, 300, 1), 158, 240),
    ];
    const t = orchestrationTiming(spans);
    assert.deepEqual(t.gaps, [
      { start: 100, end: 110 },
      { start: 205, end: 215 },
    ]);
    // (54 − 50) and (158 − 150)
    assert.equal(t.loopBusyMsPerHop, 6);
    assert.equal(
      orchestrationTiming(spans.map((s) => ({ ...s, loopActiveStart: undefined }))).loopBusyMsPerHop,
      undefined,
    );
  });

  it('a run that was not measured is an error, not a zero', () => {
    assert.throws(() => orchestrationTiming([span('checkpoint', 0, 1, 1)]), /no prepareRun/);
    assert.throws(() => orchestrationTiming([span('prepareRun', 0, 1)]), /no checkpoint after prepareRun/);
  });
});

describe('activityTiming', () => {
  it('records each execution with its type and step, passing results and errors through', async () => {
    const spans: ActivitySpan[] = [];
    const factory = activityTiming((s) => spans.push(s));
    const execute = (activityType: string, args: unknown[], next: () => Promise<unknown>) =>
      factory({ info: { activityType } } as ActivityContext).inbound!.execute!({ args, headers: {} }, next);
    assert.equal(await execute('updatePolicy', [{ step: 4 }], async () => 8), 8);
    await assert.rejects(
      execute('checkpoint', [{ step: 5 }], async () => {
        throw new Error('boom');
      }),
      /boom/,
    );
    assert.equal(await execute('trainerQueue', [], async () => 'q'), 'q');
    assert.ok(
      spans.every((s) => s.loopActiveEnd! >= s.loopActiveStart!),
      'the loop counter only grows',
    );
    assert.deepEqual(
      spans.map((s) => [s.activity, s.step, s.end >= s.start]),
      [
        ['updatePolicy', 4, true],
        ['checkpoint', 5, true],
        ['trainerQueue', undefined, true],
      ],
    );
  });
});
