/** The Python package's own tests (trainers/torch/tests: the pure math against core/rl's values). */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { INSTALL_HINT, ROOT, torchEnv, torchVenvBin } from './venv.ts';

test('pytest trainers/torch passes', () => {
  const r = spawnSync(join(torchVenvBin(), 'python'), ['-m', 'pytest', '-q', '-p', 'no:cacheprovider'], {
    cwd: join(ROOT, 'trainers/torch'),
    env: torchEnv(),
    encoding: 'utf8',
  });
  assert.equal(r.status, 0, `pytest failed (${INSTALL_HINT}):\n${r.stdout}\n${r.stderr}`);
});
