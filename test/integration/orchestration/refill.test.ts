/**
 * DAPO dynamic sampling with refill on a real Temporal server: a step whose first prompts have too few
 * groups with signal samples further rounds and still trains on a full batch; an interrupted run, resumed,
 * makes the same rounds and ends with the same weights as an uninterrupted one.
 *
 * The policy is a tiny Qwen2 whose first answer token is a uniformly random digit (its output layer reads
 * one residual dimension that every embedding sets high, and only digits have a weight there): with one
 * token per response, a 4-sample group of `a + b` has signal with probability ≈ 1 − 0.9⁴ − 0.1⁴ ≈ 0.34 when
 * the sum is one digit and never otherwise, so most steps need refill rounds.
 */
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { metricSeries, runMetricsHistory } from '../../../core/metrics/history.ts';
import { readStepRecords } from '../../../core/metrics/rolloutRecords.ts';
import { makeQwen2Config, qwen2ConfigToJsonText } from '../../../core/model/config.ts';
import { CONFIG_FILE } from '../../../core/model/modelDir.ts';
import {
  EMBED_TOKENS,
  FINAL_NORM,
  initQwen2Tensor,
  LM_HEAD,
  qwen2Parameters,
} from '../../../core/model/parameters.ts';
import { writeShardedSafetensors } from '../../../core/model/safetensorsShards.ts';
import { TINY_VOCAB_SIZE, writeTinyTokenizer } from '../../../core/model/tinyTokenizer.ts';
import { latestVerifiedCheckpoint, listCheckpointSteps, openStore } from '../../../core/store/index.ts';
import type { RunConfigInput } from '../../../core/config/run.ts';
import type { TrainingResult } from '../../../workflows/definitions.ts';
import { runWorkers, startHarness, tempStoreDir, uniqueQueues, type Harness } from './harness.ts';
import type { Role } from '../../../workers/workers.ts';

const TEST_TIMEOUT_MS = 300_000;
const SETTLE_MS = 1500;
const HIDDEN = 16;
/** The residual dimension the output layer reads, the offset every embedding puts there, and the weight. */
const DIM = 0;
const OFFSET = 30;
const DIGIT_WEIGHT = 2;
const DIGITS = Array.from({ length: 10 }, (_, d) => 48 + d); // bytes '0'..'9' are the tiny tokenizer's ids
const STEPS = 3;
const PROMPTS = 4;
const N = 4;

let h: Harness;
let modelDir: string;
before(async () => {
  h = await startHarness();
  modelDir = join(tempStoreDir(), 'digits-model');
  mkdirSync(modelDir, { recursive: true });
  const config = makeQwen2Config({
    vocabSize: TINY_VOCAB_SIZE,
    hiddenSize: HIDDEN,
    intermediateSize: 32,
    numHiddenLayers: 1,
    numAttentionHeads: 2,
    maxPositionEmbeddings: 512,
    tieWordEmbeddings: false,
    eosTokenId: [258],
  });
  writeFileSync(join(modelDir, CONFIG_FILE), qwen2ConfigToJsonText(config));
  writeShardedSafetensors(
    modelDir,
    qwen2Parameters(config).map((spec) => ({
      name: spec.name,
      shape: spec.shape,
      read: () => {
        const t = initQwen2Tensor(config, spec, 3);
        if (spec.name === EMBED_TOKENS)
          for (let v = 0; v < TINY_VOCAB_SIZE; v++) t[v * HIDDEN + DIM] = OFFSET;
        if (spec.name === FINAL_NORM) t.fill(1);
        if (spec.name === LM_HEAD) {
          t.fill(0);
          for (const d of DIGITS) t[d * HIDDEN + DIM] = DIGIT_WEIGHT;
        }
        return t;
      },
    })),
    { maxShardSize: '2GB', dtype: 'F32' },
  );
  writeTinyTokenizer(modelDir);
});
after(async () => {
  await h?.stop();
});

function refillConfig(runId: string, queues: Record<Role, string>): RunConfigInput {
  return {
    runId,
    seed: 5,
    steps: STEPS,
    model: { dir: modelDir },
    task: {
      kind: 'math',
      data: {
        source: 'synthetic',
        task: { kind: 'arithmetic', knobs: { digits: 1, terms: 2, ops: ['+'] } },
        size: 60,
      },
      reward: { kind: 'correctness', dynamicSampling: true, verifier: { lastNumberFallback: true } },
    },
    rollout: { promptsPerStep: PROMPTS, n: N, maxNewTokens: 1, maxRefillRounds: 4 },
    algorithm: { miniBatchSize: PROMPTS * N, microBatchSize: PROMPTS * N, optimizer: { lr: 1e-3 } },
    store: { url: tempStoreDir() },
    orchestration: { taskQueues: { rollout: queues.rollout, cpu: queues.cpu, trainer: queues.trainer } },
  } as RunConfigInput;
}

