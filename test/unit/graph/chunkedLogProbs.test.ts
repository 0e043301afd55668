/**
 * chunkedTokenLogProbs (core/graph/ops/chunkedLogProbs.ts): its hand-written gradient Loop against central
 * finite differences, and its values and gradients against the unchunked graph (lm_head product,
 * log-softmax, gather, entropy over the whole [tokens, vocab] block) — with chunks that do not divide the
 * token count, one chunk larger than all tokens, and one token per chunk.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Executable, Graph, GraphError, formatShape, grad, op } from '../../../core/graph/index.ts';
import type { Value } from '../../../core/graph/index.ts';
import { gatherLogProbs, entropyFromLogProbs } from '../../../core/model/tokenLogProbs.ts';
import { gradCheck, input, int64, rand } from './gradcheck.ts';

const B = 2;
const S = 5;
const H = 4;
const V = 7;
const TARGETS = [6, 0, 3, 3, 1, 5, 2, 6, 0, 4];

function targetsOf(g: Graph): Value {
  return g.constant(int64(TARGETS), [B, S], 'int64');
}

for (const [label, mix] of [
  ['log-probs and entropy', (lp: Value, ent: Value) => op.add(lp, op.mul(ent, 0.7))],
  ['log-probs only', (lp: Value) => lp],
  ['entropy only', (_lp: Value, ent: Value) => ent],
] as const) {
  for (const chunk of [3, 1, 16]) {
    test(`gradient of chunked ${label} (chunk ${chunk}, 10 tokens) equals finite differences`, async () => {
      const g = new Graph('chunkedCheck');
      const hidden = input(g, 'hidden', [B, S, H], 101, -2, 2);
      const w = input(g, 'w', [V, H], 102, -2, 2);
      const { logProbs, entropy } = op.chunkedTokenLogProbs(
        hidden.value,
        w.value,
        targetsOf(g),
        g.scalar(0.7, 'float64'),
        chunk,
      );
      const errors = await gradCheck(g, { wrt: [hidden, w], out: mix(logProbs, entropy) });
      for (const [i, e] of errors.entries())
        assert.ok(e <= 1e-6, `input ${i}: relative error ${e.toExponential(2)}`);
    });
  }
}

/** Both graphs' values and gradients, computed in float64 with the same feeds. */
async function chunkedVsPlain(chunk: number) {
  const results = [];
  for (const chunked of [true, false]) {
    const g = new Graph('compare');
    const hidden = g.input('hidden', 'float64', ['b', 's', H]);
    const w = g.input('w', 'float64', [V, H]);
    const temperature = g.input('temperature', 'float64', []);
    const targets = g.input('targets', 'int64', ['b', 's']);
    let logProbs: Value;
    let entropy: Value;
    if (chunked) ({ logProbs, entropy } = op.chunkedTokenLogProbs(hidden, w, targets, temperature, chunk));
    else {
      const lp = op.logSoftmax(op.div(op.matmul(hidden, op.transposeLast2(w)), temperature), -1);
      logProbs = gatherLogProbs(lp, targets);
      entropy = entropyFromLogProbs(lp);
    }
    const loss = op.sumAll(op.add(op.mul(logProbs, op.cos(logProbs)), op.mul(entropy, entropy)));
    const [gh, gw] = grad(loss, [hidden, w]);
    g.output(logProbs, 'logp');
    g.output(entropy, 'entropy');
    g.output(loss, 'loss');
    g.output(gh, 'grad_hidden');
    g.output(gw, 'grad_w');
    const exec = await Executable.compile(g);
    results.push(
      await exec.run({
        hidden: { data: rand(B * S * H, 7, -3, 3), dims: [B, S, H] },
        w: { data: rand(V * H, 8, -3, 3), dims: [V, H] },
        temperature: { data: new Float64Array([0.6]), dims: [] },
        targets: { data: int64(TARGETS), dims: [B, S] },
      }),
    );
    await exec.release();
  }
  return results;
}

