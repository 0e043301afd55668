/**
 * `npm run length-task`: the demo's length experiment over several seeds, or with another teacher or
 * scale. On the embedded stack (as `npm start`): SFT on the habit teacher's long-addition traces, then
 * GRPO, the held-out set evaluated at the SFT model and every few GRPO steps (demo/configs.ts). Prints,
 * per evaluated step, held-out accuracy, mean response length, the reflection-word rate and the habit mix,
 * and per GRPO step the same read off the training rollouts; with several seeds, the summary with
 * intervals (demo/lengthSeeds.ts); writes them to DIR/length-task.json.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import type { Client } from '@temporalio/client';
import { WORKFLOW_TYPES } from '../client/workflowTypes.ts';
import { parseHabitRates } from '../core/data/habitTraces.ts';
import { openStore } from '../core/store/index.ts';
import { DEFAULT_DEMO, demoConfigs, type DemoOptions } from './configs.ts';
import { curveTable, heldOutCurve, trainingCurve } from './curves.ts';
import { withEmbeddedStack } from './embedded.ts';
import { seedsTable, type SeedRun } from './lengthSeeds.ts';
import { evaluate, followTraining, periodicEvaluations } from './pipeline.ts';
import { formatTable } from './report.ts';

const HELP = `usage: npm run length-task [-- --out DIR] [--sft-steps N] [--rl-steps N] [--eval-every N] [--digits N] [--threads N]
       [--seed N] [--seeds N] [--habits LIST]

SFT on long-addition traces that answer directly, work the columns or check them, then GRPO; prints held-out
accuracy, mean response length and reflection-word rate at the SFT model and every --eval-every GRPO steps.
  --out DIR        results and store (default .reasonloop/length-task)
  --sft-steps N    SFT optimizer steps (default ${DEFAULT_DEMO.sftSteps})
  --rl-steps N     GRPO steps (default ${DEFAULT_DEMO.rlSteps})
  --eval-every N   GRPO steps between held-out evaluations (default ${DEFAULT_DEMO.evalEvery})
  --digits N       digits of each operand (default ${DEFAULT_DEMO.digits})
  --threads N      onnxruntime threads per session (default ${DEFAULT_DEMO.threads})
  --seed N         first seed, added to every seed of the run (default ${DEFAULT_DEMO.seed})
  --seeds N        independent runs (seeds --seed … --seed + N − 1), side by side; with 2 or more, also
                   held-out accuracy and length at SFT and after GRPO: means with 95% t-intervals (default 1)
  --habits LIST    the teacher's rates as name=value pairs, e.g. directErrorRate=1,checked=0.2
                   (direct, checked, directErrorRate, workedErrorRate), each replacing the demo's
                   teacher's (${habitList(DEFAULT_DEMO.habits)})`;

function habitList(rates: object): string {
  return Object.entries(rates)
    .map(([k, v]) => `${k}=${v}`)
    .join(',');
}

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

/** One seed: SFT, its held-out evaluation, GRPO with its periodic evaluations, then the curves. */
/**
 * One seed: SFT, its sampled held-out evaluation, GRPO with its periodic evaluations, then the curves. The
 * demo's sampled evaluations only: the greedy ones and the random model's add time and no curve point.
 */
async function runSeed(client: Client, options: DemoOptions, log: (line: string) => void): Promise<SeedRun> {
  const configs = demoConfigs(options);
  const sampled = configs.evals.filter((e) => e.name.endsWith('-sampled'));
  const store = openStore(options.storeUrl);
  log(`sft (${options.sftSteps} steps, ${options.digits}-digit sums)`);
  await followTraining(client, WORKFLOW_TYPES.sftTraining, configs.sft.runId, configs.sft, 'sft', {});
  log('eval sft');
  const sftSummary = await evaluate(
    client,
    sampled.find((e) => e.stage === 'sft')!,
  );
  log(`grpo (${options.rlSteps} steps)`);
  await followTraining(client, WORKFLOW_TYPES.rlTraining, configs.rl.runId, configs.rl, 'grpo', {});
  log('waiting for the held-out evaluations');
  const periodic = await periodicEvaluations(client, configs.rl.runId, configs.curveSteps);
  const final = sampled.find((e) => e.stage === 'rl');
  const curve = [
    { step: 0, summary: sftSummary },
    ...periodic,
    ...(final ? [{ step: options.rlSteps, summary: await evaluate(client, final) }] : []),
  ];
  const heldOut = await heldOutCurve(store, curve);
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
  const d = DEFAULT_DEMO;
  const firstSeed = values.seed === undefined ? d.seed : nonNegative('seed', values.seed);
  const seeds = positive('seeds', values.seeds, 1);
  const prefix = `length-${new Date(started).toISOString().replace(/[-:]/g, '').replace('T', '-').slice(0, 15)}`;
  const base: DemoOptions = {
    ...d,
    prefix,
    storeUrl: join(out, 'store'),
    sftSteps: positive('sft-steps', values['sft-steps'], d.sftSteps),
    rlSteps: positive('rl-steps', values['rl-steps'], d.rlSteps),
    evalEvery: positive('eval-every', values['eval-every'], d.evalEvery),
    digits: positive('digits', values.digits, d.digits),
    threads: positive('threads', values.threads, d.threads),
    seed: firstSeed,
    ...(values.habits === undefined ? {} : { habits: parseHabitRates(values.habits, d.habits) }),
  };
  // Seed 0 alone keeps the documented run's ids; other seeds get their own.
  const seedOptions = Array.from({ length: seeds }, (_, i): DemoOptions => {
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
      const sampling = demoConfigs(run.options).rl.evaluation!.sampling!;
      const heldOutTitle = `seed ${run.seed} held-out: ${base.heldOutProblems} problems × ${sampling.samples}, T = ${sampling.temperature} (step 0: the SFT model)`;
      console.log(`\n${formatTable(curveTable(heldOutTitle, run.heldOut))}`);
      console.log(
        `\n${formatTable(curveTable(`seed ${run.seed} training rollouts, T = 1.0`, run.training))}`,
      );
    }
    if (runs.length >= 2) console.log(`\n${seedsTable(runs)}`);
    const configs = seedOptions.map((o) => demoConfigs(o));
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
