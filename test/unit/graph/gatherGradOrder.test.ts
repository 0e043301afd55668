/**
 * An embedding's gradient is the same bits on every run with several intra-op threads: rows gathered many
 * times receive their gradients summed in token order, as a sequential loop sums them. (With ScatterND,
 * ORT split the updates across threads and the demo's GRPO weights changed from run to run.)
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Executable, Graph, grad, op } from '../../../core/graph/index.ts';
import { rand } from './gradcheck.ts';

const ROWS = 4;
const WIDTH = 512;
const TOKENS = 6000;

/** The gradient of Σ gather(E, ids) · u with respect to E, summed in token order in float32. */
function sequentialRowSums(ids: BigInt64Array, u: Float32Array): Float32Array {
  const out = new Float32Array(ROWS * WIDTH);
  for (let t = 0; t < TOKENS; t++) {
    const row = Number(ids[t]) * WIDTH;
    for (let j = 0; j < WIDTH; j++) out[row + j] += u[t * WIDTH + j];
  }
  return out;
}

test('a Gather gradient with repeated rows sums in token order on 2 threads, identically on every run', async () => {
  const g = new Graph();
  const table = g.input('table', 'float32', [ROWS, WIDTH]);
  const ids = g.input('ids', 'int64', ['tokens']);
  const upstream = g.input('upstream', 'float32', ['tokens', WIDTH]);
  const loss = op.sumAll(op.mul(op.gather(table, ids, 0), upstream));
  const [dTable] = grad(loss, [table]);
  g.output(dTable, 'dTable');
  const exec = await Executable.compile(g, { intraOpThreads: 2 });

  const idData = BigInt64Array.from(rand(TOKENS, 7, 0, ROWS), (x) => BigInt(Math.floor(x)));
  const u = Float32Array.from(rand(TOKENS * WIDTH, 8));
  const feeds = {
    table: { data: new Float32Array(ROWS * WIDTH), dims: [ROWS, WIDTH] },
    ids: { data: idData, dims: [TOKENS] },
    upstream: { data: u, dims: [TOKENS, WIDTH] },
  };
  const expected = sequentialRowSums(idData, u);
  for (let run = 0; run < 8; run++) {
    const got = (await exec.run(feeds)).dTable.data as Float32Array;
    assert.deepEqual(got, expected, `run ${run}: the row sums differ from the token-order sums`);
  }
});
