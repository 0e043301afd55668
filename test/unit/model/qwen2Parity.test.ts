/**
 * Parity with Hugging Face transformers (which we did not write): the committed fixture holds tiny random
 * Qwen2 models (GQA, tied and untied, sharded and not) with their logits and greedy continuations, made by
 * scripts/python/make_qwen2_fixture.py. Our decoder graph must reproduce them.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';
import { Executable } from '../../../core/graph/index.ts';
import type { Feeds } from '../../../core/graph/index.ts';
import { loadModelDir } from '../../../core/model/modelDir.ts';
import { readSafetensors } from '../../../core/model/safetensors.ts';
import { buildQwen2Logits } from '../../../core/model/qwen2.ts';

const FIXTURES = fileURLToPath(new URL('../../fixtures/qwen2/', import.meta.url));
/** The bound for logits parity (max-abs). */
const LOGITS_TOLERANCE = 1e-4;

interface Reference {
  input_ids: number[][];
  attention_mask: number[][];
  position_ids: number[][];
  greedy_prompt: number[];
  greedy_tokens: number[];
}

function int64Rows(rows: number[][]): { data: BigInt64Array; dims: number[] } {
  return { data: BigInt64Array.from(rows.flat().map(BigInt)), dims: [rows.length, rows[0].length] };
}

for (const variant of ['untied', 'tied']) {
  test(`${variant}: logits equal transformers' on a left-padded batch, and greedy decoding gives its tokens`, async () => {
    const dir = join(FIXTURES, variant);
    const model = loadModelDir(dir);
    const ref = JSON.parse(readFileSync(join(dir, 'reference.json'), 'utf8')) as Reference;
    const refTensors = readSafetensors(join(dir, 'reference.safetensors'));
    const fwd = buildQwen2Logits(model.config);
    const exec = await Executable.compile(fwd.graph);
    const weights: Feeds = {};
    for (const [name, v] of fwd.params)
      weights[name] = { data: model.weights.get(name)!, dims: v.shape as number[] };

    const out = await exec.run({
      ...weights,
      input_ids: int64Rows(ref.input_ids),
      attention_mask: int64Rows(ref.attention_mask),
      position_ids: int64Rows(ref.position_ids),
    });
    const logits = out.logits.data as Float32Array;
    const want = refTensors.get('logits')!;
    const V = model.config.vocabSize;
    let maxAbs = 0;
    let compared = 0;
    ref.attention_mask.forEach((row, b) =>
      row.forEach((m, t) => {
        if (!m) return; // padded query positions are undefined in both implementations
        const off = (b * row.length + t) * V;
        for (let j = 0; j < V; j++) maxAbs = Math.max(maxAbs, Math.abs(logits[off + j] - want[off + j]));
        compared++;
      }),
    );
    assert.equal(compared, 17);
    assert.ok(maxAbs <= LOGITS_TOLERANCE, `max |logits − HF| = ${maxAbs}`);

    // Greedy decoding by full recomputation: the reference for the KV-cache decoder.
    const tokens = [...ref.greedy_prompt];
    const scores = refTensors.get('greedy_scores')!;
    let scoreDiff = 0;
    for (let step = 0; step < ref.greedy_tokens.length; step++) {
      const n = tokens.length;
      const r = await exec.run({
        ...weights,
        input_ids: int64Rows([tokens]),
        attention_mask: int64Rows([tokens.map(() => 1)]),
        position_ids: int64Rows([tokens.map((_, i) => i)]),
      });
      const last = (r.logits.data as Float32Array).subarray((n - 1) * V, n * V);
      let best = 0;
      for (let j = 1; j < V; j++) if (last[j] > last[best]) best = j;
      for (let j = 0; j < V; j++) scoreDiff = Math.max(scoreDiff, Math.abs(last[j] - scores[step * V + j]));
      tokens.push(best);
    }
    assert.deepEqual(tokens.slice(ref.greedy_prompt.length), ref.greedy_tokens);
    assert.ok(scoreDiff <= LOGITS_TOLERANCE, `max |greedy scores − HF| = ${scoreDiff}`);
  });
}
