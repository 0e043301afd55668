/**
 * The SFT activities (activities/sft.ts) and evaluateModel (activities/evaluateModel.ts) in a mock
 * activity context, on a tiny model and local folder stores: same seed → bit-identical weights whether the
 * run goes in one chunk, in two chunks warm, or in two chunks with the in-memory state reloaded from the
 * store; the metrics log; refusing a finished run; and an evaluation that is written once and reused.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { before, describe, it } from 'node:test';
import { MockActivityEnvironment } from '@temporalio/testing';
import { DefaultLogger } from '@temporalio/worker';
import { evaluateModel, summarize } from '../../../activities/evaluateModel.ts';
import type { EvaluationRecord, EvaluationSummary } from '../../../core/metrics/evaluation.ts';
import {
  prepareSft,
  sftSteps,
  traceRow,
  type SftPlan,
  type SftStepsOutput,
} from '../../../activities/sft.ts';
import { parseSftConfig } from '../../../core/config/sft.ts';
import { arithmeticTrace } from '../../../core/data/traces.ts';
import { extractCodeBlock, formatOutputBlock } from '../../../core/tools/protocol.ts';
import { buildTinyTokenizer } from '../../../core/model/tinyTokenizer.ts';
import { QwenTokenizer } from '../../../core/model/tokenizer.ts';
import type { Cursor } from '../../../activities/types.ts';
import { runMetricsHistory } from '../../../core/metrics/history.ts';
import { TINY_VOCAB_SIZE } from '../../../core/model/tinyTokenizer.ts';
import { latestVerifiedCheckpoint, openStore, padStep } from '../../../core/store/index.ts';

const STEPS = 4;

const DATA = {
  source: 'synthetic',
  task: { kind: 'arithmetic', knobs: { digits: 2, terms: 2, ops: ['+'] } },
  size: 24,
  seed: 5,
};

function sftConfig(storeUrl: string, runId: string, seed = 1) {
  return {
    runId,
    seed,
    steps: STEPS,
    model: {
      init: {
        seed: 3,
        config: {
          vocabSize: TINY_VOCAB_SIZE,
          hiddenSize: 16,
          intermediateSize: 32,
          numHiddenLayers: 1,
          numAttentionHeads: 2,
          maxPositionEmbeddings: 128,
        },
        tokenizer: 'tinyBytes',
      },
    },
    task: { kind: 'math', data: DATA, prompt: { template: 'plain' } },
    sft: {
      batchSize: 4,
      microBatchSize: 2,
      traceErrorRate: 0.25,
      checkpointEvery: 2,
      optimizer: { lr: 1e-2 },
    },
    store: { url: storeUrl },
  };
}

function tempStore(): string {
  return mkdtempSync(join(tmpdir(), 'reasonloop-sft-'));
}

/** Activities that are meant to fail here would log a warning each; only errors are shown. */
const env = new MockActivityEnvironment(undefined, { logger: new DefaultLogger('ERROR') });

async function prepare(config: unknown): Promise<SftPlan> {
  return (await env.run(prepareSft, config)) as SftPlan;
}

async function evaluate(config: unknown): Promise<EvaluationSummary> {
  return (await env.run(evaluateModel, config)) as EvaluationSummary;
}

async function chunk(
  config: unknown,
  fromStep: number,
  toStep: number,
  cursor: Cursor,
): Promise<SftStepsOutput> {
  return env.run(sftSteps, { config, fromStep, toStep, cursor });
}

async function weightsSha(storeUrl: string, runId: string, step: number): Promise<string> {
  const { manifest } = await latestVerifiedCheckpoint(openStore(storeUrl), runId);
  assert.equal(manifest?.step, step);
  const weights = manifest!.objects.find((o) => o.name === 'weights/model.safetensors');
  assert.ok(weights, 'no weights/model.safetensors in the manifest');
  return weights.sha256;
}

