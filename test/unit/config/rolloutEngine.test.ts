/**
 * rollout.engine: absent means the in-process engine, with the parsed config and the run's identity exactly
 * as before the field existed; {kind: "openai"} parses with its endpoints and weight sync; what it cannot
 * honour (LoRA, a sampling weightDtype, sglang/vllm without an exportDir, no endpoints, a bad URL) is
 * refused naming the field; the engine stays out of the identity (a run may resume on the other engine).
 * algorithm.recomputeOldLogprobs, absent, leaves the identity as it was.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  parseRunConfig,
  RunConfigError,
  runIdentity,
  type RunConfigInput,
} from '../../../core/config/run.ts';
import { configHash } from '../../../core/store/index.ts';
import { TINY_QWEN2 } from '../orchestration/configFixtures.ts';

function run(rollout: Record<string, unknown> = {}, extra: Partial<RunConfigInput> = {}): RunConfigInput {
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
    rollout: { promptsPerStep: 2, n: 2, maxNewTokens: 3, ...rollout },
    algorithm: { miniBatchSize: 4, microBatchSize: 2 },
    store: { url: '/tmp/unused-store' },
    ...extra,
  } as RunConfigInput;
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

const SERVERS = [
  { url: 'http://127.0.0.1:8001/v1', model: 'policy' },
  { url: 'http://127.0.0.1:8002/v1', model: 'policy' },
];

describe('rollout.engine', () => {
  it('absent: no engine in the parsed config, and the identity hash of a config without the field', () => {
    const parsed = parseRunConfig(run());
    assert.equal(parsed.rollout.engine, undefined);
    assert.ok(!('engine' in (runIdentity(parsed).rollout as object)));
    // The identity of {kind: "onnx"} and of openai servers is the identity of the same run without the field.
    const base = configHash(runIdentity(parsed));
    assert.equal(configHash(runIdentity(parseRunConfig(run({ engine: { kind: 'onnx' } })))), base);
    const openai = parseRunConfig(
      run({ engine: { kind: 'openai', endpoints: SERVERS, weightSync: 'reasonloop' } }),
    );
    assert.equal(configHash(runIdentity(openai)), base);
    assert.deepEqual(openai.rollout.engine, { kind: 'openai', endpoints: SERVERS, weightSync: 'reasonloop' });
    // algorithm.recomputeOldLogprobs: absent leaves the identity alone; set, it is part of it (other losses).
    assert.ok(!('recomputeOldLogprobs' in (runIdentity(parsed).algorithm as object)));
    const recompute = run(
      {},
      { algorithm: { miniBatchSize: 4, microBatchSize: 2, recomputeOldLogprobs: true } },
    );
    assert.notEqual(configHash(runIdentity(parseRunConfig(recompute))), base);
  });

  it('refuses what the server engine cannot honour, naming the field', () => {
    const openai = (over: Record<string, unknown> = {}) => ({
      kind: 'openai',
      endpoints: SERVERS,
      weightSync: 'reasonloop',
      ...over,
    });
    assert.match(issuesOf(run({ engine: { kind: 'vllm' } })).join('\n'), /run\.rollout\.engine/);
    assert.match(
      issuesOf(run({ engine: openai({ weightSync: 'ray' }) })).join('\n'),
      /run\.rollout\.engine\.weightSync must be one of "reasonloop", "sglang", "vllm", "none"/,
    );
    assert.match(
      issuesOf(run({ engine: openai({ endpoints: [] }) })).join('\n'),
      /run\.rollout\.engine\.endpoints must name at least one endpoint/,
    );
    assert.match(
      issuesOf(run({ engine: openai({ endpoints: [{ url: 'ftp://x/v1', model: 'm' }] }) })).join('\n'),
      /run\.rollout\.engine\.endpoints\.0\.url must be an http\(s\) URL/,
    );
    assert.match(
      issuesOf(run({ engine: openai({ weightSync: 'sglang' }) })).join('\n'),
      /run\.rollout\.engine\.exportDir is required with weightSync "sglang"/,
    );
    assert.deepEqual(issuesOf(run({ engine: openai({ weightSync: 'vllm', exportDir: '/shared/x' }) })), []);
    assert.match(
      issuesOf(run({ engine: openai(), weightDtype: 'float16' })).join('\n'),
      /run\.rollout\.weightDtype is not supported with rollout\.engine\.kind "openai"/,
    );
    const lora = run(
      { engine: openai() },
      { algorithm: { miniBatchSize: 4, microBatchSize: 2, lora: { rank: 2 } } },
    );
    assert.match(
      issuesOf(lora).join('\n'),
      /run\.algorithm\.lora is not supported with rollout\.engine\.kind "openai"/,
    );
  });
});
