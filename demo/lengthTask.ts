/**
 * `npm run length-task`: does RL lengthen reasoning and raise accuracy on a task where length is a choice?
 * On the embedded stack (as `npm start`): SFT on the habit teacher's long-addition traces, then GRPO with
 * the demo's recipe, the held-out set evaluated at the SFT model and every few GRPO steps. Prints, per
 * evaluated step, held-out accuracy, mean response length, the reflection-word rate and the habit mix,
 * and per GRPO step the same read off the training rollouts; writes them to DIR/length-task.json.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import type { Client } from '@temporalio/client';
import { WORKFLOW_TYPES } from '../client/workflowTypes.ts';
import type { EvaluationRecord, EvaluationSummary } from '../core/metrics/evaluation.ts';
import { runMetricsHistory } from '../core/metrics/history.ts';
import { readStepRecords, recordText } from '../core/metrics/rolloutRecords.ts';
import { openStore } from '../core/store/index.ts';
import type { ObjectStore } from '../core/store/objectStore.ts';
import { withEmbeddedStack } from './embedded.ts';
import { parseHabitRates } from '../core/data/habitTraces.ts';
import { habitMix } from './lengthHabits.ts';
import { seedsTable, type CurvePoint, type SeedRun } from './lengthSeeds.ts';
import { DEFAULT_LENGTH_TASK, lengthTaskConfigs, type LengthTaskOptions } from './lengthTaskConfigs.ts';
import { evaluate, followTraining } from './pipeline.ts';
import { formatTable } from './report.ts';

const HELP = `usage: npm run length-task [-- --out DIR] [--sft-steps N] [--rl-steps N] [--eval-every N] [--digits N] [--threads N]
       [--seed N] [--seeds N] [--habits LIST]

SFT on long-addition traces that answer directly, work the columns or check them, then GRPO; prints held-out
accuracy, mean response length and reflection-word rate at the SFT model and every --eval-every GRPO steps.
  --out DIR        results and store (default .reasonloop/length-task)
  --sft-steps N    SFT optimizer steps (default ${DEFAULT_LENGTH_TASK.sftSteps})
  --rl-steps N     GRPO steps (default ${DEFAULT_LENGTH_TASK.rlSteps})
  --eval-every N   GRPO steps between held-out evaluations (default ${DEFAULT_LENGTH_TASK.evalEvery})
  --digits N       digits of each operand (default ${DEFAULT_LENGTH_TASK.digits})
  --threads N      onnxruntime threads per session (default ${DEFAULT_LENGTH_TASK.threads})
  --seed N         first seed, added to every seed of the run (default ${DEFAULT_LENGTH_TASK.seed})
  --seeds N        independent runs (seeds --seed … --seed + N − 1), side by side; with 2 or more, also
                   held-out accuracy and length at SFT and after GRPO: means with 95% t-intervals (default 1)
  --habits LIST    the teacher's rates as name=value pairs, e.g. directErrorRate=1,checked=0.2
                   (direct, checked, directErrorRate, workedErrorRate; default the teacher's own)`;

function nonNegative(name: string, text: string): number {
  const n = Number(text);
  if (!Number.isInteger(n) || n < 0)
    throw new Error(`--${name} must be a non-negative integer (got ${text})`);
  return n;
}

function positive(name: string, text: string | undefined, fallback: number): number {
  if (text === undefined) return fallback;
  const n = Number(text);
  if (!Number.isInteger(n) || n < 1) throw new Error(`--${name} must be a positive integer (got ${text})`);
  return n;
}

async function evaluationPoint(store: ObjectStore, step: number, s: EvaluationSummary): Promise<CurvePoint> {
  const records = JSON.parse(new TextDecoder().decode(await store.get(s.key))) as EvaluationRecord[];
  return { step, accuracy: s.accuracy, meanLength: s.meanLength, ...habitMix(records.map((r) => r.text)) };
}

/** The run's periodic evaluations (child workflows that outlive it), awaited. */
async function periodicEvaluations(client: Client, runId: string, steps: number[]) {
  return Promise.all(
    steps.map(async (step) => ({
      step,
      summary: (await client.workflow.getHandle(`${runId}-eval-${step}`).result()) as EvaluationSummary,
    })),
  );
}

async function trainingCurve(store: ObjectStore, runId: string): Promise<CurvePoint[]> {
  const points: CurvePoint[] = [];
  for (const h of await runMetricsHistory(store, runId)) {
    const records = await readStepRecords(store, runId, h.step);
    const texts = records?.responses.map(recordText) ?? [];
    const m = h.metrics;
    points.push({ step: h.step, accuracy: m.accuracy, meanLength: m.meanResponseLength, ...habitMix(texts) });
  }
  return points;
}

function curveTable(title: string, points: CurvePoint[]): string {
  const f = (x: number, d = 3) => x.toFixed(d);
  return formatTable({
    title,
    columns: ['step', 'accuracy', 'mean length', 'reflection rate', 'direct', 'worked', 'checked', 'other'],
    rows: points.map((p) => [
      String(p.step),
      f(p.accuracy),
      f(p.meanLength, 1),
      f(p.reflectionRate),
      f(p.direct),
      f(p.worked),
      f(p.checked),
      f(p.other),
    ]),
  });
}

