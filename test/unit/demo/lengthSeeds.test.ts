/**
 * The length experiment's summary over seeds (demo/lengthSeeds.ts): SFT and last-step values and their
 * paired change, each a mean with its 95% t-interval, read off each seed's held-out curve.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { DEFAULT_DEMO } from '../../../demo/configs.ts';
import type { CurvePoint } from '../../../demo/curves.ts';
import { seedsTable, type SeedRun } from '../../../demo/lengthSeeds.ts';

function point(step: number, accuracy: number, meanLength: number): CurvePoint {
  const mix = { responses: 400, direct: 0, worked: 1, checked: 0, other: 0, reflectionRate: 0 };
  return { step, accuracy, meanLength, ...mix };
}

function run(seed: number, before: [number, number], after: [number, number]): SeedRun {
  const options = { ...DEFAULT_DEMO, seed, prefix: 'lt', storeUrl: '/tmp/unused' };
  const heldOut = [point(0, ...before), point(10, 0, 0), point(20, ...after)];
  return { seed, options, heldOut, training: [] };
}

test('the last held-out point against the first, over seeds, with paired changes', () => {
  const table = seedsTable([
    run(0, [0.5, 20], [0.7, 22]),
    run(1, [0.6, 20], [0.8, 24]),
    run(2, [0.7, 20], [0.9, 26]),
  ]);
  const line = (name: string) => table.split('\n').find((l) => l.startsWith(name))!;
  assert.match(table, /over 3 seeds \(0, 1, 2\).*GRPO step 20/);
  // accuracy: before 0.6 ± 4.303·0.1/√3 = ± 0.248; the change is 0.2 on every seed (zero width).
  assert.match(
    line('accuracy'),
    /0\.600 \[0\.352, 0\.848\]\s+0\.800 \[0\.552, 1\.048\]\s+0\.200 \[0\.200, 0\.200\]/,
  );
  // length: 20 → 24 (changes 2, 4, 6: ± 4.303·2/√3 = ± 4.97); relative 10%, 20%, 30%.
  assert.match(line('mean length'), /20\.0 \[20\.0, 20\.0\]\s+24\.0 \[19\.0, 29\.0\]\s+4\.0 \[-1\.0, 9\.0\]/);
  assert.match(line('length change %'), /20\.0 \[-4\.8, 44\.8\]/);
});

test('one seed has no interval: the summary refuses it', () => {
  assert.throws(() => seedsTable([run(0, [0.5, 20], [0.7, 22])]), /at least 2 seeds/);
});
