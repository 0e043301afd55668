/**
 * Where a graph runs: onnxruntime-node's CPU provider, or its CUDA provider on one GPU. Maps a device to
 * session options, and `checkDevice` fails before a run starts, naming each missing piece, instead of
 * letting a "cuda" run end up on the CPU.
 */
import { execFile } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { pathToFileURL } from 'node:url';
import * as ort from 'onnxruntime-node';
import { Graph } from './graph.ts';
import { serialize } from './serialize.ts';
import type { CpuNodePolicy, DeviceKind } from './deviceKind.ts';

export { CPU_NODE_POLICIES, DEVICE_KINDS, type CpuNodePolicy, type DeviceKind } from './deviceKind.ts';

export interface Device {
  kind: DeviceKind;
  /** CUDA device ordinal (ORT's `deviceId`); ignored on cpu. */
  index: number;
  cpuNodes?: CpuNodePolicy;
  /**
   * TF32 in cuBLAS/cuDNN float32 products: off unless true. Measured on an H100: with TF32 the fixture's
   * logits differ from the CPU's by 7e-3 and a GRPO step's loss by 2e-4; without, by 5e-6 and 2e-7.
   */
  tf32?: boolean;
}

export const CPU_DEVICE: Device = { kind: 'cpu', index: 0 };

/** The libraries ORT's CUDA provider needs next to libonnxruntime.so (onnxruntime-node's own install manifest). */
export const CUDA_PROVIDER_LIBRARIES = [
  'libonnxruntime_providers_shared.so',
  'libonnxruntime_providers_cuda.so',
] as const;

/** Where NVIDIA's kernel driver exposes GPUs to a process (a container sees them only if they are mapped in). */
const NVIDIA_DEVICE_DIR = '/dev';
const NVIDIA_DEVICE_FILE = /^nvidia\d+$/;
/** nvidia-smi answers in well under a second; a hung driver should not hang the preflight. */
const NVIDIA_SMI_TIMEOUT_MS = 15_000;

export function formatDevice(device: Device): string {
  return device.kind === 'cpu' ? 'cpu' : `cuda:${device.index}`;
}

/** ORT's execution-provider list for a device: CUDA first; ORT adds its CPU provider after it implicitly. */
export function executionProviders(device: Device): ort.InferenceSession.ExecutionProviderConfig[] {
  return device.kind === 'cpu' ? ['cpu'] : [{ name: 'cuda', deviceId: device.index }];
}

/**
 * NVIDIA's switch for TF32 in cuBLAS and cuDNN, read by the libraries in this process. onnxruntime-node
 * passes only deviceId to the CUDA provider (its `use_tf32` option, on by default, is out of reach), so
 * the process environment is the one place to turn TF32 off. A value the user set is left alone.
 */
export const TF32_OVERRIDE_ENV = 'NVIDIA_TF32_OVERRIDE';

export function applyTf32Setting(device: Device, env: NodeJS.ProcessEnv = process.env): void {
  if (device.kind !== 'cuda' || env[TF32_OVERRIDE_ENV] !== undefined) return;
  if (!device.tf32) env[TF32_OVERRIDE_ENV] = '0';
}

/** Adds the device's providers (and, for cuda, the CPU-node policy) to session options built for the CPU. */
export function withDevice(
  options: ort.InferenceSession.SessionOptions,
  device: Device,
): ort.InferenceSession.SessionOptions {
  const out: ort.InferenceSession.SessionOptions = {
    ...options,
    executionProviders: executionProviders(device),
  };
  if (device.kind === 'cuda' && (device.cpuNodes ?? 'allow') === 'forbid') {
    const extra = (options.extra ?? {}) as Record<string, Record<string, unknown>>;
    out.extra = { ...extra, session: { ...extra.session, disable_cpu_ep_fallback: '1' } };
  }
  return out;
}

/** A stable string for session caches: two devices with the same key give the same session options. */
export function deviceKey(device: Device): string {
  return device.kind === 'cpu'
    ? 'cpu'
    : `cuda:${device.index}:${device.cpuNodes ?? 'allow'}:tf32=${!!device.tf32}`;
}

