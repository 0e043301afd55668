/**
 * A step's readable rollout records (core/metrics/rolloutRecords.ts) from what scoreRollouts has at hand:
 * the sampled responses, their scores, rewards and advantages. Text is decoded here, once per step; the
 * code of a tool call is the Python block the policy closed just before the tool's output was inserted.
 */
import {
  capSegments,
  capText,
  insertedRanges,
  RECORD_TEXT_CHARS,
  RECORD_TOOL_CHARS,
  ROLLOUT_RECORDS_FORMAT,
  type StepRecords,
  type TextSegment,
  type ToolCallView,
} from '../core/metrics/rolloutRecords.ts';
import { CLOSING_FENCE, extractCodeBlock, OUTPUT_FENCE } from '../core/tools/protocol.ts';
import type { TaskRuntime } from '../core/task/types.ts';
import type { RolloutRecord } from './sampleRollouts.ts';

/** Per response (records' order): what scoring decided. */
export interface RecordScores {
  taskRewards: readonly number[];
  rewards: readonly number[];
  correct: readonly boolean[];
  inLoss: readonly boolean[];
  /** The advantage of each response's first loss token. */
  advantages: readonly number[];
  parts?: readonly (Record<string, number> | undefined)[];
  reasons?: readonly (string | undefined)[];
  /** Per group (prompt position): whether it entered the batch. */
  groupKept: ReadonlyMap<number, boolean>;
}

/** The text of an inserted ```output block, without its fences. */
export function outputOf(inserted: string): string {
  let text = inserted.startsWith(OUTPUT_FENCE) ? inserted.slice(OUTPUT_FENCE.length) : inserted;
  const close = `\n${CLOSING_FENCE}\n`;
  if (text.endsWith(close)) text = text.slice(0, -close.length);
  return text;
}

/** A response as sampled and inserted segments, and its tool calls. */
export function responseSegments(
  task: Pick<TaskRuntime, 'responseText'>,
  tokens: readonly number[],
  sampled: readonly boolean[],
): { segments: TextSegment[]; toolCalls: ToolCallView[] } {
  const segments: TextSegment[] = [];
  const toolCalls: ToolCallView[] = [];
  let at = 0;
  for (const [start, end] of insertedRanges(sampled)) {
    if (start > at) segments.push({ text: task.responseText(tokens.slice(at, start)) });
    const inserted = task.responseText(tokens.slice(start, end));
    segments.push({ text: inserted, inserted: true });
    const code = extractCodeBlock(task.responseText(tokens.slice(0, start))) ?? '';
    toolCalls.push({
      code: capText(code, RECORD_TOOL_CHARS),
      output: capText(outputOf(inserted), RECORD_TOOL_CHARS),
    });
    at = end;
  }
  if (at < tokens.length) segments.push({ text: task.responseText(tokens.slice(at)) });
  return { segments, toolCalls };
}

export function stepRecords(
  runId: string,
  step: number,
  task: Pick<TaskRuntime, 'responseText'>,
  records: readonly RolloutRecord[],
  scores: RecordScores,
): StepRecords {
  const prompts = new Map<number, StepRecords['prompts'][number]>();
  const responses = records.map((r, i) => {
    if (!prompts.has(r.prompt)) {
      prompts.set(r.prompt, {
        group: r.prompt,
        problem: r.problem,
        text: capText(task.responseText(r.promptIds), RECORD_TEXT_CHARS),
        kept: scores.groupKept.get(r.prompt) ?? true,
      });
    }
    const { segments, toolCalls } = responseSegments(task, r.tokens, r.sampled);
    const taskReward = scores.taskRewards[i];
    const reward = scores.rewards[i];
    const parts = scores.parts?.[i] ?? { task: taskReward };
    const verdict = scores.reasons?.[i];
    return {
      problem: r.problem,
      group: r.prompt,
      sample: r.sample,
      segments: capSegments(segments, RECORD_TEXT_CHARS),
      chars: segments.reduce((n, s) => n + s.text.length, 0),
      taskReward,
      reward,
      rewardParts: reward === taskReward ? { ...parts } : { ...parts, kl: reward - taskReward },
      ...(verdict !== undefined ? { verdict } : {}),
      correct: scores.correct[i],
      tokens: r.tokens.length,
      sampledTokens: r.sampled.filter(Boolean).length,
      finishReason: r.finishReason,
      toolCalls,
      advantage: scores.advantages[i],
      inLoss: scores.inLoss[i],
    };
  });
  return {
    format: ROLLOUT_RECORDS_FORMAT,
    runId,
    step,
    prompts: [...prompts.values()],
    responses,
  };
}
