/**
 * The task runtime of core/task: a math task rendered and scored with the tiny byte tokenizer, the
 * reverseDigits runtime against the task's definition, and the run config's checks of a math task.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { mathRuntime } from '../../../core/task/math.ts';
import { mathPromptIds } from '../../../core/task/prompts.ts';
import { reverseDigitsRuntime } from '../../../core/task/reverseDigits.ts';
import { mathStopTokenIds } from '../../../core/task/stops.ts';
import { taskRuntime } from '../../../core/task/taskRuntime.ts';
import type { TaskResponse } from '../../../core/task/types.ts';
import { parseRunConfig, RunConfigError } from '../../../core/config/run.ts';
import { mathTaskSchema, reverseDigitsTaskSchema } from '../../../core/config/task.ts';
import { BOXED_INSTRUCTION } from '../../../core/data/prompts.ts';
import type { SyntheticProblem } from '../../../core/data/synthetic.ts';
import { buildTinyTokenizer, TINY_VOCAB_SIZE } from '../../../core/model/tinyTokenizer.ts';
import { QwenTokenizer } from '../../../core/model/tokenizer.ts';

const tokenizer = new QwenTokenizer(buildTinyTokenizer());
/** <|im_end|>: byte ids 0–255, then <|endoftext|> 256, <|im_start|> 257, <|im_end|> 258. */
const IM_END = 258;

const SYNTHETIC = {
  source: 'synthetic',
  task: { kind: 'arithmetic', knobs: { digits: 2, terms: 2, ops: ['+'] } },
  size: 10,
};

function mathTask(extra: Record<string, unknown> = {}) {
  return mathTaskSchema.parse({ kind: 'math', data: SYNTHETIC, ...extra });
}

const PROBLEMS: SyntheticProblem[] = [
  { id: 'a', problem: 'Compute $12 + 30$.', answer: '42' },
  { id: 'b', problem: 'What is $\\frac{1}{2} + \\frac{1}{3}$?', answer: '\\frac{5}{6}' },
];

/** A response as the generator returns it: the text's tokens, then EOS when it stopped. */
function response(text: string, finishReason = 'stop'): TaskResponse {
  const tokens = tokenizer.encode(text);
  return { tokens: finishReason === 'stop' ? [...tokens, IM_END] : tokens, finishReason };
}

describe('math task prompts and stop tokens (tiny byte tokenizer)', () => {
  it('the plain template is the problem and a newline, one token per byte', () => {
    const task = mathTask({ prompt: { template: 'plain' } });
    const problem = 'Compute $987 + 45$. Ünïcödé ✓';
    const ids = mathPromptIds(task, tokenizer, problem);
    assert.equal(tokenizer.decode(ids), `${problem}\n`);
    assert.equal(ids.length, Buffer.byteLength(`${problem}\n`));
    assert.ok(ids.every((id) => id < 256));
  });

  it('the chat template renders ChatML with the generation prompt, special tokens as single ids', () => {
    const problem = 'Compute $1 + 2$.';
    const ids = mathPromptIds(mathTask(), tokenizer, problem);
    const expected = `<|im_start|>user\n${problem}\n${BOXED_INSTRUCTION}<|im_end|>\n<|im_start|>assistant\n`;
    assert.equal(tokenizer.decode(ids), expected);
    assert.equal(ids.filter((id) => id === 257).length, 2);
    assert.equal(ids.filter((id) => id === IM_END).length, 1);
    const withSystem = mathPromptIds(mathTask({ prompt: { system: 'Be brief.' } }), tokenizer, problem);
    assert.equal(tokenizer.decode(withSystem), `<|im_start|>system\nBe brief.<|im_end|>\n${expected}`);
  });

  it("stops on the tokenizer's EOS (<|im_end|>) and the model's EOS ids", () => {
    assert.equal(tokenizer.eosTokenId, IM_END);
    assert.deepEqual(mathStopTokenIds(tokenizer, []), [IM_END]);
    assert.deepEqual(new Set(mathStopTokenIds(tokenizer, [256, IM_END])), new Set([256, IM_END]));
  });
});