/** onnxruntime-node's package.json "main", relative to its package folder. */
const ORT_MAIN = join('dist', 'index.js');

/** onnxruntime-node's package folder, found the way Node resolves it from here. */
export function onnxruntimeNodeDir(): string {
  const main = createRequire(import.meta.url).resolve('onnxruntime-node');
  return dirname(dirname(main)); // …/onnxruntime-node/dist/index.js → …/onnxruntime-node
}

/**
 * The folder of the native binding, which is where libonnxruntime.so.1 looks for provider libraries
 * (onnxruntime-node's dist/binding.js loads bin/napi-v6/<platform>/<arch>/onnxruntime_binding.node).
 */
export function ortBindingDir(packageDir = onnxruntimeNodeDir()): string {
  return join(packageDir, 'bin', 'napi-v6', process.platform, process.arch);
}

export class DeviceUnavailableError extends Error {
  constructor(
    readonly device: Device,
    readonly problems: readonly string[],
  ) {
    super(
      `device ${formatDevice(device)} is not usable (no fall back to cpu):\n` +
        problems.map((p) => `  - ${p}`).join('\n'),
    );
    this.name = 'DeviceUnavailableError';
  }
}

export function missingProviderLibraries(bindingDir = ortBindingDir()): string[] {
  return CUDA_PROVIDER_LIBRARIES.filter((name) => !existsSync(join(bindingDir, name)));
}

function nvidiaDeviceFiles(): string[] {
  try {
    return readdirSync(NVIDIA_DEVICE_DIR).filter((n) => NVIDIA_DEVICE_FILE.test(n));
  } catch {
    return [];
  }
}

/** GPU indices nvidia-smi lists, or undefined when it is not installed or fails. */
function nvidiaSmiGpus(): Promise<number[] | undefined> {
  return new Promise((resolve) => {
    execFile(
      'nvidia-smi',
      ['--query-gpu=index', '--format=csv,noheader'],
      { timeout: NVIDIA_SMI_TIMEOUT_MS },
      (error, stdout) => {
        if (error) resolve(undefined);
        else
          resolve(
            stdout
              .split('\n')
              .filter((l) => l.trim())
              .map((l) => Number(l.trim())),
          );
      },
    );
  });
}

async function gpuProblems(device: Device): Promise<string[]> {
  const files = nvidiaDeviceFiles();
  const smi = await nvidiaSmiGpus();
  if (files.length === 0 && smi === undefined)
    return ['no NVIDIA GPU visible: no /dev/nvidia<N> device file and no working nvidia-smi on PATH'];
  const count = smi?.length ?? files.length;
  if (device.index >= count)
    return [`GPU index ${device.index} does not exist: ${count} GPU(s) visible (indices 0..${count - 1})`];
  return [];
}

/** A one-node graph (y = x + x): enough to make ORT load the provider, place a node on it and run it. */
function probeModel(): Uint8Array {
  const g = new Graph('device_probe');
  const x = g.input('x', 'float32', [2]);
  g.output(g.node('Add', [x, x])[0], 'y');
  return serialize(g);
}

/** Hints for the loader errors ORT reports when a library the CUDA provider links against is missing. */
function hintFor(message: string): string {
  if (/libcuda\.so/.test(message)) return ' (libcuda.so.1 comes with the NVIDIA driver, not from PyPI)';
  if (/lib(cublas|cublasLt|cudart|curand|cufft|cudnn|nvrtc)[^ ]*\.so/.test(message))
    return ' (run `node --import tsx infra/cli.ts install-cuda --with-nvidia-libs` and start the worker with the LD_LIBRARY_PATH it prints)';
  return '';
}

/**
 * Runs in a child process: a crashing driver cannot take the worker down, and ORT's loader error, which names
 * the missing library, goes to the child's stderr (the JS error only says "Failed to load shared library").
 */
