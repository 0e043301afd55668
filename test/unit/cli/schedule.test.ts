/**
 * `reasonloop schedule`: duration parsing, the fixed-step refusal, the Schedule's options and the
 * equivalent temporal command — all before (and without) any connection.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { EXIT_USAGE } from '../../../cli/command.ts';
import {
  evaluationScheduleOptions,
  goDuration,
  parseDuration,
  temporalScheduleCreateLine,
} from '../../../client/schedule.ts';
import { fixedStepProblem } from '../../../cli/commands/schedule.ts';
import { parseEvaluationConfig } from '../../../core/config/evaluation.ts';
import { capture } from './capture.ts';

const DIR = mkdtempSync(join(tmpdir(), 'reasonloop-schedule-cli-'));

function evalConfig(checkpoint: Record<string, unknown> = { runId: 'rl1' }): Record<string, unknown> {
  return {
    evalId: 'ev-sched',
    model: { checkpoint },
    task: { kind: 'reverseDigits', digits: 2 },
    store: { url: join(DIR, 'store') },
  };
}

function configFile(name: string, config: unknown): string {
  const path = join(DIR, name);
  writeFileSync(path, JSON.stringify(config));
  return path;
}

describe('durations', () => {
  it('30s, 10m, 2h, 1d and combinations', () => {
    assert.equal(parseDuration('30s'), 30_000);
    assert.equal(parseDuration('10m'), 600_000);
    assert.equal(parseDuration('2h'), 7_200_000);
    assert.equal(parseDuration('1d'), 86_400_000);
    assert.equal(parseDuration('1h30m'), 5_400_000);
  });

  it('a bad value is named', () => {
    for (const bad of ['30', 'm', '30x', '1.5h', '-5m', '', '30 m']) {
      assert.throws(() => parseDuration(bad), new RegExp(`--every ${JSON.stringify(bad)}: not a duration`));
    }
    assert.throws(() => parseDuration('0m'), /--every "0m": must be a positive duration/);
  });

  it('as the temporal CLI (Go) writes them: no days unit', () => {
    assert.equal(goDuration(parseDuration('1d')), '24h');
    assert.equal(goDuration(parseDuration('90m')), '1h30m');
    assert.equal(goDuration(parseDuration('45s')), '45s');
    assert.equal(goDuration(parseDuration('1h0m5s')), '1h5s');
  });
});

describe('the schedule', () => {
  it('a checkpoint with a step is refused, and the message says why', () => {
    assert.equal(fixedStepProblem(parseEvaluationConfig(evalConfig())), undefined);
    const problem = fixedStepProblem(parseEvaluationConfig(evalConfig({ runId: 'rl1', step: 40 })));
    assert.match(
      problem ?? '',
      /model\.checkpoint\.step is 40: a schedule would evaluate the same checkpoint/,
    );
    assert.match(problem ?? '', /--allow-fixed-step/);
  });

  it('options: an interval, the evaluation workflow with the config, overlap Skip', () => {
    const raw = evalConfig();
    const o = evaluationScheduleOptions('s1', 1_800_000, parseEvaluationConfig(raw), raw, 'reasonloop');
    assert.deepEqual(o.spec, { intervals: [{ every: 1_800_000 }] });
    assert.deepEqual(o.action, {
      type: 'startWorkflow',
      workflowType: 'evaluation',
      workflowId: 'ev-sched',
      taskQueue: 'reasonloop',
      args: [raw],
    });
    assert.equal(o.policies?.overlap, 'SKIP');
  });

  it('the equivalent temporal command line', () => {
    assert.equal(
      temporalScheduleCreateLine('s1', 1_800_000, 'ev', 'eval configs/e.json', 'reasonloop'),
      "temporal schedule create --schedule-id s1 --interval 30m --overlap-policy Skip --type evaluation --task-queue reasonloop --workflow-id ev --input-file 'eval configs/e.json'",
    );
  });
});

describe('reasonloop schedule', () => {
  let saved: string | undefined;
  before(() => {
    saved = process.env.TEMPORAL_ADDRESS;
    process.env.TEMPORAL_ADDRESS = '127.0.0.1:1';
  });
  after(() => {
    rmSync(DIR, { recursive: true, force: true });
    if (saved === undefined) delete process.env.TEMPORAL_ADDRESS;
    else process.env.TEMPORAL_ADDRESS = saved;
  });

  it('usage errors exit 2 and name the problem', async () => {
    const cases: [string[], RegExp][] = [
      [['schedule'], /give a subcommand/],
      [['schedule', 'pause', 'x'], /unknown subcommand "pause"/],
      [['schedule', 'create', '--every', '30m'], /--config is required/],
      [['schedule', 'create', '--config', 'e.json'], /--every is required/],
      [
        ['schedule', 'create', '--config', 'e.json', '--every', '30 minutes'],
        /--every "30 minutes": not a duration/,
      ],
      [['schedule', 'delete'], /give exactly one schedule id/],
      [['schedule', 'delete', 'a', 'b'], /give exactly one schedule id/],
      [['schedule', 'list', '--all'], /list: .*--all/],
    ];
    for (const [argv, message] of cases) {
      const r = await capture(argv);
      assert.equal(r.code, EXIT_USAGE, argv.join(' '));
      assert.match(r.err, message);
    }
  });

  it('a fixed step is refused before anything is contacted; --allow-fixed-step accepts it', async () => {
    const file = configFile('fixed.json', evalConfig({ runId: 'rl1', step: 40 }));
    const refused = await capture(['schedule', 'create', '--config', file, '--every', '30m']);
    assert.equal(refused.code, EXIT_USAGE);
    assert.match(refused.err, /model\.checkpoint\.step is 40/);
    const allowed = await capture([
      'schedule',
      'create',
      '--config',
      file,
      '--every',
      '30m',
      '--allow-fixed-step',
      '--check',
    ]);
    assert.equal(allowed.code, 0, allowed.err);
  });

  it('a bad config fails with the validator message before anything is contacted', async () => {
    const file = configFile('bad.json', { ...evalConfig(), limit: 0 });
    const started = Date.now();
    const r = await capture(['schedule', 'create', '--config', file, '--every', '1h']);
    assert.equal(r.code, 1);
    assert.match(r.err, /evaluation\.limit must be a positive integer \(got 0\)/);
    assert.ok(Date.now() - started < 5000, 'answered without waiting on a connection');
  });

  it('--check prints the equivalent temporal command', async () => {
    const file = configFile('good.json', evalConfig());
    const r = await capture([
      'schedule',
      'create',
      '--config',
      file,
      '--every',
      '1d',
      '--schedule-id',
      'nightly',
      '--check',
    ]);
    assert.equal(r.code, 0, r.err);
    assert.match(r.out, /ok \(eval ev-sched, every 24h/);
    assert.ok(
      r.out.includes(
        `equivalent: temporal schedule create --schedule-id nightly --interval 24h --overlap-policy Skip --type evaluation --task-queue reasonloop --workflow-id ev-sched --input-file ${file}`,
      ),
      r.out,
    );
  });
});
