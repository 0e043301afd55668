// What a rollout worker holds of a checkpoint's policy: its weights/ streamed into one local folder per
// role and mapped from there (no arrays), the previous step's folder gone before the next is loaded (never
// one another activity still holds), a
// dead worker's folders removed; a LoRA run's base mapped from its model directory with the adapters
// beside it, and a scorer's arrays of a fresh LoRA run are the base's own (B = 0: nothing to merge).
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { after, it } from 'node:test';
import { MockActivityEnvironment } from '@temporalio/testing';
import { prepareRun } from '../../../activities/prepareRun.ts';
import { checkpointPolicy, checkpointPolicyArrays } from '../../../activities/checkpointPolicy.ts';
import { modelConfig, readCheckpointWeights } from '../../../activities/runtime.ts';
import { parseRunConfig } from '../../../core/config/run.ts';
import { isFileRegion, type FileRegion } from '../../../core/graph/index.ts';
import { makeQwen2Config } from '../../../core/model/config.ts';
import { loadWeights, writeModelDir } from '../../../core/model/modelDir.ts';
import { initQwen2Weights } from '../../../core/model/parameters.ts';
import {
  objectsFromDirectory,
  openStore,
  restoreCheckpointObjects,
  verifyCheckpoint,
  writeCheckpoint,
} from '../../../core/store/index.ts';

const root = mkdtempSync(join(tmpdir(), 'checkpoint-policy-'));
after(() => rmSync(root, { recursive: true, force: true }));
process.env.REASONLOOP_WEIGHTS_DIR = join(root, 'local');

const model = {
  vocabSize: 12,
  hiddenSize: 16,
  intermediateSize: 32,
  numHiddenLayers: 2,
  numAttentionHeads: 2,
  maxPositionEmbeddings: 16,
  eosTokenId: [11],
};
const storeUrl = join(root, 'store');

const configOf = (runId: string, extra: Record<string, unknown> = {}) => ({
  runId,
  seed: 3,
  steps: 2,
  model: { init: { seed: 0, config: model } },
  task: { kind: 'reverseDigits' as const, digits: 2 },
  rollout: { promptsPerStep: 2, n: 2, maxNewTokens: 3 },
  algorithm: { miniBatchSize: 4, microBatchSize: 4, optimizer: { lr: 1e-2 } },
  store: { url: storeUrl },
  ...extra,
});

function regionDir(weights: Map<string, unknown>): string {
  const all = [...weights.values()];
  assert.ok(
    all.every((w) => isFileRegion(w as FileRegion)),
    'every weight is a region of a file',
  );
  const dirs = new Set(all.map((w) => dirname((w as FileRegion).path)));
  assert.equal(dirs.size, 1);
  return [...dirs][0];
}

it('maps each step from one local folder per role, removing the previous one and dead workers’ folders', async () => {
  // A folder left by a worker that was killed: its process no longer runs.
  const dead = spawnSync(process.execPath, ['-e', 'console.log(process.pid)'], { encoding: 'utf8' });
  const deadFolder = join(process.env.REASONLOOP_WEIGHTS_DIR!, `${dead.stdout.trim()}-sample`, 'w-x');
  mkdirSync(deadFolder, { recursive: true });

  const config = configOf('full');
  await new MockActivityEnvironment().run(prepareRun, config);
  const store = openStore(storeUrl);
  const zero = await verifyCheckpoint(store, 'full', 0);
  assert.ok('manifest' in zero);
  // Step 1: step 0's files again (a second policy version to swap in).
  const restored = mkdtempSync(join(root, 'restored-'));
  await restoreCheckpointObjects(store, zero.manifest, 'weights/', restored);
  await writeCheckpoint(store, {
    ...zero.manifest,
    step: 1,
    objects: await objectsFromDirectory(restored, 'weights'),
  });

  const step0 = await checkpointPolicy('sample', store, 'full', 0, 'mapped');
  assert.equal(step0.lora, undefined);
  const dir0 = regionDir(step0.weights);
  assert.ok(dir0.startsWith(process.env.REASONLOOP_WEIGHTS_DIR!));
  assert.equal(existsSync(deadFolder), false, 'the dead worker’s folder is gone');
  const qwen = await modelConfig(parseRunConfig(config));
  assert.deepEqual(loadWeights(dir0, qwen), await readCheckpointWeights(store, 'full', 0));
  step0.release();
  const again = await checkpointPolicy('sample', store, 'full', 0, 'mapped');
  assert.equal(again.weights, step0.weights, 'kept after its activity released it');
  again.release();

  const step1 = await checkpointPolicy('sample', store, 'full', 1, 'mapped');
  assert.notEqual(regionDir(step1.weights), dir0);
  assert.equal(existsSync(dir0), false, 'step 0’s folder was removed before step 1 was loaded');

  // Another role has its own folder; arrays are read from it.
  const reference = await checkpointPolicyArrays('score', store, 'full', 0);
  assert.deepEqual(reference.arrays, await readCheckpointWeights(store, 'full', 0));
  reference.release();
  assert.ok(existsSync(regionDir(step1.weights)), 'the sampler’s folder stays');
  step1.release();
});

