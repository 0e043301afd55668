/**
 * `npm start`: the whole system on one machine, no GPU, no cloud. Starts a Temporal dev server (built once
 * with `go install` when missing) with its Web UI, the workers in-process, and a local folder store (or
 * the store named by --store / REASONLOOP_DEMO_STORE, e.g. an s3:// URL with AWS_* credentials); then runs
 * SFT → GRPO → held-out evaluations as workflows (demo/configs.ts), prints the results tables and the
 * before/after line — held-out accuracy, mean length and reflection rate after SFT and after GRPO — and
 * writes an HTML report.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { resolve, join } from 'node:path';
import { parseArgs } from 'node:util';
import { progressBar } from '../client/runs.ts';
import { runMetricsHistory } from '../core/metrics/history.ts';
import { writeReport } from '../core/metrics/report.ts';
import { writeRolloutBrowsers } from '../core/metrics/rolloutBrowser.ts';
import { openStore } from '../core/store/index.ts';
import type { TrainingStatus } from '../workflows/definitions.ts';
import { withEmbeddedStack } from './embedded.ts';
import { DEFAULT_DEMO, demoConfigs, type DemoOptions } from './configs.ts';
import { heldOutCurve, lengthChangePercent, trainingCurve, type CurvePoint } from './curves.ts';
import { runPipeline } from './pipeline.ts';
import { demoReport, evaluationTable, formatTable, heldOutTable } from './report.ts';

const HELP = `usage: npm start [-- --out DIR] [--store URL] [--sft-steps N] [--rl-steps N] [--threads N]

Runs the embedded demo: a tiny Qwen2 → SFT on 2-digit sums from a teacher that answers directly (always
wrong), works the columns or checks them → GRPO → held-out evaluation, each stage a Temporal workflow.
Prints held-out accuracy, mean response length and reflection-word rate after SFT and after GRPO.
  --out DIR        where the report, results and (by default) the store go (default .reasonloop/demo)
  --store URL      object store for checkpoints (default DIR/store; s3://bucket/prefix uses AWS_* variables)
  --sft-steps N    SFT optimizer steps (default ${DEFAULT_DEMO.sftSteps})
  --rl-steps N     GRPO steps (default ${DEFAULT_DEMO.rlSteps})
  --threads N      onnxruntime threads per session (default ${DEFAULT_DEMO.threads})`;

function positive(name: string, text: string | undefined, fallback: number): number {
  if (text === undefined) return fallback;
  const n = Number(text);
  if (!Number.isInteger(n) || n < 1) throw new Error(`--${name} must be a positive integer (got ${text})`);
  return n;
}

/** The line the demo ends on (and its test reads): the held-out curve's first and last points. */
function beforeAfterLine(heldOut: readonly CurvePoint[]): string {
  const [sft, rl] = [heldOut[0], heldOut[heldOut.length - 1]];
  const change = lengthChangePercent(heldOut);
  return (
    `held-out after SFT → after GRPO (T = 0.6): accuracy ${sft.accuracy.toFixed(3)} → ${rl.accuracy.toFixed(3)}, ` +
    `mean length ${sft.meanLength.toFixed(1)} → ${rl.meanLength.toFixed(1)} tokens (${change >= 0 ? '+' : ''}${change.toFixed(1)}%), ` +
    `reflection rate ${sft.reflectionRate.toFixed(3)} → ${rl.reflectionRate.toFixed(3)}`
  );
}

function stamp(d: Date): string {
  return d.toISOString().replace(/[-:]/g, '').replace('T', '-').slice(0, 15);
}

