/** The defaults the torch trainer fills into a raw run config are the ones core/config's schemas fill. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { torchRunDefaults } from '../../../scripts/torchRunDefaults.ts';

const FILE = join(import.meta.dirname, '../../../trainers/torch/reasonloop_torch/run_defaults.json');

test('trainers/torch run_defaults.json holds the defaults core/config fills', () => {
  assert.deepEqual(
    JSON.parse(readFileSync(FILE, 'utf8')),
    torchRunDefaults(),
    'regenerate: node --import tsx scripts/torchRunDefaults.ts > trainers/torch/reasonloop_torch/run_defaults.json',
  );
});