describe('sftSteps', () => {
  const storeA = tempStore();
  let oneChunk: SftStepsOutput;
  let initialSha: string;

  before(async () => {
    const plan = await prepare(sftConfig(storeA, 'sft-a'));
    assert.equal(plan.checkpointStep, 0);
    assert.equal(plan.totalSteps, STEPS);
    assert.equal(plan.checkpointEvery, 2);
    initialSha = await weightsSha(storeA, 'sft-a', 0);
    oneChunk = await chunk(sftConfig(storeA, 'sft-a'), 0, STEPS, plan.cursor);
  });

  it('trains: the weights change and the loss is finite', async () => {
    assert.equal(oneChunk.step, STEPS);
    assert.equal(oneChunk.weightsSha256, await weightsSha(storeA, 'sft-a', STEPS));
    assert.notEqual(oneChunk.weightsSha256, initialSha);
    assert.ok(
      Number.isFinite(oneChunk.metrics.loss) && oneChunk.metrics.loss > 0,
      String(oneChunk.metrics.loss),
    );
    for (const name of ['loss', 'lastLoss', 'lr', 'gradNorm', 'tokensPerStep']) {
      assert.ok(Number.isFinite(oneChunk.metrics[name]), `${name} = ${oneChunk.metrics[name]}`);
    }
    assert.equal(oneChunk.metrics.lr, 1e-2);
    // 4 steps of 4 rows: the cursor moved 16 problems into the 24-problem epoch.
    assert.deepEqual(oneChunk.cursor, { epoch: 0, position: 16, seed: 1 });
  });

  it('two chunks with the state reloaded from the store give bit-identical weights', async () => {
    const storeB = tempStore();
    const config = sftConfig(storeB, 'sft-b');
    const plan = await prepare(config);
    const first = await chunk(config, 0, 2, plan.cursor);
    // Another run in the same process takes the warm state, so the next chunk must reload step 2.
    const other = sftConfig(storeB, 'sft-other', 9);
    const otherPlan = await prepare(other);
    await chunk(other, 0, 1, otherPlan.cursor);
    const resumed = await prepare(config);
    assert.equal(resumed.checkpointStep, 2);
    assert.deepEqual(resumed.cursor, first.cursor);
    const second = await chunk(config, 2, STEPS, resumed.cursor);
    assert.equal(second.reloaded, true);
    assert.deepEqual(second.cursor, oneChunk.cursor);
    assert.equal(second.weightsSha256, oneChunk.weightsSha256);
    assert.equal(await weightsSha(storeB, 'sft-b', STEPS), await weightsSha(storeA, 'sft-a', STEPS));
    assert.equal(second.metrics.lastLoss, oneChunk.metrics.lastLoss);

    const history = await runMetricsHistory(openStore(storeB), 'sft-b');
    const reference = await runMetricsHistory(openStore(storeA), 'sft-a');
    assert.deepEqual(history, reference);
  });

  it('two chunks in one process (the warm state) give bit-identical weights', async () => {
    const storeC = tempStore();
    const config = sftConfig(storeC, 'sft-c');
    const plan = await prepare(config);
    const first = await chunk(config, 0, 2, plan.cursor);
    const second = await chunk(config, 2, STEPS, first.cursor);
    assert.equal(second.reloaded, false);
    assert.equal(second.weightsSha256, oneChunk.weightsSha256);
  });

  it('a different seed trains a different model', async () => {
    const storeD = tempStore();
    const config = sftConfig(storeD, 'sft-d', 2);
    const plan = await prepare(config);
    const out = await chunk(config, 0, STEPS, plan.cursor);
    assert.notEqual(out.weightsSha256, oneChunk.weightsSha256);
  });

  it('logs every step’s metrics', async () => {
    const history = await runMetricsHistory(openStore(storeA), 'sft-a');
    assert.deepEqual(
      history.map((h) => h.step),
      [1, 2, 3, 4],
    );
    for (const h of history) {
      assert.ok(
        Number.isFinite(h.metrics.loss) && h.metrics.loss > 0,
        `step ${h.step} loss ${h.metrics.loss}`,
      );
    }
    const mean = history.reduce((s, h) => s + h.metrics.loss, 0) / history.length;
    assert.ok(Math.abs(mean - oneChunk.metrics.loss) < 1e-9, `${mean} vs ${oneChunk.metrics.loss}`);
    assert.equal(history[3].metrics.loss, oneChunk.metrics.lastLoss);
  });

  it('refuses to start a finished run (0 steps) and a changed config', async () => {
    await assert.rejects(prepare(sftConfig(storeA, 'sft-a')), /would do 0 steps/);
    const changed = { ...sftConfig(storeA, 'sft-a'), steps: 8, sft: { batchSize: 2 } };
    await assert.rejects(prepare(changed), /different config/);
  });

  describe('evaluateModel on the run’s checkpoints', () => {
    const evalConfig = (step?: number) => ({
      evalId: 'held-out',
      model: { checkpoint: { runId: 'sft-a', ...(step === undefined ? {} : { step }) } },
      task: {
        kind: 'math',
        data: { ...DATA, split: 'heldOut', heldOutSize: 20 },
        prompt: { template: 'plain' },
      },
      sampling: { maxNewTokens: 12 },
      limit: 8,
      store: { url: storeA },
    });

    it('writes records and a summary for step 0, and returns that summary again without regenerating', async () => {
      const summary = await evaluate(evalConfig(0));
      // evals/<evalId>/<run>/<step>/<hash of the model and settings>/records.json
      assert.match(
        summary.key,
        new RegExp(`^evals/held-out/sft-a/${padStep(0)}/[0-9a-f]{12}/records\\.json$`),
      );
      const key = summary.key;
      assert.equal(summary.model, 'checkpoint:sft-a@0');
      assert.equal(summary.step, 0);
      assert.equal(summary.problems, 8);
      assert.equal(summary.samples, 1);
      for (const field of ['accuracy', 'passAtK', 'completionRatio'] as const) {
        assert.ok(summary[field] >= 0 && summary[field] <= 1, `${field} ${summary[field]}`);
      }
      assert.ok(summary.meanLength > 0 && summary.meanLength <= 12, String(summary.meanLength));
      assert.ok(summary.meanReward >= -2 && summary.meanReward <= 1, String(summary.meanReward));
      assert.ok(summary.lengthStd >= 0, String(summary.lengthStd));

      const store = openStore(storeA);
      const records = JSON.parse(new TextDecoder().decode(await store.get(key))) as EvaluationRecord[];
      assert.equal(records.length, 8);
      assert.deepEqual(
        records.map((r) => [r.problem, r.sample]),
        Array.from({ length: 8 }, (_, i) => [i, 0]),
      );
      const recomputed = summarize(records, 8);
      for (const [field, value] of Object.entries(recomputed)) {
        assert.equal(summary[field as keyof typeof recomputed], value, field);
      }

      const file = join(storeA, ...key.split('/'));
      const before = statSync(file);
      const again = await evaluate(evalConfig(0));
      assert.deepEqual(again, summary);
      const after = statSync(file);
      assert.equal(after.mtimeMs, before.mtimeMs);
      assert.equal(after.size, before.size);
    });

    it('without a step, evaluates the newest verified checkpoint', async () => {
      const summary = await evaluate(evalConfig());
      assert.equal(summary.model, `checkpoint:sft-a@${STEPS}`);
      assert.equal(summary.step, STEPS);
      assert.match(
        summary.key,
        new RegExp(`^evals/held-out/sft-a/${padStep(STEPS)}/[0-9a-f]{12}/records\\.json$`),
      );
    });

    it('never returns the results of other settings under the same evalId', async () => {
      const two = await evaluate({ ...evalConfig(0), limit: 2 });
      const four = await evaluate({ ...evalConfig(0), limit: 4 });
      assert.equal(two.problems, 2);
      assert.equal(four.problems, 4);
      assert.notEqual(two.key, four.key);
    });
  });
});

