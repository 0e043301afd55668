/**
 * `reasonloop export --run R [--step S] --out DIR`: a verified checkpoint's policy as an HF model directory
 * that transformers (and vLLM) load as any Qwen2 checkpoint — weights at the chosen precision in shards of
 * at most --max-shard-size, with model.safetensors.index.json, config.json, generation_config.json and the
 * tokenizer files. The checkpoint's weights are streamed from the store (sha256 checked) to a folder beside
 * the output, then re-written tensor by tensor; the output appears whole (renamed into place) or not at all.
 * A LoRA checkpoint is written as its PEFT adapter directory, or with --merge-lora as the merged model (the
 * base read tensor by tensor, each adapted matrix merged as it is read: exportLora.ts).
 */
import { existsSync, mkdirSync, readdirSync, renameSync, rmSync } from 'node:fs';
import { mkdtemp } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';
import { exportModelDir, type ExportResult } from '../../core/model/exportModelDir.ts';
import { loadModelDirFiles } from '../../core/model/modelDir.ts';
import { readPeftAdapter } from '../../core/model/peftAdapter.ts';
import { storedDtypeOf } from '../../core/model/halfPrecision.ts';
import { parseShardSize } from '../../core/model/safetensorsShards.ts';
import {
  assertRunId,
  latestVerifiedCheckpoint,
  openStore,
  restoreCheckpointObjects,
  verifyCheckpoint,
  WEIGHTS_GROUP,
  type CheckpointManifest,
  type ObjectStore,
} from '../../core/store/index.ts';
import { parseOptions, usageError, type Command } from '../command.ts';
import { baseModelDir, copyPeftAdapter, isLoraCheckpoint, restoreAdapterGroup } from './exportLora.ts';

const HELP = `usage: reasonloop export --run RUN_ID [--step S] --out DIR [options]

  --store URL            the store the run wrote to (s3://bucket/prefix, file:///path or a folder;
                         default .reasonloop/store)
  --run RUN_ID           the run whose checkpoint to export
  --step S               the checkpoint's step (default: the newest that verifies)
  --out DIR              the HF model directory to write (must not exist, or be empty)
  --dtype T              bfloat16 (default), float16 or float32: the stored precision, rounded to nearest
                         even from the float32 weights as torch rounds; config.json's torch_dtype says it
  --max-shard-size SIZE  as save_pretrained's max_shard_size: "2GB", "500MB" (decimal) or bytes; default 5GB
  --merge-lora           a LoRA checkpoint: merge its adapters into the base (W + alpha/r·B·A, as PEFT's
                         merge_and_unload) and write the merged model; without it a LoRA checkpoint is
                         written as a PEFT adapter directory (adapter_config.json, adapter_model.safetensors,
                         float32 as trained) for PeftModel.from_pretrained on the base`;
const USAGE = { name: 'export', help: HELP };

export const exportCommand: Command = {
  name: 'export',
  describe: "write a run's checkpoint as a Hugging Face model directory (bf16/fp16/fp32, sharded)",
  run: runExport,
};

/** The checkpoint to export: the step asked for (it must verify), or the newest verified one. */
export async function exportableCheckpoint(
  store: ObjectStore,
  runId: string,
  step: number | undefined,
): Promise<CheckpointManifest> {
  if (step !== undefined) {
    const result = await verifyCheckpoint(store, runId, step);
    if ('problem' in result) {
      throw new Error(
        `checkpoint ${step} of run ${runId} in ${store.location} cannot be exported: ${result.problem}`,
      );
    }
    return result.manifest;
  }
  const latest = await latestVerifiedCheckpoint(store, runId, { allowPruned: true });
  if (!latest.manifest) {
    const rejected = latest.rejected.map((r) => `step ${r.step}: ${r.reason}`).join('; ');
    throw new Error(
      `run ${runId} in ${store.location} has no verified checkpoint${rejected ? ` (${rejected})` : ''}`,
    );
  }
  return latest.manifest;
}

async function runExport(argv: string[]): Promise<number> {
  const parsed = parseOptions(USAGE, argv, {
    store: { type: 'string' },
    run: { type: 'string' },
    step: { type: 'string' },
    out: { type: 'string' },
    dtype: { type: 'string' },
    'max-shard-size': { type: 'string' },
    'merge-lora': { type: 'boolean' },
  });
  if ('exit' in parsed) return parsed.exit;
  const args = parsed.values;
  if (!args.run) return usageError(USAGE, '--run is required');
  if (!args.out) return usageError(USAGE, '--out is required');
  let dtype, step, maxShardSize;
  try {
    assertRunId(args.run);
    dtype = storedDtypeOf(args.dtype ?? 'bfloat16');
    maxShardSize = parseShardSize(args['max-shard-size'] ?? '5GB');
    if (args.step !== undefined) {
      step = Number(args.step);
      if (!Number.isSafeInteger(step) || step < 0)
        throw new Error(`--step must be a whole number ≥ 0 (got ${args.step})`);
    }
  } catch (error) {
    return usageError(USAGE, (error as Error).message);
  }
  const out = resolve(args.out);
  if (existsSync(out) && readdirSync(out).length > 0) {
    throw new Error(`--out ${out}: exists and is not empty (export writes a fresh directory)`);
  }
  const store = openStore(args.store);
  const manifest = await exportableCheckpoint(store, args.run, step);
  const lora = isLoraCheckpoint(manifest);
  if (args['merge-lora'] && !lora) {
    throw new Error(
      `--merge-lora: checkpoint ${manifest.step} of run ${args.run} has no LoRA adapters to merge`,
    );
  }
  // Beside the output (same file system): the rename is atomic, and /tmp need not hold the model twice.
  const work = await mkdtemp(join(dirname(out), `.${basename(out)}.export-`));
  try {
    const staged = join(work, 'out');
    const summary: Record<string, unknown> = { run: args.run, step: manifest.step, out };
    if (lora) {
      const adapterDir = join(work, 'adapter');
      const base = await restoreAdapterGroup(store, manifest, adapterDir);
      summary.base = base.model;
      if (args['merge-lora']) {
        const baseDir = await baseModelDir(base, work);
        const config = loadModelDirFiles(baseDir).config;
        const { spec, adapters } = readPeftAdapter(adapterDir, config);
        const result = exportModelDir(baseDir, staged, { dtype, maxShardSize, lora: { spec, adapters } });
        Object.assign(summary, modelSummary(result, args.dtype), { mergedLora: spec });
      } else {
        mkdirSync(staged);
        summary.peftAdapter = copyPeftAdapter(adapterDir, staged);
      }
    } else {
      const source = join(work, 'checkpoint');
      await restoreCheckpointObjects(store, manifest, `${WEIGHTS_GROUP}/`, source);
      Object.assign(
        summary,
        modelSummary(exportModelDir(source, staged, { dtype, maxShardSize }), args.dtype),
      );
    }
    if (existsSync(out)) rmSync(out, { recursive: true });
    renameSync(staged, out);
    console.log(JSON.stringify(summary));
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
  return 0;
}

function modelSummary(result: ExportResult, dtype: string | undefined): Record<string, unknown> {
  return {
    dtype: dtype ?? 'bfloat16',
    files: result.plan.files.map((f) => f.file),
    totalSize: result.plan.totalSize,
    totalParameters: result.plan.totalParameters,
    tokenizerFiles: result.tokenizerFiles,
  };
}
