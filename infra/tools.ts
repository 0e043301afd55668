import { spawn } from 'node:child_process';
import { constants } from 'node:fs';
import { access, mkdir, mkdtemp, rename, rm, symlink } from 'node:fs/promises';
import { homedir } from 'node:os';
import { delimiter, join } from 'node:path';

/** A server binary built from a Go module with `go install`, pinned to one version. */
export interface GoTool {
  name: string;
  module: string;
  version: string;
  /** An environment variable that points at a binary to use instead (checked first). */
  envOverride: string;
  /** Rough first-build time on 2 cores, for the progress message. */
  buildMinutes: number;
}

/** Temporal CLI with the dev server (Server 1.29.1, Web UI 2.42.1); later tags carry a `replace` that `go install` refuses (DESIGN.md §4). */
export const TEMPORAL_CLI: GoTool = {
  name: 'temporal',
  module: 'github.com/temporalio/cli/cmd/temporal',
  version: 'v1.5.1',
  envOverride: 'REASONLOOP_TEMPORAL_BIN',
  buildMinutes: 3,
};

/** versitygw, the Apache-2.0 S3 server used for tests and the local stack (DESIGN.md §4). */
export const VERSITYGW: GoTool = {
  name: 'versitygw',
  module: 'github.com/versity/versitygw/cmd/versitygw',
  version: 'v1.8.0',
  envOverride: 'REASONLOOP_VERSITYGW_BIN',
  buildMinutes: 1,
};

export const TOOLS: Record<string, GoTool> = { temporal: TEMPORAL_CLI, versitygw: VERSITYGW };

/** Built binaries are cached outside the clone so CI and a developer build each version once. */
export function cacheDir(env: NodeJS.ProcessEnv = process.env): string {
  return env.REASONLOOP_CACHE || join(homedir(), '.cache', 'reasonloop');
}

export function cacheBinDir(env: NodeJS.ProcessEnv = process.env): string {
  return join(cacheDir(env), 'bin');
}

/** The versioned file name in the cache, so bumping a version rebuilds instead of reusing an old binary. */
export function cachedBinaryPath(tool: GoTool, env: NodeJS.ProcessEnv = process.env): string {
  return join(cacheBinDir(env), `${tool.name}-${tool.version}`);
}

async function isExecutable(path: string): Promise<boolean> {
  try {
    await access(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
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

/** The binary to run without building: the override variable, then the cache, then PATH. */
export async function resolveTool(
  tool: GoTool,
  env: NodeJS.ProcessEnv = process.env,
): Promise<string | undefined> {
  const override = env[tool.envOverride];
  if (override) {
    if (!(await isExecutable(override)))
      throw new Error(`${tool.envOverride}=${override} is not an executable file`);
    return override;
  }
  const cached = cachedBinaryPath(tool, env);
  if (await isExecutable(cached)) return cached;
  return findOnPath(tool.name, env);
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
 * Returns a runnable binary for `tool`, building it with `go install` into the cache the first time.
 * The build goes to a private folder and is renamed into place, so concurrent installers never see a
 * half-written binary.
 */
export async function installTool(
  tool: GoTool,
  options: { env?: NodeJS.ProcessEnv; log?: (line: string) => void } = {},
): Promise<string> {
  const env = options.env ?? process.env;
  const log = options.log ?? ((line: string) => process.stderr.write(`${line}\n`));
  const found = await resolveTool(tool, env);
  if (found) return found;
  const go =
    (await findOnPath('go', env)) ??
    ((await isExecutable('/usr/local/go/bin/go')) ? '/usr/local/go/bin/go' : undefined);
  if (!go) {
    throw new Error(
      `${tool.name} is not installed and Go is not on PATH to build it. Install Go (https://go.dev/dl/), ` +
        `or put a ${tool.name} binary on PATH, or set ${tool.envOverride} to one.`,
    );
  }
  const binDir = cacheBinDir(env);
  await mkdir(binDir, { recursive: true });
  const buildDir = await mkdtemp(join(binDir, `.build-${tool.name}-`));
  const target = `${tool.module}@${tool.version}`;
  log(`infra: building ${target} into ${binDir} (once; about ${tool.buildMinutes} min on 2 cores)`);
  const started = Date.now();
  try {
    const code = await run(go, ['install', target], { ...env, CGO_ENABLED: '0', GOBIN: buildDir }, log);
    if (code !== 0)
      throw new Error(`go install ${target} failed with exit code ${code} (its output is above)`);
    const cached = cachedBinaryPath(tool, env);
    await rename(join(buildDir, tool.name), cached);
    // A plain `temporal` / `versitygw` next to it, for people who add the cache's bin folder to PATH.
    const link = join(binDir, `.${tool.name}-${process.pid}`);
    await rm(link, { force: true });
    await symlink(`${tool.name}-${tool.version}`, link);
    await rename(link, join(binDir, tool.name));
    log(`infra: built ${tool.name} ${tool.version} in ${Math.round((Date.now() - started) / 1000)} s`);
    return cached;
  } finally {
    await rm(buildDir, { recursive: true, force: true });
  }
}
