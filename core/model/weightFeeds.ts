/**
 * A model's weights as graph feeds, by their HF tensor names: what a graph that takes the parameters as
 * inputs (the fed decode graph, the log-prob graph) is run with.
 */
import { toFloat16 } from '../graph/dtype.ts';
import type { Feeds } from '../graph/index.ts';
import type { Qwen2Config } from './config.ts';
import { qwen2Parameters } from './parameters.ts';
import { isMatrixWeight, type WeightDtype } from './qwen2.ts';

/** HF-named weights as graph feeds, each checked to exist; "float16" converts the matrices. */
export function weightFeeds(
  config: Qwen2Config,
  weights: Map<string, Float32Array>,
  weightDtype: WeightDtype = 'float32',
): Feeds {
  const feeds: Feeds = {};
  for (const p of qwen2Parameters(config)) {
    const data = weights.get(p.name);
    if (!data) throw new Error(`weights: missing tensor ${p.name}`);
    const half = weightDtype === 'float16' && isMatrixWeight(p.shape);
    feeds[p.name] = { data: half ? toFloat16(data) : data, dims: p.shape };
  }
  return feeds;
}
