/**
 * float32 → binary16 rounding, against two implementations we did not write: torch's rounding of the
 * values in the safetensors fixture (test/fixtures/qwen2/dtypes.json), and onnxruntime's Cast over values
 * of every magnitude a half can hold (subnormals, ties, overflow). Then float16 tensors through the engine.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { Executable, Graph, op } from '../../../core/graph/index.ts';
import { float16Bits, halfToFloat, toFloat16 } from '../../../core/graph/dtype.ts';
import { Prng } from '../../../core/random.ts';

const FIXTURE = new URL('../../fixtures/qwen2/dtypes.json', import.meta.url);

test('rounds the fixture values as torch did', () => {
  const { f32, f16 } = JSON.parse(readFileSync(FIXTURE, 'utf8'), (_k, v) =>
    v === 'Infinity' ? Infinity : v === '-Infinity' ? -Infinity : v,
  ) as Record<string, number[]>;
  const ours = Array.from(toFloat16(Float32Array.from(f32)), halfToFloat);
  assert.deepEqual(ours, f16);
});

/** Values from 2⁻²⁸ to 2¹⁷ in magnitude, both signs, plus the edge cases of binary16 rounding. */
function probeValues(): Float32Array {
  const rng = new Prng(7);
  const random = Array.from({ length: 30_000 }, () => {
    const magnitude = 2 ** (-28 + 45 * rng.nextFloat());
    return (rng.nextFloat() < 0.5 ? -1 : 1) * magnitude;
  });
  const ulp = 2 ** -10;
  const edges = [
    0,
    -0,
    1,
    -1,
    65504,
    65519.99,
    65520,
    -65520,
    1e9,
    Infinity,
    -Infinity,
    1 + ulp / 2,
    1 + (3 * ulp) / 2,
    1 + ulp / 2 + 2 ** -20,
    2048 + 1,
    2048 + 3, // ties to even
    2 ** -14,
    2 ** -14 - 2 ** -25,
    2 ** -24,
    2 ** -25,
    3 * 2 ** -25,
    2 ** -25 + 2 ** -40,
    2 ** -26,
    1e-10,
  ];
  return Float32Array.from([...edges, ...random]);
}

test('gives the bits onnxruntime Cast gives, for every magnitude and the rounding edge cases', async () => {
  const values = probeValues();
  const g = new Graph('cast_to_half');
  const x = g.input('x', 'float32', ['n']);
  g.output(op.cast(x, 'float16'), 'y');
  const exec = await Executable.compile(g);
  const { y } = await exec.run({ x: { data: values, dims: [values.length] } });
  await exec.release();
  const theirs = y.data as Uint16Array;
  let mismatches = 0;
  const first: string[] = [];
  values.forEach((v, i) => {
    if (float16Bits(v) !== theirs[i]) {
      mismatches++;
      if (first.length < 5)
        first.push(`${v}: ours ${float16Bits(v).toString(16)}, ORT ${theirs[i].toString(16)}`);
    }
  });
  assert.equal(mismatches, 0, first.join('; '));
  assert.equal(float16Bits(NaN) & 0x7c00, 0x7c00);
  assert.ok(Number.isNaN(halfToFloat(float16Bits(NaN))));
});

test('float16 inputs, constants and outputs run through the engine; MatMul takes them', async () => {
  const g = new Graph('half_matmul');
  const a = g.input('a', 'float16', [2, 3]);
  const w = g.constant(toFloat16(Float32Array.from([1, 0, 0.5, 2, -1, 0.25])), [3, 2], 'float16', 'w');
  const product = op.matmul(a, w);
  g.output(product, 'half');
  g.output(op.cast(product, 'float32'), 'full');
  const exec = await Executable.compile(g);
  const out = await exec.run({
    a: { data: toFloat16(Float32Array.from([1, 2, 3, -1, 0.5, 4])), dims: [2, 3] },
  });
  await exec.release();
  assert.ok(out.half.data instanceof Uint16Array);
  // [1 2 3]·W = [1+1-3, 0+4+0.75]; [-1 .5 4]·W = [-1+0.25-4, 0+1+1]
  assert.deepEqual(Array.from(out.full.data as Float32Array), [-1, 4.75, -4.75, 2]);
  assert.deepEqual(Array.from(out.half.data as Uint16Array, halfToFloat), [-1, 4.75, -4.75, 2]);
});
