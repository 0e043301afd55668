/**
 * The long-addition task (core/data/synthetic.ts): seeded, exact, carrying as asked, split like every
 * synthetic task, and refused with a message naming the knob when the knobs cannot be met.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { carryCount, generateTasks, longAdditionTask } from '../../../core/data/synthetic.ts';
import { syntheticSplit } from '../../../core/data/splits.ts';
import { verifyAnswer } from '../../../core/reward/verify/verifyAnswer.ts';

const SPEC = { kind: 'longAddition' as const, knobs: { digits: 3, minCarries: 1 } };

/** Carries into a next column, counted on the decimal strings apart from the code under test. */
function carriesOf(a: string, b: string): number {
  let carry = 0;
  let count = 0;
  for (let i = 1; i < Math.max(a.length, b.length); i++) {
    const s = Number(a[a.length - i] ?? 0) + Number(b[b.length - i] ?? 0) + carry;
    carry = s >= 10 ? 1 : 0;
    count += carry;
  }
  return count;
}

test('long additions depend only on (seed, index): any slice regenerates identically', () => {
  const all = generateTasks(SPEC, 7, 20);
  assert.deepEqual(generateTasks(SPEC, 7, 5, 15), all.slice(15));
  assert.notDeepEqual(generateTasks(SPEC, 8, 20), all);
  assert.equal(new Set(all.map((t) => t.id)).size, 20);
});

test('a carry out of the top column is no carry: the carry-less sum is right there', () => {
  assert.equal(carryCount(500n, 600n), 0);
  assert.equal(carryCount(560n, 650n), 1);
  assert.equal(carryCount(999n, 1n), 2);
});

test('long additions are exact sums of two numbers of the asked digits, with at least minCarries carries', () => {
  for (const knobs of [
    { digits: 3, minCarries: 1 },
    { digits: 5, minCarries: 3 },
    { digits: 4, minCarries: 3 },
    { digits: 2, minCarries: 0 },
  ]) {
    for (const t of generateTasks({ kind: 'longAddition', knobs }, 3, 200)) {
      const m = /^Compute \$(\d+) \+ (\d+)\$\.$/.exec(t.problem);
      assert.ok(m, t.problem);
      assert.equal(m[1].length, knobs.digits);
      assert.equal(m[2].length, knobs.digits);
      assert.equal(t.answer, String(Number(m[1]) + Number(m[2])));
      assert.ok(carriesOf(m[1], m[2]) >= knobs.minCarries, t.problem);
      assert.equal(carryCount(BigInt(m[1]), BigInt(m[2])), carriesOf(m[1], m[2]));
      assert.ok(verifyAnswer(t.answer, `\\boxed{${t.answer}}`).equal);
    }
  }
});

test('with minCarries 0 some sums carry and some do not: the knob is what removes the carry-free ones', () => {
  const counts = generateTasks({ kind: 'longAddition', knobs: { digits: 3, minCarries: 0 } }, 1, 300).map(
    (t) => carriesOf(...(/(\d+) \+ (\d+)/.exec(t.problem)!.slice(1, 3) as [string, string])),
  );
  assert.ok(counts.includes(0) && counts.some((c) => c > 0));
});

test('the held-out split of long additions shares no problem with the training split', () => {
  const base = { source: 'synthetic' as const, task: SPEC, size: 500, seed: 1, heldOutSize: 100 };
  const train = syntheticSplit({ ...base, split: 'train' });
  const heldOut = syntheticSplit({ ...base, split: 'heldOut' });
  const seen = new Set(train.map((t) => t.problem));
  assert.equal(heldOut.length, 100);
  assert.ok(heldOut.every((t) => !seen.has(t.problem)));
});

test('knobs that cannot be met are refused naming the knob', () => {
  assert.throws(() => longAdditionTask(1, 0, { digits: 1, minCarries: 0 }), /digits must be 2–12/);
  assert.throws(() => longAdditionTask(1, 0, { digits: 3, minCarries: 3 }), /minCarries must be 0–digits−1/);
});
