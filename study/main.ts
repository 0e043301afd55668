/**
 * `npm run study [-- --quick] [--task T] [--parallel N] [--out DIR]`: the STILL-3 factor study at CPU scale
 * on the embedded stack. Trains the task's SFT model once (study/tasks.ts: the 2-digit recipe's by
 * default, or the demo's long addition), runs every arm (× seeds) as rlTraining workflows from it,
 * evaluates each on the held-out problems, and writes an HTML report, results.json and a Markdown summary
 * (the README quotes the default task's).
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { WORKFLOW_TYPES } from '../client/workflowTypes.ts';
import { withEmbeddedStack } from '../demo/embedded.ts';
import { evaluate, followTraining } from '../demo/pipeline.ts';
import { writeReport } from '../core/metrics/report.ts';
import { openStore } from '../core/store/index.ts';
import { FULL_SCALE, QUICK_SCALE, toolSftConfig } from './arms.ts';
import { lengthStrategiesTable, rraCheck } from './lengthStrategies.ts';
import { markdownTable, findingsTable, armsTable, studyReport, type StudyResults } from './report.ts';
import { armRuns, reflectionRateOf, runArms, seedResult, stageEvals } from './run.ts';
import type { SeedResult } from './stats.ts';
import { DEFAULT_STUDY_TASK, parseStudyTask, STUDY_TASKS, studyStages } from './tasks.ts';

const HELP = `usage: npm run study [-- --quick] [--task T] [--parallel N] [--out DIR] [--seeds N] [--steps N] [--arms a,b]

  --quick        every arm once with ${QUICK_SCALE.steps} GRPO steps (CI); default: ${FULL_SCALE.seeds} seeds × ${FULL_SCALE.steps} steps
  --task T       the task every arm runs on: ${STUDY_TASKS.join(' or ')} (default ${DEFAULT_STUDY_TASK}; long-addition
                 is the demo's, where response length is a choice of habit: study/tasks.ts)
  --parallel N   arms run at the same time (default 2)
  --out DIR      report, results and store (default .reasonloop/study, or .reasonloop/study-<task> for another task)
  --arms a,b     only these arms (ids as in study/arms.ts; the report leaves the others' findings without data)`;

function positive(name: string, text: string | undefined, fallback: number): number {
  if (text === undefined) return fallback;
  const n = Number(text);
  if (!Number.isInteger(n) || n < 1) throw new Error(`--${name} must be a positive integer (got ${text})`);
  return n;
}

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: {
      quick: { type: 'boolean' },
      task: { type: 'string' },
      parallel: { type: 'string' },
      out: { type: 'string' },
      seeds: { type: 'string' },
      steps: { type: 'string' },
      arms: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) {
    console.log(HELP);
    return 0;
  }
  const preset = values.quick ? QUICK_SCALE : FULL_SCALE;
  const scale = {
    seeds: positive('seeds', values.seeds, preset.seeds),
    steps: positive('steps', values.steps, preset.steps),
  };
  const parallel = positive('parallel', values.parallel, 2);
  const task = parseStudyTask(values.task);
  const taskFlag = task === DEFAULT_STUDY_TASK ? '' : ` --task ${task}`;
  // Another task's results go beside the default's, not over them.
  const out = resolve(
    values.out ?? (task === DEFAULT_STUDY_TASK ? '.reasonloop/study' : `.reasonloop/study-${task}`),
  );
  mkdirSync(out, { recursive: true });
  const started = Date.now();
  const prefix = `study-${new Date(started).toISOString().replace(/[-:]/g, '').replace('T', '-').slice(0, 15)}`;
  const storeUrl = join(out, 'store');
  const recipe = studyStages(task, { prefix, storeUrl });
  const runs = armRuns(
    recipe,
    scale,
    prefix,
    values.arms?.split(',').map((a) => a.trim()),
  );
  const command = `npm run study --${values.quick ? ' --quick' : ''}${taskFlag} --seeds ${scale.seeds} --steps ${scale.steps}${values.arms ? ` --arms ${values.arms}` : ''}`;

  return withEmbeddedStack(join(out, 'temporal'), async ({ client, address, uiUrl }) => {
    console.log(`Temporal ${address}${uiUrl ? `  ·  Web UI ${uiUrl}` : ''}`);
    console.log(
      `study on ${task}: ${runs.length} arm runs (${scale.seeds} seed(s) × ${runs.length / scale.seeds} arms), ${scale.steps} GRPO steps each, ${parallel} at a time`,
    );
    console.log(`· sft (${recipe.sft.steps} steps, shared by every arm)`);
    await followTraining(client, WORKFLOW_TYPES.sftTraining, recipe.sft.runId, recipe.sft, 'sft', {});
    if (runs.some((r) => r.arm.sft === 'tools')) {
      const toolSft = toolSftConfig(recipe);
      console.log(`· sft with the Python tool (${toolSft.steps} steps, for the tool arm)`);
      await followTraining(client, WORKFLOW_TYPES.sftTraining, toolSft.runId, toolSft, 'sft', {});
    }
    const sftSummaries = await Promise.all(stageEvals(recipe, 'sft').map((e) => evaluate(client, e)));
    const [, sftSampled, sftT1] = sftSummaries;
    const store = openStore(storeUrl);
    const sftReflection = await Promise.all([
      reflectionRateOf(store, sftSampled),
      reflectionRateOf(store, sftT1),
    ] as const);
    const sft = seedResult(0, sftSummaries, sftReflection);
    console.log(
      `  sft: accuracy ${sft.accuracy.toFixed(3)} (T=0.6), ${fmtT1(sft)} (T=1.0), ${sft.greedyAccuracy.toFixed(3)} (greedy), length ${sft.meanLength.toFixed(1)}, reflection rate ${sft.reflectionRate.toFixed(3)}`,
    );
    const outcomes = await runArms(client, recipe, runs, parallel, (o, done, total) =>
      console.log(
        `  [${done}/${total}] ${o.arm} seed ${o.seed}: accuracy ${o.result.accuracy.toFixed(3)} (T=1.0: ${fmtT1(o.result)}), length ${o.result.meanLength.toFixed(1)} (T=1.0: ${o.result.meanLengthT1?.toFixed(1)}), reflection rate ${o.result.reflectionRate.toFixed(3)} (${o.seconds.toFixed(0)} s)`,
      ),
    );
    const arms: Record<string, SeedResult[]> = {};
    for (const o of outcomes) (arms[o.arm] ??= []).push(o.result);
    const results: StudyResults = {
      task,
      scale,
      command,
      sftSteps: recipe.sft.steps,
      sft,
      arms,
      totalSeconds: (Date.now() - started) / 1000,
    };
    const reportPath = writeReport(join(out, 'report.html'), studyReport(results, new Date().toISOString()));
    writeFileSync(join(out, 'results.json'), JSON.stringify({ ...results, outcomes }, null, 2) + '\n');
    const md = [
      `Made by \`${command}\` in ${(results.totalSeconds / 60).toFixed(1)} min on this machine.`,
      '',
      markdownTable(findingsTable(results)),
      '',
      markdownTable(armsTable(results)),
      '',
      markdownTable(lengthStrategiesTable(results)),
      '',
      rraCheck(results),
      '',
    ].join('\n');
    writeFileSync(join(out, 'summary.md'), md);
    console.log(`\n${md}`);
    console.log(`report: ${reportPath}`);
    return 0;
  });
}

function fmtT1(s: SeedResult): string {
  return s.accuracyT1 === undefined ? '—' : s.accuracyT1.toFixed(3);
}

main().then(
  (code) => process.exit(code),
  (error) => {
    console.error(`study: ${(error as Error).message}`);
    process.exit(1);
  },
);
