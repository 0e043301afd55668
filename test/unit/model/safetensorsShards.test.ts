import assert from 'node:assert/strict';
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { loadModelDir, writeModelDir } from '../../../core/model/modelDir.ts';
import { qwen2Parameters } from '../../../core/model/parameters.ts';
import { SafetensorsReader, SafetensorsWriter, readSafetensors } from '../../../core/model/safetensors.ts';
import { SafetensorsFormatError } from '../../../core/model/safetensorsHeader.ts';
import {
  parseShardSize,
  planShards,
  readShardedSafetensors,
  shardIndexJson,
  writeShardedSafetensors,
} from '../../../core/model/safetensorsShards.ts';

const FIXTURE = fileURLToPath(new URL('../../fixtures/qwen2/', import.meta.url));
const tmp = mkdtempSync(join(tmpdir(), 'safetensors-shards-test-'));
after(() => rmSync(tmp, { recursive: true, force: true }));

function freshDir(name: string): string {
  const dir = join(tmp, name);
  mkdirSync(dir, { recursive: true });
  return dir;
}

/** A tensor of `bytes / 4` float32 values, each distinct. */
function tensor(name: string, bytes: number) {
  const data = new Float32Array(bytes / 4).map((_, i) => i + name.length / 10);
  return { name, shape: [bytes / 4], data };
}

describe('safetensors reader and writer, by tensor', () => {
  test('the writer takes one tensor at a time in name order and refuses anything else', () => {
    const path = join(tmp, 'stream.safetensors');
    const writer = SafetensorsWriter.create(path, [
      { name: 'b', shape: [2, 3] },
      { name: 'a', shape: [4] },
    ]);
    assert.deepEqual(writer.names, ['a', 'b']);
    assert.throws(
      () => writer.write('b', new Float32Array(6)),
      /tensor b written out of order \(the next is a\)/,
    );
    assert.throws(() => writer.write('a', new Float32Array(3)), /tensor a has 3 values but shape \[4\]/);
    writer.write('a', new Float32Array([1, 2, 3, 4]));
    writer.write('b', new Float32Array([5, 6, 7, 8, 9, 10]));
    writer.close();
    const read = readSafetensors(path);
    assert.deepEqual([...read.get('a')!], [1, 2, 3, 4]);
    assert.deepEqual([...read.get('b')!], [5, 6, 7, 8, 9, 10]);
  });

  test('a writer closed early says how many tensors it wrote; abort removes the partial file', () => {
    const path = join(tmp, 'partial.safetensors');
    const early = SafetensorsWriter.create(path, [{ name: 'x', shape: [1] }]);
    assert.throws(() => early.close(), /partial\.safetensors: closed after 0 of 1 tensors/);
    const aborted = SafetensorsWriter.create(path, [{ name: 'x', shape: [1] }]);
    aborted.abort();
    assert.equal(existsSync(path), false);
  });

  test('the reader reads windows of a tensor with positioned reads, F32 and converted halves alike', () => {
    const reader = SafetensorsReader.open(join(FIXTURE, 'dtypes.safetensors'));
    try {
      for (const name of reader.header.tensors.keys()) {
        const whole = reader.read(name);
        assert.deepEqual(reader.readWindow(name, 1, whole.length - 2), whole.subarray(1, whole.length - 1));
        assert.deepEqual(reader.readWindow(name, whole.length, 0), new Float32Array(0));
        assert.throws(() => reader.readWindow(name, 1, whole.length), RangeError);
      }
      assert.throws(() => reader.read('absent'), SafetensorsFormatError);
    } finally {
      reader.close();
    }
  });
});

