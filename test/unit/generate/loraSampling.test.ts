/**
 * Sampling a LoRA policy with the adapters added in the graph (x·Wᵀ + s·(x·Aᵀ)·Bᵀ, the base mapped from its
 * files) instead of on merged weights W + s·B·A: the same tokens, greedy and sampled, on the host sampler
 * and with the graph drawing several tokens per run, log-probs within float32 rounding of the merged
 * model's (the two orders of summation round differently); swapping adapters on the same base gives what
 * a fresh generator with those adapters gives, without compiling the base again.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { makeQwen2Config } from '../../../core/model/config.ts';
import { writeModelDir } from '../../../core/model/modelDir.ts';
import { initQwen2Weights } from '../../../core/model/parameters.ts';
import { weightRegions } from '../../../core/model/weightFiles.ts';
import { initLoraWeights, loraModules, mergeLoraWeights, type LoraSpec } from '../../../core/model/lora.ts';
import { Generator, type GeneratorOptions } from '../../../core/generate/generator.ts';
import type { Generation } from '../../../core/generate/generation.ts';
import { Prng } from '../../../core/random.ts';

const config = makeQwen2Config({
  vocabSize: 96,
  hiddenSize: 32,
  intermediateSize: 48,
  numHiddenLayers: 2,
  numAttentionHeads: 4,
  numKeyValueHeads: 2,
  tieWordEmbeddings: true,
});
const spec: LoraSpec = {
  rank: 4,
  alpha: 8,
  targetModules: ['q_proj', 'v_proj', 'o_proj', 'up_proj', 'down_proj'],
};

const requests = [
  { promptIds: [3, 14, 15, 92, 65], prompt: 0, sample: 0 },
  { promptIds: [35, 89], prompt: 1, sample: 0 },
  { promptIds: [35, 89], prompt: 1, sample: 1 },
];

/** Trained-looking adapters: A as initialised, B drawn (a fresh B = 0 would add nothing). */
function adapters(seed: number): Map<string, Float32Array> {
  const out = initLoraWeights(config, spec, seed);
  const rng = new Prng(seed, 99);
  for (const m of loraModules(config, spec)) {
    const b = out.get(m.b.name)!;
    for (let i = 0; i < b.length; i++) b[i] = (2 * rng.nextFloat() - 1) * 0.5;
  }
  return out;
}

async function sampleAll(g: Generator): Promise<Generation[][]> {
  const out = [];
  for (const temperature of [0, 1])
    out.push(await g.generate(requests, { maxNewTokens: 12, sampling: { temperature }, seed: 7 }));
  return out;
}

function assertSameTokens(got: Generation[][], want: Generation[][], what: string): void {
  got.forEach((gens, t) =>
    gens.forEach((g, i) => {
      assert.deepEqual(g.tokens, want[t][i].tokens, `${what}: tokens of request ${i} at T=${t}`);
      g.logprobs.forEach((lp, k) =>
        assert.ok(
          Math.abs(lp - want[t][i].logprobs[k]) < 1e-5,
          `${what}: log-prob ${k}: ${lp} vs ${want[t][i].logprobs[k]}`,
        ),
      );
    }),
  );
}

for (const options of [{}, { sampleInGraph: true, decodeChunk: 4 }] as GeneratorOptions[]) {
  const how = options.sampleInGraph ? 'graph draws, 4 per run' : 'host sampler';
  test(`${how}: adapters added in the graph sample the merged policy's tokens`, async () => {
    const dir = mkdtempSync(join(tmpdir(), 'lora-sampling-'));
    try {
      const base = initQwen2Weights(config, 1);
      writeModelDir(dir, { config, weights: base });
      const r = weightRegions(dir, config);
      assert.ok('regions' in r);
      const first = adapters(1);
      const second = adapters(2);
      const merged = (a: Map<string, Float32Array>) =>
        Generator.create(config, mergeLoraWeights(config, spec, base, a), options);
      const wantFirst = await sampleAll(await merged(first));
      const wantSecond = await sampleAll(await merged(second));
      assert.notDeepEqual(wantFirst[1], wantSecond[1], 'the two adapters sample differently');

      const g = await Generator.create(config, r.regions, { ...options, lora: spec }, first);
      assertSameTokens(await sampleAll(g), wantFirst, 'first adapters');
      g.setWeights(r.regions, second);
      assertSameTokens(await sampleAll(g), wantSecond, 'second adapters, same base');
      const fresh = await Generator.create(config, r.regions, { ...options, lora: spec }, second);
      assert.deepEqual(await sampleAll(g), await sampleAll(fresh), 'a swap equals a fresh generator');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
}

test('a LoRA generator needs adapters, and adapters need a LoRA generator; a misshapen one is named', async () => {
  const base = initQwen2Weights(config, 1);
  await assert.rejects(Generator.create(config, base, { lora: spec }), /LoRA adapters are missing/);
  await assert.rejects(Generator.create(config, base, {}, adapters(1)), /adapters need the lora option/);
  const bad = adapters(1);
  const name = loraModules(config, spec)[0].a.name;
  bad.set(name, new Float32Array(3));
  await assert.rejects(
    Generator.create(config, base, { lora: spec }, bad),
    new RegExp(`${name.replaceAll('.', '\\.')} has 3 values`),
  );
});