const uniqueRunId = (label: string) =>
  `${label}-${Date.now().toString(36)}-${Math.floor(Math.random() * 1e6)}`;

/** Per step: refill rounds, groups with signal, and the records' batch (groups kept, answers written). */
async function stepsOf(config: RunConfigInput) {
  const store = openStore(config.store.url);
  const history = await runMetricsHistory(store, config.runId);
  const out = [];
  for (let step = 1; step <= STEPS; step++) {
    const records = (await readStepRecords(store, config.runId, step))!;
    out.push({
      refillRounds: metricSeries(history, 'refillRounds').find((p) => p.x === step)?.y,
      groupsWithSignal: metricSeries(history, 'groupsWithSignal').find((p) => p.x === step)?.y,
      groups: records.prompts.map((p) => [p.group, p.kept]),
      answers: records.responses.map((r) => r.segments.map((s) => s.text).join('')),
      correct: records.responses.map((r) => r.correct),
    });
  }
  return out;
}

describe('dynamic sampling with refill on a real Temporal server', () => {
  it(
    'a batch that would lose groups samples more and ends full; a resumed run does the same',
    { timeout: TEST_TIMEOUT_MS },
    async () => {
      const queues = uniqueQueues('refill');
      const workers = await runWorkers(h, queues);
      try {
        const straight = refillConfig(uniqueRunId('refill'), queues);
        const done: TrainingResult = await h.client.workflow.execute('rlTraining', {
          taskQueue: queues.workflow,
          workflowId: straight.runId,
          args: [straight],
        });
        assert.equal(done.step, STEPS);
        const steps = await stepsOf(straight);
        console.log(
          `refill rounds, groups with signal per step: ${JSON.stringify(steps.map((s) => [s.refillRounds, s.groupsWithSignal]))}`,
        );
        for (const [i, s] of steps.entries()) {
          // The policy writes one digit per response, as built.
          assert.ok(
            s.answers.every((a) => /^\d$/.test(a)),
            `step ${i + 1} answers ${s.answers}`,
          );
          // Every step trains on promptsPerStep groups of n responses.
          assert.equal(s.groups.length, PROMPTS);
          assert.equal(s.answers.length, PROMPTS * N);
          // Its groups with signal are the batch, up to promptsPerStep of them (the rest, if rounds ran out,
          // are dropped groups that stay out of the loss).
          const kept = s.groups.filter(([, k]) => k).length;
          assert.equal(kept, Math.min(PROMPTS, s.groupsWithSignal!), `step ${i + 1}: ${JSON.stringify(s)}`);
          assert.ok(s.refillRounds !== undefined && s.refillRounds <= 4);
        }
        assert.ok(
          steps.some((s) => s.refillRounds! > 0 && s.groups.every(([, k]) => k)),
          `some step refilled a batch that would have lost groups until every group had signal: ${JSON.stringify(steps.map((s) => [s.refillRounds, s.groupsWithSignal]))}`,
        );
        // Refilled groups sit at the prompt coordinates of later rounds.
        assert.ok(
          steps.some((s) => s.groups.some(([g]) => (g as number) >= PROMPTS)),
          'a group from a refill round',
        );

        // Interrupted after step 1, then started again: the same rounds, batches and weights.
        const resumed = refillConfig(uniqueRunId('refill-resumed'), queues);
        resumed.store = straight.store; // the same store, another run id: the run id is not an RNG input
        const handle = await h.client.workflow.start('rlTraining', {
          taskQueue: queues.workflow,
          workflowId: resumed.runId,
          args: [resumed],
        });
        const store = openStore(resumed.store.url);
        const deadline = Date.now() + 120_000;
        while (
          (await listCheckpointSteps(store, resumed.runId)).withManifest.filter((s) => s >= 1).length === 0
        ) {
          assert.ok(Date.now() < deadline, 'step 1 was not checkpointed within 120 s');
          await new Promise((r) => setTimeout(r, 50));
        }
        await handle.terminate('test: interrupt mid-run');
        await new Promise((r) => setTimeout(r, SETTLE_MS));
        const interruptedAt = (await latestVerifiedCheckpoint(store, resumed.runId)).manifest!.step;
        const again: TrainingResult = await h.client.workflow.execute('rlTraining', {
          taskQueue: queues.workflow,
          workflowId: resumed.runId,
          args: [resumed],
        });
        assert.equal(again.step, STEPS);
        assert.ok(interruptedAt < STEPS, `interrupted after step ${interruptedAt}`);
        assert.equal(again.weightsSha256, done.weightsSha256);
        assert.deepEqual(await stepsOf(resumed), steps);
      } finally {
        await workers.stop();
      }
    },
  );
});
