/**
 * The study's tasks (study/tasks.ts): on either task every arm's config and every evaluation of it are
 * valid workflow configs; on long addition the arms have room for the habit teacher's longest trace and the
 * tool arm's model for the longest tool-using one; the default task is long addition, the 2-digit recipe's
 * configs unchanged.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseEvaluationConfig } from '../../../core/config/evaluation.ts';
import { parseRunConfig } from '../../../core/config/run.ts';
import { parseSftConfig } from '../../../core/config/sft.ts';
import { habitText } from '../../../core/data/habitTraces.ts';
import { arithmeticToolTrace } from '../../../core/data/traces.ts';
import { buildTinyTokenizer } from '../../../core/model/tinyTokenizer.ts';
import { QwenTokenizer } from '../../../core/model/tokenizer.ts';
import { mathPromptIds } from '../../../core/task/prompts.ts';
import { DEFAULT_DEMO, demoMaxNewTokens } from '../../../demo/configs.ts';
import { DEFAULT_RECIPE, recipeConfigs } from '../../../demo/recipe.ts';
import {
  ARMS,
  ORM_MAX_NEW_TOKENS,
  QUICK_SCALE,
  TOOL_MAX_NEW_TOKENS,
  toolSftConfig,
} from '../../../study/arms.ts';
import { armRuns, evalsFor, stageEvals } from '../../../study/run.ts';
import { DEFAULT_STUDY_TASK, parseStudyTask, STUDY_TASKS, studyStages } from '../../../study/tasks.ts';

const tokenizer = new QwenTokenizer(buildTinyTokenizer());
const options = { prefix: 'st', storeUrl: '/tmp/unused' };
const positionsOf = (model: unknown) =>
  (model as { init: { config: { maxPositionEmbeddings: number } } }).init.config.maxPositionEmbeddings;

for (const task of STUDY_TASKS) {
  test(`${task}: every arm's run and evaluations parse, the quick scale's runs once each`, () => {
    const stages = studyStages(task, options);
    parseSftConfig(stages.sft);
    parseSftConfig(toolSftConfig(stages));
    const runs = armRuns(stages, QUICK_SCALE, 'st', undefined);
    const sftSampled = parseEvaluationConfig(stages.evals.find((e) => e.name === 'sft-sampled')!.config);
    assert.deepEqual(
      runs.map((r) => r.arm.id),
      ARMS.map((a) => a.id),
    );
    for (const run of runs) {
      const rl = parseRunConfig(run.config);
      assert.equal(rl.steps, QUICK_SCALE.steps);
      assert.equal(
        rl.evaluation,
        undefined,
        `${run.arm.id}: the study evaluates the final checkpoint itself`,
      );
      const evals = evalsFor(stages, run);
      assert.deepEqual(
        evals.map((e) => e.name),
        ['rl-greedy', 'rl-sampled', 'rl-sampled-t1'],
      );
      for (const e of evals) {
        const parsed = parseEvaluationConfig(e.config);
        assert.equal(parsed.sampling.maxNewTokens, rl.rollout.maxNewTokens);
        assert.deepEqual(
          parsed.task.kind === 'math' && parsed.task.tools,
          rl.task.kind === 'math' && rl.task.tools,
        );
        assert.deepEqual(
          parsed.task.kind === 'math' && parsed.task.data,
          sftSampled.task.kind === 'math' && sftSampled.task.data,
          `${run.arm.id}: the arm is evaluated on the SFT model's held-out problems`,
        );
      }
    }
    assert.deepEqual(
      stages.evals.filter((e) => e.stage === 'sft').map((e) => e.name),
      ['sft-greedy', 'sft-sampled'],
    );
  });
}

const ORM_PAIR = ['orm-control', 'length-orm'];

test('long addition: the arms have room for a checked trace of the largest sum, in the positions of its model', () => {
  const stages = studyStages('long-addition', options);
  const nines = '9'.repeat(DEFAULT_DEMO.digits);
  const p = { id: 'x', problem: `Compute $${nines} + ${nines}$.`, answer: String(2 * Number(nines)) };
  const checked = tokenizer.encode(habitText(p, 'checked', false)).length + 1; // + EOS
  const prompt = mathPromptIds(parseSftConfig(stages.sft).task, tokenizer, p.problem).length;
  for (const run of armRuns(stages, QUICK_SCALE, 'st', undefined)) {
    if (ORM_PAIR.includes(run.arm.id)) continue; // below: ORM's limit cuts checked responses on purpose
    const maxNewTokens = parseRunConfig(run.config).rollout.maxNewTokens;
    assert.ok(maxNewTokens >= demoMaxNewTokens(DEFAULT_DEMO.digits), `${run.arm.id}: ${maxNewTokens}`);
    assert.ok(checked <= maxNewTokens, `${run.arm.id}: ${checked} > ${maxNewTokens}`);
  }
  assert.ok(prompt + demoMaxNewTokens(DEFAULT_DEMO.digits) <= positionsOf(stages.sft.model));
  const rl = parseRunConfig(stages.rl);
  assert.equal(
    rl.task.kind === 'math' && rl.task.data.source === 'synthetic' && rl.task.data.task.kind,
    'longAddition',
  );
  assert.equal(rl.rollout.promptsPerStep, 32, "the demo's GRPO recipe; studyBase halves it for every arm");
});

test("long addition: ORM's pair runs at a limit every worked response fits and only some checked ones do", () => {
  const stages = studyStages('long-addition', options);
  const lengths = { worked: [] as number[], checked: [] as number[] };
  for (let a = 10; a <= 99; a++) {
    for (let b = 10; b <= 99; b++) {
      if ((a % 10) + (b % 10) < 10 && Math.floor(a / 10) + Math.floor(b / 10) < 10) continue; // no carry
      const p = { id: 'x', problem: `Compute $${a} + ${b}$.`, answer: String(a + b) };
      for (const slip of [false, true]) {
        for (const habit of ['worked', 'checked'] as const) {
          lengths[habit].push(tokenizer.encode(habitText(p, habit, slip)).length + 1); // + EOS
        }
      }
    }
  }
  for (const run of armRuns(stages, QUICK_SCALE, 'st', ORM_PAIR)) {
    const maxNewTokens = parseRunConfig(run.config).rollout.maxNewTokens;
    assert.equal(maxNewTokens, ORM_MAX_NEW_TOKENS, run.arm.id);
    assert.ok(Math.max(...lengths.worked) <= maxNewTokens, `${run.arm.id}: a worked response is cut`);
    const cut = lengths.checked.filter((n) => n > maxNewTokens).length / lengths.checked.length;
    assert.ok(cut > 0.25 && cut < 0.75, `${run.arm.id}: ${cut} of the checked responses are cut`);
  }
});

test("long addition's tool arm: an SFT model on tool-using traces of the same sums, with room for them", () => {
  const stages = studyStages('long-addition', options);
  const toolConfig = toolSftConfig(stages);
  const toolSft = parseSftConfig(toolConfig);
  assert.ok(toolSft.task.tools, 'the tool model is fine-tuned with the tool');
  assert.equal(
    toolSft.sft.habits,
    undefined,
    "every trace calls the tool: the habit teacher's rates have no say",
  );
  assert.deepEqual(toolSft.task.data, parseSftConfig(stages.sft).task.data);
  const nines = '9'.repeat(DEFAULT_DEMO.digits);
  const p = { id: 'x', problem: `Compute $${nines} + ${nines}$.`, answer: String(2 * Number(nines)) };
  const t = arithmeticToolTrace(p);
  assert.match(t.after, new RegExp(`\\\\boxed\\{${p.answer}\\}$`));
  const response = [t.before, t.inserted, t.after].reduce((n, x) => n + tokenizer.encode(x).length, 1);
  const tools = armRuns(stages, QUICK_SCALE, 'st', ['tools'])[0];
  const maxNewTokens = parseRunConfig(tools.config).rollout.maxNewTokens;
  assert.ok(response <= maxNewTokens, `${response} > ${maxNewTokens}`);
  const prompt = mathPromptIds(toolSft.task, tokenizer, p.problem).length;
  assert.ok(prompt + maxNewTokens <= positionsOf(toolConfig.model), 'the tool model has the positions');
  assert.deepEqual(tools.config.model, { checkpoint: { runId: toolSft.runId, step: toolSft.steps } });
});

test("the default task is long addition; the 2-digit recipe's configs and tool arm as before", () => {
  assert.equal(DEFAULT_STUDY_TASK, 'long-addition');
  assert.equal(parseStudyTask(undefined), 'long-addition');
  assert.equal(parseStudyTask('2-digit'), '2-digit');
  assert.equal(parseStudyTask('long-addition'), 'long-addition');
  assert.throws(() => parseStudyTask('3-digit'), /--task must be one of 2-digit, long-addition/);
  const stages = studyStages('2-digit', options);
  assert.deepEqual(stages, recipeConfigs({ ...DEFAULT_RECIPE, ...options, threads: 1 }));
  const tools = armRuns(stages, QUICK_SCALE, 'st', ['tools'])[0];
  assert.equal(tools.config.rollout?.maxNewTokens, TOOL_MAX_NEW_TOKENS);
  const toolSft = toolSftConfig(stages);
  assert.deepEqual(toolSft.sft, stages.sft.sft);
  assert.equal(positionsOf(toolSft.model), 128);
});

test('the training-temperature evaluation: the sampled one at T = 1.0 without top-p, its own id', () => {
  const stages = studyStages('long-addition', options);
  const [greedy, sampled, t1] = stageEvals(stages, 'sft');
  assert.deepEqual([greedy.name, sampled.name, t1.name], ['sft-greedy', 'sft-sampled', 'sft-sampled-t1']);
  const parsed = parseEvaluationConfig(t1.config);
  const paper = parseEvaluationConfig(sampled.config);
  assert.equal(parsed.sampling.temperature, 1);
  assert.equal(parsed.sampling.topP, 1);
  assert.equal(paper.sampling.temperature, 0.6);
  assert.deepEqual({ ...parsed.sampling, temperature: 0.6, topP: paper.sampling.topP }, paper.sampling);
  assert.equal(t1.config.evalId, `${sampled.config.evalId}-t1`);
  assert.deepEqual(parsed.task, paper.task);
});
