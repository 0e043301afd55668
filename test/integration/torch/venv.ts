/**
 * The venv trainers/torch/install.sh makes (test/run.sh runs it): $REASONLOOP_TORCH_VENV, else
 * ${REASONLOOP_CACHE:-~/.cache/reasonloop}/venv-torch. The tests run the checkout's reasonloop_torch
 * (PYTHONPATH first), one thread per process: two ranks share the 2-core machines.
 */
import { homedir } from 'node:os';
import { join, resolve } from 'node:path';

export const ROOT = resolve(import.meta.dirname, '../../..');

export function torchVenvBin(): string {
  const cache = process.env.REASONLOOP_CACHE ?? join(homedir(), '.cache', 'reasonloop');
  return join(process.env.REASONLOOP_TORCH_VENV ?? join(cache, 'venv-torch'), 'bin');
}

export function torchEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  return { ...process.env, PYTHONPATH: join(ROOT, 'trainers/torch'), OMP_NUM_THREADS: '1', ...extra };
}

export const INSTALL_HINT = 'bash trainers/torch/install.sh installs it (docs/torch-trainer.md)';
