/**
 * A model's weights as graph feeds, by their HF tensor names: what a graph that takes the parameters as
 * inputs (the fed decode graph, the log-prob graph) is run with.
 */
import { toFloat16 } from '../graph/dtype.ts';
import type { Feeds } from '../graph/index.ts';
import type { Qwen2Config } from './config.ts';
import { qwen2Parameters } from './parameters.ts';
import { isMatrixWeight, type WeightDtype } from './qwen2.ts';

/**
 * HF-named weights as graph feeds, each checked to exist; "float16" converts the matrices, or feeds them
 * as they are when they are held at half precision already (halfWeights: float16 bits in a Uint16Array).
 */
export function weightFeeds(
  config: Qwen2Config,
  weights: ReadonlyMap<string, Float32Array | Uint16Array>,
  weightDtype: WeightDtype = 'float32',
): Feeds {
  const feeds: Feeds = {};
  for (const p of qwen2Parameters(config)) {
    const data = weights.get(p.name);
    if (!data) throw new Error(`weights: missing tensor ${p.name}`);
    const half = weightDtype === 'float16' && isMatrixWeight(p.shape);
    if (data instanceof Uint16Array && !half)
      throw new Error(`weights: ${p.name} is held at float16, the graph takes it as float32`);
    feeds[p.name] = { data: half && data instanceof Float32Array ? toFloat16(data) : data, dims: p.shape };
  }
  return feeds;
}

/**
 * A model's weights with the matrices stored as float16 bits (what weightFeeds feeds a float16 graph
 * input as is), read one tensor at a time so that no more than one float32 tensor exists at once;
 * norms and biases stay float32. Each value is rounded to the nearest half, ties to even (float16Bits).
 */
export function halfWeights(
  config: Qwen2Config,
  read: (name: string) => Float32Array,
): Map<string, Float32Array | Uint16Array> {
  const out = new Map<string, Float32Array | Uint16Array>();
  for (const p of qwen2Parameters(config)) {
    const data = read(p.name);
    out.set(p.name, isMatrixWeight(p.shape) ? toFloat16(data) : data);
  }
  return out;
}
