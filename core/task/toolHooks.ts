/**
 * Tool use during generation for a math task with `tools`: stop at a closed ```python block, run it in this
 * process's sandbox pool, insert the ```output block and go on (core/tools' protocol).
 */
import type { ToolsConfig } from '../config/task.ts';
import type { QwenTokenizer } from '../model/tokenizer.ts';
import { recordToolCall, type ToolMetrics } from '../tools/metrics.ts';
import { PYTHON_STOP, toolTurnHook } from '../tools/protocol.ts';
import { sandboxFor } from './sandboxes.ts';
import type { GenerationHooks } from './types.ts';

/** Tool turns for a math task with `tools`: the paper's protocol through the sandbox (core/tools). */
export async function toolHooks(
  tools: ToolsConfig,
  tokenizer: QwenTokenizer,
  metrics: ToolMetrics,
): Promise<GenerationHooks> {
  const decode = (ids: readonly number[]) => tokenizer.decode(ids);
  // "Code written but not run": a closed code block still ends the turn, and generation goes on as is.
  if (!tools.execute) return { stopStrings: [PYTHON_STOP], decode, onTurnEnd: () => [] };
  const sandbox = await sandboxFor(tools);
  const onTurnEnd = toolTurnHook(
    sandbox,
    { encode: (t) => tokenizer.encode(t), decode },
    {
      maxToolCalls: tools.maxCalls,
      outputChars: tools.outputChars,
      onToolCall: ({ result }) => recordToolCall(metrics, result),
    },
  );
  return { stopStrings: [PYTHON_STOP], decode, onTurnEnd };
}
