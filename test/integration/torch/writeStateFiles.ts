/**
 * The TypeScript trainer's checkpoint files of a given state, for trainers/torch/tests/test_sharded_state.py
 * to compare byte for byte with the torch trainer's:
 *
 *   node --import tsx test/integration/torch/writeStateFiles.ts IN OUT MAX_SHARD_SIZE
 *
 * IN holds config.json and state.safetensors (`param.<name>`, `m.<name>`, `v.<name>`, float32, the step
 * count in the metadata key `reasonloop.optimizer_step`); OUT receives `weights/` and `optimizer/` as
 * activities/trainerState.ts writes them with that max shard size.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { HostTensor, OptimizerState } from '../../../core/graph/index.ts';
import { parseQwen2ConfigJson } from '../../../core/model/config.ts';
import { qwen2Parameters } from '../../../core/model/parameters.ts';
import { readSafetensors, readSafetensorsHeader } from '../../../core/model/safetensors.ts';
import { withStateFiles } from '../../../activities/trainerState.ts';
import { writeObjectSources } from '../../../core/store/index.ts';

const [input, out, maxShardSize] = process.argv.slice(2);
if (!input || !out || !maxShardSize) throw new Error('usage: writeStateFiles.ts IN OUT MAX_SHARD_SIZE');
const config = parseQwen2ConfigJson(readFileSync(join(input, 'config.json'), 'utf8'));
const file = join(input, 'state.safetensors');
const tensors = readSafetensors(file);
const groups: Record<'param' | 'm' | 'v', Record<string, HostTensor>> = { param: {}, m: {}, v: {} };
for (const p of qwen2Parameters(config)) {
  for (const kind of ['param', 'm', 'v'] as const) {
    const data = tensors.get(`${kind}.${p.name}`);
    if (!data) throw new Error(`${file}: tensor ${kind}.${p.name} is missing`);
    groups[kind][p.name] = { data, dims: [...p.shape] };
  }
}
const step = Number(readSafetensorsHeader(file).metadata['reasonloop.optimizer_step']);
const state: OptimizerState = { step, params: groups.param, m: groups.m, v: groups.v };
await withStateFiles({ config }, state, (objects) => writeObjectSources(out, objects), {
  maxShardSize: Number(maxShardSize),
});
