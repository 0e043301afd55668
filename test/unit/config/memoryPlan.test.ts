/** The memory estimate: each formula on hand-computed shapes, the per-role sums, and `reasonloop plan`'s refusal. */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { makeQwen2Config } from '../../../core/model/config.ts';
import {
  activationBytes,
  adamStateBytes,
  halfBaseBytes,
  halfBaseCastBytes,
  kvCacheBytes,
  logitsBlockBytes,
  weightBytes,
} from '../../../core/config/memoryFormulas.ts';
import { checkMemoryPlan, memoryPlan } from '../../../core/config/memoryPlan.ts';
import { backwardStretches, keptProjectionBytes } from '../../../core/config/memoryTrainer.ts';
import { parseRunConfig } from '../../../core/config/run.ts';
import { capture } from '../cli/capture.ts';

const tmp = mkdtempSync(join(tmpdir(), 'memory-plan-'));
after(() => rmSync(tmp, { recursive: true, force: true }));

const model = makeQwen2Config({
  vocabSize: 100,
  hiddenSize: 8,
  intermediateSize: 16,
  numHiddenLayers: 2,
  numAttentionHeads: 2,
  numKeyValueHeads: 1,
});

test('formulas by hand: weights, gradients, AdamW, activations, logits block, KV cache', () => {
  assert.equal(weightBytes(1000), 4000);
  assert.equal(weightBytes(1000, true), 6000);
  assert.equal(adamStateBytes(1000), 8000);
  // 2 layers × (3 rows × 5 tokens × (10·8 + 4·16) + 2 · 3 rows · 2 heads · 5²) × 4 bytes
  assert.equal(activationBytes(model, 3, 5), 2 * (15 * 144 + 2 * 3 * 2 * 25) * 4);
  const split = (chunkTokens: number, vocabWidth = 0) => ({ chunkTokens, vocabWidth });
  assert.equal(logitsBlockBytes(50, 100, split(0), true), 3 * 50 * 100 * 4);
  assert.equal(logitsBlockBytes(50, 100, split(8), true), 3 * 8 * 100 * 4);
  assert.equal(logitsBlockBytes(50, 100, split(8), false), 2 * 8 * 100 * 4);
  assert.equal(logitsBlockBytes(50, 100, split(0, 25), true), 3 * 50 * 25 * 4);
  // keys + values × 2 layers × 3 rows × 1 kv head × 7 positions × head dim 4 × 4 bytes
  assert.equal(kvCacheBytes(model, 3, 7), 2 * 2 * 3 * 1 * 7 * 4 * 4);
});

/** A run on Qwen2.5-0.5B's shape (the config is all the plan reads; nothing is built). */
function qwenRun(microBatchSize: number, maxNewTokens: number) {
  return {
    runId: 'plan-test',
    seed: 1,
    steps: 1,
    model: {
      init: {
        seed: 0,
        config: {
          vocabSize: 151936,
          hiddenSize: 896,
          intermediateSize: 4864,
          numHiddenLayers: 24,
          numAttentionHeads: 14,
          numKeyValueHeads: 2,
          maxPositionEmbeddings: 32768,
          eosTokenId: [11],
        },
      },
    },
    task: { kind: 'reverseDigits', digits: 2 },
    rollout: { promptsPerStep: 4, n: 4, maxNewTokens },
    algorithm: { miniBatchSize: 16, microBatchSize },
    store: { url: join(tmp, 'store') },
  };
}

test('a float16 LoRA base: 2 bytes per matrix value, 4 per norm; its casts are the LM head and one layer', () => {
  // embed and lm_head 100·8 each, per layer q,k,v,o 8·8 + 4·8 + 4·8 + 8·8 and gate,up,down 3 · 16·8
  // (matrices); biases 8 + 4 + 4 and two norms of 8 (float32); the final norm 8.
  const layerMatrices = 64 + 32 + 32 + 64 + 3 * 128;
  const layerFloats = 8 + 4 + 4 + 2 * 8;
  assert.equal(halfBaseBytes(model), (2 * 800 + 2 * layerMatrices) * 2 + (2 * layerFloats + 8) * 4);
  assert.equal(halfBaseCastBytes(model), (800 + layerMatrices) * 4 + layerMatrices * 2);
});

