import assert from 'node:assert/strict';
import { access } from 'node:fs/promises';
import { Client, Connection } from '@temporalio/client';
import { after, before, describe, it } from 'node:test';
import { isPortOpen, startTemporalDevServer, type TemporalDevServer } from '../../../infra/stack.ts';

/** Nothing polls this queue: a started workflow just sits in the server's database. */
const IDLE_TASK_QUEUE = 'nobody-polls-this';

describe('Temporal dev server from infra/ (started from nothing)', () => {
  let server: TemporalDevServer;
  before(async () => {
    server = await startTemporalDevServer();
  });
  after(async () => server?.stop());

  it('answers @temporalio/client: health SERVING and the default namespace', async () => {
    const connection = await Connection.connect({ address: server.address, connectTimeout: '5s' });
    try {
      const health = await connection.healthService.check({});
      assert.equal(health.status, 1); // grpc.health.v1 SERVING
      const described = await connection.workflowService.describeNamespace({ namespace: 'default' });
      assert.equal(described.namespaceInfo?.name, 'default');
    } finally {
      await connection.close();
    }
  });

  it('refuses to start a second server on a port that is taken, naming the port', async () => {
    await assert.rejects(
      startTemporalDevServer({ port: server.port }),
      new RegExp(`port 127\\.0\\.0\\.1:${server.port} is already in use`),
    );
  });

  it('keeps workflows across a graceful restart and a kill -9 on the same SQLite file (write-ahead log, synchronous NORMAL)', async () => {
    // The pragmas took: a database in WAL mode has its log beside it.
    await access(`${server.dbFile}-wal`);
    const workflowId = `infra-restart-${Date.now()}`;
    const open = async () => {
      const connection = await Connection.connect({ address: server.address, connectTimeout: '5s' });
      return { connection, client: new Client({ connection }) };
    };
    let { connection, client } = await open();
    await client.workflow.start('neverRuns', { taskQueue: IDLE_TASK_QUEUE, workflowId, args: [] });
    await connection.close();

    const pidBefore = server.pid;
    await server.restart();
    assert.notEqual(server.pid, pidBefore, 'a new process answers after restart');
    ({ connection, client } = await open());
    assert.equal((await client.workflow.getHandle(workflowId).describe()).status.name, 'RUNNING');
    await connection.close();

    await server.restart({ force: true });
    ({ connection, client } = await open());
    const handle = client.workflow.getHandle(workflowId);
    assert.equal((await handle.describe()).status.name, 'RUNNING');
    await handle.terminate('test done');
    await connection.close();
  });

  it('stop() frees the port and ends the process', async () => {
    const other = await startTemporalDevServer();
    await other.stop();
    assert.equal(await isPortOpen(other.port), false);
    assert.throws(() => process.kill(other.pid, 0));
  });
});