/** A progress line per training stage: redrawn in place on a terminal, every ~10% otherwise. */
function progressPrinter(): (stage: string, s: TrainingStatus) => void {
  let lastTenth = -1;
  let lastStage = '';
  return (stage, s) => {
    if (stage !== lastStage) [lastStage, lastTenth] = [stage, -1];
    if (s.totalSteps === 0) return; // still preparing: nothing to draw yet
    const m = s.lastMetrics;
    const detail =
      stage === 'sft'
        ? m.loss !== undefined
          ? `loss ${m.loss.toFixed(3)}`
          : ''
        : m.accuracy !== undefined
          ? `accuracy ${m.accuracy.toFixed(3)}  reward ${m.meanTaskReward.toFixed(3)}`
          : '';
    const text = `${stage.padEnd(4)} ${progressBar(s.step, s.totalSteps, 30)} ${s.phase.padEnd(13)} ${detail}`;
    if (process.stdout.isTTY) {
      process.stdout.write(`\r${text.padEnd(process.stdout.columns ? process.stdout.columns - 1 : 100)}`);
      if (s.step >= s.totalSteps) process.stdout.write('\n');
    } else {
      const tenth = Math.floor((10 * s.step) / Math.max(1, s.totalSteps));
      if (tenth !== lastTenth) {
        lastTenth = tenth;
        console.log(text);
      }
    }
  };
}

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: {
      out: { type: 'string' },
      store: { type: 'string' },
      'sft-steps': { type: 'string' },
      'rl-steps': { type: 'string' },
      threads: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) {
    console.log(HELP);
    return 0;
  }
  const out = resolve(values.out ?? '.reasonloop/demo');
  mkdirSync(out, { recursive: true });
  const started = new Date();
  const options: DemoOptions = {
    ...DEFAULT_DEMO,
    prefix: `demo-${stamp(started)}`,
    storeUrl: values.store ?? process.env.REASONLOOP_DEMO_STORE ?? join(out, 'store'),
    sftSteps: positive('sft-steps', values['sft-steps'], DEFAULT_DEMO.sftSteps),
    rlSteps: positive('rl-steps', values['rl-steps'], DEFAULT_DEMO.rlSteps),
    threads: positive('threads', values.threads, DEFAULT_DEMO.threads),
  };
  const configs = demoConfigs(options);
  for (const [name, config] of [
    ['sft', configs.sft],
    ['rl', configs.rl],
  ] as const) {
    writeFileSync(join(out, `${options.prefix}-${name}.json`), JSON.stringify(config, null, 2) + '\n');
  }

  return withEmbeddedStack(join(out, 'temporal'), async ({ client, address, uiUrl }) => {
    console.log(`Temporal ${address}${uiUrl ? `  ·  Web UI ${uiUrl} (watch the workflows there)` : ''}`);
    console.log(`store ${options.storeUrl}  ·  runs ${configs.sft.runId}, ${configs.rl.runId}`);
    const result = await runPipeline(client, configs, {
      onStatus: progressPrinter(),
      onStage: (stage) => console.log(`· ${stage}`),
    });
    const store = openStore(options.storeUrl);
    const histories = {
      sft: await runMetricsHistory(store, configs.sft.runId),
      rl: await runMetricsHistory(store, configs.rl.runId),
    };
    const generatedAt = new Date().toISOString();
    // What the GRPO run wrote at each step, browsable from the report.
    const links = await writeRolloutBrowsers(
      store,
      [configs.rl.runId],
      join(out, 'report.html'),
      generatedAt,
    );
    const curves = {
      heldOut: await heldOutCurve(store, result.curve),
      training: await trainingCurve(store, configs.rl.runId),
    };
    const report = demoReport(result, histories, curves, generatedAt, links);
    const reportPath = writeReport(join(out, 'report.html'), report);
    writeFileSync(
      join(out, 'results.json'),
      JSON.stringify({ ...result, histories, curves }, null, 2) + '\n',
    );
    const greedy = (s: string) => result.evals.find((e) => e.name === `${s}-greedy`)!.summary.accuracy;
    console.log(`\n${formatTable(evaluationTable(result, curves))}\n`);
    console.log(`${formatTable(heldOutTable(result, curves))}\n`);
    const total = (Date.now() - started.getTime()) / 1000;
    console.log(beforeAfterLine(curves.heldOut));
    // Greedy decoding follows the teacher's most common habit, right already after SFT: printed for the
    // record, while the sampled line above is the one GRPO moves.
    console.log(
      `held-out greedy accuracy: base ${greedy('base').toFixed(3)}, after SFT ${greedy('sft').toFixed(3)}, ` +
        `after GRPO ${greedy('rl').toFixed(3)}; ${total.toFixed(0)} s in all`,
    );
    console.log(`report: ${reportPath}`);
    return 0;
  });
}

main().then(
  (code) => process.exit(code),
  (error) => {
    console.error(`demo: ${(error as Error).message}`);
    process.exit(1);
  },
);