describe('math task scoring', () => {
  it('still15b: +1 correct boxed, −1 wrong boxed, −2 no box; <think> survives decoding', () => {
    const runtime = mathRuntime(mathTask(), PROBLEMS, tokenizer, []);
    assert.equal(runtime.size, 2);
    const scores = runtime.scoreGroup(0, [
      response('<think>2+0=2 1+3=4</think>\\boxed{42}'),
      response('<think>2+0=2 1+3=4</think>\\boxed{41}'),
      response('<think>2+0=2 1+3=4</think>the answer is 42'),
    ]);
    assert.deepEqual(scores.rewards, [1, -1, -2]);
    // `correct` is the verifier's verdict alone: an unboxed "42" is still the right number (expr mode).
    assert.deepEqual(scores.correct, [true, false, true]);
    assert.deepEqual(scores.lossMask, [1, 1, 1]);
    assert.equal(scores.keep, true);
    assert.equal(
      runtime.responseText(response('<think>x</think>\\boxed{1}').tokens),
      '<think>x</think>\\boxed{1}',
    );
    // The verifier, not string equality: 5/6 written another way is still right.
    assert.deepEqual(
      runtime.scoreGroup(1, [response('\\boxed{\\dfrac{5}{6}}'), response('\\boxed{0.8}')]).rewards,
      [1, -1],
    );
  });

  it("a response cut off at the length limit (finishReason 'length') is truncated for the reward", () => {
    const zero = mathRuntime(mathTask({ reward: { truncated: 'zero' } }), PROBLEMS, tokenizer, []);
    assert.deepEqual(
      zero.scoreGroup(0, [response('\\boxed{41}', 'length'), response('\\boxed{41}', 'stop')]).rewards,
      [0, -1],
    );
    const wrong = mathRuntime(mathTask({ reward: { truncated: 'wrong' } }), PROBLEMS, tokenizer, []);
    assert.deepEqual(
      wrong.scoreGroup(0, [response('no box yet', 'length'), response('no box', 'stop')]).rewards,
      [-1, -2],
    );
    // ORM masks truncated responses out of the loss.
    const orm = mathRuntime(mathTask({ reward: { lengthStrategy: 'orm' } }), PROBLEMS, tokenizer, []);
    assert.deepEqual(
      orm.scoreGroup(0, [response('\\boxed{42}', 'length'), response('\\boxed{42}')]).lossMask,
      [0, 1],
    );
  });

  it('prompts are cached per problem and stop ids come from the tokenizer', () => {
    const runtime = mathRuntime(mathTask({ prompt: { template: 'plain' } }), PROBLEMS, tokenizer, [256]);
    assert.equal(runtime.promptIds(1), runtime.promptIds(1));
    assert.equal(tokenizer.decode(runtime.promptIds(1)), `${PROBLEMS[1].problem}\n`);
    assert.deepEqual(new Set(runtime.stopTokenIds), new Set([256, IM_END]));
    assert.throws(() => mathRuntime(mathTask(), [], tokenizer, []), /no usable problems/);
  });

  it('taskRuntime loads the data, counts skipped rows and needs a tokenizer', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'reasonloop-mathtask-'));
    const path = join(dir, 'p.jsonl');
    writeFileSync(
      path,
      `${JSON.stringify({ problem: 'What is 6*7?', answer: '42' })}\n{"problem": "no answer"}\n`,
    );
    const fileTask = mathTaskSchema.parse({
      kind: 'math',
      data: { source: 'file', path, answerField: 'answer' },
    });
    const runtime = await taskRuntime(fileTask, tokenizer, []);
    assert.equal(runtime.size, 1);
    assert.equal(runtime.skippedRows, 1);
    assert.deepEqual(runtime.scoreGroup(0, [response('\\boxed{42}')]).rewards, [1]);
    await assert.rejects(taskRuntime(fileTask, undefined, []), /math task: the model has no tokenizer/);
    const synthetic = await taskRuntime(mathTask(), tokenizer, []);
    assert.equal(synthetic.size, 10);
  });
});