for (const chunk of [3, 4, 10, 11]) {
  test(`chunk ${chunk}: values and gradients equal the unchunked graph's`, async () => {
    const [chunked, plain] = await chunkedVsPlain(chunk);
    for (const name of ['logp', 'entropy', 'loss', 'grad_hidden', 'grad_w']) {
      assert.deepEqual([...chunked[name].dims], [...plain[name].dims], `${name} dims`);
      const a = chunked[name].data as Float64Array;
      const b = plain[name].data as Float64Array;
      for (let i = 0; i < a.length; i++)
        assert.ok(
          Math.abs(a[i] - b[i]) <= 1e-12 * Math.max(1, Math.abs(b[i])),
          `${name}[${i}]: ${a[i]} vs ${b[i]}`,
        );
    }
  });
}

test('bad operands and differentiating a Loop without a rule fail at build time', () => {
  const g = new Graph('bad');
  const hidden = g.input('hidden', 'float32', [3, 4]);
  const w = g.input('w', 'float32', [5, 4]);
  const t = g.input('t', 'int64', [3]);
  const temp = g.scalar(1, 'float32');
  assert.throws(() => op.chunkedTokenLogProbs(hidden, w, t, temp, 0), /chunk must be a positive integer/);
  assert.throws(
    () => op.chunkedTokenLogProbs(hidden, g.input('w2', 'float32', [5, 3]), t, temp, 2),
    /must be \[\.\.\., H\] and \[V, H\]/,
  );
  assert.throws(() => op.chunkedTokenLogProbs(hidden, w, g.input('t2', 'int64', [4]), temp, 2), /targets/);
  const { carried } = op.loop(g, {
    trips: 2,
    carried: [{ initial: hidden, bodyShape: [3, 4], finalShape: [3, 4] }],
    body: ({ carried: [x] }) => ({ carried: [op.mul(x, x)], scans: [] }),
  });
  assert.throws(
    () => grad(op.sumAll(carried[0]), [hidden]),
    (e: Error) => {
      assert.ok(e instanceof GraphError);
      assert.match(e.message, /differentiable only when its builder gives a gradient rule/);
      return true;
    },
  );
});

test('the d lmHead Loop starts from a [1, 1] zero, so no [V, H] input is held for its whole run', () => {
  const g = new Graph('lmGradStart');
  const hidden = g.input('hidden', 'float32', [B, S, H]);
  const w = g.input('w', 'float32', [V, H]);
  const { logProbs } = op.chunkedTokenLogProbs(hidden, w, targetsOf(g), g.scalar(1, 'float32'), 3);
  grad(op.sumAll(logProbs), [w]);
  const loops = g.nodes.filter((n) => n.op === 'Loop');
  assert.equal(loops.length, 2, 'the forward Loop and the gradient Loop');
  const carriedIn = loops[1].inputs.slice(2).map((v) => formatShape(v.shape));
  assert.deepEqual(carriedIn, ['[1,1]']);
  assert.ok(
    !g.nodes.some((n) =>
      n.outputs.some((o) => formatShape(o.shape) === `[${V},${H}]` && n.op === 'ConstantOfShape'),
    ),
  );
});

test('Gemm broadcasts a [1, 1] C to the same bits as a full one, and refuses a C that does not broadcast', async () => {
  const g = new Graph('gemmC');
  const a = g.input('a', 'float32', [5, 2]);
  const b = g.input('b', 'float32', [5, 3]);
  g.output(op.gemm(a, b, { transA: true, c: op.zeros(g, 'float32', [1, 1]) }), 'small');
  g.output(op.gemm(a, b, { transA: true, c: op.zeros(g, 'float32', [2, 3]) }), 'full');
  const exec = await Executable.compile(g);
  const out = await exec.run({
    a: { data: Float32Array.from(rand(10, 3, -1, 1)), dims: [5, 2] },
    b: { data: Float32Array.from(rand(15, 4, -1, 1)), dims: [5, 3] },
  });
  await exec.release();
  assert.deepEqual([...out.small.dims], [2, 3]);
  assert.deepEqual(out.small.data, out.full.data);
  assert.throws(() => op.gemm(a, b, { transA: true, c: op.zeros(g, 'float32', [3, 2]) }), /C is \[3,2\]/);
});
