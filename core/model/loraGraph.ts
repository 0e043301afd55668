/**
 * LoRA's adapters as graph inputs beside a Qwen2 graph's parameters: each A and B goes into the same
 * parameter map under its name (`….q_proj.lora_A.weight`), where `loraLinear` (qwen2.ts) finds it.
 * A graph built this way takes the base weights and the adapters as separate inputs, so a trainer can
 * differentiate with respect to the adapters only and feed the base weights unchanged.
 */
import type { DType, Feeds, Graph, Value } from '../graph/index.ts';
import type { Qwen2Config } from './config.ts';
import { loraParameters, loraScaling, type LoraSpec } from './lora.ts';

/** Adds the adapter inputs to `params`; returns them (the trainable set) and the branch's scaling. */
export function declareLoraInputs(
  graph: Graph,
  config: Qwen2Config,
  spec: LoraSpec,
  params: Map<string, Value>,
  dtype: DType = 'float32',
): { adapters: Value[]; scaling: number } {
  const adapters = loraParameters(config, spec).map((p) => {
    const v = graph.input(p.name, dtype, p.shape);
    params.set(p.name, v);
    return v;
  });
  return { adapters, scaling: loraScaling(spec) };
}

/** The adapters as the feeds of the inputs declareLoraInputs adds; a missing or misshapen one is named. */
export function loraFeeds(
  config: Qwen2Config,
  spec: LoraSpec,
  adapters: ReadonlyMap<string, Float32Array>,
): Feeds {
  const feeds: Feeds = {};
  for (const p of loraParameters(config, spec)) {
    const data = adapters.get(p.name);
    const size = p.shape[0] * p.shape[1];
    if (!data) throw new Error(`adapters: missing tensor ${p.name}`);
    if (data.length !== size)
      throw new Error(`adapters: ${p.name} has ${data.length} values, [${p.shape}] needs ${size}`);
    feeds[p.name] = { data, dims: p.shape };
  }
  return feeds;
}
