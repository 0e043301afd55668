import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Prng, hashString, naturalLog } from '../../../core/random.ts';

test('xoshiro128** matches the reference test vector for state [1,2,3,4]', () => {
  // The first outputs of Blackman & Vigna's reference C code from state {1, 2, 3, 4} (also the test
  // vector of Rust's rand_xoshiro::Xoshiro128StarStar).
  const expected = [
    11520, 0, 5927040, 70819200, 2031721883, 1637235492, 1287239034, 3734860849, 3729100597, 4258142804,
  ];
  const rng = Prng.fromState([1, 2, 3, 4]);
  assert.deepEqual(
    expected.map(() => rng.nextUint32()),
    expected,
  );
});

test('the same seed and stream give the same draws; other streams differ', () => {
  const a = new Prng(7, hashString('model.embed_tokens.weight'));
  const b = new Prng(7, hashString('model.embed_tokens.weight'));
  const c = new Prng(7, hashString('lm_head.weight'));
  const da = Array.from({ length: 5 }, () => a.nextNormal());
  assert.deepEqual(
    da,
    Array.from({ length: 5 }, () => b.nextNormal()),
  );
  assert.notDeepEqual(
    da,
    Array.from({ length: 5 }, () => c.nextNormal()),
  );
});

test('naturalLog agrees with Math.log to about one ulp across 40 decades', () => {
  const rng = new Prng(1);
  for (let i = 0; i < 20000; i++) {
    const x = rng.nextFloat() * 10 ** (rng.nextFloat() * 40 - 20);
    if (x === 0) continue;
    const want = Math.log(x);
    assert.ok(Math.abs(naturalLog(x) - want) <= 4e-16 * Math.max(1, Math.abs(want)), `ln(${x})`);
  }
  assert.equal(naturalLog(1), 0);
  assert.throws(() => naturalLog(0), /finite positive/);
});

test('nextFloat is in [0,1) and nextNormal has mean 0 and variance 1', () => {
  const rng = new Prng(2026);
  const n = 200_000;
  let sum = 0;
  let sumSq = 0;
  for (let i = 0; i < n; i++) {
    const u = rng.nextFloat();
    assert.ok(u >= 0 && u < 1);
    const z = rng.nextNormal();
    sum += z;
    sumSq += z * z;
  }
  const mean = sum / n;
  const variance = sumSq / n - mean * mean;
  // Standard errors: mean 1/sqrt(n) ≈ 0.0022, variance sqrt(2/n) ≈ 0.0032; 5 sigma bounds.
  assert.ok(Math.abs(mean) < 0.011, `mean ${mean}`);
  assert.ok(Math.abs(variance - 1) < 0.016, `variance ${variance}`);
});
