/**
 * The trainer's copy of a LoRA run's frozen base, at the precision `algorithm.lora.baseDtype` asks for:
 * float32 is the base as every other role loads it (runtime.ts loraBaseModel); float16 holds the matrices
 * as half-precision bits (core/model/weightFeeds.ts halfWeights), read from a model directory one tensor
 * at a time, so the worker never holds the float32 base whole — about half the bytes of a trainer whose
 * memory the base dominates (docs/benchmarks.md, bench:scale).
 */
import type { RunConfig } from '../core/config/run.ts';
import { openParameterReaders } from '../core/model/parameterReaders.ts';
import { halfWeights } from '../core/model/weightFeeds.ts';
import { FAILURE, permanent } from './failures.ts';
import { initialModel, loraBaseModel, modelConfig, type ModelSource } from './runtime.ts';

export type FrozenWeights = ReadonlyMap<string, Float32Array | Uint16Array>;

/** One entry, as loraBaseModel's: a worker trains one run's base at a time. */
let halfSlot: { key: string; weights: Promise<FrozenWeights> } | undefined;

/** The frozen base the LoRA trainer feeds, loaded once per worker (per source and dtype). */
export function trainerBaseWeights(config: RunConfig): Promise<FrozenWeights> {
  if (config.algorithm.lora?.baseDtype !== 'float16') return loraBaseModel(config).then((m) => m.weights);
  const key = JSON.stringify([config.model, config.store.url]);
  if (halfSlot?.key !== key) {
    const weights = halfBase(config);
    weights.catch(() => {
      if (halfSlot?.weights === weights) halfSlot = undefined;
    });
    halfSlot = { key, weights };
  }
  return halfSlot.weights;
}

/** The base with float16 matrices: tensor by tensor from a model directory, else converted once loaded. */
async function halfBase(source: ModelSource): Promise<FrozenWeights> {
  const config = await modelConfig(source);
  const dir = source.model.dir;
  if (!dir) {
    // An init recipe or a checkpoint: loaded whole in float32 first (recipes are small; a checkpoint is
    // restored whole by initialModel in any case).
    const model = await initialModel(source);
    return halfWeights(config, (name) => model.weights.get(name)!);
  }
  let readers;
  try {
    readers = openParameterReaders(dir, config);
  } catch (error) {
    throw permanent(FAILURE.config, `model.dir ${dir}: ${(error as Error).message}`);
  }
  try {
    return halfWeights(config, (name) => readers.read(name));
  } finally {
    readers.close();
  }
}
