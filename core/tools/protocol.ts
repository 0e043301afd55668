/**
 * The paper's tool protocol, as functions generation can call: the model writes a ```python block inside
 * its reasoning; generation stops at the closing fence; the code runs in the sandbox; its output (or
 * error), truncated, is inserted as a ```output block; generation continues. At most N calls per response.
 * `toolTurnHook` plugs this into `Generator.generate` as its `onTurnEnd` hook; the inserted tokens come
 * back marked `sampled: false`, which is what keeps them out of the RL loss.
 */
import type { TurnEnd } from '../generate/generation.ts';
import type { Sandbox } from './pool.ts';
import type { SnippetResult } from './sandboxProcess.ts';
import { DEFAULT_OUTPUT_CHARS } from './limits.ts';

/** Opens a code block the sandbox runs (the paper's format; `py` is accepted as well). */
export const PYTHON_FENCE = '```python\n';
/** Closes any fenced block. */
export const CLOSING_FENCE = '```';
/**
 * The stop string that ends a tool turn: a closing fence and its newline. The hook then decides whether
 * the block just closed was Python (run it) or anything else (continue without inserting).
 */
export const PYTHON_STOP = '```\n';
/** Opens the block that carries the output back into the response. */
export const OUTPUT_FENCE = '```output\n';
/**
 * Tool calls per response. The paper caps calls per response without a number we could find in the
 * released code; 4 is ours (enough to compute, check, and correct twice).
 */
export const DEFAULT_MAX_TOOL_CALLS = 4;
/** Ends a truncated output, so the model can tell that there was more. */
export const TRUNCATION_MARK = '…';

const OPENING_FENCE_LINE = /^```[ \t]*(\w*)[ \t]*$/;
const PYTHON_TAGS = new Set(['python', 'py']);

/**
 * The code of the fenced block that `responseText` ends with, if that block is Python; undefined when the
 * text does not end with a closing fence or the block it closes is not a Python block.
 */
export function extractCodeBlock(responseText: string): string | undefined {
  const text = responseText.replace(/\s+$/, '');
  if (!text.endsWith(CLOSING_FENCE)) return undefined;
  const lines = text.slice(0, -CLOSING_FENCE.length).split('\n');
  // The closing fence must stand on its own line.
  if (lines[lines.length - 1].trim() !== '') return undefined;
  for (let i = lines.length - 2; i >= 0; i--) {
    const fence = OPENING_FENCE_LINE.exec(lines[i].trim());
    if (!fence) continue;
    if (!PYTHON_TAGS.has(fence[1].toLowerCase())) return undefined;
    return lines.slice(i + 1, -1).join('\n');
  }
  return undefined;
}

/**
 * The text shown to the model for one run: its output, or its output and error; cut to `limit`
 * characters (an error keeps its end, where Python names the exception; plain output keeps its start).
 */
export function outputText(result: Pick<SnippetResult, 'stdout' | 'error'>, limit = DEFAULT_OUTPUT_CHARS) {
  const body = result.error
    ? [result.stdout.replace(/\n$/, ''), result.error].filter((s) => s !== '').join('\n')
    : result.stdout.replace(/\n$/, '');
  if (body.length <= limit) return body;
  return result.error
    ? TRUNCATION_MARK + body.slice(body.length - limit + TRUNCATION_MARK.length)
    : body.slice(0, limit - TRUNCATION_MARK.length) + TRUNCATION_MARK;
}

/** The ```output block inserted after a code block. */
export function formatOutputBlock(
  result: Pick<SnippetResult, 'stdout' | 'error'>,
  limit = DEFAULT_OUTPUT_CHARS,
): string {
  return `${OUTPUT_FENCE}${outputText(result, limit)}\n${CLOSING_FENCE}\n`;
}

/** The block inserted instead of running code once a response has used all its tool calls. */
export function toolLimitBlock(maxToolCalls: number): string {
  return formatOutputBlock({
    stdout: '',
    error: `the limit of ${maxToolCalls} tool calls per response was reached; this code was not run`,
  });
}

/** Output blocks already in a response (inserted ones, and any the model wrote itself) = calls so far. */
export function countToolCalls(responseText: string): number {
  return responseText.split(OUTPUT_FENCE).length - 1;
}

export interface ToolTokenizer {
  encode(text: string): number[];
  decode(ids: readonly number[]): string;
}

export interface ToolTurnOptions {
  /** Calls per response (default DEFAULT_MAX_TOOL_CALLS). */
  maxToolCalls?: number;
  /** Characters of output in each block (default: the sandbox's limits.outputChars). */
  outputChars?: number;
  /**
   * false: the "code written but not run" arm of the paper's comparison — code blocks end a turn but
   * nothing runs and nothing is inserted.
   */
  execute?: boolean;
  /** Called after every run, e.g. to count calls per response and time in the sandbox. */
  onToolCall?: (call: { turn: TurnEnd; code: string; result: SnippetResult }) => void;
}

/**
 * An `onTurnEnd` hook for `Generator.generate` (with `stopStrings: [PYTHON_STOP]`). It returns the tokens
 * of the output block to insert; `[]` when the fence did not close a Python block (or `execute` is
 * false), meaning "continue without inserting". It keeps no state of its own: the calls a response has
 * made are counted from its text, so a retried generation sees exactly the same turns.
 */
export function toolTurnHook(sandbox: Sandbox, tokenizer: ToolTokenizer, opts: ToolTurnOptions = {}) {
  const maxToolCalls = opts.maxToolCalls ?? DEFAULT_MAX_TOOL_CALLS;
  if (!(Number.isInteger(maxToolCalls) && maxToolCalls >= 0))
    throw new Error(`tools.maxToolCalls must be a non-negative integer (got ${maxToolCalls})`);
  const outputChars = opts.outputChars ?? sandbox.limits.outputChars;
  const execute = opts.execute ?? true;
  return async (turn: TurnEnd): Promise<number[] | undefined> => {
    const text = tokenizer.decode(turn.tokens);
    const code = extractCodeBlock(text);
    if (code === undefined || !execute) return [];
    if (countToolCalls(text) >= maxToolCalls) return tokenizer.encode(toolLimitBlock(maxToolCalls));
    const result = await sandbox.run(code);
    opts.onToolCall?.({ turn, code, result });
    return tokenizer.encode(formatOutputBlock(result, outputChars));
  };
}
