/**
 * Generation with half-precision matrix weights (`weightDtype: "float16"`), against Hugging Face
 * transformers' float32 greedy decoding of the committed fixture models (which we did not write): the
 * same tokens, log-probs within half-precision rounding, on every path (host sampler, the in-graph decode
 * loop, weights embedded or fed).
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { test } from 'node:test';
import { Generator, type GeneratorOptions } from '../../../core/generate/generator.ts';
import { loadModelDir } from '../../../core/model/modelDir.ts';
import { buildQwen2Decode, isMatrixWeight } from '../../../core/model/qwen2.ts';
import { qwen2Parameters } from '../../../core/model/parameters.ts';
import { greedyReference } from '../../fixtures/qwen2/greedyReference.ts';

const FIXTURES = fileURLToPath(new URL('../../fixtures/qwen2/', import.meta.url));
/**
 * Log-probs of the greedy tokens vs transformers' float32 ones. Measured: 1.4e-3 (untied), 2.7e-3 (tied);
 * float32 weights give 3e-6. Half precision carries 11 significant bits (4.9e-4 relative per rounding).
 */
const HALF_LOGPROB_TOLERANCE = 1e-2;

for (const variant of ['untied', 'tied'] as const) {
  test(`${variant}: float16 weights decode transformers' greedy tokens on every path`, async () => {
    const ref = greedyReference(variant);
    const paths: Record<string, GeneratorOptions> = {
      'host sampler, embedded': {},
      'host sampler, fed': { weights: 'fed' },
      'decode loop, 4 per run': { sampleInGraph: true, decodeChunk: 4 },
    };
    for (const [name, options] of Object.entries(paths)) {
      const generator = await Generator.create(ref.model.config, ref.model.weights, {
        ...options,
        weightDtype: 'float16',
      });
      const [out] = await generator.generate([{ promptIds: ref.prompt, prompt: 0, sample: 0 }], {
        maxNewTokens: ref.tokens.length,
        sampling: { temperature: 0 },
        seed: 0,
        stopTokenIds: [],
      });
      assert.deepEqual(out.tokens, ref.tokens, name);
      const worst = Math.max(...out.logprobs.map((lp, s) => Math.abs(lp - ref.logprobs[s])));
      assert.ok(worst <= HALF_LOGPROB_TOLERANCE, `${name}: max |log-prob − HF| = ${worst}`);
      // Not float32 in disguise: half precision moves the log-probs measurably.
      assert.ok(worst > 1e-5, `${name}: max |log-prob − HF| = ${worst}, as close as float32`);
    }
  });
}
test('the float16 decode graph stores exactly the matrices at half precision', () => {
  const model = loadModelDir(join(FIXTURES, 'untied'));
  const { graph } = buildQwen2Decode(model.config, 'float32', model.weights, true, 'float16');
  const stored = new Map(graph.constants.map((c) => [c.value.name, c.value.dtype]));
  for (const p of qwen2Parameters(model.config)) {
    assert.equal(stored.get(p.name), isMatrixWeight(p.shape) ? 'float16' : 'float32', p.name);
  }
  assert.ok(qwen2Parameters(model.config).some((p) => !isMatrixWeight(p.shape)));
});
