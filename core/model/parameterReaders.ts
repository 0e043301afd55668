/**
 * The parameters of an HF model directory, read one at a time on demand: each file's header is parsed and
 * checked against the config (names, shapes, no duplicates, none missing) before any tensor is read, so a
 * writer that streams a model (an export, a run's step-0 checkpoint) fails on a wrong directory before it
 * writes anything, and holds one tensor at a time.
 */
import { join } from 'node:path';
import type { Qwen2Config } from './config.ts';
import { LM_HEAD, qwen2Parameters } from './parameters.ts';
import { SafetensorsReader, sameShape } from './safetensors.ts';
import { safetensorsFiles } from './safetensorsShards.ts';

export interface ParameterReaders {
  /** The parameter as float32 (converted from the file's dtype). */
  read(name: string): Float32Array;
  close(): void;
}

/** Opens every safetensors file of `dir` and maps each parameter of `config`'s model to the file holding it. */
export function openParameterReaders(dir: string, config: Qwen2Config): ParameterReaders {
  const specs = qwen2Parameters(config);
  const expected = new Map(specs.map((s) => [s.name, s.shape]));
  const where = new Map<string, SafetensorsReader>();
  const readers: SafetensorsReader[] = [];
  const close = () => {
    for (const r of readers) r.close();
  };
  try {
    for (const file of safetensorsFiles(dir).keys()) {
      const reader = SafetensorsReader.open(join(dir, file));
      readers.push(reader);
      for (const info of reader.header.tensors.values()) {
        // A tied checkpoint may still carry lm_head.weight (a copy of the embedding); it is not a parameter.
        if (/\.rotary_emb\.inv_freq$/.test(info.name) || (config.tieWordEmbeddings && info.name === LM_HEAD))
          continue;
        const shape = expected.get(info.name);
        if (!shape)
          throw new Error(`${file}: unexpected tensor ${info.name} (not a parameter of config.json's model)`);
        if (!sameShape(shape, info.shape)) {
          throw new Error(
            `${file}: tensor ${info.name} has shape [${info.shape}], config.json needs [${shape}]`,
          );
        }
        if (where.has(info.name))
          throw new Error(`${file}: tensor ${info.name} is also in ${where.get(info.name)!.file}`);
        where.set(info.name, reader);
      }
    }
    const missing = specs.find((s) => !where.has(s.name));
    if (missing) throw new Error(`${dir}: tensor ${missing.name} is missing`);
  } catch (error) {
    close();
    throw error;
  }
  return {
    read: (name) => {
      const reader = where.get(name);
      if (!reader) throw new Error(`${dir}: ${name} is not a parameter of config.json's model`);
      return reader.read(name);
    },
    close,
  };
}
