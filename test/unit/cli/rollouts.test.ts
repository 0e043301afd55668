/** `reasonloop rollouts` on a local folder store: a step's responses as text, filters, groups, errors. */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { EXIT_USAGE } from '../../../cli/command.ts';
import { compactSteps, printable } from '../../../cli/commands/rollouts.ts';
import {
  ROLLOUT_RECORDS_FORMAT,
  rolloutRecordsKey,
  type RolloutRecordView,
  type StepRecords,
} from '../../../core/metrics/rolloutRecords.ts';
import { LocalFolderStore } from '../../../core/store/index.ts';
import { capture } from './capture.ts';

const DIR = mkdtempSync(join(tmpdir(), 'reasonloop-rollouts-cli-'));
const STORE = join(DIR, 'store');

const response = (over: Partial<RolloutRecordView>): RolloutRecordView => ({
  problem: 4,
  group: 0,
  sample: 0,
  segments: [{ text: 'The answer is \\boxed{6}.' }],
  chars: 24,
  taskReward: 1,
  reward: 1,
  rewardParts: { answer: 1 },
  verdict: 'equal',
  correct: true,
  tokens: 9,
  sampledTokens: 9,
  finishReason: 'stop',
  toolCalls: [],
  advantage: 0.5,
  inLoss: true,
  ...over,
});

const records: StepRecords = {
  format: ROLLOUT_RECORDS_FORMAT,
  runId: 'r',
  step: 2,
  prompts: [
    { group: 0, problem: 4, text: 'What is 2*3?', kept: true },
    { group: 1, problem: 8, text: 'What is 9-9?', kept: false },
  ],
  responses: [
    response({}),
    response({
      sample: 1,
      segments: [
        { text: '```python\nprint(2*3)\n```\n' },
        { text: '```output\n6\n```\n', inserted: true },
        { text: 'So \\boxed{7}\u001b[2J' },
      ],
      toolCalls: [{ code: 'print(2*3)', output: '6' }],
      tokens: 20,
      sampledTokens: 14,
      correct: false,
      taskReward: -1,
      reward: -1,
      rewardParts: { answer: -1 },
      advantage: -0.5,
    }),
    response({ group: 1, problem: 8, sample: 0, finishReason: 'length', correct: false, inLoss: false }),
    response({ group: 1, problem: 8, sample: 1, correct: false, inLoss: false, advantage: 0 }),
  ],
};

describe('reasonloop rollouts', () => {
  before(async () => {
    const store = new LocalFolderStore(STORE);
    for (const step of [1, 2]) {
      await store.put(
        rolloutRecordsKey('r', step),
        new TextEncoder().encode(JSON.stringify({ ...records, step })),
      );
    }
  });
  after(() => rmSync(DIR, { recursive: true, force: true }));

  it("prints the step's groups, each response's reward, advantage, text and tool calls", async () => {
    const r = await capture(['rollouts', '--store', STORE, '--run', 'r', '--step', '2']);
    assert.equal(r.code, 0, r.err);
    assert.match(r.out, /^run r · step 2 · 2 groups, 4 responses · showing 4\n/);
    assert.match(r.out, /── group 0 · problem 4 · 2 responses · mean reward 0\n {2}prompt │ What is 2\*3\?/);
    assert.match(
      r.out,
      /sample 0 · reward 1 \(answer 1\) · correct · 9 tokens · finish stop · advantage \+0\.500 · in loss/,
    );
    assert.match(
      r.out,
      /sample 1 · reward -1 \(answer -1\) · wrong · 20 tokens \(6 from tools\) · finish stop · advantage -0\.500/,
    );
    assert.match(r.out, /tool call 1:\n {6}code {3}│ print\(2\*3\)\n {6}output │ 6/);
    assert.match(
      r.out,
      /\n {4}│ print\(2\*3\)\n {4}│ ```\n {4}┊ ```output\n {4}┊ 6\n {4}┊ ```\n {4}│ So/,
      'tool text marked',
    );
    assert.match(r.out, /dropped from the batch/);
    assert.match(r.out, /truncated · advantage \+0\.500 · not in loss/);
    assert.ok(!r.out.includes('\u001b'), 'no terminal escape reaches the terminal');
    assert.ok(r.out.includes('\\x1b[2J'));
  });

  it('filters: --only and --group select; the newest step is the default', async () => {
    const tools = await capture(['rollouts', '--store', STORE, '--run', 'r', '--only', 'tools']);
    assert.equal(tools.code, 0, tools.err);
    assert.match(tools.out, /step 2 .* showing 1 \(tools\)/);
    assert.equal((tools.out.match(/ · sample /g) ?? []).length, 0);
    assert.equal((tools.out.match(/^ {2}sample /gm) ?? []).length, 1);
    const truncated = await capture([
      'rollouts',
      '--store',
      STORE,
      '--run',
      'r',
      '--step',
      '1',
      '--only',
      'truncated',
    ]);
    assert.match(truncated.out, /step 1 .* showing 1 \(truncated\)/);
    assert.ok(!truncated.out.includes('group 0'));
    const group = await capture([
      'rollouts',
      '--store',
      STORE,
      '--run',
      'r',
      '--group',
      '1',
      '--only',
      'wrong',
    ]);
    assert.match(group.out, /showing 2 \(wrong, group 1\)/);
    const json = await capture(['rollouts', '--store', STORE, '--run', 'r', '--only', 'correct', '--json']);
    const parsed = JSON.parse(json.out) as StepRecords;
    assert.deepEqual(
      parsed.responses.map((x) => [x.group, x.sample]),
      [[0, 0]],
    );
  });

  it('names what is wrong: a step without records, a bad filter', async () => {
    const missing = await capture(['rollouts', '--store', STORE, '--run', 'r', '--step', '7']);
    assert.equal(missing.code, 1);
    assert.match(missing.err, /run r: no rollout records for step 7 .*recorded steps: 1–2/);
    const none = await capture(['rollouts', '--store', STORE, '--run', 'other']);
    assert.match(none.err, /the run has no rollout records/);
    const bad = await capture(['rollouts', '--store', STORE, '--run', 'r', '--only', 'right']);
    assert.equal(bad.code, EXIT_USAGE);
    assert.match(bad.err, /--only must be one of correct, wrong, truncated, tools \(got right\)/);
    assert.equal(compactSteps([1, 2, 3, 5, 10, 11]), '1–3, 5, 10–11');
    assert.equal(printable('a\tb\nc\u0007'), 'a\tb\nc\\x07');
  });
});
