import assert from 'node:assert/strict';
import { test } from 'node:test';
import { rewardSchema } from '../../../core/config/reward.ts';
import { scoreGroup, type SampledResponse } from '../../../core/task/scoreGroup.ts';

const r = (text: string, length = 100, truncated = false): SampledResponse => ({ text, length, truncated });

test('still15b scoring of a group: correct, wrong, no box', () => {
  const cfg = rewardSchema.parse({});
  const s = scoreGroup(cfg, {
    gold: '\\frac{1}{2}',
    responses: [
      r('so \\boxed{0.5}'),
      r('so \\boxed{2}'),
      r('I give up'),
      r('so \\boxed{\\frac12', 4096, true),
    ],
  });
  assert.deepEqual(s.rewards, [1, -1, -2, -2]);
  assert.deepEqual(s.correct, [true, false, false, false]);
  assert.deepEqual(s.lossMask, [1, 1, 1, 1]);
  assert.equal(s.keep, true);
});

test('zero-RL: the format gate zeroes well-answered but badly formatted responses', () => {
  const cfg = rewardSchema.parse({ kind: 'zero', thinkOpenedInPrompt: true });
  const s = scoreGroup(cfg, {
    gold: '4',
    responses: [
      r(' 2+2 </think> <answer>4</answer>'),
      r(' 2+2 </think> 4'),
      r(' hmm </think> <answer>5</answer>'),
    ],
  });
  assert.deepEqual(s.rewards, [1, 0, 0]);
  assert.match(s.reasons[1], /^format:/);
});

test('RRA adds the reflection bonus; ORM masks truncated; dynamic sampling drops flat groups', () => {
  const rra = scoreGroup(rewardSchema.parse({ lengthStrategy: 'rra' }), {
    gold: '4',
    responses: [r('wait, but \\boxed{4}'), r('\\boxed{5}')],
  });
  assert.deepEqual(rra.rewards, [1.1, -1]);

  const orm = scoreGroup(rewardSchema.parse({ lengthStrategy: 'orm' }), {
    gold: '4',
    responses: [r('\\boxed{4}'), r('and so on', 4096, true)],
  });
  assert.deepEqual(orm.lossMask, [1, 0]);

  const flat = scoreGroup(rewardSchema.parse({ dynamicSampling: true }), {
    gold: '4',
    responses: [r('\\boxed{4}'), r('\\boxed{4.0}')],
  });
  assert.equal(flat.keep, false);
});

test('RS masks all but the selected pair; RRL and DAPO shape rewards by length', () => {
  const rs = scoreGroup(rewardSchema.parse({ lengthStrategy: 'rs' }), {
    gold: '4',
    responses: [r('\\boxed{4}', 300), r('\\boxed{4}', 500), r('\\boxed{3}', 100), r('\\boxed{2}', 200)],
  });
  assert.deepEqual(rs.lossMask, [0, 1, 1, 0]);

  const rrl = scoreGroup(rewardSchema.parse({ lengthStrategy: 'rrl', rrlMaxLength: 1000 }), {
    gold: '4',
    responses: [r('\\boxed{4}', 250), r('\\boxed{3}', 500)],
  });
  assert.deepEqual(rrl.rewards, [1.25, -0.5]);

  const dapo = scoreGroup(rewardSchema.parse({ dapoOverlong: { maxLength: 1000, cacheLength: 200 } }), {
    gold: '4',
    responses: [r('\\boxed{4}', 700), r('\\boxed{4}', 900)],
  });
  assert.deepEqual(dapo.rewards, [1, 0.5]);
  // The reward's terms, as the rollout records show them: answer, then what each rule changed.
  assert.deepEqual(rrl.parts, [
    { answer: 1, length: 0.25 },
    { answer: -1, length: 0.5 },
  ]);
  assert.deepEqual(dapo.parts, [
    { answer: 1, overlong: 0 },
    { answer: 1, overlong: -0.5 },
  ]);
  assert.deepEqual(s0parts(), [{ answer: 1 }, { answer: -1 }]);
});

function s0parts() {
  return scoreGroup(rewardSchema.parse({}), { gold: '4', responses: [r('\\boxed{4}'), r('\\boxed{5}')] })
    .parts;
}

test('Countdown groups are checked by the Countdown verifier', () => {
  const s = scoreGroup(rewardSchema.parse({ kind: 'zero', thinkOpenedInPrompt: false }), {
    gold: '',
    countdown: { numbers: [3, 5, 7], target: 22 },
    responses: [
      r('<think>x</think><answer>(3 * 5) + 7</answer>'),
      r('<think>x</think><answer>3 * 7 + 1</answer>'),
    ],
  });
  assert.deepEqual(s.rewards, [1, 0]);
});

test('the reward schema reports what is wrong and where', () => {
  const bad = rewardSchema.safeParse({
    lengthStrategy: 'longer',
    dapoOverlong: { maxLength: 10, cacheLength: 20 },
  });
  assert.equal(bad.success, false);
  const paths = bad.error!.issues.map((i) => i.path.join('.'));
  assert.ok(paths.includes('lengthStrategy'));
  assert.ok(bad.error!.issues.some((i) => /cacheLength must not exceed maxLength/.test(i.message)));
});
