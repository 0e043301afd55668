/** `reasonloop export` on a local folder store: a verified checkpoint becomes an HF dir; refused steps say why. */
import assert from 'node:assert/strict';
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { EXIT_USAGE } from '../../../cli/command.ts';
import { makeQwen2Config } from '../../../core/model/config.ts';
import { loadModelDir, writeModelDir } from '../../../core/model/modelDir.ts';
import { initQwen2Weights } from '../../../core/model/parameters.ts';
import {
  checkpointKey,
  LocalFolderStore,
  objectsFromDirectory,
  writeCheckpoint,
} from '../../../core/store/index.ts';
import { capture } from './capture.ts';

const DIR = mkdtempSync(join(tmpdir(), 'reasonloop-export-cli-'));
const STORE = join(DIR, 'store');
const config = makeQwen2Config({
  vocabSize: 20,
  hiddenSize: 16,
  intermediateSize: 32,
  numHiddenLayers: 2,
  numAttentionHeads: 2,
  eosTokenId: [19],
});
const weights = initQwen2Weights(config, 11);

async function checkpoint(store: LocalFolderStore, step: number, extra: Record<string, string> = {}) {
  const dir = join(DIR, `ckpt-${step}`);
  writeModelDir(dir, { config, weights });
  for (const [name, text] of Object.entries(extra)) writeFileSync(join(dir, name), text);
  await writeCheckpoint(store, {
    runId: 'run-x',
    step,
    configHash: 'cfg',
    dataCursor: null,
    rng: null,
    metrics: {},
    objects: await objectsFromDirectory(dir, 'weights'),
  });
}

describe('reasonloop export', () => {
  before(async () => {
    const store = new LocalFolderStore(STORE);
    await checkpoint(store, 1);
    await checkpoint(store, 2);
    await checkpoint(store, 3);
    // Step 4's weights are corrupted after its manifest was written: it no longer verifies.
    await checkpoint(store, 4);
    const key = checkpointKey('run-x', 4, 'weights/model.safetensors');
    const path = join(STORE, ...key.split('/'));
    const bytes = readFileSync(path);
    bytes[bytes.length - 1] ^= 0xff;
    writeFileSync(path, bytes);
  });
  after(() => rmSync(DIR, { recursive: true, force: true }));

  it('writes a bfloat16 HF directory of the step asked for, loadable by our loader', async () => {
    const out = join(DIR, 'out-2');
    const r = await capture(['export', '--store', STORE, '--run', 'run-x', '--step', '2', '--out', out]);
    assert.equal(r.code, 0, r.err);
    const summary = JSON.parse(r.out);
    assert.equal(summary.step, 2);
    assert.equal(summary.dtype, 'bfloat16');
    assert.deepEqual(readdirSync(out).sort(), ['config.json', 'generation_config.json', 'model.safetensors']);
    assert.equal(JSON.parse(readFileSync(join(out, 'config.json'), 'utf8')).torch_dtype, 'bfloat16');
    const back = loadModelDir(out);
    assert.equal(back.weights.size, weights.size);
    // Nothing left beside the output.
    assert.deepEqual(
      readdirSync(DIR).filter((f) => f.includes('export')),
      [],
    );
  });

  it('float32 export without --step takes the newest verified step and keeps the values exactly', async () => {
    const out = join(DIR, 'out-latest');
    const r = await capture([
      'export',
      '--store',
      STORE,
      '--run',
      'run-x',
      '--out',
      out,
      '--dtype',
      'float32',
    ]);
    // Step 4 does not verify: the newest verified step is 3.
    assert.equal(r.code, 0, r.err);
    assert.equal(JSON.parse(r.out).step, 3);
    const back = loadModelDir(out);
    for (const [name, data] of weights) assert.deepEqual(back.weights.get(name), data, name);
  });

  it('refuses a step that does not verify or does not exist, and writes nothing', async () => {
    const out = join(DIR, 'out-refused');
    let r = await capture(['export', '--store', STORE, '--run', 'run-x', '--step', '4', '--out', out]);
    assert.equal(r.code, 1);
    assert.match(
      r.err,
      /checkpoint 4 of run run-x in .* cannot be exported: weights\/model\.safetensors has sha256 \w+, the manifest says \w+/,
    );
    r = await capture(['export', '--store', STORE, '--run', 'run-x', '--step', '9', '--out', out]);
    assert.match(r.err, /checkpoint 9 of run run-x in .* cannot be exported: manifest\.json is missing/);
    r = await capture(['export', '--store', STORE, '--run', 'nobody', '--out', out]);
    assert.match(r.err, /run nobody in .* has no verified checkpoint/);
    assert.equal(existsSync(out), false);
  });

  it('usage errors: a bad dtype, shard size or step, and a non-empty --out', async () => {
    const out = join(DIR, 'out-usage');
    let r = await capture(['export', '--store', STORE, '--run', 'run-x', '--out', out, '--dtype', 'int8']);
    assert.equal(r.code, EXIT_USAGE);
    assert.match(r.err, /dtype "int8": use one of float32, float16, bfloat16/);
    r = await capture([
      'export',
      '--store',
      STORE,
      '--run',
      'run-x',
      '--out',
      out,
      '--max-shard-size',
      'big',
    ]);
    assert.equal(r.code, EXIT_USAGE);
    r = await capture(['export', '--store', STORE, '--run', 'run-x', '--out', out, '--step', '-1']);
    assert.equal(r.code, EXIT_USAGE);
    mkdirSync(out);
    writeFileSync(join(out, 'keep.txt'), 'mine');
    r = await capture(['export', '--store', STORE, '--run', 'run-x', '--step', '1', '--out', out]);
    assert.equal(r.code, 1);
    assert.match(r.err, /exists and is not empty/);
    assert.deepEqual(readdirSync(out), ['keep.txt']);
  });
});
