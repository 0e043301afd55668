/**
 * `reasonloop rollouts --store URL --run R [--step S] [--only correct|wrong|truncated|tools] [--group G]`:
 * what the policy wrote at a step — each response's text with its reward and terms, verdict, length,
 * finish reason, advantage, loss flag and tool calls — from the run's rollout records, as plain text.
 */
import {
  matchesFilter,
  readStepRecords,
  recordedSteps,
  RECORD_FILTERS,
  type RecordFilter,
  type RolloutRecordView,
  type StepRecords,
} from '../../core/metrics/rolloutRecords.ts';
import { formatCell } from '../../core/metrics/report.ts';
import { openStore, S3ObjectStore, type ObjectStore } from '../../core/store/index.ts';
import { parseOptions, usageError, type Command } from '../command.ts';

const HELP = `usage: reasonloop rollouts --store URL --run RUN_ID [--step S] [--only FILTER] [--group G] [--json]

  --store URL    the store the run writes to (s3://bucket/prefix, file:///path or a folder)
  --run RUN_ID   the RL run
  --step S       the step whose responses to print (default: the newest recorded step)
  --only FILTER  only the responses that are ${RECORD_FILTERS.join(', ')}
  --group G      only the responses to the step's prompt G (a GRPO group)
  --json         print the selected records as JSON instead of text`;
const USAGE = { name: 'rollouts', help: HELP };

export const rolloutsCommand: Command = {
  name: 'rollouts',
  describe: "print a step's responses with their rewards, advantages and tool calls",
  run: runRollouts,
};

/** Reads as written, but no terminal control sequences: a model can write ESC as easily as any byte. */
export function printable(text: string): string {
  let out = '';
  for (const c of text) {
    const code = c.charCodeAt(0);
    const control = (code < 0x20 && c !== '\n' && c !== '\t') || (code >= 0x7f && code <= 0x9f);
    out += control ? `\\x${code.toString(16).padStart(2, '0')}` : c;
  }
  return out;
}

const signed = (x: number) => (x >= 0 ? '+' : '') + x.toFixed(3);
const num = (x: number) => formatCell(x);
const indent = (text: string, pad: string) =>
  printable(text)
    .split('\n')
    .map((line) => (line === '' ? '' : pad + line))
    .join('\n');

/** The one-line summary of a response. */
export function responseHeadline(r: RolloutRecordView): string {
  const terms = Object.entries(r.rewardParts)
    .map(([k, v]) => `${k} ${num(v)}`)
    .join(', ');
  return [
    `sample ${r.sample}`,
    `reward ${num(r.reward)}${terms ? ` (${terms})` : ''}`,
    r.correct ? 'correct' : 'wrong',
    `${r.tokens} tokens${r.sampledTokens !== r.tokens ? ` (${r.tokens - r.sampledTokens} from tools)` : ''}`,
    r.finishReason === 'length' ? 'truncated' : `finish ${r.finishReason}`,
    `advantage ${signed(r.advantage)}`,
    r.inLoss ? 'in loss' : 'not in loss',
  ].join(' · ');
}

/** A response in full: headline, verdict, text (tool output marked), then each tool call. */
export function formatResponse(r: RolloutRecordView): string {
  const lines = [`  ${responseHeadline(r)}`];
  if (r.verdict) lines.push(`    verdict: ${printable(r.verdict)}`);
  lines.push(...segmentLines(r.segments));
  r.toolCalls.forEach((c, i) => {
    lines.push(`    tool call ${i + 1}:`);
    if (c.code) lines.push(indent(c.code, '      code   │ '));
    lines.push(indent(c.output === '' ? '(no output)' : c.output, '      output │ '));
  });
  return lines.join('\n');
}

/**
 * A response's text as indented lines: what the policy wrote behind '│', what a tool inserted behind '┊'
 * (a line holding both counts as the policy's), a cut as one line saying how much was left out.
 */
export function segmentLines(segments: RolloutRecordView['segments']): string[] {
  const lines: { text: string; inserted: boolean }[] = [];
  for (const s of segments) {
    const inserted = s.inserted === true;
    const pieces = s.omitted ? ['', `[… ${s.omitted} characters left out …]`, ''] : s.text.split('\n');
    pieces.forEach((piece, k) => {
      const last = lines[lines.length - 1];
      if (k > 0 || !last) lines.push({ text: piece, inserted });
      else if (piece !== '') {
        // An empty line takes the kind of what fills it; a mixed line counts as the policy's.
        last.inserted = last.text === '' ? inserted : last.inserted && inserted;
        last.text += piece;
      }
    });
  }
  if (lines.length > 0 && lines[lines.length - 1].text === '') lines.pop();
  return lines.map((l) => `    ${l.inserted ? '┊' : '│'} ${printable(l.text)}`.trimEnd());
}

