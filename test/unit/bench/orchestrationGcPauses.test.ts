/** bench:orchestration's GC pauses inside the hops. */
import assert from 'node:assert/strict';
import { it } from 'node:test';
import { pauseMsWithin } from '../../../bench/orchestration/gcPauses.ts';

it('counts the part of each pause inside the hops, and nothing outside them', () => {
  const hops = [
    { start: 100, end: 110 },
    { start: 200, end: 220 },
  ];
  const pauses = [
    { start: 102, duration: 3 }, // inside: 3
    { start: 95, duration: 10 }, // straddles the first hop's start: 5
    { start: 215, duration: 10 }, // straddles the second hop's end: 5
    { start: 150, duration: 20 }, // between the hops: 0
  ];
  assert.equal(pauseMsWithin(pauses, hops), 13);
  assert.equal(pauseMsWithin([], hops), 0);
});
