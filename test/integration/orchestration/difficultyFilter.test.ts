/**
 * difficultyFilter on the real dev server and S3 server: a tiny model on a small synthetic math set.
 * The pass-rate file agrees with the summary's counts and with an `evaluation` of the same model, seed
 * and sampling (records scored by evaluateModel, a separate path); the filtered dataset holds exactly the
 * problems inside the band and loads as a `file` data source; a second run returns the stored result.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, it } from 'node:test';
import { Worker } from '@temporalio/worker';
import {
  evaluateModel,
  filterShard,
  planDifficultyFilter,
  writeDifficultyFilter,
} from '../../../activities/index.ts';
import type { DifficultyFilterSummary } from '../../../core/data/difficulty.ts';
import type { EvaluationRecord, EvaluationSummary } from '../../../core/metrics/evaluation.ts';
import { filteredDataSource } from '../../../cli/commands/filter.ts';
import type { DifficultyFilterConfigInput } from '../../../core/config/difficultyFilter.ts';
import type { FilteredRow, PassRateRow } from '../../../core/data/difficulty.ts';
import { parseJsonl } from '../../../core/data/rows.ts';
import { loadTaskProblems } from '../../../core/data/splits.ts';
import { makeQwen2Config } from '../../../core/model/config.ts';
import { writeModelDir } from '../../../core/model/modelDir.ts';
import { EMBED_TOKENS, initQwen2Weights } from '../../../core/model/parameters.ts';
import { buildTinyTokenizer, TINY_VOCAB_SIZE } from '../../../core/model/tinyTokenizer.ts';
import { QwenTokenizer } from '../../../core/model/tokenizer.ts';
import { openStore } from '../../../core/store/index.ts';
import { capture } from '../../unit/cli/capture.ts';
import { runWorkers, startHarness, uniqueQueues, type Harness } from './harness.ts';

const TEST_TIMEOUT_MS = 300_000;
/** k: enough samples that a chance answerer's correct answers give pass rates strictly inside (0, 1). */
const SAMPLES = 16;
const PROBLEMS = 48;

let h: Harness;
before(async () => {
  h = await startHarness();
});
const tempDirs: string[] = [];
after(async () => {
  await h?.stop();
  for (const dir of tempDirs) rmSync(dir, { recursive: true, force: true });
});

const TASK = {
  kind: 'math' as const,
  data: {
    source: 'synthetic' as const,
    task: { kind: 'arithmetic' as const, knobs: { digits: 1, terms: 2, ops: ['+' as const] } },
    size: PROBLEMS,
    seed: 3,
  },
  prompt: { template: 'plain' as const },
  // A random model answers by chance: the last number of its (two-token) response is its answer.
  reward: { kind: 'correctness' as const, verifier: { lastNumberFallback: true } },
};

/** How much more the model leans toward digit tokens than toward any other byte (logit gap ≈ 5 × this). */
const DIGIT_LEAN = 0.8;

/**
 * A random tiny model nudged toward digits, so that it answers by chance often enough for pass rates
 * strictly inside (0, 1): dimension 0 of every embedding row (tied with the output layer) is 1, and
 * 1 + DIGIT_LEAN for the digits. Written as an HF directory: the `model.dir` path.
 */
function digitLeaningModelDir(): string {
  const config = makeQwen2Config({
    vocabSize: TINY_VOCAB_SIZE,
    hiddenSize: 32,
    intermediateSize: 64,
    numHiddenLayers: 1,
    numAttentionHeads: 2,
    maxPositionEmbeddings: 64,
    tieWordEmbeddings: true,
  });
  const weights = initQwen2Weights(config, 1);
  const tokenizer = buildTinyTokenizer();
  const digits = new Set(new QwenTokenizer(tokenizer).encode('0123456789'));
  const embed = weights.get(EMBED_TOKENS)!;
  for (let t = 0; t < config.vocabSize; t++) {
    embed[t * config.hiddenSize] = 1 + (digits.has(t) ? DIGIT_LEAN : 0);
  }
  const dir = mkdtempSync(join(tmpdir(), 'reasonloop-filter-model-'));
  tempDirs.push(dir);
  writeModelDir(dir, { config, weights, tokenizer });
  return dir;
}

