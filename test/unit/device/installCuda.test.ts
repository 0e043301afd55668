/**
 * infra/cuda.ts on wheels built here by Python's own zipfile (the reader is checked against a zip writer we
 * did not write): extraction, RECORD and ELF checks, placement next to the binding, re-runs, refusals.
 * The real 247 MB onnxruntime-gpu wheel: test/integration/device/installCuda.test.ts (opt-in).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { lstat, mkdir, mkdtemp, readFile, readlink, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ortBindingDir } from '../../../core/graph/device.ts';
import {
  checkElf,
  checkSameVersion,
  installCudaProvider,
  ldLibraryPathExport,
  sha256File,
} from '../../../infra/cuda.ts';
import { extraRequirements, parseRecord, parseWheelFileName } from '../../../infra/wheel.ts';

/** Two real ELF x86-64 files stand in for the provider libraries. */
const ELF_SHARED = '/bin/true';
const ELF_CUDA = '/bin/false';

const MAKE_WHEEL = `
import base64, hashlib, sys, zipfile
out, version, fault = sys.argv[1:4]
files = {
  'onnxruntime/capi/libonnxruntime_providers_shared.so': open('${ELF_SHARED}', 'rb').read(),
  'onnxruntime/capi/libonnxruntime_providers_cuda.so': b'not an ELF file' if fault == 'notelf' else open('${ELF_CUDA}', 'rb').read(),
  'onnxruntime/__init__.py': b'',
}
info = 'onnxruntime_gpu-%s.dist-info/' % version
files[info + 'METADATA'] = ('Name: onnxruntime-gpu\\nVersion: %s\\nRequires-Dist: numpy>=1.21.6\\n'
  'Provides-Extra: cuda\\nRequires-Dist: nvidia-cuda-runtime~=13.0; extra == "cuda"\\n'
  'Provides-Extra: cudnn\\nRequires-Dist: nvidia-cudnn-cu13~=9.0; extra == "cudnn"\\n' % version).encode()
def digest(data):
  return base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b'=').decode()
record = ''
for name, data in files.items():
  d = digest(b'tampered' if fault == 'tamper' and name.endswith('cuda.so') else data)
  record += '%s,sha256=%s,%d\\n' % (name, d, len(data))
record += info + 'RECORD,,\\n'
with zipfile.ZipFile(out, 'w', zipfile.ZIP_DEFLATED) as z:
  for name, data in files.items():
    z.writestr(name, data)
  z.writestr(info + 'RECORD', record)
`;

async function setup(version = '1.30.0', fault = 'none', nodeVersion = '1.30.0') {
  const root = await mkdtemp(join(tmpdir(), 'reasonloop-cuda-'));
  const ortDir = join(root, 'onnxruntime-node');
  await mkdir(ortBindingDir(ortDir), { recursive: true });
  await writeFile(join(ortDir, 'package.json'), JSON.stringify({ version: nodeVersion }));
  const wheel = join(root, `onnxruntime_gpu-${version}-cp312-cp312-manylinux_2_28_x86_64.whl`);
  execFileSync('python3', ['-c', MAKE_WHEEL, wheel, version, fault]);
  const env = { ...process.env, REASONLOOP_CACHE: join(root, 'cache') };
  const install = (extra: { copy?: boolean; version?: string } = {}) =>
    installCudaProvider({ ortDir, wheel, env, log: () => {}, ...extra });
  return { root, ortDir, wheel, install, cache: join(root, 'cache', 'cuda', `ort-${nodeVersion}`) };
}

test('extracts, verifies and links both provider libraries next to the binding; a re-run is a no-op', async () => {
  const s = await setup();
  try {
    const first = await s.install();
    assert.equal(first.unchanged, false);
    assert.equal(first.dir, s.cache);
    assert.deepEqual(first.libraryPath, []);
    const bin = ortBindingDir(s.ortDir);
    for (const [name, source] of [
      ['libonnxruntime_providers_shared.so', ELF_SHARED],
      ['libonnxruntime_providers_cuda.so', ELF_CUDA],
    ]) {
      const placed = join(bin, name);
      assert.ok(first.placed.includes(placed));
      assert.equal(await readlink(placed), join(s.cache, 'lib', name));
      assert.equal(await sha256File(placed), await sha256File(source));
    }
    const marker = JSON.parse(await readFile(join(s.cache, 'installed.json'), 'utf8'));
    assert.equal(marker.version, '1.30.0');
    const before = (await lstat(join(bin, 'libonnxruntime_providers_cuda.so'))).mtimeMs;
    const second = await s.install();
    assert.equal(second.unchanged, true);
    assert.equal((await lstat(join(bin, 'libonnxruntime_providers_cuda.so'))).mtimeMs, before);
  } finally {
    await rm(s.root, { recursive: true, force: true });
  }
});

