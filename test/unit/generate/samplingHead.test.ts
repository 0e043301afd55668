/**
 * The in-graph sampling head (GPU path) against the host sampler (sampling.ts), which defines the draw:
 * the same token for the same uniform except within float32 rounding of a token boundary, the same
 * log-probs to float32 rounding; and a Generator drawing in the graph gives the host's generations.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import { Executable, Graph } from '../../../core/graph/index.ts';
import { loadModelDir } from '../../../core/model/modelDir.ts';
import { Generator } from '../../../core/generate/generator.ts';
import type { GenerationRequest } from '../../../core/generate/generation.ts';
import { sampleToken, type SamplingParams } from '../../../core/generate/sampling.ts';
import { addSamplingHead, headSupports, samplingHeadNames } from '../../../core/generate/samplingHead.ts';
import { uniformAt } from '../../../core/random.ts';

const DIR = fileURLToPath(new URL('../../fixtures/qwen2/untied/', import.meta.url));
const LOGPROB_TOLERANCE = 1e-5;

async function headOn(B: number, V: number): Promise<Executable> {
  const g = new Graph('samplingHead');
  const logits = g.input('logits', 'float32', [B, V]);
  addSamplingHead(g, logits);
  return Executable.compile(g);
}

for (const V of [1000, 5000])
  test(`vocabulary ${V}: the head draws the host sampler’s tokens and log-probs from the same uniforms`, async () => {
    const B = 64;
    const exec = await headOn(B, V);
    let mismatches = 0;
    let draws = 0;
    for (const [round, temperature] of [0.6, 1, 1.3].entries()) {
      // Peaked and flat rows: logits from a few nats to tens of nats apart.
      const logits = new Float32Array(B * V);
      for (let i = 0; i < logits.length; i++)
        logits[i] = (uniformAt(7, round, i, 0, 0) - 0.5) * (4 + (Math.floor(i / V) % 8) * 6);
      const u = Float32Array.from({ length: B }, (_, b) => uniformAt(11, round, b, 0, 0));
      const out = await exec.run({
        logits: { data: logits, dims: [B, V] },
        [samplingHeadNames.uniform]: { data: u, dims: [B] },
        [samplingHeadNames.inverseTemperature]: {
          data: new Float32Array(B).fill(1 / temperature),
          dims: [B],
        },
      });
      const tokens = out[samplingHeadNames.token].data as BigInt64Array;
      const logprobs = out[samplingHeadNames.logprob].data as Float32Array;
      for (let b = 0; b < B; b++) {
        const row = logits.subarray(b * V, (b + 1) * V);
        // The float32 uniform the graph saw, so both sides draw at the same point.
        const host = sampleToken(row, { temperature }, u[b]);
        draws++;
        if (Number(tokens[b]) !== host.token) {
          mismatches++;
          continue;
        }
        assert.ok(
          Math.abs(logprobs[b] - host.logprob) < LOGPROB_TOLERANCE,
          `T=${temperature} row ${b} log-prob`,
        );
      }
    }
    assert.ok(mismatches <= 1, `${mismatches} of ${draws} draws differ from the host sampler`);

    const flat = new Float32Array(B * V).fill(0.5);
    flat[3 * V + 17] = 2; // a clear maximum in row 3; the other rows tie everywhere: the lowest index wins
    flat[5 * V + V - 3] = 2; // a maximum in the last (padded) block
    const out = await exec.run({
      logits: { data: flat, dims: [B, V] },
      [samplingHeadNames.uniform]: { data: new Float32Array(B), dims: [B] },
      [samplingHeadNames.inverseTemperature]: { data: new Float32Array(B).fill(1), dims: [B] },
    });
    const greedy = out[samplingHeadNames.greedyToken].data as BigInt64Array;
    const greedyLogprob = out[samplingHeadNames.greedyLogprob].data as Float32Array;
    for (let b = 0; b < B; b++) {
      const host = sampleToken(flat.subarray(b * V, (b + 1) * V), { temperature: 0 }, 0);
      assert.equal(Number(greedy[b]), host.token);
      assert.ok(Math.abs(greedyLogprob[b] - host.logprob) < LOGPROB_TOLERANCE);
    }
    await exec.release();
  });

test('truncated sampling and a raw log-prob at T ∉ {0, 1} stay with the host sampler', () => {
  assert.equal(headSupports({ temperature: 1 }), true);
  assert.equal(headSupports({ temperature: 0, rawLogprob: true }), true);
  assert.equal(headSupports({ temperature: 0.6, topP: 0.95 }), false);
  assert.equal(headSupports({ temperature: 1, topK: 20 }), false);
  assert.equal(headSupports({ temperature: 0.6, rawLogprob: true }), false);
});

test('a Generator drawing in the graph gives the host-sampled generations', async () => {
  const model = loadModelDir(DIR);
  const host = await Generator.create(model.config, model.weights);
  const inGraph = await Generator.create(model.config, model.weights, { sampleInGraph: true });
  const requests: GenerationRequest[] = Array.from({ length: 6 }, (_, i) => ({
    promptIds: [256, ...Array.from({ length: 1 + (i % 4) }, (_, t) => 10 + 7 * i + t)],
    prompt: i,
    sample: i % 2,
  }));
  const settings: SamplingParams[] = [
    { temperature: 1 },
    { temperature: 0.7 },
    { temperature: 0 },
    { temperature: 0.7, topP: 0.9 },
  ];
  for (const sampling of settings) {
    const opts = { maxNewTokens: 12, sampling, seed: 3, step: 2, stopTokenIds: [258] };
    const a = await host.generate(requests, opts);
    const b = await inGraph.generate(requests, opts);
    for (const [i, g] of a.entries()) {
      const what = `${JSON.stringify(sampling)} request ${i}`;
      assert.deepEqual(b[i].tokens, g.tokens, what);
      assert.deepEqual(b[i].sampled, g.sampled, what);
      assert.equal(b[i].finishReason, g.finishReason, what);
      g.logprobs.forEach((lp, t) =>
        assert.ok(Math.abs(b[i].logprobs[t] - lp) < LOGPROB_TOLERANCE, `${what} token ${t}`),
      );
    }
  }
});