it('two activities of one role on different runs: neither loses its folder while it runs', async () => {
  // Two runs' samplers in one worker, as the factor study runs its arms: step 0 of run "full" and step 1
  // of the same store (another policy). Holding one must not remove it when the other is loaded.
  const store = openStore(storeUrl);
  const a = await checkpointPolicy('sample', store, 'full', 0, 'mapped');
  const b = await checkpointPolicy('sample', store, 'full', 1, 'mapped');
  const dirA = regionDir(a.weights);
  const dirB = regionDir(b.weights);
  assert.notEqual(dirA, dirB);
  assert.ok(existsSync(dirA), 'a held set stays while another is loaded');
  // Loading a's set again while b runs shares a's folder rather than evicting b's.
  const a2 = await checkpointPolicy('sample', store, 'full', 0, 'mapped');
  assert.equal(a2.weights, a.weights);
  assert.ok(existsSync(dirB));
  a.release();
  a2.release();
  assert.ok(existsSync(dirA), 'released, kept until another set is asked for');
  b.release();
  b.release(); // a second release of one hold changes nothing
  const c = await checkpointPolicy('sample', store, 'full', 1, 'mapped');
  assert.equal(c.weights, b.weights, 'the released set is taken again as it is');
  assert.equal(existsSync(dirA), false, 'the idle other set went when a new one was asked for');
  c.release();
});

it('a worker that ends normally removes its folders', () => {
  const script = [
    `import { checkpointPolicy } from ${JSON.stringify(join(import.meta.dirname, '../../../activities/checkpointPolicy.ts'))};`,
    `import { openStore } from ${JSON.stringify(join(import.meta.dirname, '../../../core/store/index.ts'))};`,
    `const p = await checkpointPolicy('sample', openStore(${JSON.stringify(storeUrl)}), 'full', 0, 'mapped');`,
    'console.log([...p.weights.values()][0].path);',
  ].join('\n');
  const r = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], {
    encoding: 'utf8',
  });
  assert.equal(r.status, 0, r.stderr);
  const file = r.stdout.trim().split('\n').at(-1)!;
  assert.ok(file.startsWith(process.env.REASONLOOP_WEIGHTS_DIR!), file);
  assert.equal(existsSync(dirname(file)), false, 'the child’s folder is gone');
});

it('LoRA: the base is mapped from its model directory, the adapters ride beside it', async () => {
  const modelDir = join(root, 'base-model');
  const qwen = makeQwen2Config(model);
  writeModelDir(modelDir, { config: qwen, weights: initQwen2Weights(qwen, 5) });
  const lora = { rank: 2, alpha: 4, targetModules: ['q_proj', 'down_proj'] };
  const config = configOf('lora', {
    model: { dir: modelDir },
    algorithm: { miniBatchSize: 4, microBatchSize: 4, optimizer: { lr: 1e-2 }, lora },
  });
  await new MockActivityEnvironment().run(prepareRun, config);
  const store = openStore(storeUrl);
  const policy = await checkpointPolicy('sample', store, 'lora', 0, 'mapped');
  assert.equal(regionDir(policy.weights), modelDir, 'mapped from the model directory itself, not copied');
  assert.equal(policy.lora!.spec.rank, 2);
  assert.equal(policy.lora!.adapters.size, 2 * 2 * 2);
  const reference = await checkpointPolicyArrays('score', store, 'lora', 0);
  assert.deepEqual(reference.arrays, loadWeights(modelDir, qwen), 'B = 0: the base’s arrays, nothing merged');
  reference.release();
  policy.release();
});
