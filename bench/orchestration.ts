/**
 * `npm run bench:orchestration`: what durable orchestration costs per RL step. A 10-step rlTraining run
 * with the local folder store on a private Temporal dev server (infra/'s settings), the workers of
 * workers/workers.ts in this process; every activity execution is timed inside the worker, and the
 * overhead is the step's wall time minus the time some activity was computing
 * (bench/orchestration/timing.ts). Two sizes: the tests' tiny model, then the demo's, each step in separate
 * activities; then the demo's with orchestration.fusedStep (a step after sampling in one trainer
 * activity). Prints, as the last line (the demo size, fused, beside the separate activities' figure),
 * {"bench":"orchestration","stepMs":…,"overheadMs":…,"overheadPct":…,"separateOverheadPct":…}. Targets:
 * overheadPct ≤ 2 at the demo size, ≤ 50 ms per activity hop. Options (bench/orchestration/options.ts):
 * `--sizes tiny,demo,demo-fused` runs some sizes only (the last line needs both demo runs);
 * `--sqlite-defaults` starts the server with SQLite's own pragmas instead of infra/'s.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { availableParallelism, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client, Connection } from '@temporalio/client';
import {
  bundleWorkflowCode,
  DefaultLogger,
  NativeConnection,
  Runtime,
  Worker,
  type ActivityInterceptorsFactory,
  type WorkflowBundle,
} from '@temporalio/worker';
import { WORKFLOW_TYPES } from '../client/workflowTypes.ts';
import { startTemporalDevServer } from '../infra/stack.ts';
import type { TrainingResult } from '../workflows/definitions.ts';
import { createWorkers, WORKFLOWS_PATH } from '../workers/workers.ts';
import { pauseMsWithin, recordGcPauses } from './orchestration/gcPauses.ts';
import { hopBreakdown, hopSegments, type HopBreakdown, type HopSegments } from './orchestration/history.ts';
import { trivialHop } from './orchestration/referenceHop.ts';
import { persistenceBetween, readPersistence } from './orchestration/serverMetrics.ts';
import { activityTiming, orchestrationTiming, type ActivitySpan } from './orchestration/timing.ts';
import { DEMO, DEMO_FUSED, TINY, type Workload } from './orchestration/workloads.ts';
import { benchOptions } from './orchestration/options.ts';

/** The issue's targets. */
const MAX_OVERHEAD_PCT_AT_DEMO_SIZE = 2;
const MAX_HOP_MS = 50;

const quiet = { log() {}, trace() {}, debug() {}, info() {}, warn() {}, error() {} };

/**
 * createWorkers builds exactly the workers a deployment runs (roles, activities, concurrency); the bench
 * adds its timing interceptor to every worker created while `use` runs, rather than keeping a copy of
 * that layout.
 */
async function withInterceptor<T>(
  interceptor: ActivityInterceptorsFactory,
  use: () => Promise<T>,
): Promise<T> {
  const create = Worker.create;
  Worker.create = (options) =>
    create.call(Worker, {
      ...options,
      interceptors: {
        ...options.interceptors,
        activity: [...(options.interceptors?.activity ?? []), interceptor],
      },
    });
  try {
    return await use();
  } finally {
    Worker.create = create;
  }
}

/** One run of `workload` on its own task queues, with every activity timed. */
async function timeRun(
  workload: Workload,
  connection: NativeConnection,
  client: Client,
  bundle: WorkflowBundle,
  storeUrl: string,
): Promise<{
  spans: ActivitySpan[];
  server: HopBreakdown;
  segments: Record<string, HopSegments & { hops: number }>;
}> {
  const base = `bench-orch-${workload.name}-${Date.now().toString(36)}`;
  const queues = {
    workflow: `${base}-wf`,
    rollout: `${base}-rollout`,
    cpu: `${base}-cpu`,
    trainer: `${base}-trainer`,
  };
  const spans: ActivitySpan[] = [];
  const workers = await withInterceptor(
    activityTiming((s) => void spans.push(s)),
    () => createWorkers({ connection, namespace: 'default', queues, workflowBundle: { code: bundle.code } }),
  );
  const running = Promise.all(workers.map((w) => w.run()));
  const config = workload.config(base, storeUrl, {
    rollout: queues.rollout,
    cpu: queues.cpu,
    trainer: queues.trainer,
  });
  try {
    const run = await client.workflow.start(WORKFLOW_TYPES.rlTraining, {
      taskQueue: queues.workflow,
      workflowId: base,
      args: [config],
    });
    const result: TrainingResult = await run.result();
    if (result.step !== config.steps)
      throw new Error(`${workload.name}: the run ended at step ${result.step}`);
    const history = await run.fetchHistory();
    return {
      spans,
      server: hopBreakdown(history),
      segments: hopSegments(history, spans, performance.timeOrigin),
    };
  } finally {
    for (const w of workers) w.shutdown();
    await running;
  }
}

const round = (x: number, digits = 1) => Math.round(x * 10 ** digits) / 10 ** digits;

