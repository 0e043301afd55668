/**
 * What a user reads of a step's rollouts: per response its decoded text (what the policy wrote and what a
 * tool inserted, apart), reward and its terms, correctness, length, finish reason, tool calls with their
 * code and output, its advantage and whether it entered the loss. Token ids and log-probs stay in the
 * rollout files; this is the compact, readable record (verl's rollout dump), kept at
 * `runs/<runId>/records/<step>.json` apart from the rollouts, so deleting those leaves it. Bounded: a
 * response keeps at most RECORD_TEXT_CHARS of text and each tool call RECORD_TOOL_CHARS of code and of
 * output, so a step's file is at most about responses × (RECORD_TEXT_CHARS + calls × 2 × RECORD_TOOL_CHARS).
 */
import { parseRolloutRecordsKey, rolloutRecordsKey, rolloutRecordsPrefix } from '../store/keys.ts';
import type { ObjectStore } from '../store/objectStore.ts';

export { rolloutRecordsKey };

/** Marks a step's records file (the format a reader checks before trusting the fields). */
export const ROLLOUT_RECORDS_FORMAT = 'reasonloop.rolloutRecords/1';
/** Characters of a response kept: its start and its end, half each (the answer is usually at the end). */
export const RECORD_TEXT_CHARS = 8000;
/** Characters kept of each tool call's code and of its output. */
export const RECORD_TOOL_CHARS = 2000;

/** A piece of a response: text the policy sampled, or text a tool inserted (`inserted`). */
export interface TextSegment {
  text: string;
  inserted?: true;
}

export interface ToolCallView {
  code: string;
  output: string;
}

export interface RolloutRecordView {
  /** Index of the problem in the task's dataset, and the group (prompt position) and sample. */
  problem: number;
  group: number;
  sample: number;
  /** The response in order, cut to RECORD_TEXT_CHARS (a cut shows as a segment with `omitted`). */
  segments: (TextSegment & { omitted?: number })[];
  /** Characters of the whole decoded response, before any cut. */
  chars: number;
  /** The task reward, and the reward the advantage was computed from (KL in the reward subtracted). */
  taskReward: number;
  reward: number;
  /** The reward's terms; they sum to `reward` (`kl` is −β·Σ KL when KL is in the reward). */
  rewardParts: Record<string, number>;
  /** The verifier's reason for its verdict, when the task gives one. */
  verdict?: string;
  correct: boolean;
  /** Response tokens, and how many the policy sampled (the rest a tool inserted). */
  tokens: number;
  sampledTokens: number;
  finishReason: string;
  toolCalls: ToolCallView[];
  /** The advantage of the response's first loss token (all of them, for outcome estimators). */
  advantage: number;
  inLoss: boolean;
}

export interface PromptView {
  group: number;
  problem: number;
  /** The prompt as the policy saw it, cut like a response. */
  text: string;
  /** Whether the group entered the batch (dynamic sampling or QS may drop it). */
  kept: boolean;
}

export interface StepRecords {
  format: typeof ROLLOUT_RECORDS_FORMAT;
  runId: string;
  step: number;
  prompts: PromptView[];
  responses: RolloutRecordView[];
}

/** The maximal runs of inserted tokens (sampled false), as [start, end) token ranges, in order. */
export function insertedRanges(sampled: readonly boolean[]): [number, number][] {
  const ranges: [number, number][] = [];
  sampled.forEach((s, i) => {
    const last = ranges.at(-1);
    if (s) return;
    if (last && last[1] === i) last[1] = i + 1;
    else ranges.push([i, i + 1]);
  });
  return ranges;
}

/** The maximal runs of inserted tokens (sampled false), as token-id arrays, in order. */
export function insertedSpans(tokens: readonly number[], sampled: readonly boolean[]): number[][] {
  return insertedRanges(sampled).map(([a, b]) => tokens.slice(a, b));
}

/** A string cut to `limit` characters: its start and end, with the count of what was left out between. */
export function capText(text: string, limit: number): string {
  if (text.length <= limit) return text;
  const head = Math.ceil(limit / 2);
  return `${text.slice(0, head)}\n[… ${text.length - limit} characters left out …]\n${text.slice(text.length - (limit - head))}`;
}

/**
 * Segments cut to `limit` characters in all: the first half of the budget from the start, the second from
 * the end, and one `omitted` segment (holding the count) where the cut is.
 */
export function capSegments(segments: readonly TextSegment[], limit: number): RolloutRecordView['segments'] {
  const total = segments.reduce((n, s) => n + s.text.length, 0);
  if (total <= limit) return segments.map((s) => ({ ...s }));
  const take = (from: readonly TextSegment[], budget: number, fromEnd: boolean): TextSegment[] => {
    const out: TextSegment[] = [];
    for (const s of fromEnd ? [...from].reverse() : from) {
      if (budget <= 0) break;
      const text = fromEnd ? s.text.slice(Math.max(0, s.text.length - budget)) : s.text.slice(0, budget);
      budget -= text.length;
      out.push({ ...s, text });
    }
    return fromEnd ? out.reverse() : out;
  };
  const head = Math.ceil(limit / 2);
  return [
    ...take(segments, head, false),
    { text: '', omitted: total - limit },
    ...take(segments, limit - head, true),
  ];
}

/** The response's text, as kept. */
export function recordText(r: Pick<RolloutRecordView, 'segments'>): string {
  return r.segments.map((s) => (s.omitted ? `\n[… ${s.omitted} characters left out …]\n` : s.text)).join('');
}

/** The filters `reasonloop rollouts --only` and the browser offer. */
export const RECORD_FILTERS = ['correct', 'wrong', 'truncated', 'tools'] as const;
export type RecordFilter = (typeof RECORD_FILTERS)[number];

export function matchesFilter(r: RolloutRecordView, filter: RecordFilter | undefined): boolean {
  switch (filter) {
    case undefined:
      return true;
    case 'correct':
      return r.correct;
    case 'wrong':
      return !r.correct;
    case 'truncated':
      return r.finishReason === 'length';
    case 'tools':
      return r.toolCalls.length > 0;
  }
}

/** A step's records; undefined when the step has none (not recorded, or removed by retention). */
export async function readStepRecords(
  store: ObjectStore,
  runId: string,
  step: number,
): Promise<StepRecords | undefined> {
  const key = rolloutRecordsKey(runId, step);
  if (!(await store.head(key))) return undefined;
  const parsed = JSON.parse(new TextDecoder().decode(await store.get(key))) as StepRecords;
  if (parsed.format !== ROLLOUT_RECORDS_FORMAT) {
    throw new Error(`${key}: not a rollout records file of format ${ROLLOUT_RECORDS_FORMAT}`);
  }
  return parsed;
}

/** The steps whose records the store holds, ascending. */
export async function recordedSteps(store: ObjectStore, runId: string): Promise<number[]> {
  return (await store.list(rolloutRecordsPrefix(runId)))
    .map((o) => parseRolloutRecordsKey(runId, o.key))
    .filter((s): s is number => s !== undefined)
    .sort((a, b) => a - b);
}