describe('traceRow', () => {
  const tokenizer = new QwenTokenizer(buildTinyTokenizer());
  const IM_END = 258;
  const problem = { id: 'p', problem: 'Compute $57 + 68$.', answer: '125' };

  it('is the prompt, then the worked solution and EOS; a careless teacher drops the carries', () => {
    const config = (traceErrorRate: number) => {
      const raw = sftConfig('/tmp/unused', 'r');
      return parseSftConfig({ ...raw, sft: { ...raw.sft, traceErrorRate } });
    };
    const row = traceRow(config(0), tokenizer, IM_END, problem, 3);
    assert.equal(tokenizer.decode(row.promptIds), 'Compute $57 + 68$.\n');
    assert.equal(row.responseIds.at(-1), IM_END);
    assert.equal(tokenizer.decode(row.responseIds.slice(0, -1)), arithmeticTrace(problem));
    assert.equal(
      tokenizer.decode(row.responseIds.slice(0, -1)),
      '<think>7+8=15 5+6+1=12</think>\\boxed{125}',
    );
    const careless = traceRow(config(1), tokenizer, IM_END, problem, 3);
    assert.equal(
      tokenizer.decode(careless.responseIds.slice(0, -1)),
      '<think>7+8=15 5+6=11</think>\\boxed{115}',
    );
    assert.deepEqual(careless.promptIds, row.promptIds);
  });

  it("on a longAddition task: the habit teacher's trace of (seed, index), the same rows for the same index", () => {
    const raw = sftConfig('/tmp/unused', 'r');
    const habits = { direct: 0, checked: 1, directErrorRate: 0, workedErrorRate: 1 };
    const longAddition = {
      source: 'synthetic',
      task: { kind: 'longAddition', knobs: { digits: 2, minCarries: 1 } },
      size: 8,
    };
    const config = parseSftConfig({
      ...raw,
      task: { ...raw.task, data: longAddition },
      sft: { ...raw.sft, habits },
    });
    const row = traceRow(config, tokenizer, IM_END, problem, 3);
    assert.equal(tokenizer.decode(row.promptIds), 'Compute $57 + 68$.\n');
    assert.equal(row.responseIds.at(-1), IM_END);
    assert.equal(
      tokenizer.decode(row.responseIds.slice(0, -1)),
      '<think>7+8=15 5+6=11 wait, verify: $57 + 68$.\n\n7+8=15 5+6+1=12</think>\\boxed{125}',
    );
    assert.deepEqual(traceRow(config, tokenizer, IM_END, problem, 3), row);
  });

  it('with tools: the code block, the output block as the sandbox formats it (out of the loss), the answer', () => {
    const config = (maskToolOutput: boolean) => {
      const raw = sftConfig('/tmp/unused', 'r');
      return parseSftConfig({
        ...raw,
        task: { ...raw.task, tools: { backend: 'python3' } },
        sft: { ...raw.sft, maskToolOutput },
      });
    };
    const row = traceRow(config(true), tokenizer, IM_END, problem, 3);
    const text = tokenizer.decode(row.responseIds.slice(0, -1));
    const inserted = formatOutputBlock({ stdout: '125\n', error: '' });
    assert.equal(text, `<think>\n\`\`\`python\nprint(57+68)\n\`\`\`\n${inserted}</think>\\boxed{125}`);
    assert.equal(extractCodeBlock(text.slice(0, text.indexOf(inserted))), 'print(57+68)');
    // Exactly the inserted block's tokens are out of the loss (the byte tokenizer: one token per byte).
    const start = tokenizer.encode(text.slice(0, text.indexOf(inserted))).length;
    const masked = row.lossMask!.flatMap((learn, i) => (learn ? [] : [i]));
    assert.deepEqual(
      masked,
      Array.from({ length: inserted.length }, (_, k) => start + k),
    );
    assert.equal(row.lossMask!.length, row.responseIds.length);
    const unmasked = traceRow(config(false), tokenizer, IM_END, problem, 3);
    assert.ok(
      unmasked.lossMask!.every(Boolean),
      'maskToolOutput: false learns the output too (as the paper)',
    );
    assert.deepEqual(unmasked.responseIds, row.responseIds);
  });
});

