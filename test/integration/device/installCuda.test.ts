/**
 * The real thing, opt-in (REASONLOOP_TEST_CUDA_WHEEL=1): pip downloads onnxruntime-gpu of onnxruntime-node's
 * version from PyPI (≈250 MB), the provider libraries are verified and linked next to a private copy of the
 * binding, and ORT then loads them: without a GPU, the CUDA provider gets as far as its own dependencies
 * (libcublasLt.so.13), which the preflight names. Opt-in because of the download size, not its time (≈10 s).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readdirSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { DeviceUnavailableError, checkDevice } from '../../../core/graph/device.ts';
import { installCudaProvider } from '../../../infra/cuda.ts';
import { copyOnnxruntimeNode } from '../../unit/device/ortCopy.ts';

const ENABLED = process.env.REASONLOOP_TEST_CUDA_WHEEL === '1';
/** Also the [cuda,cudnn] extras: ≈2.3 GB of NVIDIA wheels, ≈80 s here. */
const WITH_NVIDIA = process.env.REASONLOOP_TEST_CUDA_NVIDIA_LIBS === '1';
const HAS_GPU = existsSync('/dev') && readdirSync('/dev').some((n) => /^nvidia\d+$/.test(n));

test(
  'install-cuda from PyPI places libraries that ORT loads',
  { skip: !ENABLED && 'set REASONLOOP_TEST_CUDA_WHEEL=1' },
  async () => {
    const { root, ortDir } = await copyOnnxruntimeNode();
    const env = { ...process.env, REASONLOOP_CACHE: join(root, 'cache') };
    const log = (line: string) => process.stderr.write(`${line}\n`);
    try {
      let started = Date.now();
      const first = await installCudaProvider({ ortDir, env, log });
      process.stderr.write(`install-cuda: first run ${Date.now() - started} ms\n`);
      assert.equal(first.unchanged, false);
      started = Date.now();
      const second = await installCudaProvider({ ortDir, env, log });
      process.stderr.write(`install-cuda: re-run ${Date.now() - started} ms\n`);
      assert.equal(second.unchanged, true);
      assert.ok(!existsSync(join(first.dir, 'download')), 'the downloaded wheel is removed after extraction');
      if (HAS_GPU) {
        await checkDevice({ kind: 'cuda', index: 0 }, { ortDir });
        return;
      }
      const error = await checkDevice({ kind: 'cuda', index: 0 }, { ortDir }).then(
        () => assert.fail('checkDevice(cuda) resolved without a GPU'),
        (e: unknown) => e,
      );
      assert.ok(error instanceof DeviceUnavailableError);
      assert.doesNotMatch(error.message, /CUDA provider libraries missing/);
      assert.match(
        error.message,
        /libonnxruntime_providers_cuda\.so: libcublas(Lt)?\.so\.13: cannot open shared object file/,
      );
    } finally {
      await rm(root, { recursive: true, force: true });
    }
  },
);

test(
  'with the NVIDIA wheels on LD_LIBRARY_PATH only the driver is missing',
  { skip: !WITH_NVIDIA && 'set REASONLOOP_TEST_CUDA_NVIDIA_LIBS=1 (downloads ≈2.3 GB)' },
  async () => {
    const { root, ortDir } = await copyOnnxruntimeNode();
    const env = { ...process.env, REASONLOOP_CACHE: join(root, 'cache') };
    const saved = process.env.LD_LIBRARY_PATH;
    try {
      const started = Date.now();
      const installed = await installCudaProvider({ ortDir, env, withNvidiaLibs: true, log: () => {} });
      process.stderr.write(`install-cuda --with-nvidia-libs: ${Date.now() - started} ms\n`);
      assert.ok(installed.libraryPath.length > 0);
      assert.equal(
        (await installCudaProvider({ ortDir, env, withNvidiaLibs: true, log: () => {} })).unchanged,
        true,
      );
      // The preflight's probe is a child process, so it sees the loader path set here.
      process.env.LD_LIBRARY_PATH = installed.libraryPath.join(':');
      const outcome = await checkDevice({ kind: 'cuda', index: 0 }, { ortDir }).then(
        () => undefined,
        (e: Error) => e,
      );
      if (HAS_GPU) assert.equal(outcome, undefined);
      else
        assert.match(
          String(outcome?.message),
          /libcuda\.so\.1: cannot open shared object file.*comes with the NVIDIA driver/,
        );
    } finally {
      if (saved === undefined) delete process.env.LD_LIBRARY_PATH;
      else process.env.LD_LIBRARY_PATH = saved;
      await rm(root, { recursive: true, force: true });
    }
  },
);
