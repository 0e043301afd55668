/**
 * `reasonloop export` of a trained LoRA run, checked by libraries we did not write (the torch venv:
 * trainers/torch/install.sh, which test/run.sh runs before the integration tests): transformers loads the
 * --merge-lora directory and decodes greedily the tokens the rollout worker samples from the checkpoint
 * (log-probs within 1e-4), and PEFT loads the adapter directory on the base: its logits equal the merged
 * model's within 1e-5, its own merge_and_unload too, and it decodes the same tokens.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { homedir, tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { checkpointPolicy } from '../../../activities/checkpointPolicy.ts';
import { Generator } from '../../../core/generate/generator.ts';
import type { Generation } from '../../../core/generate/generation.ts';
import { openStore } from '../../../core/store/index.ts';
import { capture } from '../../unit/cli/capture.ts';
import { toyConfig, trainToyLoraRun } from '../../unit/cli/exportLora.ts';

const DIR = mkdtempSync(join(tmpdir(), 'reasonloop-lora-export-'));
const PROMPT = [1, 2, 10];
const MAX_NEW = 8;

function venvPython(): string {
  const cache = process.env.REASONLOOP_CACHE ?? join(homedir(), '.cache', 'reasonloop');
  const python = join(process.env.REASONLOOP_TORCH_VENV ?? join(cache, 'venv-torch'), 'bin', 'python');
  const r = existsSync(python) && spawnSync(python, ['-c', 'import torch, transformers, peft']);
  assert.ok(
    r && r.status === 0,
    `${python} with torch, transformers and peft is needed: bash trainers/torch/install.sh installs it`,
  );
  return python;
}

function python(script: string, args: string[]): Record<string, unknown> {
  const r = spawnSync(venvPython(), [join('scripts/python', script), ...args], {
    encoding: 'utf8',
    env: { ...process.env, OMP_NUM_THREADS: '1' },
  });
  assert.equal(r.status, 0, r.stderr);
  return JSON.parse(r.stdout.trim().split('\n').at(-1)!) as Record<string, unknown>;
}

async function exportRun(store: string, out: string, ...extra: string[]): Promise<void> {
  const r = await capture(['export', '--store', store, '--run', 'lora-t', '--out', out, ...extra]);
  assert.equal(r.code, 0, r.err);
}

describe('a LoRA export, read by transformers and PEFT', () => {
  let base = '';
  let merged = '';
  let adapter = '';
  let ours: Generation;
  before(async () => {
    const run = await trainToyLoraRun(DIR, 'lora-t');
    base = run.base;
    merged = join(DIR, 'merged');
    adapter = join(DIR, 'adapter');
    // Shards (and their index) as a real model's export has them.
    await exportRun(run.store, merged, '--merge-lora', '--dtype', 'float32', '--max-shard-size', '8000');
    await exportRun(run.store, adapter);
    const policy = await checkpointPolicy('sample', openStore(run.store), 'lora-t', 1, 'mapped');
    const worker = await Generator.create(
      toyConfig,
      policy.weights,
      { lora: policy.lora!.spec },
      policy.lora!.adapters,
    );
    [ours] = await worker.generate([{ promptIds: PROMPT, prompt: 0, sample: 0 }], {
      maxNewTokens: MAX_NEW,
      sampling: { temperature: 0 },
      seed: 0,
    });
  });
  after(() => rmSync(DIR, { recursive: true, force: true }));

  it('transformers decodes the merged export greedily as the rollout worker samples the checkpoint', () => {
    const hf = python('check_export_greedy.py', [
      merged,
      '--prompt-ids',
      PROMPT.join(','),
      '--max-new-tokens',
      String(MAX_NEW),
    ]);
    assert.deepEqual(hf.tokens, ours.tokens);
    (hf.logprobs as number[]).forEach((lp, k) =>
      assert.ok(Math.abs(lp - ours.logprobs[k]) < 1e-4, `log-prob ${k}: ${lp} vs ${ours.logprobs[k]}`),
    );
  });

  it('PEFT loads the adapter directory on the base: the merged model’s logits and tokens', () => {
    const r = python('check_peft_adapter.py', [
      '--base',
      base,
      '--adapter',
      adapter,
      '--merged',
      merged,
      '--prompt-ids',
      PROMPT.join(','),
      '--max-new-tokens',
      String(MAX_NEW),
    ]);
    assert.ok((r.peftVsMerged as number) < 1e-5, `PEFT vs merged: ${r.peftVsMerged}`);
    assert.ok((r.peftMergeVsMerged as number) < 1e-5, `PEFT's merge vs ours: ${r.peftMergeVsMerged}`);
    assert.deepEqual(r.tokens, ours.tokens);
  });
});
