/**
 * The cuda preflight on a machine without a GPU: it must fail before any work starts, naming each missing
 * piece, and never hand back a CPU session instead.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readdirSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import {
  CPU_DEVICE,
  DeviceUnavailableError,
  checkDevice,
  loaderErrors,
  ortBindingDir,
} from '../../../core/graph/device.ts';
import { Executable, Graph } from '../../../core/graph/index.ts';
import { copyOnnxruntimeNode } from './ortCopy.ts';

const HAS_GPU = existsSync('/dev') && readdirSync('/dev').some((n) => /^nvidia\d+$/.test(n));

test('cpu always passes the preflight', async () => {
  await checkDevice(CPU_DEVICE);
});

test('a negative device index is refused before anything is loaded', async () => {
  await assert.rejects(
    checkDevice({ kind: 'cuda', index: -1 }),
    /device index must be an integer ≥ 0 \(got -1\)/,
  );
});

test(
  'cuda without provider libraries or a GPU names both, and the failed CUDA session',
  { skip: HAS_GPU },
  async () => {
    const { root, ortDir } = await copyOnnxruntimeNode();
    try {
      const error = await checkDevice({ kind: 'cuda', index: 0 }, { ortDir }).then(
        () => assert.fail('checkDevice(cuda) resolved on a machine without a GPU'),
        (e: unknown) => e,
      );
      assert.ok(error instanceof DeviceUnavailableError);
      const bin = ortBindingDir(ortDir);
      assert.match(error.message, /^device cuda:0 is not usable \(no fall back to cpu\):/);
      assert.ok(
        error.message.includes(
          `CUDA provider libraries missing from ${bin}: libonnxruntime_providers_shared.so, libonnxruntime_providers_cuda.so`,
        ),
        error.message,
      );
      assert.ok(error.message.includes('no NVIDIA GPU visible'), error.message);
      // ORT's own loader error, taken from the probe's stderr, names the file it could not open.
      assert.ok(
        error.message.includes(
          `${join(bin, 'libonnxruntime_providers_shared.so')}: cannot open shared object file`,
        ),
        error.message,
      );
      assert.equal(error.problems.length, 3);
    } finally {
      await rm(root, { recursive: true, force: true });
    }
  },
);

test('the default onnxruntime-node also refuses cuda here', { skip: HAS_GPU }, async () => {
  await assert.rejects(checkDevice({ kind: 'cuda', index: 0 }), (e: Error) => {
    assert.ok(e instanceof DeviceUnavailableError);
    assert.match(e.message, /no NVIDIA GPU visible/);
    assert.match(e.message, /onnxruntime could not create a session with the CUDA provider/);
    return true;
  });
});

test('a cuda session does not silently become a CPU session', { skip: HAS_GPU }, async () => {
  const g = new Graph('no_fallback');
  const x = g.input('x', 'float32', [2]);
  g.output(g.node('Add', [x, x])[0], 'y');
  await assert.rejects(
    Executable.compile(g, { device: { kind: 'cuda', index: 0 } }),
    /Failed to load shared library/,
  );
});

test('loader errors are read from ORT stderr, colour codes removed', () => {
  const stderr =
    '\x1b[1;31m2026-11-25 09:54:07.9 [E:onnxruntime:onnxruntime-node, provider_bridge_ort.cc:2146 Create] ' +
    '... : FAIL : Failed to load library /x/libonnxruntime_providers_cuda.so with error: libcublasLt.so.13: ' +
    'cannot open shared object file: No such file or directory\n\x1b[m\n';
  assert.deepEqual(loaderErrors(stderr), [
    '/x/libonnxruntime_providers_cuda.so: libcublasLt.so.13: cannot open shared object file: No such file or directory',
  ]);
});