test('--copy places regular files, and re-links after the cached copy is damaged', async () => {
  const s = await setup();
  try {
    await s.install({ copy: true });
    const placed = join(ortBindingDir(s.ortDir), 'libonnxruntime_providers_cuda.so');
    assert.ok((await lstat(placed)).isFile());
    assert.equal((await s.install({ copy: true })).unchanged, true);
    await writeFile(join(s.cache, 'lib', 'libonnxruntime_providers_cuda.so'), 'damaged');
    const again = await s.install();
    assert.equal(again.unchanged, false);
    assert.equal(await sha256File(placed), await sha256File(ELF_CUDA));
  } finally {
    await rm(s.root, { recursive: true, force: true });
  }
});

test('a wheel of another version is refused, naming both versions', async () => {
  const s = await setup('1.29.0');
  try {
    await assert.rejects(
      s.install(),
      /is onnxruntime-gpu 1\.29\.0, but onnxruntime-node is 1\.30\.0: the CUDA provider must come from the same ORT version \(use onnxruntime-gpu==1\.30\.0\)/,
    );
    assert.throws(
      () => checkSameVersion('1.31.0', '1.30.0', 'the requested version'),
      /the requested version is onnxruntime-gpu 1\.31\.0/,
    );
  } finally {
    await rm(s.root, { recursive: true, force: true });
  }
});

test('a requested version other than onnxruntime-node is refused', async () => {
  const s = await setup();
  try {
    await assert.rejects(
      s.install({ version: '1.29.0' }),
      /onnxruntime-gpu 1\.29\.0, but onnxruntime-node is 1\.30\.0/,
    );
  } finally {
    await rm(s.root, { recursive: true, force: true });
  }
});

test('a library whose sha256 differs from RECORD is refused and not placed', async () => {
  const s = await setup('1.30.0', 'tamper');
  try {
    await assert.rejects(
      s.install(),
      /libonnxruntime_providers_cuda\.so from .*: sha256 [0-9a-f]{64} \(\d+ bytes\) does not match RECORD/,
    );
    await assert.rejects(lstat(join(ortBindingDir(s.ortDir), 'libonnxruntime_providers_cuda.so')));
  } finally {
    await rm(s.root, { recursive: true, force: true });
  }
});

test('a library that is not an x86-64 ELF file is refused', async () => {
  const s = await setup('1.30.0', 'notelf');
  try {
    await assert.rejects(s.install(), /is not an x86-64 ELF shared library/);
    await assert.rejects(checkElf(s.wheel), /is not an x86-64 ELF shared library/);
  } finally {
    await rm(s.root, { recursive: true, force: true });
  }
});

test('RECORD, METADATA extras and wheel names parse as the specs say', () => {
  // sha256("") in urlsafe base64 without padding, as pip writes it.
  const record = parseRecord(
    'a.so,sha256=47DEQpj8HBSa-_TImW-5JCeuQeRkm5NMpJWZG3hSuFU,0\nx.dist-info/RECORD,,\n',
  );
  assert.deepEqual(
    [...record],
    [['a.so', { sha256: 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855', size: 0 }]],
  );
  const metadata =
    'Requires-Dist: numpy>=1.21.6\nRequires-Dist: sympy; extra == "symbolic"\n' +
    'Requires-Dist: nvidia-cuda-runtime~=13.0; extra == "cuda"\nRequires-Dist: nvidia-cudnn-cu13~=9.0; extra == "cudnn"\n';
  assert.deepEqual(extraRequirements(metadata, ['cuda', 'cudnn']), [
    'nvidia-cuda-runtime~=13.0',
    'nvidia-cudnn-cu13~=9.0',
  ]);
  assert.deepEqual(parseWheelFileName('onnxruntime_gpu-1.30.0-cp311-cp311-manylinux_2_28_x86_64.whl'), {
    name: 'onnxruntime_gpu',
    version: '1.30.0',
  });
  assert.throws(() => parseWheelFileName('onnxruntime-gpu.tar.gz'), /is not a wheel file name/);
  assert.equal(
    ldLibraryPathExport(['/c/nvidia/cublas/lib', '/c/nvidia/cudnn/lib']),
    `export LD_LIBRARY_PATH='/c/nvidia/cublas/lib:/c/nvidia/cudnn/lib'"\${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"`,
  );
});
