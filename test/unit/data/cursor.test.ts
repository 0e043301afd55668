import assert from 'node:assert/strict';
import { test } from 'node:test';
import { epochOrder, initialCursor, takeBatch } from '../../../core/data/cursor.ts';

test('each epoch is a permutation; different epochs and seeds give different orders', () => {
  const a = Array.from(epochOrder(100, 7, 0));
  assert.deepEqual(
    [...a].sort((x, y) => x - y),
    Array.from({ length: 100 }, (_, i) => i),
  );
  assert.notDeepEqual(a, Array.from(epochOrder(100, 7, 1)));
  assert.notDeepEqual(a, Array.from(epochOrder(100, 8, 0)));
  assert.deepEqual(a, Array.from(epochOrder(100, 7, 0)));
});

test('batches cover an epoch exactly once, then roll into the next epoch', () => {
  let c = initialCursor(3);
  const seen: number[] = [];
  for (let i = 0; i < 3; i++) {
    const b = takeBatch(c, 10, 4);
    seen.push(...b.indices);
    c = b.next;
  }
  assert.deepEqual(
    [...seen.slice(0, 10)].sort((x, y) => x - y),
    [0, 1, 2, 3, 4, 5, 6, 7, 8, 9],
  );
  assert.deepEqual(c, { epoch: 1, position: 2, seed: 3 });
});

test('resuming from a saved cursor takes exactly the batches an uninterrupted run takes', () => {
  const straight: number[][] = [];
  let c = initialCursor(42);
  for (let i = 0; i < 6; i++) {
    const b = takeBatch(c, 13, 5);
    straight.push(b.indices);
    c = b.next;
  }
  let resumed = initialCursor(42);
  for (let i = 0; i < 3; i++) resumed = takeBatch(resumed, 13, 5).next;
  const saved = JSON.parse(JSON.stringify(resumed));
  for (let i = 3; i < 6; i++) {
    const b = takeBatch(saved, 13, 5);
    assert.deepEqual(b.indices, straight[i]);
    Object.assign(saved, b.next);
  }
});

test('bad cursors and sizes are refused with what is wrong', () => {
  assert.throws(
    () => takeBatch({ epoch: 0, position: 20, seed: 1 }, 10, 2),
    /position 20 is past the dataset end/,
  );
  assert.throws(
    () => takeBatch({ epoch: -1, position: 0, seed: 1 }, 10, 2),
    /epoch must be a non-negative integer \(got -1\)/,
  );
  assert.throws(() => takeBatch(initialCursor(1), 10, 0), /batch size must be a positive integer \(got 0\)/);
  assert.throws(() => takeBatch(initialCursor(1), 0, 2), /empty dataset/);
});
