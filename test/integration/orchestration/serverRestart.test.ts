/**
 * The Temporal server is killed (SIGKILL) mid-run and started again on the same database: the workers
 * reconnect, the run completes, and its final weights equal an uninterrupted run's. Uses a private dev
 * server (the shared one must not be restarted under other tests).
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { Client, Connection } from '@temporalio/client';
import {
  bundleWorkflowCode,
  DefaultLogger,
  NativeConnection,
  Runtime,
  type WorkflowBundle,
} from '@temporalio/worker';
import { listCheckpointSteps, openStore } from '../../../core/store/index.ts';
import { startTemporalDevServer, type TemporalDevServer } from '../../../infra/stack.ts';
import { WORKFLOWS_PATH } from '../../../workers/workers.ts';
import type { TrainingResult } from '../../../workflows/definitions.ts';
import { runWorkers, tempStoreDir, tinyRunConfig, uniqueQueues } from './harness.ts';

/** A hung run fails its test instead of hanging the suite (each run takes seconds; CI machines are shared). */
const TEST_TIMEOUT_MS = 300_000;

const STEPS = 4;
/** How long the test keeps asking for the result while the server is away. */
const RESULT_DEADLINE_MS = 120_000;

let server: TemporalDevServer;
let connection: Connection;
let nativeConnection: NativeConnection;
let client: Client;
let bundle: WorkflowBundle;

before(async () => {
  // The workers log every failed reconnection attempt at WARN while the server is away.
  Runtime.install({ logger: new DefaultLogger('ERROR') });
  server = await startTemporalDevServer();
  connection = await Connection.connect({ address: server.address });
  nativeConnection = await NativeConnection.connect({ address: server.address });
  client = new Client({ connection, namespace: server.namespace });
  bundle = await bundleWorkflowCode({
    workflowsPath: WORKFLOWS_PATH,
    logger: { log() {}, trace() {}, debug() {}, info() {}, warn() {}, error: console.error },
  });
});
after(async () => {
  await connection?.close();
  await nativeConnection?.close();
  await server?.stop({ force: true });
});

/** The workflow's result, asking again while the server is unreachable. */
async function resultOf(workflowId: string): Promise<TrainingResult> {
  const deadline = Date.now() + RESULT_DEADLINE_MS;
  for (;;) {
    try {
      return await client.workflow.getHandle(workflowId).result();
    } catch (error) {
      if (Date.now() > deadline) throw error;
      await new Promise((r) => setTimeout(r, 200));
    }
  }
}

describe('Temporal server restart', () => {
  it(
    'SIGKILL of the dev server mid-run, restarted on the same database: the run ends with the same weights',
    { timeout: TEST_TIMEOUT_MS },
    async () => {
      const queues = uniqueQueues('restart');
      const workers = await runWorkers({ nativeConnection, namespace: server.namespace, bundle }, queues);
      try {
        const straightId = `straight-${Date.now().toString(36)}`;
        await client.workflow.start('rlTraining', {
          taskQueue: queues.workflow,
          workflowId: straightId,
          args: [tinyRunConfig(straightId, tempStoreDir(), queues, { steps: STEPS })],
        });
        const straight = await resultOf(straightId);

        const runId = `restarted-${Date.now().toString(36)}`;
        const storeDir = tempStoreDir();
        await client.workflow.start('rlTraining', {
          taskQueue: queues.workflow,
          workflowId: runId,
          args: [tinyRunConfig(runId, storeDir, queues, { steps: STEPS })],
        });
        const store = openStore(storeDir);
        const deadline = Date.now() + 60_000;
        while (!(await listCheckpointSteps(store, runId)).withManifest.includes(2)) {
          assert.ok(Date.now() < deadline, 'step 2 was not checkpointed within 60 s');
          await new Promise((r) => setTimeout(r, 20));
        }
        const atRestart = Math.max(...(await listCheckpointSteps(store, runId)).withManifest);
        await server.restart({ force: true });
        assert.ok(
          atRestart < STEPS,
          `the run had reached step ${atRestart} of ${STEPS} when the server was killed`,
        );
        const result = await resultOf(runId);
        assert.equal(result.step, STEPS);
        assert.equal(result.weightsSha256, straight.weightsSha256);
      } finally {
        await workers.stop();
      }
    },
  );
});
