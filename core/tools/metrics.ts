/**
 * Tool-use metrics (issue 8): tool calls per response, tool errors, time in the sandbox. A pool keeps
 * running totals; the tool protocol reports each call so rollout code can count calls per response.
 */
import type { ErrorKind, SnippetResult } from './sandboxProcess.ts';

export interface ToolMetrics {
  /** Snippets run. */
  toolCalls: number;
  /** Snippets that ended in an error of any kind. */
  toolErrors: number;
  /** Of those, how many hit the time limit / ran out of memory / killed the process. */
  toolTimeouts: number;
  toolMemoryErrors: number;
  toolCrashes: number;
  /** Total wall time inside the sandbox, in milliseconds. */
  sandboxMs: number;
  /** Processes restarted after a kill or a crash. */
  restarts: number;
}

export function emptyToolMetrics(): ToolMetrics {
  return {
    toolCalls: 0,
    toolErrors: 0,
    toolTimeouts: 0,
    toolMemoryErrors: 0,
    toolCrashes: 0,
    sandboxMs: 0,
    restarts: 0,
  };
}

const COUNTER_OF: Record<ErrorKind, keyof ToolMetrics | undefined> = {
  exception: undefined,
  timeout: 'toolTimeouts',
  memory: 'toolMemoryErrors',
  crash: 'toolCrashes',
};

export function recordToolCall(m: ToolMetrics, r: Pick<SnippetResult, 'errorKind' | 'wallMs'>): void {
  m.toolCalls += 1;
  m.sandboxMs += r.wallMs;
  if (r.errorKind) {
    m.toolErrors += 1;
    const counter = COUNTER_OF[r.errorKind];
    if (counter) m[counter] += 1;
  }
}

/** Sums metrics from several pools or shards. */
export function mergeToolMetrics(parts: readonly ToolMetrics[]): ToolMetrics {
  const total = emptyToolMetrics();
  for (const p of parts) for (const k of Object.keys(total) as (keyof ToolMetrics)[]) total[k] += p[k];
  return total;
}

/** Per-response summary for a batch: mean tool calls per response, error rate, mean sandbox time. */
export function toolMetricsPerResponse(m: ToolMetrics, responses: number) {
  if (!(Number.isInteger(responses) && responses > 0))
    throw new Error(`responses must be a positive integer (got ${responses})`);
  return {
    toolCallsPerResponse: m.toolCalls / responses,
    toolErrorRate: m.toolCalls === 0 ? 0 : m.toolErrors / m.toolCalls,
    sandboxMsPerResponse: m.sandboxMs / responses,
  };
}
