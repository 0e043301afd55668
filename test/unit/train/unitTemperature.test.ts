/**
 * The policy loss built for temperature 1 (PolicyUpdater's graph when the rollout samples at T = 1) skips
 * dividing the [tokens, vocab] logits: fed T = 1, the general graph gives its loss, metrics and every
 * gradient bit for bit, and the unit graph has no division over the vocabulary.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Executable, buildGradStep } from '../../../core/graph/index.ts';
import type { Feeds, HostTensor } from '../../../core/graph/index.ts';
import { liveNodes } from '../../../core/graph/serialize.ts';
import { makeQwen2Config } from '../../../core/model/config.ts';
import { initQwen2Weights } from '../../../core/model/parameters.ts';
import { parseRlAlgorithmConfig } from '../../../core/config/rl.ts';
import { buildPolicyLoss, lossInputs } from '../../../core/train/policyLossGraph.ts';
import { packRows } from '../../../core/train/rolloutBatch.ts';
import type { RolloutRow } from '../../../core/train/rolloutBatch.ts';

const config = makeQwen2Config({
  vocabSize: 24,
  hiddenSize: 16,
  intermediateSize: 24,
  numHiddenLayers: 1,
  numAttentionHeads: 2,
  numKeyValueHeads: 1,
});

function rows(n: number): RolloutRow[] {
  let s = 5;
  const r = () => (s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 2 ** 32;
  return Array.from({ length: n }, (_, i) => {
    const len = 1 + (i % 4);
    return {
      promptIds: Array.from({ length: 1 + (i % 3) }, () => 1 + Math.floor(r() * 20)),
      responseIds: Array.from({ length: len }, () => Math.floor(r() * 24)),
      oldLogprobs: Array.from({ length: len }, () => -3 + r()),
      sampled: Array.from({ length: len }, () => true),
      advantages: Array.from({ length: len }, () => r() - 0.5),
    };
  });
}

const scalar = (x: number): HostTensor => ({ data: new Float32Array([x]), dims: [] });

function policyLoss(unitTemperature: boolean) {
  return buildPolicyLoss(config, {
    clip: parseRlAlgorithmConfig({}).clip,
    aggMode: 'token-mean',
    entropyBonus: true,
    unitTemperature,
  });
}

test('at temperature 1 the graph without the division gives the same loss, metrics and gradients, bit for bit', async () => {
  const outs = [];
  for (const unit of [true, false]) {
    const l = policyLoss(unit);
    const feeds: Feeds = {
      ...packRows(rows(5)),
      [lossInputs.lossNorm]: scalar(9),
      [lossInputs.temperature]: scalar(1),
      [lossInputs.entropyCoef]: scalar(0.05),
    };
    const w = initQwen2Weights(config, 3);
    for (const p of l.params) feeds[p.name] = { data: w.get(p.name)!, dims: p.shape as number[] };
    const exec = await Executable.compile(buildGradStep(l));
    outs.push(await exec.run(feeds));
    await exec.release();
  }
  const [unit, general] = outs;
  assert.deepEqual(Object.keys(unit).sort(), Object.keys(general).sort());
  for (const name of Object.keys(general))
    assert.deepEqual([...unit[name].data], [...general[name].data], name);
});

test('the unit-temperature graph divides nothing over the vocabulary', () => {
  const overVocab = (unit: boolean) =>
    liveNodes(buildGradStep(policyLoss(unit))).filter(
      (n) => n.op === 'Div' && n.outputs[0].shape.at(-1) === config.vocabSize,
    ).length;
  assert.equal(overVocab(true), 0);
  assert.equal(overVocab(false), 2); // the forward and its gradient
});