/** The selected responses of a step, grouped under their prompt. */
export function formatStep(
  records: StepRecords,
  select: { only?: RecordFilter; group?: number },
): { text: string; shown: number } {
  const out: string[] = [];
  let shown = 0;
  for (const prompt of records.prompts) {
    if (select.group !== undefined && prompt.group !== select.group) continue;
    const responses = records.responses.filter(
      (r) => r.group === prompt.group && matchesFilter(r, select.only),
    );
    if (responses.length === 0) continue;
    const all = records.responses.filter((r) => r.group === prompt.group);
    const mean = all.reduce((s, r) => s + r.reward, 0) / all.length;
    out.push(
      `── group ${prompt.group} · problem ${prompt.problem} · ${all.length} responses · mean reward ${num(mean)}` +
        (prompt.kept ? '' : ' · dropped from the batch'),
    );
    out.push(indent(prompt.text.trimEnd(), '  prompt │ '));
    for (const r of responses) out.push(formatResponse(r));
    out.push('');
    shown += responses.length;
  }
  return { text: out.join('\n'), shown };
}

async function runRollouts(argv: string[]): Promise<number> {
  const parsed = parseOptions(USAGE, argv, {
    store: { type: 'string' },
    run: { type: 'string' },
    step: { type: 'string' },
    only: { type: 'string' },
    group: { type: 'string' },
    json: { type: 'boolean' },
  });
  if ('exit' in parsed) return parsed.exit;
  const args = parsed.values;
  if (!args.store) return usageError(USAGE, '--store is required');
  if (!args.run) return usageError(USAGE, '--run is required');
  const integer = (name: string, value: string | undefined): number | undefined | Error => {
    if (value === undefined) return undefined;
    return /^\d+$/.test(value)
      ? Number(value)
      : new Error(`${name} must be a non-negative integer (got ${value})`);
  };
  const step = integer('--step', args.step);
  const group = integer('--group', args.group);
  for (const v of [step, group]) if (v instanceof Error) return usageError(USAGE, v.message);
  if (args.only !== undefined && !(RECORD_FILTERS as readonly string[]).includes(args.only)) {
    return usageError(USAGE, `--only must be one of ${RECORD_FILTERS.join(', ')} (got ${args.only})`);
  }
  let store: ObjectStore;
  try {
    store = openStore(args.store);
  } catch (error) {
    return usageError(USAGE, `--store: ${(error as Error).message}`);
  }
  try {
    const steps = await recordedSteps(store, args.run);
    const wanted = (step as number | undefined) ?? steps.at(-1);
    const records = wanted === undefined ? undefined : await readStepRecords(store, args.run, wanted);
    if (!records) {
      const have = steps.length ? `recorded steps: ${compactSteps(steps)}` : 'the run has no rollout records';
      console.error(
        `reasonloop rollouts: run ${args.run}: no rollout records for ${wanted === undefined ? 'any step' : `step ${wanted}`} in ${args.store} (${have})`,
      );
      return 1;
    }
    const select = { only: args.only as RecordFilter | undefined, group: group as number | undefined };
    if (args.json) {
      const responses = records.responses.filter(
        (r) => (select.group === undefined || r.group === select.group) && matchesFilter(r, select.only),
      );
      console.log(JSON.stringify({ ...records, responses }));
      return 0;
    }
    const { text, shown } = formatStep(records, select);
    const filters = [select.only, select.group !== undefined ? `group ${select.group}` : undefined]
      .filter(Boolean)
      .join(', ');
    console.log(
      `run ${args.run} · step ${records.step} · ${records.prompts.length} groups, ${records.responses.length} responses` +
        ` · showing ${shown}${filters ? ` (${filters})` : ''}\n`,
    );
    if (text) console.log(text);
    return 0;
  } finally {
    if (store instanceof S3ObjectStore) store.destroy();
  }
}

/** 1, 2, 3, 5, 10 → "1–3, 5, 10". */
export function compactSteps(steps: readonly number[]): string {
  const parts: string[] = [];
  for (let i = 0; i < steps.length;) {
    let j = i;
    while (j + 1 < steps.length && steps[j + 1] === steps[j] + 1) j++;
    parts.push(j > i ? `${steps[i]}–${steps[j]}` : String(steps[i]));
    i = j + 1;
  }
  return parts.join(', ');
}
