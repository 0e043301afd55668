/**
 * The step-0 model of a run as a parameter source read one tensor at a time, so that writing a run's first
 * checkpoint holds one tensor, not the model: a `model.dir`'s files are opened and checked against its
 * config.json before anything is read, `model.init` tensors are made as they are asked for, and a
 * full-parameter `model.checkpoint` is restored to disk and read like a model directory. Every failure of
 * the source is a config error naming it: no retry can fix a wrong model.
 */
import type { QwenModelDir } from '../core/model/modelDir.ts';
import { loadModelDirFiles } from '../core/model/modelDir.ts';
import { openParameterReaders, type ParameterReaders } from '../core/model/parameterReaders.ts';
import { initQwen2Tensor, qwen2Parameters } from '../core/model/parameters.ts';
import { verifyCheckpoint, WEIGHTS_GROUP } from '../core/store/index.ts';
import { FAILURE, permanent } from './failures.ts';
import { isLoraCheckpoint } from './loraState.ts';
import {
  initialModel,
  initModelFiles,
  modelFiles,
  runStore,
  withRestored,
  type ModelSource,
} from './runtime.ts';

type ParameterUse<T> = (
  base: Omit<QwenModelDir, 'weights'>,
  read: (name: string) => Float32Array,
) => Promise<T>;

export async function withInitialParameters<T>(source: ModelSource, use: ParameterUse<T>): Promise<T> {
  const { init, dir, checkpoint } = source.model;
  if (init) {
    const base = initModelFiles(init);
    const specs = new Map(qwen2Parameters(base.config).map((p) => [p.name, p]));
    return use(base, (name) => initQwen2Tensor(base.config, specs.get(name)!, init.seed));
  }
  if (dir) return withDirParameters(dir, `model.dir ${dir}`, await modelFiles(source), use);
  const store = runStore(source);
  const verified = await verifyCheckpoint(store, checkpoint!.runId, checkpoint!.step);
  const where = `model.checkpoint: step ${checkpoint!.step} of run ${checkpoint!.runId} in ${store.location}`;
  if ('problem' in verified) throw permanent(FAILURE.config, `${where}: ${verified.problem}`);
  if (isLoraCheckpoint(verified.manifest.objects)) {
    // A LoRA checkpoint is a base with adapters merged in: the merge needs the base whole anyway.
    const model = await initialModel(source);
    return use(model, (name) => model.weights.get(name)!);
  }
  return withRestored(store, verified.manifest, `${WEIGHTS_GROUP}/`, (restored) =>
    withDirParameters(restored, where, loadModelDirFiles(restored), use),
  );
}

async function withDirParameters<T>(
  dir: string,
  where: string,
  base: Omit<QwenModelDir, 'weights'>,
  use: ParameterUse<T>,
): Promise<T> {
  let readers: ParameterReaders;
  try {
    readers = openParameterReaders(dir, base.config);
  } catch (error) {
    throw sourceError(where, error);
  }
  try {
    return await use(base, (name) => {
      try {
        return readers.read(name);
      } catch (error) {
        throw sourceError(where, error);
      }
    });
  } finally {
    readers.close();
  }
}

/** An operating-system error (it has an errno code) may pass; anything else is the source's fault. */
function sourceError(where: string, error: unknown): unknown {
  if (!(error instanceof Error) || typeof (error as NodeJS.ErrnoException).code === 'string') return error;
  return permanent(FAILURE.config, `${where}: ${error.message}`);
}
