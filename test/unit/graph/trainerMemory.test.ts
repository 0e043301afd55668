/**
 * What the trainer does to keep memory it does not need from staying resident: a session without constant
 * folding leaves a large ConstantOfShape to run time instead of holding it as an initializer (the gradient
 * graph's [vocab, hidden] zeros), and collectGarbage gives back an ArrayBuffer nothing references (the
 * binding's copy of the gradients) without --expose-gc.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { Executable, Graph, collectGarbage, op } from '../../../core/graph/index.ts';
import { collectsGarbage, COLLECT_GRADIENTS_BYTES, trainerSession } from '../../../core/train/trainSteps.ts';

const residentMB = () => (Number(readFileSync('/proc/self/statm', 'utf8').split(' ')[1]) * 4096) / 1e6;

/** x + zeros([rows, 8192]): at 2048 rows, 64 MiB of zeros that folding would make an initializer. */
function zerosGraph(rows = 2048): Graph {
  const g = new Graph('foldedZeros');
  const x = g.input('x', 'float32', [rows, 8192]);
  g.output(op.add(x, op.zeros(g, 'float32', [rows, 8192])), 'y');
  return g;
}

test(
  'a trainer session does not fold a large ConstantOfShape into an initializer it keeps',
  { skip: !existsSync('/proc/self/statm') },
  async () => {
    const compiledMB = async (constantFolding: boolean) => {
      const before = residentMB();
      const exec = await Executable.compile(zerosGraph(), trainerSession({ constantFolding }));
      const grown = residentMB() - before;
      await exec.release();
      return grown;
    };
    // onnxruntime's own start-up first, so that neither session is charged with it.
    await (await Executable.compile(zerosGraph(1), trainerSession({}))).release();
    const unfolded = await compiledMB(false);
    const folded = await compiledMB(true);
    assert.ok(folded - unfolded > 50, `folded session grew ${folded} MB, unfolded ${unfolded} MB`);
    assert.equal(trainerSession({}).constantFolding, false);
  },
);

test('an unfolded session computes the zeros at run time', async () => {
  const exec = await Executable.compile(zerosGraph(), trainerSession({}));
  const x = new Float32Array(2048 * 8192).map((_, i) => i % 7);
  const { y } = await exec.run({ x: { data: x, dims: [2048, 8192] } });
  assert.deepEqual(y.data, x);
  await exec.release();
});

function dropped(): WeakRef<ArrayBuffer> {
  return new WeakRef(new ArrayBuffer(1 << 20));
}

test('collectGarbage frees an unreachable buffer at once, with no gc left on the global', async () => {
  const ref = dropped();
  // A WeakRef keeps its target until the current job ends, and again after each deref.
  const nextJob = () => new Promise((resolve) => setImmediate(resolve));
  await nextJob();
  assert.ok(ref.deref() !== undefined, 'nothing collected it before collectGarbage');
  await nextJob();
  collectGarbage();
  assert.ok(ref.deref() === undefined, 'collectGarbage left the dropped buffer alive');
  assert.equal((globalThis as { gc?: unknown }).gc, undefined);
});

test('only gradients from 64 MiB up are collected after each run', () => {
  const params = (bytes: number) => ({ w: { data: new Float32Array(bytes / 4), dims: [bytes / 4] } });
  assert.equal(collectsGarbage(params(COLLECT_GRADIENTS_BYTES)), true);
  assert.equal(collectsGarbage(params(COLLECT_GRADIENTS_BYTES - 4)), false);
});
