/**
 * Shared setup of the orchestration tests: the Temporal dev server and the S3 server (shared from the test
 * command, or private), a client, one workflow bundle, and in-process workers on unique task queues.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client, Connection } from '@temporalio/client';
import {
  bundleWorkflowCode,
  DefaultLogger,
  NativeConnection,
  Runtime,
  type Worker,
  type WorkflowBundle,
} from '@temporalio/worker';
import { useOrStartS3, useOrStartTemporal } from '../../../infra/stack.ts';
import type { RunConfigInput } from '../../../core/config/run.ts';
import { createWorkers, WORKFLOWS_PATH, type Role } from '../../../workers/workers.ts';

export interface Harness {
  client: Client;
  nativeConnection: NativeConnection;
  namespace: string;
  bundle: WorkflowBundle;
  s3Endpoint: string;
  temporalAddress: string;
  stop(): Promise<void>;
}

export async function startHarness(): Promise<Harness> {
  // Retried activities log at WARN; the tests assert on outcomes, so only errors are printed.
  Runtime.install({ logger: new DefaultLogger('ERROR') });
  const temporal = await useOrStartTemporal();
  const s3 = await useOrStartS3();
  // The workers in this process open the run's store from the environment, as deployed workers do.
  process.env.REASONLOOP_S3_ENDPOINT = s3.endpoint;
  process.env.REASONLOOP_S3_ACCESS_KEY_ID = s3.accessKeyId;
  process.env.REASONLOOP_S3_SECRET_ACCESS_KEY = s3.secretAccessKey;
  process.env.REASONLOOP_S3_REGION = s3.region;
  // The CLI commands under test connect as the temporal CLI does, from TEMPORAL_*.
  process.env.TEMPORAL_ADDRESS = temporal.address;
  process.env.TEMPORAL_NAMESPACE = temporal.namespace;
  const connection = await Connection.connect({ address: temporal.address });
  const nativeConnection = await NativeConnection.connect({ address: temporal.address });
  const bundle = await bundleWorkflowCode({ workflowsPath: WORKFLOWS_PATH, logger: quietLogger });
  return {
    client: new Client({ connection, namespace: temporal.namespace }),
    nativeConnection,
    namespace: temporal.namespace,
    bundle,
    s3Endpoint: s3.endpoint,
    temporalAddress: temporal.address,
    async stop() {
      await connection.close();
      await nativeConnection.close();
      await s3.stop();
      await temporal.stop();
    },
  };
}

const quietLogger = {
  log() {},
  trace() {},
  debug() {},
  info() {},
  warn() {},
  error(message: string, meta?: unknown) {
    console.error(message, meta);
  },
};

let counter = 0;

/** Task queue names unique to one test. */
export function uniqueQueues(label: string): Record<Role, string> {
  const base = `${label}-${process.pid}-${Date.now().toString(36)}-${++counter}`;
  return {
    workflow: `${base}-wf`,
    rollout: `${base}-rollout`,
    cpu: `${base}-cpu`,
    trainer: `${base}-trainer`,
  };
}

export interface RunningWorkers {
  workers: Worker[];
  stop(): Promise<void>;
}

/** All four roles in this process, polling `queues`. */
export async function runWorkers(
  h: Pick<Harness, 'nativeConnection' | 'namespace' | 'bundle'>,
  queues: Record<Role, string>,
  roles?: readonly Role[],
): Promise<RunningWorkers> {
  const workers = await createWorkers({
    roles,
    connection: h.nativeConnection,
    namespace: h.namespace,
    queues,
    workflowBundle: { code: h.bundle.code },
  });
  const running = Promise.all(workers.map((w) => w.run()));
  return {
    workers,
    async stop() {
      for (const w of workers) if (w.getState() === 'RUNNING') w.shutdown();
      await running;
    },
  };
}

export function tempStoreDir(): string {
  return mkdtempSync(join(tmpdir(), 'reasonloop-orch-'));
}

/** A tiny run (the model of test/unit/rl/grpoLearning.test.ts): seconds per step on one core. */
export function tinyRunConfig(
  runId: string,
  storeUrl: string,
  queues: Record<Role, string>,
  overrides: Partial<RunConfigInput> = {},
): RunConfigInput {
  return {
    runId,
    seed: 7,
    steps: 3,
    model: {
      init: {
        seed: 0,
        config: {
          vocabSize: 12,
          hiddenSize: 64,
          intermediateSize: 128,
          numHiddenLayers: 2,
          numAttentionHeads: 4,
          numKeyValueHeads: 2,
          maxPositionEmbeddings: 32,
          eosTokenId: [11],
        },
      },
    },
    task: { kind: 'reverseDigits', digits: 2 },
    rollout: { promptsPerStep: 8, n: 4, maxNewTokens: 3, shards: 2 },
    algorithm: { miniBatchSize: 16, microBatchSize: 16, optimizer: { lr: 1e-3 } },
    store: { url: storeUrl, retention: { keepLastOptimizerStates: 2, keepWeightsEvery: 2 } },
    orchestration: {
      continueAsNewEvery: 100,
      taskQueues: { rollout: queues.rollout, cpu: queues.cpu, trainer: queues.trainer },
    },
    ...overrides,
  };
}
