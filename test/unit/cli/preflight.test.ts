/**
 * Deep preflight through `reasonloop train|sft|eval --check`, as a user calls it, with no server (nothing
 * listens at TEMPORAL_ADDRESS): each bad model directory, data file, store and length is refused with a
 * message naming the field and file, and a refused config writes nothing to its store.
 */
import assert from 'node:assert/strict';
import {
  existsSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  truncateSync,
  writeFileSync,
} from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { makeQwen2Config } from '../../../core/model/config.ts';
import { writeModelDir } from '../../../core/model/modelDir.ts';
import { initQwen2Weights } from '../../../core/model/parameters.ts';
import { writeTinyTokenizer } from '../../../core/model/tinyTokenizer.ts';
import { capture } from './capture.ts';

const DIR = mkdtempSync(join(tmpdir(), 'reasonloop-preflight-'));
const PROBLEMS = join(DIR, 'problems.jsonl');

/** A tiny HF model directory (random weights, the tiny byte tokenizer) with `vocabSize` rows. */
function modelDir(name: string, vocabSize = 300, tokenizer = true): string {
  const dir = join(DIR, name);
  const config = makeQwen2Config({
    vocabSize,
    hiddenSize: 16,
    intermediateSize: 32,
    numHiddenLayers: 1,
    numAttentionHeads: 2,
    maxPositionEmbeddings: 128,
    tieWordEmbeddings: true,
  });
  writeModelDir(dir, { config, weights: initQwen2Weights(config, 0) });
  if (tokenizer) writeTinyTokenizer(dir);
  return dir;
}

function runConfig(
  name: string,
  over: { dir?: string; data?: string; store?: string; maxNewTokens?: number; engine?: unknown },
) {
  const path = join(DIR, `${name}.json`);
  const config = {
    runId: name,
    seed: 1,
    steps: 2,
    model: { dir: over.dir ?? join(DIR, 'good') },
    task: {
      kind: 'math',
      data: { source: 'file', path: over.data ?? PROBLEMS, answerField: 'answer' },
      prompt: { template: 'plain' },
    },
    rollout: {
      promptsPerStep: 2,
      n: 2,
      maxNewTokens: over.maxNewTokens ?? 8,
      ...(over.engine ? { engine: over.engine } : {}),
    },
    algorithm: { miniBatchSize: 4, microBatchSize: 2 },
    store: { url: over.store ?? join(DIR, `store-${name}`) },
  };
  writeFileSync(path, JSON.stringify(config));
  return path;
}

async function check(path: string): Promise<{ code: number; err: string; out: string }> {
  return capture(['train', '--config', path, '--check']);
}