describe('shard sizes and the shard plan (huggingface_hub split_state_dict_into_shards_factory)', () => {
  test('sizes: decimal units in any case, or bytes', () => {
    assert.equal(parseShardSize('5GB'), 5_000_000_000);
    assert.equal(parseShardSize('500MB'), 500_000_000);
    assert.equal(parseShardSize('200kb'), 200_000);
    assert.equal(parseShardSize('1.5TB'), 1_500_000_000_000);
    assert.equal(parseShardSize(' 2 GB '), 2_000_000_000);
    assert.equal(parseShardSize(1234), 1234);
    assert.equal(parseShardSize('1234'), 1234);
    for (const bad of ['2GiB', 'GB', '-1GB', '', 0, -5, 1.5]) {
      assert.throws(() => parseShardSize(bad as string | number), /max shard size/, String(bad));
    }
  });

  test('packs in order until the next tensor would exceed the limit; an oversized tensor gets its own shard', () => {
    // huggingface_hub's docstring example: limit 10, sizes [6, 6, 2, 6, 2, 2] → [6], [6+2], [6+2+2].
    const sizes = [6, 6, 2, 6, 2, 2].map((s, i) => ({ name: `t${i}`, shape: [s] }));
    const plan = planShards(sizes, 40); // 4 bytes per element: limit 40 bytes = 10 elements
    assert.deepEqual(
      plan.files.map((f) => f.names),
      [['t0'], ['t1', 't2'], ['t3', 't4', 't5']],
    );
    assert.deepEqual(
      plan.files.map((f) => f.file),
      [
        'model-00001-of-00003.safetensors',
        'model-00002-of-00003.safetensors',
        'model-00003-of-00003.safetensors',
      ],
    );
    assert.equal(plan.totalSize, 24 * 4);
    assert.equal(plan.totalParameters, 24);
    // Exactly at the limit stays in the shard; one byte over starts the next.
    assert.deepEqual(
      planShards(
        [
          { name: 'a', shape: [5] },
          { name: 'b', shape: [5] },
        ],
        40,
      ).files.map((f) => f.names),
      [['a', 'b']],
    );
    // An oversized tensor is appended as its own shard at once, before the shard still being filled.
    const big = planShards(
      [
        { name: 'small', shape: [2] },
        { name: 'huge', shape: [11] },
        { name: 'tail', shape: [2] },
      ],
      40,
      'state',
    );
    assert.deepEqual(
      big.files.map((f) => [f.file, f.names]),
      [
        ['state-00001-of-00002.safetensors', ['huge']],
        ['state-00002-of-00002.safetensors', ['small', 'tail']],
      ],
    );
    // Everything in one shard: the plain file name, as save_pretrained writes it.
    assert.deepEqual(planShards(sizes, '1KB').files, [
      { file: 'model.safetensors', names: ['t0', 't1', 't2', 't3', 't4', 't5'] },
    ]);
  });

  test('the tied fixture written by transformers (max_shard_size="200KB") is reproduced byte for byte', () => {
    const source = join(FIXTURE, 'tied');
    const model = loadModelDir(source);
    const dir = freshDir('tied-rewritten');
    writeModelDir(dir, model, { maxShardSize: '200KB' });
    const plan = planShards(qwen2Parameters(model.config), '200KB');
    assert.equal(shardIndexJson(plan), readFileSync(join(source, 'model.safetensors.index.json'), 'utf8'));
    for (const file of [
      'model.safetensors.index.json',
      'model-00001-of-00002.safetensors',
      'model-00002-of-00002.safetensors',
    ]) {
      assert.ok(readFileSync(join(dir, file)).equals(readFileSync(join(source, file))), file);
    }
    assert.equal(existsSync(join(dir, 'model.safetensors')), false);
    const back = loadModelDir(dir);
    for (const [name, data] of model.weights) assert.deepEqual(back.weights.get(name), data, name);
  });

  test('rewriting a directory with another shard size leaves no stale shards or index', () => {
    const model = loadModelDir(join(FIXTURE, 'tied'));
    const dir = freshDir('resharded');
    writeModelDir(dir, model, { maxShardSize: '100KB' });
    const shards = readdirSync(dir).filter((f) => f.endsWith('.safetensors'));
    assert.ok(shards.length > 2, shards.join(','));
    assert.ok(shards.every((f) => /^model-\d{5}-of-0000\d\.safetensors$/.test(f)));
    writeModelDir(dir, model);
    assert.deepEqual(
      readdirSync(dir).filter((f) => f.includes('safetensors')),
      ['model.safetensors'],
    );
    assert.equal(loadModelDir(dir).weights.size, model.weights.size);
  });

  test('sharded round trip with a stem: index, bit-identical values, errors that name the shard', () => {
    const dir = freshDir('state');
    const tensors = [tensor('m.a', 400), tensor('v.a', 400), tensor('m.b', 1200), tensor('v.b', 400)];
    const plan = writeShardedSafetensors(dir, tensors, {
      stem: 'state',
      maxShardSize: 1000,
      metadata: { note: 'x' },
    });
    assert.deepEqual(
      plan.files.map((f) => f.names),
      [['m.b'], ['m.a', 'v.a'], ['v.b']],
    );
    const index = JSON.parse(readFileSync(join(dir, 'state.safetensors.index.json'), 'utf8'));
    assert.deepEqual(index.metadata, { total_parameters: 600, total_size: 2400 });
    assert.equal(index.weight_map['m.b'], 'state-00001-of-00003.safetensors');
    const back = readShardedSafetensors(dir, 'state');
    for (const t of tensors) assert.deepEqual(back.get(t.name), t.data, t.name);
    assert.throws(
      () => readShardedSafetensors(dir, 'state', new Map([['m.a', [10, 10]]])),
      /state-00002-of-00003\.safetensors: tensor m\.a has shape \[100\], expected \[10,10\]/,
    );
    index.weight_map['v.b'] = 'state-00002-of-00003.safetensors';
    writeFileSync(join(dir, 'state.safetensors.index.json'), JSON.stringify(index));
    assert.throws(
      () => readShardedSafetensors(dir, 'state'),
      (e: unknown) =>
        e instanceof SafetensorsFormatError &&
        /state-00002-of-00003\.safetensors: tensor v\.b is missing \(state\.safetensors\.index\.json places it in this file\)/.test(
          e.message,
        ),
    );
  });
});
