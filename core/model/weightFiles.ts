/**
 * A model directory's weights as regions of its safetensors files rather than arrays: what a decode
 * session can map straight from disk (core/graph FileRegion), so sampling holds one copy of the weights —
 * onnxruntime's — instead of a JavaScript copy, a protobuf copy and onnxruntime's (docs/benchmarks.md,
 * bench:load). Only float32 tensors qualify (ONNX external data is the tensor's own dtype, little-endian,
 * as safetensors stores it), and the directory must take the small graph file written beside them during
 * a load (core/graph/session.ts); otherwise the reason is returned and the caller reads the arrays.
 */
import { accessSync, constants } from 'node:fs';
import { join, resolve } from 'node:path';
import type { FileRegion } from '../graph/index.ts';
import type { Qwen2Config } from './config.ts';
import { LM_HEAD, qwen2Parameters } from './parameters.ts';
import { readSafetensorsHeader, sameShape } from './safetensors.ts';
import { safetensorsFiles } from './safetensorsShards.ts';

/** Buffers some checkpoints carry that are not parameters (as loadWeights skips them). */
const IGNORED = /\.rotary_emb\.inv_freq$/;

/** Every parameter of `config` as a region of a float32 safetensors file in `dir`, or why not. */
export function weightRegions(
  dir: string,
  config: Qwen2Config,
): { regions: Map<string, FileRegion> } | { reason: string } {
  const root = resolve(dir);
  try {
    accessSync(root, constants.W_OK);
  } catch {
    return { reason: `${root} is not writable (the graph file is written beside the weights)` };
  }
  const found = new Map<string, { region: FileRegion; shape: number[]; dtype: string }>();
  for (const file of safetensorsFiles(root).keys()) {
    const path = join(root, file);
    for (const [name, info] of readSafetensorsHeader(path).tensors) {
      found.set(name, {
        region: { path, offset: info.begin, length: info.end - info.begin },
        shape: info.shape,
        dtype: info.dtype,
      });
    }
  }
  const specs = new Set(qwen2Parameters(config).map((s) => s.name));
  for (const name of found.keys())
    if (!specs.has(name) && !IGNORED.test(name) && !(config.tieWordEmbeddings && name === LM_HEAD))
      throw new Error(
        `${root}: unexpected tensor ${name} (not a parameter of the Qwen2 model in config.json)`,
      );
  const regions = new Map<string, FileRegion>();
  for (const spec of qwen2Parameters(config)) {
    const t = found.get(spec.name);
    // Shapes and names are loadWeights' to report in full; here a mismatch just means "read them".
    if (!t || !sameShape(t.shape, spec.shape)) return { reason: `${spec.name} is missing or misshapen` };
    if (t.dtype !== 'F32') return { reason: `${spec.name} is ${t.dtype}, not F32` };
    regions.set(spec.name, t.region);
  }
  return { regions };
}