describe('reasonloop train --check: deep preflight', () => {
  let saved: string | undefined;
  before(() => {
    saved = process.env.TEMPORAL_ADDRESS;
    process.env.TEMPORAL_ADDRESS = '127.0.0.1:1';
    writeFileSync(PROBLEMS, '{"problem":"1+1?","answer":"2"}\n{"problem":"2+2?","answer":"4"}\n');
    modelDir('good');
  });
  after(() => {
    rmSync(DIR, { recursive: true, force: true });
    if (saved === undefined) delete process.env.TEMPORAL_ADDRESS;
    else process.env.TEMPORAL_ADDRESS = saved;
  });

  it('accepts a good config, and the store probe leaves nothing behind', async () => {
    const r = await check(runConfig('ok', {}));
    assert.equal(r.code, 0, r.err);
    assert.deepEqual(readdirFlat(join(DIR, 'store-ok')), [], 'the probe object is deleted');
  });

  it('a model directory without weights, with truncated weights, or with wrong shapes', async () => {
    const none = modelDir('noWeights');
    rmSync(join(none, 'model.safetensors'));
    let r = await check(runConfig('noWeights', { dir: none }));
    assert.equal(r.code, 1);
    assert.match(r.err, /run\.model\.dir .*noWeights: .*model\.safetensors: missing/);

    const cut = modelDir('truncated');
    const file = join(cut, 'model.safetensors');
    truncateSync(file, statSync(file).size - 100);
    r = await check(runConfig('truncated', { dir: cut }));
    assert.match(r.err, /run\.model\.dir .*truncated/);

    const shapes = modelDir('shapes');
    const cfg = JSON.parse(readFileSync(join(shapes, 'config.json'), 'utf8'));
    writeFileSync(join(shapes, 'config.json'), JSON.stringify({ ...cfg, intermediate_size: 48 }));
    r = await check(runConfig('shapes', { dir: shapes }));
    assert.match(
      r.err,
      /model\.safetensors: tensor model\.layers\.0\.mlp\.\w+\.weight has shape \[\d+,\d+\], expected \[\d+,\d+\]/,
    );
  });

  it('an unknown model_type, a malformed tokenizer.json, a vocab smaller than the tokenizer', async () => {
    const type = modelDir('llama');
    const cfg = JSON.parse(readFileSync(join(type, 'config.json'), 'utf8'));
    writeFileSync(join(type, 'config.json'), JSON.stringify({ ...cfg, model_type: 'llama' }));
    let r = await check(runConfig('llama', { dir: type }));
    assert.match(r.err, /run\.model\.dir .*config\.json.*model_type/);

    const bad = modelDir('badTokenizer');
    writeFileSync(join(bad, 'tokenizer.json'), JSON.stringify({ model: { type: 'Nonsense' } }));
    r = await check(runConfig('badTokenizer', { dir: bad }));
    assert.match(r.err, /badTokenizer\/tokenizer\.json: not a usable tokenizer/);

    const small = modelDir('small', 200);
    r = await check(runConfig('small', { dir: small }));
    assert.match(r.err, /tokenizer\.json: token id 2\d\d does not fit vocab_size 200/);
  });

  it("maxNewTokens beyond the model's max_position_embeddings", async () => {
    const r = await check(runConfig('long', { maxNewTokens: 500 }));
    assert.match(r.err, /run\.rollout\.maxNewTokens 500: .*max_position_embeddings 128/);
  });

  it('a data file that is missing, empty, lacks the problem field, or is not parquet', async () => {
    let r = await check(runConfig('missing', { data: join(DIR, 'nope.jsonl') }));
    assert.match(r.err, /run\.task\.data\.path: .*nope\.jsonl: no such file/);
    writeFileSync(join(DIR, 'empty.jsonl'), '');
    r = await check(runConfig('empty', { data: join(DIR, 'empty.jsonl') }));
    assert.match(r.err, /empty\.jsonl: the file is empty/);
    writeFileSync(join(DIR, 'fields.jsonl'), '{"question":"1+1?","answer":"2"}\n');
    r = await check(runConfig('fields', { data: join(DIR, 'fields.jsonl') }));
    assert.match(
      r.err,
      /run\.task\.data\.path .*fields\.jsonl: no usable row in the first 1 \(.*field "problem" is missing/,
    );
    writeFileSync(join(DIR, 'fake.parquet'), 'not parquet at all');
    r = await check(runConfig('fake', { data: join(DIR, 'fake.parquet') }));
    assert.match(r.err, /fake\.parquet: not a readable parquet file/);
  });

  it('a store that cannot be written: under /dev/null, under /proc, a path that is a file', async () => {
    let r = await check(runConfig('devnull', { store: '/dev/null/store' }));
    assert.equal(r.code, 1);
    assert.match(r.err, /run\.store\.url \/dev\/null\/store: /);
    // The file-system's own answer, not the probe's 15 s timeout (Node's recursive mkdir spins there).
    r = await check(runConfig('proc', { store: '/proc/reasonloop-store' }));
    assert.equal(r.code, 1);
    assert.match(r.err, /run\.store\.url \/proc\/reasonloop-store: ENOENT/);
    const file = join(DIR, 'a-file');
    writeFileSync(file, 'x');
    r = await check(runConfig('isFile', { store: file }));
    assert.match(r.err, /run\.store\.url .*a-file: /);
  });

  it('rollout servers: one not answering, one serving another model, each named; nothing written', async () => {
    // A server that lists `policy` (GET /v1/models), and a port where nothing listens.
    const server = createServer((req, res) => {
      if (req.url !== '/v1/models') return res.writeHead(404).end();
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ object: 'list', data: [{ id: 'policy', object: 'model' }] }));
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const closed = createServer();
    await new Promise<void>((r) => closed.listen(0, '127.0.0.1', r));
    const deadPort = (closed.address() as AddressInfo).port;
    await new Promise((r) => closed.close(r));
    try {
      const live = `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1`;
      const dead = `http://127.0.0.1:${deadPort}/v1`;
      const engine = (endpoints: { url: string; model: string }[]) => ({
        kind: 'openai',
        endpoints,
        weightSync: 'reasonloop',
      });
      const ok = await check(runConfig('servers', { engine: engine([{ url: live, model: 'policy' }]) }));
      assert.equal(ok.code, 0, ok.err);

      const store = join(DIR, 'store-deadServer');
      let r = await check(
        runConfig('deadServer', {
          store,
          engine: engine([
            { url: live, model: 'policy' },
            { url: dead, model: 'policy' },
          ]),
        }),
      );
      assert.equal(r.code, 1);
      assert.ok(
        r.err.includes(
          `run.rollout.engine.endpoints[1] ${dead}: not reachable as an OpenAI-compatible server (GET /models: ECONNREFUSED)`,
        ),
        r.err,
      );
      assert.deepEqual(readdirFlat(store), [], 'a refused start writes nothing');

      r = await check(runConfig('otherModel', { engine: engine([{ url: live, model: 'other' }]) }));
      assert.ok(r.err.includes(`run.rollout.engine.endpoints[0] ${live}: serves policy, not other`), r.err);
    } finally {
      server.close();
    }
  });

  it('a refused config writes nothing to its store', async () => {
    const store = join(DIR, 'untouched');
    const r = await check(runConfig('refused', { store, data: join(DIR, 'nope.jsonl') }));
    assert.equal(r.code, 1);
    assert.equal(existsSync(store), false);
  });
});

/** Files under `dir` (relative paths), recursively; [] for an empty or absent folder. */
function readdirFlat(dir: string): string[] {
  if (!existsSync(dir)) return [];
  const out: string[] = [];
  const walk = (d: string, prefix: string) => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      if (e.isDirectory()) walk(join(d, e.name), `${prefix}${e.name}/`);
      else out.push(`${prefix}${e.name}`);
    }
  };
  walk(dir, '');
  return out;
}
