/**
 * The embedded stack the demo and the study run on: a Temporal dev server with its Web UI (built once
 * with `go install` when missing; the test command's shared server when REASONLOOP_STACK=shared), all
 * worker roles in this process, and a client. Everything is stopped again when `use` returns or throws.
 */
import { Client, Connection } from '@temporalio/client';
import { DefaultLogger, NativeConnection, Runtime } from '@temporalio/worker';
import { installTool, TEMPORAL_CLI, useOrStartTemporal } from '../infra/stack.ts';
import { createWorkers } from '../workers/workers.ts';

export interface EmbeddedStack {
  client: Client;
  address: string;
  uiUrl: string | undefined;
}

export async function withEmbeddedStack<T>(
  stateDir: string,
  use: (stack: EmbeddedStack) => Promise<T>,
  options: { maxConcurrentRollouts?: number } = {},
): Promise<T> {
  // The SDK's per-worker lines (state changes; activity-only workers warning that they poll no workflows)
  // would drown the progress output. A failing stage still fails its workflow, which the caller reports.
  Runtime.install({ logger: new DefaultLogger('ERROR') });
  await installTool(TEMPORAL_CLI);
  const temporal = await useOrStartTemporal({ headless: false, stateDir });
  try {
    const workerConnection = await NativeConnection.connect({ address: temporal.address });
    const workers = await createWorkers({
      connection: workerConnection,
      namespace: temporal.namespace,
      maxConcurrentRollouts: options.maxConcurrentRollouts,
    });
    const running = Promise.all(workers.map((w) => w.run()));
    const connection = await Connection.connect({ address: temporal.address });
    try {
      const client = new Client({ connection, namespace: temporal.namespace });
      return await use({ client, address: temporal.address, uiUrl: temporal.server?.uiUrl });
    } finally {
      await connection.close();
      for (const w of workers) w.shutdown();
      await running.catch(() => undefined);
      await workerConnection.close();
    }
  } finally {
    await temporal.stop();
  }
}
