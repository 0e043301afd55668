/**
 * Prints the run-config defaults the PyTorch trainer fills into a raw config (it has no zod):
 *   node --import tsx scripts/torchRunDefaults.ts > trainers/torch/reasonloop_torch/run_defaults.json
 *   npx prettier --write trainers/torch/reasonloop_torch/run_defaults.json
 * test/unit/config/torchDefaults.test.ts fails when the file and the schemas disagree.
 */
import { pathToFileURL } from 'node:url';
import { parseRlAlgorithmConfig } from '../core/config/rl.ts';
import { rolloutSchema } from '../core/config/run.ts';

export function torchRunDefaults(): unknown {
  return { algorithm: parseRlAlgorithmConfig({}), rollout: rolloutSchema.parse({}) };
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  console.log(JSON.stringify(torchRunDefaults(), null, 2));
}
