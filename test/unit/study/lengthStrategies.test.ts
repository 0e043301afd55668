/**
 * What the study reads of the length strategies: the training signal of a run (study/training.ts), and
 * the table and RRA check built on it (study/lengthStrategies.ts) — above all, that an RRA arm whose
 * strategy changed no reward is called trivial rather than a reproduction.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  LENGTH_ARMS,
  lengthStrategiesTable,
  rraCheck,
  trainsAsControl,
} from '../../../study/lengthStrategies.ts';
import { ARMS, controlOf, FINDINGS, ORM_MAX_NEW_TOKENS } from '../../../study/arms.ts';
import type { RunConfigInput } from '../../../core/config/run.ts';
import type { StudyResults } from '../../../study/report.ts';
import type { SeedResult } from '../../../study/stats.ts';
import { trainingSignal, type TrainingSignal } from '../../../study/training.ts';

test('the training signal: reward and kept fraction per step, the length term per response, the curve', () => {
  const history = [
    { step: 1, metrics: { meanTaskReward: 0.2, keptFraction: 1, accuracy: 0.5, meanResponseLength: 30 } },
    { step: 2, metrics: { meanTaskReward: 0.6, keptFraction: 0.5, accuracy: 0.75, meanResponseLength: 36 } },
  ];
  const said = (text: string, rewardParts: Record<string, number>) => ({
    rewardParts,
    segments: [{ text: text.slice(0, 4) }, { text: text.slice(4) }],
  });
  const recorded = new Map([
    [
      1,
      [
        said('<think>3+4</think>', { answer: 1, length: 0.1 }),
        said('<think></think>', { answer: -1, length: 0 }),
      ],
    ],
    [
      2,
      [said('<think>wait, verify</think>', { answer: 1, length: 0.1 }), said('x', { answer: 1, kl: -0.01 })],
    ],
  ]);
  const s = trainingSignal(history as never, recorded);
  assert.ok(Math.abs(s.meanTaskReward - 0.4) < 1e-12);
  assert.equal(s.keptFraction, 0.75);
  assert.equal(s.lengthRewardedFraction, 0.5);
  assert.ok(Math.abs(s.meanLengthReward - 0.05) < 1e-12);
  assert.equal(s.responses, 4);
  assert.deepEqual(s.curve, [
    { step: 1, accuracy: 0.5, meanLength: 30, reflectionRate: 0 },
    { step: 2, accuracy: 0.75, meanLength: 36, reflectionRate: 0.5 },
  ]);
  const none = trainingSignal(history as never, new Map());
  assert.ok(Number.isNaN(none.lengthRewardedFraction), 'no records: unknown, not 0');
  assert.deepEqual(
    none.curve.map((p) => p.reflectionRate),
    [null, null],
    'no records: no reflection rate, not 0',
  );
});

const signal = (t: Partial<TrainingSignal> = {}): TrainingSignal => ({
  meanTaskReward: 0.5,
  keptFraction: 1,
  lengthRewardedFraction: 0,
  meanLengthReward: 0,
  responses: 128,
  curve: [],
  ...t,
});
const seed = (
  accuracy: number,
  meanLength: number,
  training: TrainingSignal,
  reflectionRate = 0,
): SeedResult => ({
  seed: 100,
  accuracy,
  greedyAccuracy: accuracy,
  meanLength,
  lengthStd: 2,
  reflectionRate,
  // At T = 1.0 a little longer and more reflective than at T = 0.6, as sampling without top-p is.
  meanLengthT1: meanLength + (meanLength > 30 ? 4 : 0),
  lengthStdT1: 3,
  reflectionRateT1: 2 * reflectionRate,
  responses: 400,
  training,
});
const results = (arms: Record<string, SeedResult[]>): StudyResults => ({
  task: 'long-addition',
  scale: { seeds: 1, steps: 6 },
  command: 'npm run study -- --quick --task long-addition',
  sftSteps: 800,
  sft: seed(0.7, 29, signal()),
  arms,
  totalSeconds: 60,
});

const BASE = {
  rollout: { maxNewTokens: 80, promptsPerStep: 16, n: 8 },
  task: { kind: 'math', reward: { kind: 'still15b' } },
} as unknown as RunConfigInput;

test('an RRA arm that changed no reward trains as the base arm: its "keeps accuracy" is trivial', () => {
  const base = [seed(0.8, 26.5, signal())];
  const r = results({ base, 'length-rra': [seed(0.8, 26.5, signal())] });
  assert.equal(trainsAsControl('length-rra', r.arms['length-rra'], base), true);
  assert.match(rraCheck(r), /^RRA keeps accuracy while lengthening: trivially .*changed the reward of 0\.0%/);
});

test('an RRA arm that rewarded reflection, kept accuracy and lengthened reproduces the claim', () => {
  const base = [seed(0.9, 30, signal())];
  const rra = [seed(0.9, 36, signal({ lengthRewardedFraction: 0.2, meanLengthReward: 0.02 }), 0.3)];
  const r = results({ base, 'length-rra': rra });
  assert.equal(trainsAsControl('length-rra', rra, base), false);
  assert.equal(
    rraCheck(r),
    'RRA keeps accuracy while lengthening: reproduced — lengthens: reproduced; keeps accuracy: reproduced; ' +
      'RRA changed the reward of 20.0% of the training responses.',
  );
  // Lengthening at a significant cost in accuracy is not the claim.
  const costly = results({ base, 'length-rra': [seed(0.6, 36, signal({ lengthRewardedFraction: 0.2 }))] });
  assert.match(rraCheck(costly), /: not shown — .*keeps accuracy: opposite \(significant\)/);
});

test('selecting strategies train as the base arm only when they leave out no more responses than it', () => {
  const base = [seed(0.8, 30, signal())];
  assert.equal(trainsAsControl('length-orm', [seed(0.8, 30, signal())], base), true);
  assert.equal(trainsAsControl('length-qs', [seed(0.8, 30, signal({ keptFraction: 0.4 }))], base), false);
  assert.equal(
    trainsAsControl('length-qs', [{ ...seed(0.8, 30, signal()), training: undefined }], base),
    false,
  );
});

test('the length-strategies table: a row per strategy, its differences from its control arm and its training', () => {
  const base = [seed(0.8, 30, signal({ meanTaskReward: 0.4 }))];
  // ORM's control runs at ORM's shorter limit: shorter responses, and it keeps every one.
  const ormControl = [seed(0.7, 20, signal({ meanTaskReward: 0.1 }))];
  const arms: Record<string, SeedResult[]> = { base, 'orm-control': ormControl };
  for (const a of LENGTH_ARMS) arms[a.id] = [seed(0.8, 33, signal({ lengthRewardedFraction: 0.25 }), 0.1)];
  const t = lengthStrategiesTable(results(arms));
  assert.deepEqual(
    t.rows.map((row) => row[0]),
    ['length-qs', 'length-rs', 'length-rrl', 'length-rra', 'length-orm'],
    'the control arm is a comparator, not a strategy',
  );
  const rra = t.rows[3];
  assert.equal(rra[1], 'base');
  assert.match(String(rra[2]), /^3\.00 \[/);
  assert.match(String(rra[3]), /^7\.00 \[/, 'at T = 1.0: 37 − 30');
  assert.match(String(rra[4]), /^0\.100 \[/);
  assert.match(String(rra[5]), /^0\.200 \[/, 'at T = 1.0');
  assert.equal(rra[7], '0.500 (0.400)');
  assert.equal(rra[9], '0.250 (mean term 0.000)');
  assert.equal(t.rows[0][9], '—', 'QS changes no reward');
  assert.equal(t.rows[0][10], 'yes', 'QS left out nothing here');
  const orm = t.rows[4];
  assert.equal(orm[1], 'orm-control');
  assert.match(String(orm[2]), /^13\.00 \[/, 'ORM is measured against its control at the same limit');
  assert.match(String(orm[6]), /^0\.100 \[/);
  assert.equal(orm[7], '0.500 (0.100)');
});

test("ORM's finding compares it with its control at its own limit; the other strategies with the base arm", () => {
  const orm = FINDINGS.find((f) => f.better === 'length-orm')!;
  assert.equal(orm.worse, 'orm-control');
  assert.equal(controlOf('length-orm'), 'orm-control');
  assert.equal(controlOf('length-rra'), 'base');
  const limit = (id: string) => ARMS.find((a) => a.id === id)!.patch(BASE).rollout?.maxNewTokens;
  assert.equal(limit('length-orm'), ORM_MAX_NEW_TOKENS);
  assert.equal(limit('orm-control'), ORM_MAX_NEW_TOKENS);
  assert.equal(limit('length-rra'), 80);
  const strategy = (id: string) =>
    (ARMS.find((a) => a.id === id)!.patch(BASE).task as { reward?: { lengthStrategy?: string } }).reward
      ?.lengthStrategy;
  assert.equal(strategy('length-orm'), 'orm');
  assert.equal(strategy('orm-control'), undefined);
});