const PROBE_SCRIPT = `
const [ortMain, optionsJson] = process.argv.slice(1);
const ort = await import(ortMain);
try {
  const model = Buffer.from(process.env.REASONLOOP_PROBE_MODEL, 'base64');
  const session = await ort.InferenceSession.create(model, JSON.parse(optionsJson));
  const out = await session.run({ x: new ort.Tensor('float32', new Float32Array([1, 2]), [2]) });
  console.log(JSON.stringify({ y: Array.from(out.y.data) }));
} catch (e) {
  console.log(JSON.stringify({ error: String(e.message).split('\\n')[0] }));
}`;
/** Creating a CUDA context and loading cuDNN/cuBLAS takes seconds on a cold machine; a minute is plenty. */
const PROBE_TIMEOUT_MS = 120_000;

function runProbe(
  device: Device,
  ortDir: string,
): Promise<{ stdout: string; stderr: string; failed?: string }> {
  const ortMain = pathToFileURL(join(ortDir, ORT_MAIN)).href;
  const options = JSON.stringify(withDevice({ logSeverityLevel: 3 }, device));
  const env = { ...process.env, REASONLOOP_PROBE_MODEL: Buffer.from(probeModel()).toString('base64') };
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      ['--input-type=module', '-e', PROBE_SCRIPT, ortMain, options],
      { env, timeout: PROBE_TIMEOUT_MS, maxBuffer: 1 << 20 },
      (error, stdout, stderr) =>
        resolve({
          stdout,
          stderr,
          failed: error ? `probe process failed (${error.message.split('\n')[0]})` : undefined,
        }),
    );
  });
}

/** ORT colours its console log with ANSI SGR sequences (ESC [ … m). */
const ANSI_SGR = new RegExp(`${String.fromCharCode(0x1b)}\\[[0-9;]*m`, 'g');

/** `…with error: libcublasLt.so.13: cannot open shared object file…` → that clause, colour codes removed. */
export function loaderErrors(stderr: string): string[] {
  const plain = stderr.replace(ANSI_SGR, '');
  return [...plain.matchAll(/Failed to load library (\S+) with error: ([^\n]+)/g)].map(
    (m) => `${m[1]}: ${m[2].trim()}`,
  );
}

async function sessionProblems(device: Device, ortDir: string): Promise<string[]> {
  const { stdout, stderr, failed } = await runProbe(device, ortDir);
  const last = stdout.trim().split('\n').pop() ?? '';
  let result: { y?: number[]; error?: string } = {};
  try {
    result = JSON.parse(last) as typeof result;
  } catch {
    return [failed ?? `probe process printed no result (stderr: ${stderr.trim().slice(-400)})`];
  }
  if (result.y) {
    if (result.y[0] === 2 && result.y[1] === 4) return [];
    return [`a probe session on ${formatDevice(device)} computed [${result.y.join(',')}], expected [2,4]`];
  }
  const loader = loaderErrors(stderr);
  const detail = loader.length > 0 ? ` — ${loader.join('; ')}` : '';
  const message = `${result.error ?? 'unknown error'}${detail}`;
  return [`onnxruntime could not create a session with the CUDA provider: ${message}${hintFor(message)}`];
}

/**
 * Preflight for a worker or a run: resolves for a usable device, throws DeviceUnavailableError listing every
 * missing piece (provider libraries, GPU, a working CUDA session) otherwise. Call it before any work starts.
 */
export async function checkDevice(device: Device, options: { ortDir?: string } = {}): Promise<void> {
  if (device.kind === 'cpu') return;
  if (!Number.isInteger(device.index) || device.index < 0)
    throw new DeviceUnavailableError(device, [`device index must be an integer ≥ 0 (got ${device.index})`]);
  const ortDir = options.ortDir ?? onnxruntimeNodeDir();
  const bindingDir = ortBindingDir(ortDir);
  const problems: string[] = [];
  const missing = missingProviderLibraries(bindingDir);
  if (missing.length > 0)
    problems.push(
      `CUDA provider libraries missing from ${bindingDir}: ${missing.join(', ')} ` +
        '(install them with `node --import tsx infra/cli.ts install-cuda`)',
    );
  problems.push(...(await gpuProblems(device)));
  problems.push(...(await sessionProblems(device, ortDir)));
  if (problems.length > 0) throw new DeviceUnavailableError(device, problems);
}
