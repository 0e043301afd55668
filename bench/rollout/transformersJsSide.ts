/**
 * The transformers.js side: the bench weights exported by optimum (`optimum-cli export onnx --task
 * text-generation-with-past`) into DIR/onnx/model.onnx, the layout transformers.js loads, then its own
 * `generate` on onnxruntime-node, offline (DESIGN.md §4).
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, renameSync, rmSync, statSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { AutoModelForCausalLM, Tensor, env } from '@huggingface/transformers';
import type { RolloutSide } from './side.ts';
import { ROLLOUT, type RolloutWorkload } from './workload.ts';
import { WEIGHTS_FILE } from '../../core/model/modelDir.ts';

/** transformers.js loads `onnx/model.onnx` for dtype fp32. */
const ONNX_SUBDIR = 'onnx';
const ONNX_FILE = 'model.onnx';
const EXPORT_TASK = 'text-generation-with-past';

/**
 * DIR/onnx/model.onnx, exported once (again when the weights are newer). Returns undefined when it is in
 * place, or why it could not be made.
 */
export function ensureOnnxExport(workload: RolloutWorkload, venvBin: string): string | undefined {
  const target = join(workload.dir, ONNX_SUBDIR, ONNX_FILE);
  const weights = join(workload.dir, WEIGHTS_FILE);
  if (existsSync(target) && statSync(target).mtimeMs >= statSync(weights).mtimeMs) return undefined;
  const tmp = join(workload.dir, 'onnx-export.tmp');
  rmSync(tmp, { recursive: true, force: true });
  console.error(`rollout bench: exporting ${workload.dir} to ONNX for transformers.js (optimum-cli)`);
  const r = spawnSync(
    join(venvBin, 'optimum-cli'),
    ['export', 'onnx', '--model', workload.dir, '--task', EXPORT_TASK, tmp],
    { encoding: 'utf8' },
  );
  if (r.status !== 0 || !existsSync(join(tmp, ONNX_FILE))) {
    const tail = `${r.stderr ?? ''}${r.error?.message ?? ''}`.trim().split('\n').slice(-5).join('\n');
    return `optimum-cli export onnx failed (exit ${r.status}): ${tail}`;
  }
  const out = join(workload.dir, ONNX_SUBDIR);
  rmSync(out, { recursive: true, force: true });
  mkdirSync(out);
  // model.onnx, plus model.onnx_data when the exporter splits the weights out.
  for (const f of readdirSync(tmp)) if (f.startsWith(ONNX_FILE)) renameSync(join(tmp, f), join(out, f));
  rmSync(tmp, { recursive: true, force: true });
  return undefined;
}

type CausalLM = Awaited<ReturnType<typeof AutoModelForCausalLM.from_pretrained>>;

export interface TransformersJsModel {
  side: RolloutSide;
  greedyFirstTokens(): Promise<number[]>;
}

async function generateIds(model: CausalLM, workload: RolloutWorkload, options: Record<string, unknown>) {
  const B = workload.prompts.length;
  const T = workload.prompts[0].length;
  const inputIds = new Tensor('int64', BigInt64Array.from(workload.prompts.flat(), BigInt), [B, T]);
  const mask = new Tensor('int64', new BigInt64Array(B * T).fill(1n), [B, T]);
  const out = (await model.generate({ input_ids: inputIds, attention_mask: mask, ...options })) as Tensor;
  return { out, B, T };
}

export async function loadTransformersJs(
  workload: RolloutWorkload,
  threads: number,
): Promise<TransformersJsModel> {
  env.allowRemoteModels = false;
  env.localModelPath = dirname(workload.dir);
  const model = await AutoModelForCausalLM.from_pretrained(basename(workload.dir), {
    dtype: 'fp32',
    device: 'cpu',
    session_options: { intraOpNumThreads: threads, interOpNumThreads: 1 },
  });
  return {
    side: {
      name: 'transformers.js',
      threads,
      async run() {
        // transformers.js samples with Math.random: it takes no seed.
        const start = performance.now();
        const { out, B, T } = await generateIds(model, workload, {
          do_sample: true,
          temperature: ROLLOUT.temperature,
          top_k: 0,
          max_new_tokens: ROLLOUT.maxNewTokens,
          min_new_tokens: ROLLOUT.maxNewTokens,
        });
        const seconds = (performance.now() - start) / 1000;
        if (out.dims[0] !== B || out.dims[1] !== T + ROLLOUT.maxNewTokens)
          throw new Error(
            `transformers.js: generated [${out.dims}], expected [${B},${T + ROLLOUT.maxNewTokens}]`,
          );
        return seconds;
      },
    },
    async greedyFirstTokens() {
      const { out, B, T } = await generateIds(model, workload, { do_sample: false, max_new_tokens: 1 });
      const data = out.data as BigInt64Array;
      return Array.from({ length: B }, (_, b) => Number(data[b * (T + 1) + T]));
    },
  };
}