const SAMPLING = { samples: SAMPLES, temperature: 1, maxNewTokens: 2 };

const text = (bytes: Uint8Array) => new TextDecoder().decode(bytes);

let MODEL: { dir: string };
before(() => {
  MODEL = { dir: digitLeaningModelDir() };
});

it(
  'keeps exactly the problems inside the band, agrees with evaluation, and reuses a finished result',
  { timeout: TEST_TIMEOUT_MS },
  async () => {
    const queues = uniqueQueues('filter');
    const id = `filter-${Date.now().toString(36)}`;
    const storeUrl = `s3://orchestration/${id}`;
    const config: DifficultyFilterConfigInput = {
      filterId: id,
      seed: 5,
      model: MODEL,
      task: TASK,
      sampling: SAMPLING,
      store: { url: storeUrl },
      // 16 problems per shard: the same generate batches as evaluateModel's, so the draws compare exactly.
      orchestration: { taskQueues: { rollout: queues.rollout, cpu: queues.cpu }, problemsPerShard: 16 },
    };
    const workflowWorker = await runWorkers(h, queues, ['workflow']);
    const common = { connection: h.nativeConnection, namespace: h.namespace };
    const rollout = await Worker.create({
      ...common,
      taskQueue: queues.rollout,
      activities: { filterShard, evaluateModel },
    });
    const cpu = await Worker.create({
      ...common,
      taskQueue: queues.cpu,
      activities: { planDifficultyFilter, writeDifficultyFilter },
    });
    const running = Promise.all([rollout.run(), cpu.run()]);
    try {
      const run = (workflowId: string): Promise<DifficultyFilterSummary> =>
        h.client.workflow.execute('difficultyFilter', {
          taskQueue: queues.workflow,
          workflowId,
          args: [config],
        });
      const t0 = Date.now();
      const summary = await run(`${id}-1`);
      const firstMs = Date.now() - t0;
      assert.equal(summary.total, PROBLEMS);
      assert.equal(summary.skippedRows, 0);
      assert.equal(summary.kept + summary.tooEasy + summary.tooHard, PROBLEMS);
      assert.ok(
        summary.kept >= 5 && summary.tooHard >= 5,
        `a mix of kept and too hard: ${JSON.stringify(summary)}`,
      );
      assert.equal(summary.reused, undefined);

      const store = openStore(storeUrl);
      const rates = parseJsonl(text(await store.get(summary.passRatesKey))).rows as unknown as PassRateRow[];
      const filtered = parseJsonl(text(await store.get(summary.filteredKey)))
        .rows as unknown as FilteredRow[];
      assert.deepEqual(
        rates.map((r) => r.index),
        [...Array(PROBLEMS).keys()],
      );
      for (const r of rates) {
        assert.equal(r.samples, SAMPLES);
        assert.equal(r.passRate, r.passes / SAMPLES);
        const expected = r.passes === 0 ? 'tooHard' : r.passes === SAMPLES ? 'tooEasy' : 'kept';
        assert.equal(r.difficulty, expected, `problem ${r.index}`);
      }
      const tally = (d: string) => rates.filter((r) => r.difficulty === d).length;
      assert.deepEqual(
        [summary.kept, summary.tooEasy, summary.tooHard],
        [tally('kept'), tally('tooEasy'), tally('tooHard')],
      );
      const inBand = rates.filter((r) => r.passes > 0 && r.passes < SAMPLES);
      assert.deepEqual(
        filtered,
        inBand.map(({ id: rowId, problem, answer }) => ({ id: rowId, problem, answer })),
      );

      // The same draws through evaluateModel: per-problem correct counts equal the pass counts.
      const evalSummary: EvaluationSummary = await h.client.workflow.execute('evaluation', {
        taskQueue: queues.workflow,
        workflowId: `${id}-eval`,
        args: [
          {
            evalId: `${id}-eval`,
            seed: 5,
            model: MODEL,
            task: TASK,
            sampling: SAMPLING,
            store: { url: storeUrl },
            orchestration: { taskQueue: queues.rollout },
          },
        ],
      });
      const records = JSON.parse(text(await store.get(evalSummary.key))) as EvaluationRecord[];
      const evalPasses = new Array<number>(PROBLEMS).fill(0);
      for (const rec of records) if (rec.correct) evalPasses[rec.problem]++;
      assert.deepEqual(
        rates.map((r) => r.passes),
        evalPasses,
      );

      // A second run, started by the CLI, returns the stored summary without sampling again; the
      // downloaded filtered file is a task's data as it stands.
      const dir = mkdtempSync(join(tmpdir(), 'reasonloop-filter-'));
      tempDirs.push(dir);
      const configPath = join(dir, 'filter.json');
      writeFileSync(configPath, JSON.stringify(config));
      const path = join(dir, 'filtered.jsonl');
      const t1 = Date.now();
      const cli = await capture([
        'filter',
        configPath,
        '--task-queue',
        queues.workflow,
        '--wait',
        '--download',
        path,
      ]);
      const secondMs = Date.now() - t1;
      assert.equal(cli.code, 0, cli.err);
      assert.match(cli.out, /\(stored result\)/);
      assert.match(cli.out, /equivalent: temporal workflow start --type difficultyFilter /);
      assert.ok(cli.out.includes(JSON.stringify(filteredDataSource(path))), cli.out);
      const workflowId = /\(workflow (\S+), run /.exec(cli.out)?.[1];
      assert.ok(workflowId, cli.out);
      const history = await h.client.workflow.getHandle(workflowId).fetchHistory();
      const scheduled = (history.events ?? [])
        .map((e) => e.activityTaskScheduledEventAttributes?.activityType?.name)
        .filter((n): n is string => n !== undefined && n !== null);
      assert.deepEqual(scheduled, ['planDifficultyFilter']);
      const again: DifficultyFilterSummary = await h.client.workflow.getHandle(workflowId).result();
      assert.deepEqual({ ...again, reused: undefined }, { ...summary, reused: undefined });
      assert.equal(again.reused, true);
      const loaded = await loadTaskProblems(filteredDataSource(path));
      assert.equal(loaded.skipped.count, 0);
      assert.deepEqual(
        loaded.problems.map((p) => ({ id: p.id, problem: p.problem, answer: p.answer })),
        filtered,
      );
      console.log(
        `difficultyFilter: first run ${firstMs} ms, reused ${secondMs} ms`,
        JSON.stringify(summary),
      );

      // Another band (inclusive [0, 0]: only the never-solved problems) reuses the stored pass counts.
      const band: DifficultyFilterSummary = await h.client.workflow.execute('difficultyFilter', {
        taskQueue: queues.workflow,
        workflowId: `${id}-3`,
        args: [{ ...config, minPassRate: 0, maxPassRate: 0 }],
      });
      assert.deepEqual(
        [band.kept, band.tooEasy, band.tooHard],
        [summary.tooHard, summary.kept + summary.tooEasy, 0],
      );
      assert.deepEqual(
        parseJsonl(text(await store.get(band.filteredKey))).rows,
        rates
          .filter((r) => r.passes === 0)
          .map(({ id: rowId, problem, answer }) => ({ id: rowId, problem, answer })),
      );
      const shardResults = ((await h.client.workflow.getHandle(`${id}-3`).fetchHistory()).events ?? [])
        .map((e) => e.activityTaskCompletedEventAttributes?.result?.payloads?.[0]?.data)
        .filter((d): d is Uint8Array => d instanceof Uint8Array)
        .map((d) => JSON.parse(text(d)) as { reused?: boolean; key?: string })
        .filter((r) => r.key?.includes('/shards/'));
      assert.equal(shardResults.length, PROBLEMS / 16);
      assert.ok(shardResults.every((r) => r.reused === true));
    } finally {
      rollout.shutdown();
      cpu.shutdown();
      await running;
      await workflowWorker.stop();
    }
  },
);