test('reasonloop plan counts a LoRA base at 2 bytes per matrix value with lora.baseDtype float16', () => {
  const input = qwenRun(4, 256);
  const lora = { rank: 16 };
  const plain = parseRunConfig({
    ...input,
    algorithm: { ...input.algorithm, gradientCheckpointing: true, lora },
  });
  const half = parseRunConfig({
    ...input,
    algorithm: { ...input.algorithm, gradientCheckpointing: true, lora: { ...lora, baseDtype: 'float16' } },
  });
  const config = makeQwen2Config({ ...plain.model.init!.config });
  const trainer = (run: typeof plain) => memoryPlan(config, run).find((r) => r.role === 'trainer')!;
  const term = (run: typeof plain, name: string) => trainer(run).terms.find((t) => t.name.startsWith(name))!;
  assert.equal(term(plain, 'weights (frozen base)').bytes, 494_032_768 * 4);
  const base = term(half, 'weights (frozen base, float16 matrices)').bytes;
  // The 0.5B shape's norms and biases: 24 layers × (2 · 896 + 896 + 2 · 128) + 896 values at 4 bytes.
  const floats = 24 * (2 * 896 + 896 + 2 * 128) + 896;
  assert.equal(base, (494_032_768 - floats) * 2 + floats * 4);
  assert.equal(term(half, 'float32 casts').bytes, halfBaseCastBytes(config));
  const saved = trainer(plain).total - trainer(half).total;
  assert.equal(saved, 494_032_768 * 4 - base - halfBaseCastBytes(config));
  // At this shape the tied embedding (0.54 GB in float32) is a quarter of the model: the LM head's cast
  // takes back much of the saving (0.35 GB of 1.98); at 1.5B's the saving is 1.9 GB of 6.17.
  assert.ok(saved > 0.3e9, `saves ${saved / 1e9} GB`);
  const scorer = (run: typeof plain) => memoryPlan(config, run).find((r) => r.role === 'reference scorer')!;
  assert.equal(scorer(plain).total - scorer(half).total, saved, 'the scorer feeds the same half base');
});

test('reasonloop plan counts the projections selective recomputation keeps: (q + 2kv + H + 2I) values per layer and token', () => {
  const input = qwenRun(4, 256);
  const at = (gradientCheckpointing: boolean | 'selective') =>
    parseRunConfig({ ...input, algorithm: { ...input.algorithm, gradientCheckpointing } });
  const full = at(true);
  const config = makeQwen2Config({ ...full.model.init!.config });
  const stretches = (run: typeof full) =>
    backwardStretches(config, {
      rows: run.algorithm.microBatchSize!,
      length: 256 + 512,
      chunking: { chunkTokens: 0, vocabWidth: 0 },
      recompute: run.algorithm.gradientCheckpointing,
    });
  const kept = keptProjectionBytes(config, full.algorithm.microBatchSize!, 256 + 512);
  // Qwen2.5-0.5B: q 896, k and v 128 each, o 896, gate and up 4,864 each, over 24 layers.
  assert.equal(kept, 24 * full.algorithm.microBatchSize! * 768 * (896 + 2 * 128 + 896 + 2 * 4864) * 4);
  const [selective, whole] = [stretches(at('selective')), stretches(full)];
  for (let i = 0; i < 2; i++) assert.equal(selective[i].bytes - whole[i].bytes, kept, selective[i].name);
  assert.equal(selective[2].bytes, whole[2].bytes, "the embedding's end holds no activation");
  const trainer = (run: typeof full) => memoryPlan(config, run).find((r) => r.role === 'trainer')!.total;
  assert.ok(trainer(at('selective')) > trainer(full));
});

test("per role: the trainer holds 16 bytes per parameter plus a micro-batch's peak; the roles sum their terms", () => {
  const run = parseRunConfig(qwenRun(4, 256));
  const params = 494_032_768;
  const plan = memoryPlan(makeQwen2Config({ ...run.model.init!.config }), run);
  const trainer = plan.find((r) => r.role === 'trainer')!;
  const term = (name: string) => trainer.terms.find((t) => t.name.startsWith(name))!.bytes;
  // One gradient set whatever the micro-batching: the running sum is written in place.
  assert.equal(term('weights') + term('gradients') + term('AdamW'), 16 * params);
  assert.equal(
    trainer.total,
    trainer.terms.reduce((s, t) => s + t.bytes, 0),
  );
  assert.deepEqual(
    plan.map((r) => r.role),
    ['rollout', 'reference scorer', 'trainer'],
  );
  assert.throws(
    () => checkMemoryPlan(plan, 4e9),
    /does not fit a worker with 4\.00 GB: .*trainer needs \d+\.\d\d GB/,
  );
  assert.doesNotThrow(() => checkMemoryPlan(plan, 1e12));
});

test('reasonloop plan prints every role and refuses (exit 1, numbers shown) when one does not fit', async () => {
  const file = join(tmp, 'run.json');
  writeFileSync(file, JSON.stringify(qwenRun(16, 1024)));
  let r = await capture(['plan', '--config', file, '--memory', '24GB']);
  assert.equal(r.code, 1);
  assert.match(r.out, /trainer: \d+\.\d\d GB of 24\.00 GB — DOES NOT FIT/);
  assert.match(r.out, /AdamW m, v\s+3\.95 GB/);
  assert.match(r.err, /reasonloop plan: the run does not fit a worker with 24\.00 GB: .*trainer needs/);
  r = await capture(['plan', '--config', file, '--memory', '2TB', '--json']);
  assert.equal(r.code, 0, r.err);
  assert.equal(JSON.parse(r.out).parameters, 494_032_768);
  r = await capture(['plan', '--config', file, '--memory', 'lots']);
  assert.equal(r.code, 2);
});
