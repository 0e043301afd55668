/**
 * core/generate/sampling.ts against Hugging Face transformers' own warpers (TemperatureLogitsWarper,
 * TopKLogitsWarper, TopPLogitsWarper), evaluated by fixtures/make_hf_warpers.py; no Python at test time.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { sampleToken, samplingSupport, type SamplingParams } from '../../../core/generate/sampling.ts';

const fixture = JSON.parse(readFileSync(new URL('./fixtures/hf_warpers.json', import.meta.url), 'utf8')) as {
  cases: { logits: number[]; params: SamplingParams; kept: number[]; probs: number[] }[];
};

/** HF softmaxes float32 scores (we use float64 weights); probabilities agree to float32 precision. */
const PROB_TOLERANCE = 1e-6;

test('kept tokens and their probabilities equal transformers warpers on 15 rows', () => {
  assert.equal(fixture.cases.length, 15);
  for (const [k, c] of fixture.cases.entries()) {
    const logits = Float32Array.from(c.logits);
    const { ids, probs } = samplingSupport(logits, c.params);
    assert.deepEqual(Array.from(ids), c.kept, `case ${k} ${JSON.stringify(c.params)}`);
    c.probs.forEach((p, i) =>
      assert.ok(Math.abs(probs[i] - p) < PROB_TOLERANCE, `case ${k} token ${c.kept[i]}`),
    );
    for (let i = 0; i < 50; i++) {
      const { token } = sampleToken(logits, c.params, (i + 0.5) / 50);
      assert.ok(c.kept.includes(token), `case ${k}: sampled ${token}, which HF removes`);
    }
  }
});
