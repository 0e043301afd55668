/**
 * prepareRun on a store that cannot be written fails non-retryable, naming the field, and writes nothing;
 * a store that is only down stays retryable.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { ApplicationFailure } from '@temporalio/common';
import { prepareRun } from '../../../activities/prepareRun.ts';
import { isPermanentStoreError } from '../../../activities/storeProbe.ts';
import { TINY_DIGITS_QWEN2 } from './configFixtures.ts';

function tinyRun(storeUrl: string) {
  return {
    runId: 'probe',
    seed: 1,
    steps: 1,
    model: {
      init: {
        seed: 0,
        config: TINY_DIGITS_QWEN2,
      },
    },
    task: { kind: 'reverseDigits' as const, digits: 2 },
    rollout: { promptsPerStep: 2, n: 2, maxNewTokens: 3 },
    algorithm: { miniBatchSize: 4, microBatchSize: 4 },
    store: { url: storeUrl },
  };
}

async function refusedFor(storeUrl: string): Promise<ApplicationFailure> {
  try {
    await prepareRun(tinyRun(storeUrl));
  } catch (error) {
    assert.ok(error instanceof ApplicationFailure, `${storeUrl}: ${String(error)}`);
    return error;
  }
  assert.fail(`${storeUrl}: prepareRun accepted it`);
}

describe('store probe of prepareRun', () => {
  it('a path under /proc is a non-retryable config error naming run.store.url', async () => {
    const failure = await refusedFor('/proc/reasonloop-store');
    assert.equal(failure.nonRetryable, true);
    assert.equal(failure.type, 'RunConfigError');
    assert.match(failure.message, /^run\.store\.url \/proc\/reasonloop-store: cannot be written \(/);
  });

  it('a file where the store folder should be: non-retryable, and the file is left as it was', async () => {
    const file = join(mkdtempSync(join(tmpdir(), 'reasonloop-probe-')), 'store');
    writeFileSync(file, 'not a folder');
    const failure = await refusedFor(file);
    assert.equal(failure.nonRetryable, true);
    assert.match(failure.message, /^run\.store\.url .*store: cannot be written/);
    assert.ok(existsSync(file));
  });

  it('tells refused requests from a store that is only down', () => {
    assert.equal(isPermanentStoreError(Object.assign(new Error('x'), { code: 'EROFS' })), true);
    assert.equal(
      isPermanentStoreError(
        new Error('wrapped', { cause: Object.assign(new Error('x'), { code: 'ENOTDIR' }) }),
      ),
      true,
    );
    assert.equal(isPermanentStoreError({ name: 'AccessDenied', $metadata: { httpStatusCode: 403 } }), true);
    assert.equal(isPermanentStoreError(Object.assign(new Error('x'), { code: 'ECONNREFUSED' })), false);
    assert.equal(isPermanentStoreError({ name: 'InternalError', $metadata: { httpStatusCode: 503 } }), false);
    assert.equal(isPermanentStoreError(new Error('socket hang up')), false);
  });
});
