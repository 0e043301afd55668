/**
 * The demo's configs (demo/configs.ts) are valid workflow configs, the longest trace the habit teacher
 * writes fits in the response budget and the model's positions with its prompt, and the held-out curve's
 * points are evaluated alike.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseEvaluationConfig } from '../../../core/config/evaluation.ts';
import { parseRunConfig } from '../../../core/config/run.ts';
import { parseSftConfig } from '../../../core/config/sft.ts';
import { habitText } from '../../../core/data/habitTraces.ts';
import { buildTinyTokenizer } from '../../../core/model/tinyTokenizer.ts';
import { QwenTokenizer } from '../../../core/model/tokenizer.ts';
import { DEFAULT_DEMO, demoConfigs, evaluatedSteps } from '../../../demo/configs.ts';

const tokenizer = new QwenTokenizer(buildTinyTokenizer());

for (const digits of [2, 3, 4]) {
  test(`${digits}-digit sums: the configs parse and the longest checked trace fits`, () => {
    const o = { ...DEFAULT_DEMO, digits, prefix: 'lt', storeUrl: '/tmp/unused' };
    const c = demoConfigs(o);
    const sft = parseSftConfig(c.sft);
    const rl = parseRunConfig(c.rl);
    const sftSampled = c.evals.find((e) => e.name === 'sft-sampled')!;
    const evaluation = parseEvaluationConfig(sftSampled.config);
    for (const e of c.evals) parseEvaluationConfig(e.config);
    assert.equal(sft.task.data.source === 'synthetic' && sft.task.data.task.kind, 'longAddition');
    assert.equal(sft.sft.traceErrorRate, 0);
    assert.deepEqual(rl.evaluation?.sampling, evaluation.sampling);
    assert.equal(rl.evaluation?.every, DEFAULT_DEMO.evalEvery);
    // Every column carries (9…9 + 9…9): the most tokens a pass can take; a check doubles the pass.
    const nines = '9'.repeat(digits);
    const p = { id: 'x', problem: `Compute $${nines} + ${nines}$.`, answer: String(2 * Number(nines)) };
    const response = tokenizer.encode(habitText(p, 'checked', false)).length + 1; // + EOS
    const prompt = tokenizer.encode(`${p.problem}\n`).length;
    assert.ok(response <= rl.rollout.maxNewTokens, `${response} > ${rl.rollout.maxNewTokens}`);
    const positions = (c.sft.model as { init: { config: { maxPositionEmbeddings: number } } }).init.config
      .maxPositionEmbeddings;
    assert.ok(
      prompt + rl.rollout.maxNewTokens <= positions,
      `${prompt} + ${rl.rollout.maxNewTokens} > ${positions}`,
    );
  });
}

test('a seed moves every seed of the run and leaves the problems; habits reach the teacher', () => {
  const base = { ...DEFAULT_DEMO, prefix: 'lt', storeUrl: '/tmp/unused' };
  const [a, b] = [demoConfigs(base), demoConfigs({ ...base, seed: 2 })];
  const initSeed = (c: typeof a) => (c.sft.model as { init: { seed: number } }).init.seed;
  assert.equal(initSeed(b), initSeed(a) + 2);
  assert.equal(b.sft.seed, a.sft.seed! + 2);
  assert.equal(b.rl.seed, a.rl.seed! + 2);
  const sampled = (c: typeof a) => c.evals.find((e) => e.name === 'sft-sampled')!.config;
  assert.equal(sampled(b).seed, sampled(a).seed! + 2);
  assert.deepEqual(b.sft.task, a.sft.task);
  assert.deepEqual(sampled(b).task, sampled(a).task);
  assert.deepEqual(parseSftConfig(a.sft).sft.habits, DEFAULT_DEMO.habits);
  assert.equal(DEFAULT_DEMO.habits.directErrorRate, 1, "the demo's teacher never carries in its head");
  const habits = { direct: 0.2, checked: 0.3, directErrorRate: 0.5, workedErrorRate: 0.1 };
  assert.deepEqual(parseSftConfig(demoConfigs({ ...base, habits }).sft).sft.habits, habits);
});

test('the held-out curve: the SFT model and every evalEvery-th GRPO step, the last step sampled once', () => {
  assert.deepEqual(evaluatedSteps(20, 5), [5, 10, 15, 20]);
  assert.deepEqual(evaluatedSteps(7, 5), [5]);
  assert.deepEqual(evaluatedSteps(3, 5), []);
  const o = { ...DEFAULT_DEMO, prefix: 'd', storeUrl: '/tmp/unused' };
  const names = (rlSteps: number) => demoConfigs({ ...o, rlSteps }).evals.map((e) => e.name);
  // Step 20 is one the run evaluates itself: no second sampled evaluation of it.
  assert.deepEqual(names(20), ['base-greedy', 'sft-greedy', 'sft-sampled', 'rl-greedy']);
  assert.deepEqual(names(7), ['base-greedy', 'sft-greedy', 'sft-sampled', 'rl-greedy', 'rl-sampled']);
  const c = demoConfigs({ ...o, rlSteps: 7 });
  const rlSampled = c.evals.find((e) => e.name === 'rl-sampled')!.config;
  const sftSampled = c.evals.find((e) => e.name === 'sft-sampled')!.config;
  assert.deepEqual(rlSampled.sampling, sftSampled.sampling);
  assert.deepEqual(rlSampled.sampling, c.rl.evaluation?.sampling);
  assert.deepEqual(rlSampled.model, { checkpoint: { runId: c.rl.runId, step: 7 } });
  assert.deepEqual(c.curveSteps, [5]);
});
