/**
 * The PyTorch side of bench:scale: the update step of bench/scale/updateStep.ts's batch (same rows,
 * lengths and micro-batches) in HF transformers (PEFT for LoRA), in a process of its own so its peak RSS is
 * the step's (scripts/python/bench_scale_torch.py).
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadModelDirFiles } from '../../core/model/modelDir.ts';
import { TORCH_VENV, ensureVenv } from '../rollout/venv.ts';
import { benchRows, writeTorchBatch, type UpdateStepOptions } from './updateStep.ts';

export type TorchUpdate =
  | { mode: string; seconds: number; peakRssGB: number; loss: number; gradNorm: number }
  | { mode: string; error: string };

const SCRIPT = fileURLToPath(new URL('../../scripts/python/bench_scale_torch.py', import.meta.url));

export function torchUpdate(
  modelDir: string,
  mode: 'plain' | 'checkpointing',
  shape: Pick<UpdateStepOptions, 'rows' | 'micro' | 'prompt' | 'response' | 'loraRank'>,
  threads = 2,
): TorchUpdate {
  const venv = ensureVenv(TORCH_VENV);
  if ('reason' in venv) return { mode, error: venv.reason };
  const o: UpdateStepOptions = { model: modelDir, threads, recompute: true, ...shape };
  const dir = mkdtempSync(join(tmpdir(), 'bench-scale-'));
  try {
    const batch = join(dir, 'batch.json');
    writeTorchBatch(batch, benchRows(o, loadModelDirFiles(modelDir).config.vocabSize), o);
    const r = spawnSync(venv.python, [SCRIPT, modelDir, batch, String(threads), mode], { encoding: 'utf8' });
    if (r.status !== 0)
      return {
        mode,
        error: `exit ${r.status ?? r.signal}: ${r.stderr.trim().split('\n').slice(-2).join(' | ')}`,
      };
    const out = JSON.parse(r.stdout.trim().split('\n').pop()!);
    return { mode, seconds: out.seconds, peakRssGB: out.peakRssGB, loss: out.loss, gradNorm: out.gradNorm };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
