/**
 * The floor for a hop, measured on the same server in the same run: bench:hops' workflow of sequential
 * trivial activities (bench/hops/), median time from one activity to the next. On a shared machine the
 * absolute hop swings with the load; the ratio of ours to this floor says what the training loop adds.
 */
import { fileURLToPath } from 'node:url';
import type { Client } from '@temporalio/client';
import { bundleWorkflowCode, Worker, type NativeConnection } from '@temporalio/worker';
import * as activities from '../hops/activities.ts';
import { hopBreakdown, type HopBreakdown } from './history.ts';

/** Sequential activities per run; bench:hops skips the first ~10, which are fast even untuned (DESIGN.md §4). */
const ACTIVITIES = 25;
const WARM_UP = 10;

const quiet = { log() {}, trace() {}, debug() {}, info() {}, warn() {}, error() {} };

function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)];
}

/** The median hop of the trivial workflow, and its history's server-side waits. */
export async function trivialHop(
  connection: NativeConnection,
  client: Client,
): Promise<{ hopMs: number; server: HopBreakdown }> {
  const bundle = await bundleWorkflowCode({
    workflowsPath: fileURLToPath(new URL('../hops/workflow.ts', import.meta.url)),
    logger: quiet,
  });
  const taskQueue = `bench-orch-hops-${Date.now().toString(36)}`;
  const worker = await Worker.create({ connection, taskQueue, workflowBundle: bundle, activities });
  const times: number[] = await worker.runUntil(
    client.workflow.execute('hops', { taskQueue, workflowId: taskQueue, args: [ACTIVITIES] }),
  );
  const gaps = times.slice(1).map((t, i) => t - times[i]);
  const history = await client.workflow.getHandle(taskQueue).fetchHistory();
  return { hopMs: median(gaps.slice(WARM_UP)), server: hopBreakdown(history) };
}
