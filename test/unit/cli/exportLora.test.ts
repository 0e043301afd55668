/**
 * `reasonloop export` of a trained LoRA run: with --merge-lora, the merged HF directory holds exactly
 * W + s·B·A for the adapted matrices and the base elsewhere, and greedy decoding on it gives the tokens the
 * rollout worker samples from the checkpoint (adapters added in the graph); without it, the PEFT adapter
 * directory as trained. transformers and PEFT check the same outputs in test/integration/export.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { checkpointPolicy } from '../../../activities/checkpointPolicy.ts';
import { readCheckpointWeights } from '../../../activities/runtime.ts';
import { Generator } from '../../../core/generate/generator.ts';
import { loadModelDir, loadWeights } from '../../../core/model/modelDir.ts';
import { readPeftAdapter } from '../../../core/model/peftAdapter.ts';
import { weightRegions } from '../../../core/model/weightFiles.ts';
import { openStore } from '../../../core/store/index.ts';
import { capture } from './capture.ts';
import { toyConfig, toyLora, trainToyLoraRun } from './exportLora.ts';

const DIR = mkdtempSync(join(tmpdir(), 'reasonloop-export-lora-'));
const PROMPTS = [
  [1, 2, 10],
  [7, 3, 5, 10],
];

describe('reasonloop export of a LoRA run', () => {
  let store = '';
  let base = '';
  before(async () => {
    ({ store, base } = await trainToyLoraRun(DIR, 'lora-x'));
  });
  after(() => rmSync(DIR, { recursive: true, force: true }));

  /** `reasonloop export --merge-lora` of the run in float32 to `out`; `args` go before `--out`. */
  const exportMerged = (out: string, ...args: string[]) =>
    capture([
      'export',
      '--store',
      store,
      '--run',
      'lora-x',
      ...args,
      '--out',
      out,
      '--dtype',
      'float32',
      '--merge-lora',
    ]);

  it('--merge-lora writes W + s·B·A, and greedy decoding on it gives the checkpoint’s tokens', async () => {
    const out = join(DIR, 'merged');
    const r = await exportMerged(out);
    assert.equal(r.code, 0, r.err);
    const summary = JSON.parse(r.out);
    assert.equal(summary.step, 1);
    assert.equal(summary.mergedLora.rank, 2);
    const merged = loadModelDir(out).weights;
    const policy = await readCheckpointWeights(openStore(store), 'lora-x', 1);
    const baseWeights = loadWeights(base, toyConfig);
    let adapted = 0;
    for (const [name, data] of policy) {
      assert.deepEqual(merged.get(name), data, name);
      if (data.some((x, i) => x !== baseWeights.get(name)![i])) adapted++;
    }
    assert.equal(adapted, 2 * 4, 'the trained adapters moved exactly the adapted matrices');

    const onExport = weightRegions(out, toyConfig);
    assert.ok('regions' in onExport);
    const exported = await Generator.create(toyConfig, onExport.regions);
    const sampled = await checkpointPolicy('sample', openStore(store), 'lora-x', 1, 'mapped');
    const worker = await Generator.create(
      toyConfig,
      sampled.weights,
      { lora: sampled.lora!.spec },
      sampled.lora!.adapters,
    );
    const requests = PROMPTS.map((promptIds, prompt) => ({ promptIds, prompt, sample: 0 }));
    const opts = { maxNewTokens: 8, sampling: { temperature: 0 }, seed: 0 };
    const [a, b] = [await exported.generate(requests, opts), await worker.generate(requests, opts)];
    a.forEach((g, i) => {
      assert.deepEqual(g.tokens, b[i].tokens, `prompt ${i}`);
      g.logprobs.forEach((lp, k) =>
        assert.ok(Math.abs(lp - b[i].logprobs[k]) < 1e-5, `${lp} vs ${b[i].logprobs[k]}`),
      );
    });
  });

  it('without --merge-lora writes the PEFT adapter directory as trained', async () => {
    const out = join(DIR, 'adapter');
    const r = await capture(['export', '--store', store, '--run', 'lora-x', '--step', '1', '--out', out]);
    assert.equal(r.code, 0, r.err);
    assert.deepEqual(readdirSync(out).sort(), ['adapter_config.json', 'adapter_model.safetensors']);
    assert.equal(JSON.parse(r.out).base.dir, base);
    const exported = readPeftAdapter(out, toyConfig);
    const policy = await checkpointPolicy('sample', openStore(store), 'lora-x', 1, 'arrays');
    assert.deepEqual(exported.spec, { ...toyLora, targetModules: exported.spec.targetModules });
    assert.deepEqual(exported.adapters, policy.lora!.adapters);
  });

  it('--merge-lora of step 0 (fresh adapters, B = 0) gives the base’s weights exactly', async () => {
    const out = join(DIR, 'merged-0');
    const r = await exportMerged(out, '--step', '0');
    assert.equal(r.code, 0, r.err);
    assert.deepEqual(loadModelDir(out).weights, loadWeights(base, toyConfig));
  });
});
