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