describe('summarize', () => {
  const record = (
    problem: number,
    sample: number,
    correct: boolean,
    tokens: number,
    finishReason: string,
    reward: number,
  ) => ({
    problem,
    sample,
    text: '',
    tokens,
    finishReason,
    correct,
    reward,
  });

  it('accuracy over responses, passAtK over problems, completion over responses', () => {
    const records: EvaluationRecord[] = [
      record(0, 0, true, 10, 'stop', 1),
      record(0, 1, false, 20, 'length', -1),
      record(1, 0, false, 30, 'stop', -2),
      record(1, 1, false, 40, 'stop', -1),
      record(2, 0, true, 50, 'stop', 1),
      record(2, 1, true, 60, 'length', 1),
    ];
    assert.deepEqual(summarize(records, 3), {
      problems: 3,
      accuracy: 3 / 6,
      passAtK: 2 / 3,
      meanLength: 35,
      // Population standard deviation of 10, 20, …, 60.
      lengthStd: Math.sqrt((25 ** 2 + 15 ** 2 + 5 ** 2) / 3),
      completionRatio: 4 / 6,
      meanReward: -1 / 6,
    });
  });

  it('a problem with no records counts as unsolved; no records at all gives zeros', () => {
    assert.equal(summarize([record(0, 0, true, 1, 'stop', 1)], 4).passAtK, 1 / 4);
    assert.deepEqual(summarize([], 0), {
      problems: 0,
      accuracy: 0,
      passAtK: 0,
      meanLength: 0,
      lengthStd: 0,
      completionRatio: 0,
      meanReward: 0,
    });
  });
});
