/**
 * Python virtual environments for the reference sides. A venv named by an environment variable is used as
 * is; otherwise the bench creates one under the cache folder on first use (pip from PyPI) and reuses it.
 * Failing to create one is not an error of the bench: the reference is then reported as unavailable.
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { cacheRoot } from './workload.ts';

export interface VenvSpec {
  /** What it is for, in messages ("PyTorch reference"). */
  purpose: string;
  /** Environment variable that points at an existing venv. */
  envVar: string;
  /** Folder name under the cache when the variable is unset. */
  defaultName: string;
  /** pip requirement specifiers. */
  packages: readonly string[];
  /** Python modules that must import for the venv to count as ready. */
  imports: readonly string[];
}

export type VenvResult = { python: string; bin: string } | { reason: string };

/** `python -c "import …"` succeeds: the venv has what the side needs. */
function importsWork(python: string, imports: readonly string[]): boolean {
  const r = spawnSync(python, ['-c', imports.map((m) => `import ${m}`).join('; ')], { stdio: 'ignore' });
  return r.status === 0;
}

/** Runs a command with its output on our stderr (pip takes minutes; the user should see it move). */
function runVisible(cmd: string, args: string[]): boolean {
  const r = spawnSync(cmd, args, { stdio: ['ignore', process.stderr, process.stderr] });
  return r.status === 0;
}

export function ensureVenv(spec: VenvSpec): VenvResult {
  const configured = process.env[spec.envVar];
  const dir = configured ?? join(cacheRoot(), spec.defaultName);
  const bin = join(dir, 'bin');
  const python = join(bin, 'python');
  if (existsSync(python) && importsWork(python, spec.imports)) return { python, bin };
  if (configured) {
    return {
      reason: `${spec.envVar}=${configured} has no python with ${spec.imports.join(', ')} (${spec.purpose})`,
    };
  }
  console.error(
    `rollout bench: creating the ${spec.purpose} venv in ${dir} (pip install ${spec.packages.join(' ')}; minutes)`,
  );
  if (!existsSync(python) && !runVisible('python3', ['-m', 'venv', dir]))
    return { reason: `python3 -m venv ${dir} failed (${spec.purpose})` };
  if (!runVisible(python, ['-m', 'pip', 'install', '--disable-pip-version-check', ...spec.packages]))
    return { reason: `pip install ${spec.packages.join(' ')} into ${dir} failed (${spec.purpose})` };
  if (!importsWork(python, spec.imports))
    return { reason: `${dir}: ${spec.imports.join(', ')} do not import after pip install (${spec.purpose})` };
  return { python, bin };
}

/** DESIGN.md §4: torch 2.15.0 + transformers 5.24.0 were the checked versions. */
export const TORCH_VENV: VenvSpec = {
  purpose: 'PyTorch reference',
  envVar: 'REASONLOOP_TORCH_VENV',
  defaultName: 'venv-torch',
  packages: ['torch==2.15.0', 'transformers==5.24.0', 'safetensors', 'peft==0.21.2'],
  imports: ['torch', 'transformers', 'safetensors', 'peft'],
};

/**
 * DESIGN.md §4: optimum-onnx 0.1.0 exports the layout transformers.js loads; it pins transformers < 4.58,
 * hence its own venv. Its exporter also needs onnxruntime to fix the dynamic axes of the exported model.
 */
export const OPTIMUM_VENV: VenvSpec = {
  purpose: 'ONNX export for transformers.js',
  envVar: 'REASONLOOP_OPTIMUM_VENV',
  defaultName: 'venv-optimum',
  packages: ['optimum-onnx==0.1.0', 'onnxruntime'],
  imports: ['optimum.exporters.onnx', 'onnxruntime'],
};
