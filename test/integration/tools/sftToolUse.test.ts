/**
 * Tool use end to end through the real sandbox: a tiny model is fine-tuned (sftSteps) on solutions of
 * 4-digit multiplications that call Python and copy its output; evaluated with tool execution it gets the
 * products right, and in the paper's "code written but not run" arm (no output inserted) it mostly cannot.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { MockActivityEnvironment } from '@temporalio/testing';
import { evaluateModel } from '../../../activities/evaluateModel.ts';
import type { EvaluationSummary } from '../../../core/metrics/evaluation.ts';
import { prepareSft, sftSteps, type SftPlan, type SftStepsOutput } from '../../../activities/sft.ts';
import { closeSandboxes } from '../../../core/task/sandboxes.ts';
import { TINY_VOCAB_SIZE } from '../../../core/model/tinyTokenizer.ts';

/** Long enough for prompt + code block + output block + boxed answer of two 6-digit factors (≈ 120 tokens). */
const MAX_POSITIONS = 160;
const MAX_NEW_TOKENS = 110;
/** Copying the sandbox's output into the answer is the last thing the model learns (≈ 1,000 steps). */
const SFT_STEPS = 1000;
const CHUNK = 100;
const HELD_OUT = 24;
const TEST_TIMEOUT_MS = 15 * 60_000;

const store = mkdtempSync(join(tmpdir(), 'tool-sft-'));
after(async () => {
  // The warm sandbox processes of the evaluations would keep this test file's process alive.
  await closeSandboxes();
  rmSync(store, { recursive: true, force: true });
});
const env = new MockActivityEnvironment();

const data = {
  source: 'synthetic' as const,
  task: { kind: 'arithmetic' as const, knobs: { digits: 4, terms: 2, ops: ['*' as const] } },
  size: 4000,
  seed: 5,
};
const task = (execute: boolean, split: 'train' | 'heldOut' = 'train') => ({
  kind: 'math' as const,
  data: { ...data, split, heldOutSize: HELD_OUT },
  prompt: { template: 'plain' as const },
  reward: { kind: 'correctness' as const },
  tools: { backend: 'python3' as const, execute, maxCalls: 2 },
});

test(
  'SFT on tool-using solutions: right with the tool, mostly wrong without',
  { timeout: TEST_TIMEOUT_MS },
  async () => {
    const sft = {
      runId: 'tool-sft',
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
            maxPositionEmbeddings: MAX_POSITIONS,
            eosTokenId: [258],
          },
        },
      },
      task: task(true),
      sft: {
        batchSize: 16,
        checkpointEvery: CHUNK,
        optimizer: { lr: 3e-3, schedule: 'warmupCosine' as const, warmupSteps: 20, weightDecay: 0 },
      },
      store: { url: store },
      orchestration: { intraOpThreads: 2 },
    };
    const plan = (await env.run(prepareSft, sft)) as SftPlan;
    let cursor = plan.cursor;
    let out: SftStepsOutput | undefined;
    for (let from = 0; from < SFT_STEPS; from += CHUNK) {
      out = (await env.run(sftSteps, {
        config: sft,
        fromStep: from,
        toStep: from + CHUNK,
        cursor,
      })) as SftStepsOutput;
      cursor = out.cursor;
    }
    assert.ok(out!.metrics.lastLoss < 0.1, `SFT fits the solutions (loss ${out!.metrics.lastLoss})`);

    const evaluate = (execute: boolean) =>
      env.run(evaluateModel, {
        evalId: execute ? 'with-tool' : 'code-not-run',
        model: { checkpoint: { runId: 'tool-sft', step: SFT_STEPS } },
        task: task(execute, 'heldOut'),
        sampling: { temperature: 0, maxNewTokens: MAX_NEW_TOKENS },
        store: { url: store },
        orchestration: { intraOpThreads: 2 },
      }) as Promise<EvaluationSummary>;
    const withTool = await evaluate(true);
    const without = await evaluate(false);
    assert.ok(
      withTool.toolCallsPerResponse >= 0.9,
      `the model calls the tool (${withTool.toolCallsPerResponse}/response)`,
    );
    assert.ok(withTool.accuracy >= 0.75, `with the tool: ${withTool.accuracy}`);
    assert.ok(without.accuracy <= 0.25, `without running the code: ${without.accuracy}`);
    assert.equal(without.toolCallsPerResponse, 0, 'nothing ran in the "code written but not run" arm');
  },
);
