import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { readSafetensors, writeSafetensors, SafetensorsWriter } from '../../../core/model/safetensors.ts';
import { safetensorsFile, readSafetensorsStream } from '../../../core/model/safetensorsStream.ts';
import { shardedSafetensorsFiles, writeShardedSafetensors } from '../../../core/model/safetensorsShards.ts';

const dir = mkdtempSync(join(tmpdir(), 'reasonloop-st-stream-'));
after(() => rmSync(dir, { recursive: true, force: true }));

/** Tensors of odd sizes (one empty), so chunk boundaries fall inside values and between tensors. */
const TENSORS = new Map([
  ['b.weight', { shape: [3, 5], data: Float32Array.from({ length: 15 }, (_, i) => Math.sin(i) * 1e3) }],
  ['a.bias', { shape: [7], data: Float32Array.from({ length: 7 }, (_, i) => -i / 3) }],
  ['c.empty', { shape: [0, 4], data: new Float32Array(0) }],
  ['d.scalar', { shape: [], data: Float32Array.of(Math.PI) }],
]);

function toStream(tensors = TENSORS, metadata: Record<string, string> = {}) {
  return safetensorsFile(
    'x.safetensors',
    [...tensors].map(([name, t]) => ({ name, shape: t.shape, read: () => t.data })),
    metadata,
  );
}

async function bytesOf(stream: AsyncIterable<Uint8Array>): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const chunk of stream) parts.push(Buffer.from(chunk));
  return Buffer.concat(parts);
}

/** The bytes in pieces of `size` (the last shorter): how a store's response might arrive. */
function* pieces(bytes: Uint8Array, size: number): Generator<Uint8Array> {
  for (let i = 0; i < bytes.length; i += size) yield bytes.subarray(i, i + size);
}

async function* asAsync(chunks: Iterable<Uint8Array>): AsyncGenerator<Uint8Array> {
  yield* chunks;
}

describe('safetensors as streams', () => {
  it('a streamed file is byte for byte what the file writer writes, at F32 and BF16', async () => {
    for (const dtype of ['F32', 'BF16'] as const) {
      const path = join(dir, `ref-${dtype}.safetensors`);
      const entries = [...TENSORS].map(([name, t]) => ({ name, shape: t.shape }));
      const writer = SafetensorsWriter.create(path, entries, { k: 'v' }, dtype);
      for (const name of writer.names) writer.write(name, TENSORS.get(name)!.data);
      writer.close();
      const streamed = safetensorsFile(
        'x',
        [...TENSORS].map(([name, t]) => ({ name, shape: t.shape, read: () => t.data })),
        { k: 'v' },
        dtype,
      );
      const bytes = await bytesOf(streamed.open());
      assert.ok(bytes.equals(readFileSync(path)), dtype);
      assert.equal(streamed.size, bytes.length, 'the size is known before the bytes');
      assert.ok((await bytesOf(streamed.open())).equals(bytes), 'each open starts over');
    }
  });

  it('sharded files and the index equal writeShardedSafetensors output', async () => {
    const tensors = [...TENSORS].map(([name, t]) => ({ name, shape: t.shape, data: t.data }));
    const out = join(dir, 'shards');
    mkdirSync(out);
    writeShardedSafetensors(out, tensors, { stem: 'm', maxShardSize: 64 });
    const files = shardedSafetensorsFiles(tensors, { stem: 'm', maxShardSize: 64 });
    assert.ok(files.length > 2, 'several shards and an index');
    for (const f of files)
      assert.ok((await bytesOf(f.open())).equals(readFileSync(join(out, f.file))), f.file);
  });

  it('reads back bit for bit however the bytes are cut, and only what is selected', async () => {
    const path = join(dir, 'read.safetensors');
    writeSafetensors(path, TENSORS, { step: '3' });
    const bytes = readFileSync(path);
    const reference = readSafetensors(path);
    for (const size of [1, 3, 8, 61, bytes.length]) {
      const { header, tensors } = await readSafetensorsStream(
        asAsync(pieces(bytes, size)),
        'f',
        bytes.length,
      );
      assert.equal(header.metadata.step, '3');
      assert.deepEqual(tensors, reference, `pieces of ${size}`);
    }
    const some = await readSafetensorsStream(asAsync(pieces(bytes, 5)), 'f', bytes.length, {
      select: (name) => name !== 'b.weight',
    });
    assert.deepEqual([...some.tensors.keys()].sort(), ['a.bias', 'c.empty', 'd.scalar']);
  });

  it('refuses, naming the file: a short or long stream, a wrong shape, a dtype other than F32', async () => {
    const bytes = await bytesOf(toStream().open());
    const read = (b: Uint8Array, size = b.length, options = {}) =>
      readSafetensorsStream(asAsync(pieces(b, 7)), 'f.safetensors', size, options);
    await assert.rejects(
      read(bytes.subarray(0, bytes.length - 1), bytes.length),
      /f\.safetensors: truncated/,
    );
    await assert.rejects(read(bytes.subarray(0, 5), bytes.length), /f\.safetensors: truncated in its header/);
    await assert.rejects(read(Buffer.concat([bytes, Buffer.alloc(4)]), bytes.length), /longer than its/);
    await assert.rejects(
      read(bytes, bytes.length, { expectedShapes: new Map([['a.bias', [8]]]) }),
      /f\.safetensors: tensor a\.bias has shape \[7\], expected \[8\]/,
    );
    const half = safetensorsFile(
      'h',
      [{ name: 'h', shape: [2], read: () => Float32Array.of(1, 2) }],
      {},
      'F16',
    );
    await assert.rejects(
      read(await bytesOf(half.open())),
      /tensor h has dtype F16 \(a streamed checkpoint file/,
    );
  });

  it('a tensor whose values do not fit its shape fails the stream, naming it', async () => {
    const bad = safetensorsFile('bad.safetensors', [
      { name: 'w', shape: [3], read: () => new Float32Array(2) },
    ]);
    await assert.rejects(bytesOf(bad.open()), /bad\.safetensors: tensor w has 2 values but shape \[3\]/);
  });
});
