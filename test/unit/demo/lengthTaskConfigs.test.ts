/**
 * The length experiment's configs (demo/lengthTaskConfigs.ts) are valid workflow configs, and the longest
 * trace the habit teacher writes fits in the response budget and the model's positions with its prompt.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseEvaluationConfig } from '../../../core/config/evaluation.ts';
import { parseRunConfig } from '../../../core/config/run.ts';
import { parseSftConfig } from '../../../core/config/sft.ts';
import { habitText } from '../../../core/data/habitTraces.ts';
import { buildTinyTokenizer } from '../../../core/model/tinyTokenizer.ts';
import { QwenTokenizer } from '../../../core/model/tokenizer.ts';
import { DEFAULT_LENGTH_TASK, lengthTaskConfigs } from '../../../demo/lengthTaskConfigs.ts';

const tokenizer = new QwenTokenizer(buildTinyTokenizer());

for (const digits of [2, 3, 4]) {
  test(`${digits}-digit sums: the configs parse and the longest checked trace fits`, () => {
    const o = { ...DEFAULT_LENGTH_TASK, digits, prefix: 'lt', storeUrl: '/tmp/unused' };
    const c = lengthTaskConfigs(o);
    const sft = parseSftConfig(c.sft);
    const rl = parseRunConfig(c.rl);
    const evaluation = parseEvaluationConfig(c.sftEval);
    assert.equal(sft.task.data.source === 'synthetic' && sft.task.data.task.kind, 'longAddition');
    assert.equal(sft.sft.traceErrorRate, 0);
    assert.deepEqual(rl.evaluation?.sampling, evaluation.sampling);
    assert.equal(rl.evaluation?.every, DEFAULT_LENGTH_TASK.evalEvery);
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
  const base = { ...DEFAULT_LENGTH_TASK, prefix: 'lt', storeUrl: '/tmp/unused' };
  const [a, b] = [lengthTaskConfigs(base), lengthTaskConfigs({ ...base, seed: 2, habits: undefined })];
  const initSeed = (c: typeof a) => (c.sft.model as { init: { seed: number } }).init.seed;
  assert.equal(initSeed(b), initSeed(a) + 2);
  assert.equal(b.sft.seed, a.sft.seed! + 2);
  assert.equal(b.rl.seed, a.rl.seed! + 2);
  assert.equal(b.sftEval.seed, a.sftEval.seed! + 2);
  assert.deepEqual(b.sft.task, a.sft.task);
  assert.deepEqual(b.sftEval.task, a.sftEval.task);
  assert.equal(parseSftConfig(a.sft).sft.habits, undefined);
  const habits = { direct: 0.3, checked: 0.15, directErrorRate: 1, workedErrorRate: 0.2 };
  assert.deepEqual(parseSftConfig(lengthTaskConfigs({ ...base, habits }).sft).sft.habits, habits);
});
