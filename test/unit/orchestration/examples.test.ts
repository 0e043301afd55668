// The example configs the README and examples/README.md start workflows with stay valid.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { parseEvaluationConfig } from '../../../core/config/evaluation.ts';
import { parseRunConfig } from '../../../core/config/run.ts';
import { parseSftConfig } from '../../../core/config/sft.ts';
import { DEFAULT_RECIPE, recipeConfigs } from '../../../demo/recipe.ts';

const read = (name: string) =>
  JSON.parse(readFileSync(new URL(`../../../examples/${name}`, import.meta.url), 'utf8'));

test('examples/*.json validate against their schemas', () => {
  assert.equal(parseRunConfig(read('run.json')).runId, 'tiny-reverse-digits');
  const cuda = parseRunConfig(read('run-cuda.json'));
  assert.deepEqual(cuda.orchestration.devices, { rollout: 'cuda', trainer: 'cuda' });
  assert.deepEqual(
    { ...read('run-cuda.json'), runId: 'x', orchestration: {} },
    { ...read('run.json'), runId: 'x', orchestration: {} },
  );
  const servers = parseRunConfig(read('run-servers.json'));
  assert.equal(servers.rollout.engine?.kind, 'openai');
  const { engine: _engine, ...serverRollout } = read('run-servers.json').rollout;
  const { recomputeOldLogprobs: _recompute, ...serverAlgorithm } = read('run-servers.json').algorithm;
  assert.deepEqual(
    { ...read('run-servers.json'), runId: 'x', rollout: serverRollout, algorithm: serverAlgorithm },
    { ...read('run.json'), runId: 'x' },
  );
  assert.equal(parseSftConfig(read('sft.json')).runId, 'example-sft');
  const rl = parseRunConfig(read('grpo-from-sft.json'));
  assert.deepEqual(rl.model.checkpoint, { runId: 'example-sft', step: 300 });
  const ev = parseEvaluationConfig(read('eval.json'));
  assert.equal(ev.model.checkpoint?.step, undefined, 'the example evaluates the newest checkpoint');
});

test('the 2-digit recipe validates, and the examples are the recipe with the prefix "example"', () => {
  const c = recipeConfigs({ ...DEFAULT_RECIPE, prefix: 'example', storeUrl: '.reasonloop/store' });
  parseSftConfig(c.sft);
  parseRunConfig(c.rl);
  for (const e of c.evals) parseEvaluationConfig(e.config);
  assert.deepEqual(read('sft.json'), JSON.parse(JSON.stringify(c.sft)));
  assert.deepEqual(read('grpo-from-sft.json'), JSON.parse(JSON.stringify(c.rl)));
});
