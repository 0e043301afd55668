/**
 * One Generator per model architecture and thread count in a worker process: evaluations and difficulty
 * filter shards take turns swapping their weights into it, so a worker compiles the decode graph once
 * per architecture rather than once per activity.
 */
import { Generator } from '../core/generate/generate.ts';
import type { QwenModelDir } from '../core/model/modelDir.ts';
import { memo } from './runtime.ts';

const generators = new Map<string, Promise<{ generator: Generator; lock: Promise<unknown> }>>();

export async function withSharedGenerator<T>(
  model: QwenModelDir,
  intraOpThreads: number,
  use: (g: Generator) => Promise<T>,
): Promise<T> {
  const slot = await memo(generators, JSON.stringify([model.config, intraOpThreads]), async () => ({
    generator: await Generator.create(model.config, model.weights, { intraOpThreads }),
    lock: Promise.resolve() as Promise<unknown>,
  }));
  const turn = slot.lock.then(() => {
    slot.generator.setWeights(model.weights);
    return use(slot.generator);
  });
  slot.lock = turn.catch(() => undefined);
  return turn;
}
