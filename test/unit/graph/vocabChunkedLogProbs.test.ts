/**
 * vocabChunkedTokenLogProbs (core/graph/ops/vocabChunkedLogProbs.ts): its hand-written gradient Loop against
 * central finite differences, and its values and gradients against the unsliced graph (lm_head product,
 * log-softmax, gather, entropy over the whole [tokens, vocab] block) — slices of one word, of several, and
 * one slice that is the whole vocabulary; targets in the first, a middle and the last slice.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Executable, Graph, grad, op } from '../../../core/graph/index.ts';
import type { Value } from '../../../core/graph/index.ts';
import { gatherLogProbs, entropyFromLogProbs } from '../../../core/model/tokenLogProbs.ts';
import { gradCheck, input, int64, rand } from './gradcheck.ts';

const B = 2;
const S = 5;
const H = 4;
const V = 12;
const TARGETS = [11, 0, 3, 3, 1, 5, 2, 11, 0, 7];

function targetsOf(g: Graph): Value {
  return g.constant(int64(TARGETS), [B, S], 'int64');
}

for (const [label, mix] of [
  ['log-probs and entropy', (lp: Value, ent: Value) => op.add(lp, op.mul(ent, 0.7))],
  ['log-probs only', (lp: Value) => lp],
  ['entropy only', (_lp: Value, ent: Value) => ent],
] as const) {
  for (const width of [4, 1, 12]) {
    test(`gradient of vocabulary-sliced ${label} (width ${width} of ${V}) equals finite differences`, async () => {
      const g = new Graph('vocabChunkedCheck');
      const hidden = input(g, 'hidden', [B, S, H], 101, -2, 2);
      const w = input(g, 'w', [V, H], 102, -2, 2);
      const { logProbs, entropy } = op.vocabChunkedTokenLogProbs(
        hidden.value,
        w.value,
        targetsOf(g),
        g.scalar(0.7, 'float64'),
        width,
      );
      const errors = await gradCheck(g, { wrt: [hidden, w], out: mix(logProbs, entropy) });
      for (const [i, e] of errors.entries())
        assert.ok(e <= 1e-6, `input ${i}: relative error ${e.toExponential(2)}`);
    });
  }
}

/** Both graphs' values and gradients (hidden, lm_head and temperature), in float64 with the same feeds. */
async function slicedVsPlain(width: number) {
  const results = [];
  for (const sliced of [true, false]) {
    const g = new Graph('compare');
    const hidden = g.input('hidden', 'float64', ['b', 's', H]);
    const w = g.input('w', 'float64', [V, H]);
    const temperature = g.input('temperature', 'float64', []);
    const targets = g.input('targets', 'int64', ['b', 's']);
    let logProbs: Value;
    let entropy: Value;
    if (sliced)
      ({ logProbs, entropy } = op.vocabChunkedTokenLogProbs(hidden, w, targets, temperature, width));
    else {
      const lp = op.logSoftmax(op.div(op.matmul(hidden, op.transposeLast2(w)), temperature), -1);
      logProbs = gatherLogProbs(lp, targets);
      entropy = entropyFromLogProbs(lp);
    }
    const loss = op.sumAll(op.add(op.mul(logProbs, op.cos(logProbs)), op.mul(entropy, entropy)));
    const [gh, gw, gt] = grad(loss, [hidden, w, temperature]);
    g.output(logProbs, 'logp');
    g.output(entropy, 'entropy');
    g.output(loss, 'loss');
    g.output(gh, 'grad_hidden');
    g.output(gw, 'grad_w');
    g.output(gt, 'grad_temperature');
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

for (const width of [1, 3, 6, 12]) {
  test(`width ${width}: values and gradients equal the unsliced graph's`, async () => {
    const [sliced, plain] = await slicedVsPlain(width);
    for (const name of ['logp', 'entropy', 'loss', 'grad_hidden', 'grad_w', 'grad_temperature']) {
      assert.deepEqual([...sliced[name].dims], [...plain[name].dims], `${name} dims`);
      const a = sliced[name].data as Float64Array;
      const b = plain[name].data as Float64Array;
      for (let i = 0; i < a.length; i++)
        assert.ok(
          Math.abs(a[i] - b[i]) <= 1e-12 * Math.max(1, Math.abs(b[i])),
          `${name}[${i}]: ${a[i]} vs ${b[i]}`,
        );
    }
  });
}

test('a width that does not divide the vocabulary, or a symbolic vocabulary, fails at build time', () => {
  const g = new Graph('bad');
  const hidden = g.input('hidden', 'float32', [3, 4]);
  const t = g.input('t', 'int64', [3]);
  const temp = g.scalar(1, 'float32');
  const w = g.input('w', 'float32', [12, 4]);
  assert.throws(
    () => op.vocabChunkedTokenLogProbs(hidden, w, t, temp, 5),
    /width 5 must be .* divides the vocabulary 12/,
  );
  assert.throws(() => op.vocabChunkedTokenLogProbs(hidden, w, t, temp, 0), /width 0/);
  const wv = g.input('wv', 'float32', ['vocab', 4]);
  assert.throws(
    () => op.vocabChunkedTokenLogProbs(hidden, wv, t, temp, 4),
    /vocabulary vocab must be static/,
  );
  assert.throws(
    () => op.vocabChunkedTokenLogProbs(hidden, w, g.input('t2', 'int64', [4]), temp, 4),
    /targets/,
  );
});

test('no [tokens, vocab] value and no carried [vocab, hidden] sum: d lmHead is the scan output', () => {
  const g = new Graph('shapes');
  const hidden = g.input('hidden', 'float32', [B, S, H]);
  const w = g.input('w', 'float32', [V, H]);
  const { logProbs, entropy } = op.vocabChunkedTokenLogProbs(
    hidden,
    w,
    targetsOf(g),
    g.scalar(1, 'float32'),
    4,
  );
  grad(op.sumAll(op.add(logProbs, entropy)), [hidden, w]);
  const loops = g.nodes.filter((n) => n.op === 'Loop');
  assert.equal(loops.length, 2, 'the forward Loop and the gradient Loop');
  const everyShape = g.nodes.flatMap((n) => n.outputs.map((o) => o.shape.join(',')));
  assert.ok(!everyShape.includes(`${B * S},${V}`) && !everyShape.includes(`${B},${S},${V}`));
  const gradLoopOuts = loops[1].outputs.map((o) => o.shape.join(','));
  assert.deepEqual(gradLoopOuts, [`${B * S},${H}`, `${V / 4},4,${H}`]);
});
