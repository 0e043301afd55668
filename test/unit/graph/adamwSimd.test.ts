/**
 * The SIMD AdamW pass gives the float32 loop's values bit for bit (each operation rounded to float32 with
 * Math.fround, adamw.ts's order), on lengths that end inside a vector and inside a chunk, with subnormal
 * moments and zero gradients, clipping and decay on or off.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { adamwFloat32Simd, type AdamWConstants } from '../../../core/graph/adamwSimd.ts';
import { rand } from './gradcheck.ts';

const fr = Math.fround;

/** The reference: hostAdamW.ts's element update as it was written before the SIMD pass. */
function reference(p: Float32Array, m: Float32Array, v: Float32Array, g: Float32Array, c: AdamWConstants) {
  for (let i = 0; i < p.length; i++) {
    const gi = fr(fr(g[i] * c.gradScale) * c.clipCoef);
    const m1 = fr(fr(m[i] * c.beta1) + fr(gi * c.oneMinusBeta1));
    const v1 = fr(fr(v[i] * c.beta2) + fr(fr(gi * gi) * c.oneMinusBeta2));
    const denom = fr(fr(fr(Math.sqrt(v1)) / c.sqrtBc2) + c.eps);
    p[i] = fr(fr(p[i] * c.keep) - fr(c.stepSize * fr(m1 / denom)));
    m[i] = m1;
    v[i] = v1;
  }
}

function constants(clipCoef: number, keep: number): AdamWConstants {
  return {
    gradScale: fr(0.5),
    clipCoef: fr(clipCoef),
    beta1: fr(0.9),
    beta2: fr(0.999),
    oneMinusBeta1: fr(1 - 0.9),
    oneMinusBeta2: fr(1 - 0.999),
    eps: fr(1e-8),
    sqrtBc2: fr(Math.sqrt(fr(1 - fr(Math.pow(fr(0.999), 3))))),
    stepSize: fr(fr(3e-3) / fr(1 - fr(Math.pow(fr(0.9), 3)))),
    keep: fr(keep),
  };
}

const bits = (a: Float32Array) => new Uint32Array(a.buffer, a.byteOffset, a.length);

for (const n of [1, 3, 4, 4097, 10_001])
  for (const [clip, keep] of [
    [1, 1],
    [0.37, 1 - 3e-4],
  ])
    test(`SIMD AdamW equals the float32 loop bit for bit (n=${n}, clip ${clip}, keep ${keep})`, () => {
      const p = Float32Array.from(rand(n, 1, -1, 1));
      const m = Float32Array.from(rand(n, 2, -1e-2, 1e-2));
      const v = Float32Array.from(rand(n, 3, 0, 1e-4));
      const g = Float32Array.from(rand(n, 4, -0.1, 0.1));
      g[0] = 0;
      if (n > 2) [v[1], g[1], m[2]] = [1e-42, 1e-40, -1e-41];
      const c = constants(clip, keep);
      const want = [p, m, v].map((a) => a.slice());
      reference(want[0], want[1], want[2], g, c);
      assert.equal(adamwFloat32Simd(p, m, v, g, c), true, 'this Node has WebAssembly SIMD');
      [p, m, v].forEach((got, k) => assert.deepEqual(bits(got), bits(want[k]), `array ${'pmv'[k]}`));
    });