const options = benchOptions(process.argv.slice(2));
Runtime.install({ logger: new DefaultLogger('ERROR') });
const cores = availableParallelism();
const server = await startTemporalDevServer(options.sqliteDefaults ? { sqlitePragmas: {} } : {});
const storeDir = await mkdtemp(join(tmpdir(), 'reasonloop-bench-orch-'));
const connection = await NativeConnection.connect({ address: server.address });
const clientConnection = await Connection.connect({ address: server.address });
try {
  const client = new Client({ connection: clientConnection });
  const bundle = await bundleWorkflowCode({ workflowsPath: WORKFLOWS_PATH, logger: quiet });
  const timings = new Map<Workload['name'], ReturnType<typeof orchestrationTiming>>();
  for (const workload of [TINY, DEMO, DEMO_FUSED].filter((w) => options.sizes.includes(w.name))) {
    const load = loadavg()[0];
    // Just before the run, on the same server: what a hop costs with nothing in the activities.
    const floor = await trivialHop(connection, client);
    const floorMs = floor.hopMs;
    const gc = recordGcPauses();
    const persistedBefore = await readPersistence(server.metricsPort);
    const { spans, server: s, segments } = await timeRun(workload, connection, client, bundle, storeDir);
    const persisted = persistenceBetween(persistedBefore, await readPersistence(server.metricsPort));
    gc.stop();
    const t = orchestrationTiming(spans);
    const gcMsPerHop = pauseMsWithin(gc.pauses, t.gaps) / t.hops;
    console.log(
      `${workload.name}: ${workload.describe}\n` +
        `  ${t.steps} steps: ${round(t.stepMs)} ms/step, compute ${round(t.computeMs)} ms, overhead ` +
        `${round(t.overheadMs)} ms (${round(t.overheadPct, 2)}%); ${round(t.hops / t.steps, 1)} hops/step, ` +
        `hop mean ${round(t.hopMs)} ms, median ${round(t.medianHopMs)} ms, max ${round(t.maxHopMs)} ms ` +
        `(target ≤ ${MAX_HOP_MS} ms); a trivial activity's hop ${round(floorMs)} ms (bench:hops' ` +
        `workflow, same server, just before); 1-min load ${load.toFixed(1)} on ${cores} cores\n` +
        `  server's history: ${s.activities} activities, activity schedule-to-start ` +
        `${round(s.activityScheduleToStartMs)} ms, workflow task schedule-to-start ` +
        `${round(s.workflowTaskScheduleToStartMs)} ms, workflow task ${round(s.workflowTaskRunMs)} ms ` +
        `(the trivial workflow's: ${round(floor.server.activityScheduleToStartMs)}, ` +
        `${round(floor.server.workflowTaskScheduleToStartMs)}, ${round(floor.server.workflowTaskRunMs)} ms); workflow task timeouts ${s.workflowTaskTimeouts}, activity retries ${s.activityRetries}\n` +
        `  a hop, by the activity it leads to (result reported → workflow task picked up → its turn done → ` +
        `next activity called):\n` +
        Object.entries(segments)
          .map(
            ([activity, g]) =>
              `    → ${activity}: ${round(g.reportMs)} + ${round(g.workflowTaskWaitMs)} + ` +
              `${round(g.workflowTaskRunMs)} + ${round(g.dispatchMs)} ms (of the dispatch, the server's ` +
              `match ${round(g.dispatchServerMs)} ms; ${g.hops} hops)\n`,
          )
          .join('') +
        `  mean hop before (hops/step): ${Object.entries(t.hopMsBefore)
          .map(([activity, ms]) => `${activity} ${round(ms)} ms (${round(t.hopsPerStepBefore[activity], 1)})`)
          .join(', ')}\n` +
        `  this process's main thread during a hop: busy ${round(t.loopBusyMsPerHop ?? NaN)} ms, of it GC ` +
        `${round(gcMsPerHop)} ms; the server's persistence (${options.sqliteDefaults ? 'SQLite defaults' : 'WAL, synchronous NORMAL'}): ` +
        `${round((persisted.seconds * 1000) / t.steps)} ms in ${round(persisted.operations / t.steps)} calls per step ` +
        `(the whole run's, heartbeats and other writes during the activities included)`,
    );
    console.log(
      JSON.stringify({
        bench: 'orchestration',
        size: workload.name,
        stepMs: round(t.stepMs),
        computeMs: round(t.computeMs),
        overheadMs: round(t.overheadMs),
        overheadPct: round(t.overheadPct, 2),
        hopMs: round(t.hopMs),
        medianHopMs: round(t.medianHopMs),
        trivialHopMs: round(floorMs),
        loopBusyMsPerHop: round(t.loopBusyMsPerHop ?? NaN),
        gcMsPerHop: round(gcMsPerHop),
        persistenceMsPerStep: round((persisted.seconds * 1000) / t.steps),
        load: round(load),
      }),
    );
    timings.set(workload.name, t);
  }
  const fused = timings.get('demo-fused');
  const separate = timings.get('demo');
  // The summary needs both demo runs (a --sizes run without them prints each run's line only).
  if (fused && separate) {
    console.log(
      `target at the demo size: overheadPct ≤ ${MAX_OVERHEAD_PCT_AT_DEMO_SIZE}` +
        (loadavg()[0] > cores ? ` (note: load above ${cores} cores; hops include scheduling delay)` : ''),
    );
    console.log(
      JSON.stringify({
        bench: 'orchestration',
        fusedStep: true,
        stepMs: round(fused.stepMs),
        overheadMs: round(fused.overheadMs),
        overheadPct: round(fused.overheadPct, 2),
        hopMs: round(fused.hopMs),
        separateOverheadPct: round(separate.overheadPct, 2),
      }),
    );
  }
} finally {
  await clientConnection.close();
  await connection.close();
  await server.stop();
  await rm(storeDir, { recursive: true, force: true });
}