/** One seed: SFT, its held-out evaluation, GRPO with its periodic evaluations, then the curves. */
async function runSeed(
  client: Client,
  options: LengthTaskOptions,
  log: (line: string) => void,
): Promise<SeedRun> {
  const configs = lengthTaskConfigs(options);
  const store = openStore(options.storeUrl);
  log(`sft (${options.sftSteps} steps, ${options.digits}-digit sums)`);
  await followTraining(client, WORKFLOW_TYPES.sftTraining, configs.sft.runId, configs.sft, 'sft', {});
  log('eval sft');
  const sftSummary = await evaluate(client, { name: 'sft', stage: 'sft', config: configs.sftEval });
  log(`grpo (${options.rlSteps} steps)`);
  await followTraining(client, WORKFLOW_TYPES.rlTraining, configs.rl.runId, configs.rl, 'grpo', {});
  const evalSteps = Array.from({ length: Math.floor(options.rlSteps / options.evalEvery) }, (_, i) => {
    return (i + 1) * options.evalEvery;
  });
  log('waiting for the held-out evaluations');
  const evals = await periodicEvaluations(client, configs.rl.runId, evalSteps);
  const heldOut = [
    await evaluationPoint(store, 0, sftSummary),
    ...(await Promise.all(evals.map((e) => evaluationPoint(store, e.step, e.summary)))),
  ];
  const training = await trainingCurve(store, configs.rl.runId);
  return { seed: options.seed, options, heldOut, training };
}

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: {
      out: { type: 'string' },
      'sft-steps': { type: 'string' },
      'rl-steps': { type: 'string' },
      'eval-every': { type: 'string' },
      digits: { type: 'string' },
      threads: { type: 'string' },
      seed: { type: 'string' },
      seeds: { type: 'string' },
      habits: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) {
    console.log(HELP);
    return 0;
  }
  const out = resolve(values.out ?? '.reasonloop/length-task');
  mkdirSync(out, { recursive: true });
  const started = Date.now();
  const d = DEFAULT_LENGTH_TASK;
  const firstSeed = values.seed === undefined ? d.seed : nonNegative('seed', values.seed);
  const seeds = positive('seeds', values.seeds, 1);
  const prefix = `length-${new Date(started).toISOString().replace(/[-:]/g, '').replace('T', '-').slice(0, 15)}`;
  const base: LengthTaskOptions = {
    ...d,
    prefix,
    storeUrl: join(out, 'store'),
    sftSteps: positive('sft-steps', values['sft-steps'], d.sftSteps),
    rlSteps: positive('rl-steps', values['rl-steps'], d.rlSteps),
    evalEvery: positive('eval-every', values['eval-every'], d.evalEvery),
    digits: positive('digits', values.digits, d.digits),
    threads: positive('threads', values.threads, d.threads),
    seed: firstSeed,
    ...(values.habits === undefined ? {} : { habits: parseHabitRates(values.habits) }),
  };
  // Seed 0 alone keeps the documented run's ids; other seeds get their own.
  const seedOptions = Array.from({ length: seeds }, (_, i): LengthTaskOptions => {
    const seed = firstSeed + i;
    return { ...base, seed, prefix: seed === 0 && seeds === 1 ? prefix : `${prefix}-s${seed}` };
  });
  const seconds = () => ((Date.now() - started) / 1000).toFixed(0);
  return withEmbeddedStack(join(out, 'temporal'), async ({ client }) => {
    // The seeds run side by side: the trainer takes one update at a time, the rollouts and evaluations of
    // one seed fill the gaps of another.
    const runs = await Promise.all(
      seedOptions.map((o) =>
        runSeed(client, o, (line) => console.log(`· seed ${o.seed}: ${line} (${seconds()} s)`)),
      ),
    );
    for (const run of runs) {
      const sampling = lengthTaskConfigs(run.options).sftEval.sampling!;
      const heldOutTitle = `seed ${run.seed} held-out: ${base.heldOutProblems} problems × ${sampling.samples}, T = ${sampling.temperature} (step 0: the SFT model)`;
      console.log(`\n${curveTable(heldOutTitle, run.heldOut)}`);
      console.log(`\n${curveTable(`seed ${run.seed} training rollouts, T = 1.0`, run.training)}`);
    }
    if (runs.length >= 2) console.log(`\n${seedsTable(runs)}`);
    const configs = seedOptions.map((o) => lengthTaskConfigs(o));
    writeFileSync(
      join(out, 'length-task.json'),
      JSON.stringify({ options: base, configs, runs }, null, 2) + '\n',
    );
    console.log(`\n${seconds()} s in all; ${join(out, 'length-task.json')}`);
    return 0;
  });
}

main().then(
  (code) => process.exit(code),
  (error) => {
    console.error(`length-task: ${(error as Error).message}`);
    process.exit(1);
  },
);
