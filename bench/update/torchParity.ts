/**
 * `bench:update --engine torch`, the parity half: the bench's 8 × 256-token batch and bench-25m weights
 * through the ONNX trainer (PolicyUpdater) and the torch trainer (reasonloop_torch.parity, the entry point
 * the parity test uses, one rank), both in float64. Returns the largest relative difference of loss,
 * every metric, and the updated weights and AdamW moments, and each side's update wall time.
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { initOptimizerState, type HostTensor } from '../../core/graph/index.ts';
import { qwen2ConfigToJsonText, type Qwen2Config } from '../../core/model/config.ts';
import { qwen2Parameters } from '../../core/model/parameters.ts';
import type { RlAlgorithmConfig } from '../../core/config/rl.ts';
import { PolicyUpdater, type UpdateContext } from '../../core/train/policyUpdate.ts';
import type { RolloutRow } from '../../core/train/rolloutBatch.ts';
import { readF64Safetensors, writeF64Safetensors } from './f64Safetensors.ts';

export interface TorchParity {
  parityMaxRelDiff: number;
  /** Where the largest difference is, for a reader chasing it. */
  worstAt: string;
  onnxUpdateMs: number;
  torchUpdateMs: number;
}

const ROOT = resolve(import.meta.dirname, '../..');

function relDiff(a: number, b: number): number {
  if (a === b) return 0;
  return Math.abs(a - b) / Math.max(Math.abs(a), Math.abs(b), 1e-12);
}

export async function torchParity(
  python: string,
  config: Qwen2Config,
  weights: Map<string, Float32Array>,
  algo: RlAlgorithmConfig,
  rows: RolloutRow[],
  ctx: UpdateContext,
): Promise<TorchParity> {
  // The ONNX trainer packs log-probs and advantages as float32: give both sides the values it sees.
  rows = rows.map((r) => ({
    ...r,
    oldLogprobs: r.oldLogprobs.map(Math.fround),
    advantages: r.advantages.map(Math.fround),
  }));
  const params: Record<string, HostTensor> = {};
  for (const p of qwen2Parameters(config))
    params[p.name] = { data: Float64Array.from(weights.get(p.name)!), dims: [...p.shape] };
  const dir = mkdtempSync(join(tmpdir(), 'bench-update-parity-'));
  try {
    const caseDir = join(dir, 'bench25m');
    mkdirSync(caseDir);
    writeFileSync(join(caseDir, 'config.json'), qwen2ConfigToJsonText(config));
    writeF64Safetensors(join(caseDir, 'initial.safetensors'), params);
    writeFileSync(
      join(caseDir, 'case.json'),
      JSON.stringify({ dtype: 'float64', algorithm: algo, rows, steps: [ctx] }),
    );

    const updater = await PolicyUpdater.create(config, algo, {}, 'float64');
    const copy = Object.fromEntries(
      Object.entries(params).map(([k, t]) => [k, { data: t.data.slice(), dims: t.dims }]),
    );
    const t0 = performance.now();
    const onnx = await updater.update(initOptimizerState(copy), rows, ctx);
    const onnxUpdateMs = performance.now() - t0;

    const r = spawnSync(python, ['-m', 'reasonloop_torch.parity', dir, 'torch'], {
      env: { ...process.env, PYTHONPATH: join(ROOT, 'trainers/torch') },
      encoding: 'utf8',
    });
    if (r.status !== 0)
      throw new Error(
        `reasonloop_torch.parity failed (bash trainers/torch/install.sh installs its venv):\n${r.stderr}`,
      );
    const got = JSON.parse(readFileSync(join(caseDir, 'torch.json'), 'utf8')) as {
      metrics: Record<string, number>[];
      updateMs: number[];
    };
    let worst = 0;
    let worstAt = '';
    const note = (d: number, at: string) => {
      if (d > worst) [worst, worstAt] = [d, at];
    };
    if (got.metrics.length !== onnx.metrics.length)
      throw new Error(`torch ran ${got.metrics.length} optimizer steps, ONNX ${onnx.metrics.length}`);
    onnx.metrics.forEach((m, i) => {
      for (const [key, value] of Object.entries(m))
        note(
          relDiff(got.metrics[i][key], value),
          `step ${i} ${key}: torch ${got.metrics[i][key]}, onnx ${value}`,
        );
    });
    const tensors = readF64Safetensors(join(caseDir, 'torch.safetensors'));
    for (const [kind, record] of [
      ['param', onnx.state.params],
      ['m', onnx.state.m],
      ['v', onnx.state.v],
    ] as const)
      for (const [p, t] of Object.entries(record)) {
        const mine = tensors.get(`${kind}.${p}`);
        if (!mine) throw new Error(`torch.safetensors has no ${kind}.${p}`);
        for (let k = 0; k < t.data.length; k++)
          note(
            relDiff(mine[k], Number(t.data[k])),
            `${kind}.${p}[${k}]: torch ${mine[k]}, onnx ${t.data[k]}`,
          );
      }
    return { parityMaxRelDiff: worst, worstAt, onnxUpdateMs, torchUpdateMs: got.updateMs[0] };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
