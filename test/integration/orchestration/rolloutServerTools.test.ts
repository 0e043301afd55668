/**
 * Tool turns in an RL run sampled on a `reasonloop serve` process (rollout.engine.kind "openai"): a tiny
 * model fine-tuned for a few seconds on arithmetic solutions that call Python writes ```python blocks; a
 * two-step run of the math task with tools (python3 sandbox) samples on the server the same tokens, turn
 * by turn, as the same run in-process — each closed code block ends a request, the rollout worker's
 * sandbox runs it, the ```output block's tokens are appended marked not sampled, and the next request
 * continues from there — and, with algorithm.recomputeOldLogprobs, ends with the same weights bit for bit.
 */
import assert from 'node:assert/strict';
import { after, before, it } from 'node:test';
import { MockActivityEnvironment } from '@temporalio/testing';
import { prepareSft, sftSteps, type SftPlan } from '../../../activities/sft.ts';
import { TINY_VOCAB_SIZE } from '../../../core/model/tinyTokenizer.ts';
import { openStore } from '../../../core/store/index.ts';
import { closeSandboxes } from '../../../core/task/sandboxes.ts';
import {
  runWorkers,
  startHarness,
  tempStoreDir,
  tinyRunConfig,
  uniqueQueues,
  type Harness,
} from './harness.ts';
import { assertSameWeights, finalWeights, startServe, stepRecords, stopServers } from './serveProcesses.ts';

const TEST_TIMEOUT_MS = 600_000;
/** Enough for the format (a code block, then the answer): 0.9 tool calls a response at temperature 1. */
const SFT_STEPS = 150;

let h: Harness;
before(async () => {
  h = await startHarness();
});
after(async () => {
  stopServers();
  // The rollout worker's warm sandbox processes would keep this file's process alive.
  await closeSandboxes();
  await h?.stop();
});

const task = {
  kind: 'math' as const,
  data: {
    source: 'synthetic' as const,
    task: { kind: 'arithmetic' as const, knobs: { digits: 2, terms: 2, ops: ['+' as const] } },
    size: 200,
    seed: 5,
  },
  prompt: { template: 'plain' as const },
  reward: { kind: 'correctness' as const },
  tools: { backend: 'python3' as const, maxCalls: 2 },
};

/** A checkpoint that writes ```python blocks: SFT on the task's tool-using solutions. */
async function toolWritingCheckpoint(storeUrl: string, runId: string): Promise<void> {
  const sft = {
    runId,
    seed: 3,
    steps: SFT_STEPS,
    model: {
      init: {
        seed: 0,
        tokenizer: 'tinyBytes' as const,
        config: {
          vocabSize: TINY_VOCAB_SIZE,
          hiddenSize: 64,
          intermediateSize: 176,
          numHiddenLayers: 2,
          numAttentionHeads: 4,
          numKeyValueHeads: 2,
          maxPositionEmbeddings: 128,
          eosTokenId: [258],
        },
      },
    },
    task,
    sft: { batchSize: 16, checkpointEvery: SFT_STEPS, optimizer: { lr: 3e-3, weightDecay: 0 } },
    store: { url: storeUrl },
    orchestration: { intraOpThreads: 1 },
  };
  const env = new MockActivityEnvironment();
  const plan = (await env.run(prepareSft, sft)) as SftPlan;
  await env.run(sftSteps, { config: sft, fromStep: 0, toStep: SFT_STEPS, cursor: plan.cursor });
}

it(
  "openai engine with tool turns: the in-process run's tokens, tool output not sampled, and its weights",
  { timeout: TEST_TIMEOUT_MS },
  async () => {
    const queues = uniqueQueues('rollout-server-tools');
    const tag = Date.now().toString(36);
    const storeUrl = tempStoreDir();
    const store = openStore(storeUrl);
    const sftRun = `tools-sft-${tag}`;
    await toolWritingCheckpoint(storeUrl, sftRun);
    const workers = await runWorkers(h, queues);
    try {
      const config = (runId: string, engine?: unknown) => {
        const c = tinyRunConfig(runId, storeUrl, queues, {
          steps: 2,
          model: { checkpoint: { runId: sftRun, step: SFT_STEPS } },
          task,
        });
        return {
          ...c,
          rollout: { promptsPerStep: 4, n: 2, maxNewTokens: 80, shards: 1, ...(engine ? { engine } : {}) },
          algorithm: { ...c.algorithm, miniBatchSize: 8, microBatchSize: 8, recomputeOldLogprobs: true },
          orchestration: { ...c.orchestration, keepRollouts: true },
        };
      };
      const local = `tools-local-${tag}`;
      await h.client.workflow.execute('rlTraining', {
        taskQueue: queues.workflow,
        workflowId: local,
        args: [config(local)],
      });
      const url = await startServe([
        ...['--run', sftRun, '--step', String(SFT_STEPS), '--store', storeUrl],
        ...['--served-model-name', 'policy'],
      ]);
      const remote = `tools-remote-${tag}`;
      await h.client.workflow.execute('rlTraining', {
        taskQueue: queues.workflow,
        workflowId: remote,
        args: [
          config(remote, { kind: 'openai', endpoints: [{ url, model: 'policy' }], weightSync: 'reasonloop' }),
        ],
      });

      let inserted = 0;
      let responsesWithTools = 0;
      for (const step of [1, 2]) {
        const [a, b] = [await stepRecords(store, local, step), await stepRecords(store, remote, step)];
        assert.equal(b.length, 4 * 2);
        assert.deepEqual(
          b.map(({ logprobs: _l, ...r }) => r),
          a.map(({ logprobs: _l, ...r }) => r),
          `step ${step}: tokens, sampled flags, finish reasons`,
        );
        for (const r of b) {
          const notSampled = r.sampled.filter((s) => !s).length;
          inserted += notSampled;
          if (notSampled) responsesWithTools++;
          // What was not sampled has no log-prob of the sampler's.
          r.sampled.forEach((s, t) => s || assert.equal(r.logprobs[t], 0));
        }
      }
      console.error(
        `rollout server tools: ${responsesWithTools} of 16 responses had tool output inserted (${inserted} tokens not sampled)`,
      );
      assert.ok(responsesWithTools >= 4, `tool turns in ${responsesWithTools} of 16 responses`);
      const [wa, wb] = [await finalWeights(store, local), await finalWeights(store, remote)];
      assert.equal(wb.step, 2);
      assertSameWeights(wa.weights, wb.weights);
    } finally {
      await workers.stop();
    }
  },
);
