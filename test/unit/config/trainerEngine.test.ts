/**
 * orchestration.trainer.engine: "onnx" by default; "torch" with a field the torch trainer cannot honour
 * (a LoRA run on a model.init base, devices.trainer "cuda") is refused naming the field, by the parser and by `reasonloop train --check`,
 * before anything is written; the engine is not part of the run's identity (it may change on resume).
 * orchestration.trainer.mixedPrecision "bf16" is taken with "torch" only.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import {
  parseRunConfig,
  RunConfigError,
  runIdentity,
  type RunConfigInput,
} from '../../../core/config/run.ts';
import { TORCH_QUEUE_SUFFIX, torchTrainerQueue } from '../../../core/config/taskQueues.ts';
import { configHash } from '../../../core/store/index.ts';
import { capture } from '../cli/capture.ts';
import { TINY_QWEN2 } from '../orchestration/configFixtures.ts';

const DIR = mkdtempSync(join(tmpdir(), 'reasonloop-engine-'));

function run(extra: Partial<RunConfigInput> = {}, storeDir = join(DIR, 'store')): RunConfigInput {
  return {
    runId: 'engine',
    seed: 1,
    steps: 2,
    model: {
      init: {
        seed: 0,
        config: { ...TINY_QWEN2, hiddenSize: 8, intermediateSize: 16 },
      },
    },
    rollout: { promptsPerStep: 2, n: 2, maxNewTokens: 3 },
    algorithm: { miniBatchSize: 4, microBatchSize: 2 },
    store: { url: storeDir },
    ...extra,
  };
}

function issuesOf(raw: RunConfigInput): string[] {
  try {
    parseRunConfig(raw);
  } catch (error) {
    assert.ok(error instanceof RunConfigError, String(error));
    return error.issues;
  }
  return [];
}

describe('orchestration.trainer.engine', () => {
  it('is "onnx" unless the config says "torch"; anything else is refused by name', () => {
    assert.equal(parseRunConfig(run()).orchestration.trainer.engine, 'onnx');
    const torch = run({ orchestration: { trainer: { engine: 'torch' } } });
    assert.equal(parseRunConfig(torch).orchestration.trainer.engine, 'torch');
    assert.deepEqual(issuesOf(run({ orchestration: { trainer: { engine: 'jax' as 'torch' } } })), [
      'run.orchestration.trainer.engine must be one of "onnx", "torch" (got "jax")',
    ]);
  });

  it('with "torch", refuses LoRA on a model.init base and a cuda trainer, naming each field; "onnx" takes both', () => {
    const lora = { miniBatchSize: 4, microBatchSize: 2, lora: { rank: 4 } };
    const issues = issuesOf(
      run({ algorithm: lora, orchestration: { trainer: { engine: 'torch' }, devices: { trainer: 'cuda' } } }),
    );
    assert.equal(issues.length, 2, issues.join('\n'));
    assert.match(
      issues[0],
      /^run\.model\.init with algorithm\.lora is not supported with orchestration\.trainer\.engine "torch" \(.*model\.dir or model\.checkpoint/,
    );
    assert.match(
      issues[1],
      /^run\.orchestration\.devices\.trainer is not supported with orchestration\.trainer\.engine "torch" \(.*its worker's --device flag.*\(got "cuda"\)$/,
    );
    assert.deepEqual(issuesOf(run({ algorithm: lora, orchestration: { devices: { trainer: 'cuda' } } })), []);
  });

  it('mixedPrecision "bf16" is taken with "torch", refused by name with "onnx"; nothing else is a precision', () => {
    const torch = run({ orchestration: { trainer: { engine: 'torch', mixedPrecision: 'bf16' } } });
    assert.equal(parseRunConfig(torch).orchestration.trainer.mixedPrecision, 'bf16');
    assert.equal(parseRunConfig(run()).orchestration.trainer.mixedPrecision, undefined);
    assert.deepEqual(issuesOf(run({ orchestration: { trainer: { mixedPrecision: 'bf16' } } })), [
      'run.orchestration.trainer.mixedPrecision applies to orchestration.trainer.engine "torch" only (the ONNX trainer trains in float32); remove it or set engine "torch" (got "bf16")',
    ]);
    assert.deepEqual(
      issuesOf(run({ orchestration: { trainer: { engine: 'torch', mixedPrecision: 'fp16' as 'bf16' } } })),
      ['run.orchestration.trainer.mixedPrecision must be one of "bf16" (got "fp16")'],
    );
  });

  it('with "torch", takes LoRA on a model.dir or model.checkpoint base', () => {
    const lora = { miniBatchSize: 4, microBatchSize: 2, lora: { rank: 4 } };
    const torch = { trainer: { engine: 'torch' as const } };
    for (const model of [{ dir: '/models/qwen' }, { checkpoint: { runId: 'base', step: 0 } }])
      assert.deepEqual(issuesOf(run({ model, algorithm: lora, orchestration: torch })), []);
  });

  it('with "torch", refuses a float16 LoRA base (lora.baseDtype) naming the field; "onnx" takes it', () => {
    const algorithm = {
      miniBatchSize: 4,
      microBatchSize: 2,
      gradientCheckpointing: true,
      lora: { rank: 4, baseDtype: 'float16' as const },
    };
    const model = { dir: '/models/qwen' };
    assert.deepEqual(issuesOf(run({ model, algorithm, orchestration: { trainer: { engine: 'torch' } } })), [
      'run.algorithm.lora.baseDtype float16 is not supported with orchestration.trainer.engine "torch" (the torch trainer holds its frozen base as loaded; the half-precision base is the ONNX trainer\'s) (got "float16")',
    ]);
    assert.deepEqual(issuesOf(run({ model, algorithm })), []);
  });

  it('with "torch", refuses selective recomputation naming the field; "onnx" takes it', () => {
    const algorithm = { miniBatchSize: 4, microBatchSize: 2, gradientCheckpointing: 'selective' as const };
    const model = { dir: '/models/qwen' };
    assert.deepEqual(issuesOf(run({ model, algorithm, orchestration: { trainer: { engine: 'torch' } } })), [
      'run.algorithm.gradientCheckpointing "selective" is not supported with orchestration.trainer.engine "torch" (the torch trainer recomputes whole layers with torch.utils.checkpoint; use true, or engine "onnx") (got "selective")',
    ]);
    assert.deepEqual(issuesOf(run({ model, algorithm })), []);
  });

  it('`reasonloop train --check` refuses a torch LoRA run on a model.init base before it touches the store', async () => {
    const store = join(DIR, 'store-lora');
    const file = join(DIR, 'lora.json');
    writeFileSync(
      file,
      JSON.stringify(
        run(
          {
            algorithm: { miniBatchSize: 4, microBatchSize: 2, lora: { rank: 4 } },
            orchestration: { trainer: { engine: 'torch' } },
          },
          store,
        ),
      ),
    );
    const r = await capture(['train', '--config', file, '--check']);
    assert.equal(r.code, 1, r.out);
    assert.match(
      r.err,
      /run\.model\.init with algorithm\.lora is not supported with orchestration\.trainer\.engine "torch"/,
    );
    assert.deepEqual(existsSync(store) ? readdirSync(store) : [], [], 'nothing written to the store');
  });

  it('is not part of the run identity: a run may switch engines on resume', () => {
    const onnx = parseRunConfig(run());
    const torch = parseRunConfig(run({ orchestration: { trainer: { engine: 'torch' } } }));
    assert.equal(configHash(runIdentity(torch)), configHash(runIdentity(onnx)));
  });

  it('routes to the queue the Python worker polls: the trainer queue + "-torch"', () => {
    assert.equal(torchTrainerQueue('reasonloop-trainer'), 'reasonloop-trainer-torch');
    const worker = readFileSync(
      new URL('../../../trainers/torch/reasonloop_torch/worker.py', import.meta.url),
      'utf8',
    );
    assert.match(worker, new RegExp(`^TORCH_QUEUE_SUFFIX = "${TORCH_QUEUE_SUFFIX}"$`, 'm'));
  });
});
