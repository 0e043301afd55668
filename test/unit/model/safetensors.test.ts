import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, statSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import {
  halfToFloat,
  readSafetensors,
  readSafetensorsHeader,
  writeSafetensors,
} from '../../../core/model/safetensors.ts';

const FIXTURE = fileURLToPath(new URL('../../fixtures/qwen2/', import.meta.url));
const tmp = mkdtempSync(join(tmpdir(), 'safetensors-test-'));
after(() => rmSync(tmp, { recursive: true, force: true }));

function sample(): Map<string, { shape: number[]; data: Float32Array }> {
  return new Map([
    ['b.weight', { shape: [2, 3], data: Float32Array.from([1, -2, 3.5, 1e-30, -0, Infinity]) }],
    ['a.bias', { shape: [3], data: Float32Array.from([0.1, 0.2, 0.3]) }],
    ['scalar', { shape: [], data: Float32Array.from([7]) }],
  ]);
}

/** A safetensors file built by hand, to corrupt in specific ways. */
function rawFile(header: object, dataBytes: number): Buffer {
  const json = Buffer.from(JSON.stringify(header));
  const len = Buffer.alloc(8);
  len.writeBigUInt64LE(BigInt(json.length));
  return Buffer.concat([len, json, Buffer.alloc(dataBytes)]);
}

test('write then read round-trips F32 tensors bit for bit, header 8-byte aligned with format "pt"', () => {
  const path = join(tmp, 'rt.safetensors');
  writeSafetensors(path, sample(), { note: 'x' });
  const read = readSafetensors(path);
  for (const [name, t] of sample()) assert.deepEqual(read.get(name), t.data, name);
  const header = readSafetensorsHeader(path);
  assert.deepEqual(header.metadata, { format: 'pt', note: 'x' });
  assert.deepEqual(header.tensors.get('b.weight')!.shape, [2, 3]);
  const headerLen = Number(readFileSync(path).readBigUInt64LE(0));
  assert.equal((8 + headerLen) % 8, 0);
});

test('reads F32, F16 and BF16 exactly as torch rounded them (file written by the safetensors library)', () => {
  const tensors = readSafetensors(join(FIXTURE, 'dtypes.safetensors'));
  const expected = JSON.parse(readFileSync(join(FIXTURE, 'dtypes.json'), 'utf8'), (_k, v) =>
    v === 'Infinity' ? Infinity : v === '-Infinity' ? -Infinity : v,
  ) as Record<string, number[]>;
  assert.deepEqual(
    readSafetensorsHeader(join(FIXTURE, 'dtypes.safetensors')).tensors.get('bf16')!.dtype,
    'BF16',
  );
  for (const name of ['f32', 'f16', 'bf16']) {
    assert.deepEqual(Array.from(tensors.get(name)!), expected[name].map(Math.fround), name);
  }
});

test('halfToFloat covers subnormals, infinities and NaN', () => {
  assert.equal(halfToFloat(0x0001), 2 ** -24);
  assert.equal(halfToFloat(0x7bff), 65504);
  assert.equal(halfToFloat(0xfc00), -Infinity);
  assert.ok(Number.isNaN(halfToFloat(0x7e00)));
  assert.ok(Object.is(halfToFloat(0x8000), -0));
});

test('corrupt files fail with an error naming the file (and the tensor)', () => {
  const path = join(tmp, 'model.safetensors');
  writeSafetensors(path, sample());
  const size = readFileSync(path).length;
  truncateSync(path, size - 4);
  assert.throws(() => readSafetensors(path), {
    message:
      /^model\.safetensors: tensor scalar ends at byte 40 of the data but the file holds only 36 \(truncated\)$/,
  });
  truncateSync(path, 5);
  assert.throws(() => readSafetensors(path), /^Error: model\.safetensors: truncated/);

  writeFileSync(path, rawFile({ x: { dtype: 'F32', shape: [2], data_offsets: [0, 8] } }, 8).subarray(0, 12));
  assert.throws(() => readSafetensors(path), /model\.safetensors: header of \d+ bytes overruns the file/);

  writeFileSync(
    path,
    rawFile(
      { 'model.layers.0.mlp.up_proj.weight': { dtype: 'F32', shape: [2, 3], data_offsets: [0, 16] } },
      16,
    ),
  );
  assert.throws(() => readSafetensors(path), {
    message:
      'model.safetensors: tensor model.layers.0.mlp.up_proj.weight has 16 bytes but shape [2,3] × F32 needs 24',
  });

  writeFileSync(path, rawFile({ t: { dtype: 'I64', shape: [1], data_offsets: [0, 8] } }, 8));
  assert.throws(() => readSafetensors(path), /tensor t has dtype I64 \(only F32, F16 and BF16 are read\)/);

  writeFileSync(path, Buffer.concat([Buffer.from([4, 0, 0, 0, 0, 0, 0, 0]), Buffer.from('{oops')]));
  assert.throws(() => readSafetensors(path), /model\.safetensors: header is not valid JSON/);
});

test('an expected shape that differs is an error naming file, tensor and both shapes', () => {
  const path = join(tmp, 'model.safetensors');
  writeSafetensors(
    path,
    new Map([['model.layers.3.mlp.up_proj.weight', { shape: [96, 200], data: new Float32Array(96 * 200) }]]),
  );
  assert.throws(
    () =>
      readSafetensors(path, { expectedShapes: new Map([['model.layers.3.mlp.up_proj.weight', [200, 96]]]) }),
    {
      message:
        'model.safetensors: tensor model.layers.3.mlp.up_proj.weight has shape [96,200], expected [200,96]',
    },
  );
});

test('reading an F32 file allocates about its own size, not a second copy', () => {
  const path = join(tmp, 'big.safetensors');
  const perTensor = 4 * 1024 * 1024; // 16 MB each, 8 tensors: 128 MB
  const tensors = new Map<string, { shape: number[]; data: Float32Array }>();
  const one = new Float32Array(perTensor).fill(0.5);
  for (let i = 0; i < 8; i++) tensors.set(`t${i}`, { shape: [perTensor], data: one });
  writeSafetensors(path, tensors);
  const fileBytes = statSync(path).size;
  const before = process.memoryUsage().arrayBuffers;
  const read = readSafetensors(path);
  const grown = process.memoryUsage().arrayBuffers - before;
  assert.equal(read.size, 8);
  assert.equal(read.get('t7')![perTensor - 1], 0.5);
  assert.ok(grown < fileBytes * 1.1, `grew ${grown} bytes for a ${fileBytes}-byte file`);
});
