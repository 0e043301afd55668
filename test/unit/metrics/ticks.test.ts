import { test } from 'node:test';
import assert from 'node:assert/strict';
import { niceTicks, tickLabel } from '../../../core/metrics/ticks.ts';

test('niceTicks gives 1-2-5 steps that cover the range', () => {
  assert.deepEqual(niceTicks(0, 1, 5), [0, 0.2, 0.4, 0.6, 0.8, 1]);
  assert.deepEqual(niceTicks(0, 100, 5), [0, 20, 40, 60, 80, 100]);
  assert.deepEqual(niceTicks(-3.7, 12.2, 5), [-5, 0, 5, 10, 15]);
  assert.deepEqual(niceTicks(12.2, -3.7, 5), [-5, 0, 5, 10, 15]);
  // 3 × 0.1 is 0.30000000000000004 in floating point; the tick must still read 0.3
  assert.deepEqual(niceTicks(0, 0.7, 8), [0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7]);
});

test('niceTicks widens a flat range around its value', () => {
  assert.deepEqual(niceTicks(0, 0, 5), [-1, -0.5, 0, 0.5, 1]);
  const t = niceTicks(5, 5, 5);
  assert.ok(t[0]! < 5 && t.at(-1)! > 5, `${t}`);
  const n = niceTicks(-2000, -2000, 5);
  assert.ok(n[0]! < -2000 && n.at(-1)! > -2000, `${n}`);
});

test('niceTicks rejects non-finite bounds and bad counts, naming the value', () => {
  assert.throws(() => niceTicks(NaN, 1), /finite.*NaN/);
  assert.throws(() => niceTicks(0, Infinity), /finite.*Infinity/);
  assert.throws(() => niceTicks(0, 1, 1), /count.*got 1/);
});

test('niceTicks holds its properties over many random ranges', () => {
  let seed = 12345;
  const rand = (): number => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
  for (let k = 0; k < 2000; k++) {
    const scale = 10 ** Math.floor(rand() * 24 - 12);
    const a = (rand() - 0.5) * 200 * scale;
    const b = a + rand() * 100 * scale * (rand() < 0.1 ? 1e-6 : 1);
    const count = 2 + Math.floor(rand() * 8);
    const t = niceTicks(a, b, count);
    const where = `niceTicks(${a}, ${b}, ${count}) = ${t}`;
    assert.ok(t.every(Number.isFinite), where);
    assert.ok(t.length >= 2 && t.length <= 2 * count + 2, where);
    assert.ok(t[0]! <= Math.min(a, b) && t.at(-1)! >= Math.max(a, b), where);
    const step = t[1]! - t[0]!;
    const mantissa = step / 10 ** Math.floor(Math.log10(step) + 1e-9);
    assert.ok(
      [1, 2, 5, 10].some((m) => Math.abs(mantissa - m) < 1e-6),
      `${where}: step ${step}`,
    );
    for (let i = 1; i < t.length; i++) {
      assert.ok(Math.abs(t[i]! - t[i - 1]! - step) <= step * 1e-6, `${where}: uneven at ${i}`);
    }
  }
});

test('tickLabel writes the decimals the step needs, exponent form when fixed would not do', () => {
  assert.equal(tickLabel(0.2, 0.2), '0.2');
  assert.equal(tickLabel(40, 20), '40');
  assert.equal(tickLabel(0.05, 0.05), '0.05');
  assert.equal(tickLabel(-0, 1), '0');
  assert.equal(tickLabel(2e-8, 1e-8), '2.00e-8');
  assert.equal(tickLabel(3e12, 1e12), '3.00e+12');
});
