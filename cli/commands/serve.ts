/**
 * `reasonloop serve`: a model directory or a run's checkpoint behind the OpenAI-compatible API
 * (core/serve). Runs until SIGTERM or SIGINT, then stops accepting, answers queued requests 503, lets
 * running ones finish, and exits 0.
 */
import { basename, resolve } from 'node:path';
import { parseDeviceFlags } from '../../core/config/device.ts';
import { checkDevice } from '../../core/graph/device.ts';
import type { SessionConfig } from '../../core/graph/index.ts';
import { loadPolicyCheckpoint, loadPolicyDir, versionName, type Policy } from '../../core/serve/policy.ts';
import { ServeApp, type LoadRequest } from '../../core/serve/server.ts';
import { assertRunId, openStore } from '../../core/store/index.ts';
import { parseOptions, usageError, type Command } from '../command.ts';

const HELP = `usage: reasonloop serve (--model DIR | --run RUN_ID [--store URL] [--step S]) [options]

  --model DIR            a Hugging Face Qwen2 model directory
  --run RUN_ID           serve a run's checkpoint from the store (default: its newest verified one)
  --store URL            the store (s3://bucket/prefix, file:///path or a folder; default .reasonloop/store);
                         POST /admin/load reads checkpoints from it
  --step S               the checkpoint's step
  --port P               default 8000 (0: any free port, printed)
  --host H               default 127.0.0.1
  --served-model-name N  the id clients send as "model" (default: the folder's name, or the run id)
  --max-batch N          rows decoded together (default 64)
  --max-queue N          rows waiting to join before requests are answered 503 (default 256)
  --kv-cache-mb M        most MiB the batch's KV cache may take (default 1024)
  --threads N            onnxruntime intra-op threads (default 1)
  --device D             cpu (default), cuda or cuda:N

Endpoints: POST /v1/completions, POST /v1/chat/completions, GET /v1/models, GET /health,
GET /admin/version, POST /admin/load {"run": R, "step": S} | {"key": "runs/R/steps/S/"} | {"model_path": DIR}
(docs/serve.md).`;
const USAGE = { name: 'serve', help: HELP };

export const serveCommand: Command = {
  name: 'serve',
  describe: 'serve a model or checkpoint on the OpenAI-compatible API (continuous batching)',
  run: runServe,
};

function whole(value: string | undefined, name: string, fallback: number, min: number): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!Number.isSafeInteger(n) || n < min)
    throw new Error(`--${name} must be a whole number ≥ ${min} (got ${value})`);
  return n;
}

async function runServe(argv: string[]): Promise<number> {
  const parsed = parseOptions(USAGE, argv, {
    model: { type: 'string' },
    store: { type: 'string' },
    run: { type: 'string' },
    step: { type: 'string' },
    port: { type: 'string' },
    host: { type: 'string' },
    'served-model-name': { type: 'string' },
    'max-batch': { type: 'string' },
    'max-queue': { type: 'string' },
    'kv-cache-mb': { type: 'string' },
    threads: { type: 'string' },
    device: { type: 'string' },
  });
  if ('exit' in parsed) return parsed.exit;
  const a = parsed.values;
  if ((a.model === undefined) === (a.run === undefined))
    return usageError(USAGE, 'give exactly one of --model and --run');
  if (a.step !== undefined && a.run === undefined) return usageError(USAGE, '--step needs --run');
  let port, maxBatch, maxQueue, kvMb, threads, step, device;
  try {
    if (a.run !== undefined) assertRunId(a.run);
    port = whole(a.port, 'port', 8000, 0);
    if (port > 65535) throw new Error(`--port must be at most 65535 (got ${port})`);
    maxBatch = whole(a['max-batch'], 'max-batch', 64, 1);
    maxQueue = whole(a['max-queue'], 'max-queue', 256, 0);
    kvMb = whole(a['kv-cache-mb'], 'kv-cache-mb', 1024, 1);
    threads = whole(a.threads, 'threads', 1, 1);
    step = a.step === undefined ? undefined : whole(a.step, 'step', 0, 0);
    device = parseDeviceFlags({ device: a.device });
  } catch (error) {
    return usageError(USAGE, (error as Error).message);
  }
  await checkDevice(device);
  const session: SessionConfig = { intraOpThreads: threads, device };
  const store = openStore(a.store);
  const load = (what: LoadRequest): Promise<Policy> =>
    'modelPath' in what
      ? loadPolicyDir(resolve(what.modelPath), session)
      : loadPolicyCheckpoint(store, what.run, what.step, session);
  const policy = await load(a.model !== undefined ? { modelPath: a.model } : { run: a.run!, step });
  const app = new ServeApp(policy, {
    modelName: a['served-model-name'] ?? (a.model !== undefined ? basename(resolve(a.model)) : a.run!),
    maxBatch,
    maxQueue,
    kvBudgetBytes: kvMb * 1024 * 1024,
    load,
    log: (line) => console.error(`reasonloop serve: ${line}`),
  });
  const address = await app.listen(port, a.host ?? '127.0.0.1');
  const host = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  console.log(
    JSON.stringify({
      listening: `http://${host}:${address.port}/v1`,
      model: app.modelName,
      version: versionName(policy.version),
    }),
  );
  const signal = await new Promise<NodeJS.Signals>((done) => {
    process.once('SIGTERM', () => done('SIGTERM'));
    process.once('SIGINT', () => done('SIGINT'));
  });
  console.error(`reasonloop serve: ${signal}: finishing running requests, refusing queued ones`);
  await app.close();
  console.error('reasonloop serve: stopped');
  return 0;
}