describe('reverseDigits runtime', () => {
  // The task as defined before the runtime existed: i with leading zeros, then the separator; the
  // reward is the fraction of (digits reversed, EOS) matched position by position.
  const digitsOf = (digits: number, i: number) => String(i).padStart(digits, '0').split('').map(Number);
  const reference = (digits: number, i: number, response: readonly number[]) => {
    const target = digitsOf(digits, i).reverse().concat([11]);
    return target.filter((t, k) => response[k] === t).length / target.length;
  };

  it('matches the definition on every problem of a 3-digit task', () => {
    const task = reverseDigitsTaskSchema.parse({ kind: 'reverseDigits', digits: 3 });
    const runtime = reverseDigitsRuntime(task);
    assert.equal(runtime.size, 1000);
    assert.deepEqual(runtime.stopTokenIds, [11]);
    assert.equal(runtime.skippedRows, 0);
    for (let i = 0; i < 1000; i += 7) {
      assert.deepEqual(runtime.promptIds(i), [...digitsOf(3, i), 10]);
      const right = [...digitsOf(3, i).reverse(), 11];
      const responses = [right, right.slice(0, 2), [9, 9, 9, 9], [...right.slice(0, 3), 3]].map((tokens) => ({
        tokens,
        finishReason: 'stop',
      }));
      const scores = runtime.scoreGroup(i, responses);
      assert.deepEqual(
        scores.rewards,
        responses.map((r) => reference(3, i, r.tokens)),
      );
      assert.deepEqual(scores.correct, [true, false, reference(3, i, [9, 9, 9, 9]) === 1, false]);
      assert.deepEqual(scores.lossMask, [1, 1, 1, 1]);
    }
    assert.equal(runtime.responseText([3, 2, 1, 11]), '3 2 1 11');
  });
});

describe('run config with a math task', () => {
  const INIT = {
    seed: 0,
    config: {
      vocabSize: TINY_VOCAB_SIZE,
      hiddenSize: 16,
      intermediateSize: 32,
      numHiddenLayers: 1,
      numAttentionHeads: 2,
    },
    tokenizer: 'tinyBytes',
  };
  const run = (model: unknown, task: unknown = { kind: 'math', data: SYNTHETIC }) => ({
    runId: 'r1',
    seed: 1,
    steps: 3,
    model,
    task,
    rollout: { promptsPerStep: 4, n: 4, maxNewTokens: 3 },
    algorithm: { miniBatchSize: 16, microBatchSize: 8 },
    store: { url: '/tmp/x' },
  });
  const issuesOf = (raw: unknown): string[] => {
    try {
      parseRunConfig(raw);
    } catch (error) {
      assert.ok(error instanceof RunConfigError, String(error));
      return error.issues;
    }
    assert.fail('the config was accepted');
  };

  it('parses with a tinyBytes model or another run’s checkpoint, filling the task defaults', () => {
    const c = parseRunConfig(run({ init: INIT }));
    assert.equal(c.task.kind, 'math');
    if (c.task.kind === 'math') {
      assert.equal(c.task.prompt.template, 'chat');
      assert.equal(c.task.reward.kind, 'still15b');
    }
    assert.deepEqual(parseRunConfig(run({ checkpoint: { runId: 'sft1', step: 4 } })).model, {
      checkpoint: { runId: 'sft1', step: 4 },
    });
  });

  it('names the tokenizer, the vocabulary and the exactly-one model rule', () => {
    const { tokenizer: _tokenizer, ...noTokenizer } = INIT;
    assert.deepEqual(issuesOf(run({ init: noTokenizer })), [
      'run.model.init.tokenizer must be "tinyBytes" for a math task (a text task needs a tokenizer)',
    ]);
    assert.deepEqual(issuesOf(run({ init: { ...INIT, config: { ...INIT.config, vocabSize: 260 } } })), [
      `run.model.init.config.vocabSize must cover the tinyBytes tokenizer (at least ${TINY_VOCAB_SIZE}) (got 260)`,
    ]);
    assert.deepEqual(issuesOf(run({ init: INIT, checkpoint: { runId: 'sft1', step: 4 } })), [
      'run.model must set exactly one of "init", "dir" or "checkpoint"',
    ]);
    assert.deepEqual(issuesOf(run({ checkpoint: { runId: 'sft1' } })), [
      'run.model.checkpoint.step is required',
    ]);
    assert.deepEqual(issuesOf(run({ init: INIT }, { kind: 'math', data: SYNTHETIC, temperature: 1 })), [
      'run.task: unknown key "temperature"',
    ]);
  });
});
