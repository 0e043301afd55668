/**
 * The task of a run as the activities use it: how many problems, the prompt ids of problem i, the stop
 * tokens, and the scoring of one prompt's group of responses. `reverseDigits` works on token ids (no
 * tokenizer); `math` renders the prompt template with the model's tokenizer, decodes responses and scores
 * them with core/reward's scoreGroup (verifier, reward, length strategy).
 */
import type { MathTask, ReverseDigitsTask, TaskConfig, ToolsConfig } from '../core/config/task.ts';
import type { GenerateOptions } from '../core/generate/generate.ts';
import { PYTHON_STOP, toolTurnHook } from '../core/tools/protocol.ts';
import { SandboxPool } from '../core/tools/pool.ts';
import { recordToolCall, type ToolMetrics } from '../core/tools/metrics.ts';
import { buildPrompt } from '../core/data/prompts.ts';
import { loadTaskProblems } from '../core/data/splits.ts';
import type { SyntheticProblem } from '../core/data/synthetic.ts';
import type { QwenTokenizer } from '../core/model/tokenizer.ts';
import { scoreGroup } from '../core/reward/scoreGroup.ts';

export interface TaskResponse {
  tokens: readonly number[];
  finishReason: string;
}

export interface GroupScores {
  /** The task reward of each response (before any KL penalty). */
  rewards: number[];
  correct: boolean[];
  /** 0 = the response is left out of the loss (ORM, RS), 1 = it counts. */
  lossMask: number[];
  /** False when the whole group is dropped (QS, dynamic sampling). */
  keep: boolean;
}

/** The generate options a task adds: tool turns (stop at a closed code block, run it, insert the output). */
export type GenerationHooks = Pick<GenerateOptions, 'stopStrings' | 'decode' | 'onTurnEnd'>;

export interface TaskRuntime {
  size: number;
  promptIds(index: number): number[];
  stopTokenIds: number[];
  /** Hooks for one generate call; tool calls made during it are counted into `metrics`. */
  generation(metrics: ToolMetrics): Promise<GenerationHooks>;
  scoreGroup(index: number, responses: readonly TaskResponse[]): GroupScores;
  /** The response as text (token ids joined for token-level tasks). */
  responseText(tokens: readonly number[]): string;
  /** Problems skipped while loading the data (bad rows), for the run's report. */
  skippedRows: number;
}

/** Every `digits`-digit string is one problem. */
export function reverseDigitsSize(task: ReverseDigitsTask): number {
  return 10 ** task.digits;
}

export function reverseDigitsOf(task: ReverseDigitsTask, index: number): number[] {
  return String(index).padStart(task.digits, '0').split('').map(Number);
}

export function reverseDigitsPromptIds(task: ReverseDigitsTask, index: number): number[] {
  return [...reverseDigitsOf(task, index), task.separatorToken];
}

/** Fraction of the target (reversed digits, then EOS) reproduced position by position, in [0, 1]. */
export function reverseDigitsReward(
  task: ReverseDigitsTask,
  index: number,
  response: readonly number[],
): number {
  const target = [...reverseDigitsOf(task, index)].reverse().concat([task.eosToken]);
  return target.reduce((n, tok, k) => n + (response[k] === tok ? 1 : 0), 0) / target.length;
}

export function reverseDigitsRuntime(task: ReverseDigitsTask): TaskRuntime {
  return {
    size: reverseDigitsSize(task),
    promptIds: (i) => reverseDigitsPromptIds(task, i),
    stopTokenIds: [task.eosToken],
    scoreGroup: (i, responses) => {
      const rewards = responses.map((r) => reverseDigitsReward(task, i, r.tokens));
      return {
        rewards,
        correct: rewards.map((r) => r === 1),
        lossMask: rewards.map(() => 1),
        keep: true,
      };
    },
    responseText: (tokens) => tokens.join(' '),
    generation: async () => ({}),
    skippedRows: 0,
  };
}

const sandboxes = new Map<string, Promise<SandboxPool>>();

/** One warm sandbox pool per worker process and tool settings, shared by every activity. */
function sandboxFor(tools: ToolsConfig): Promise<SandboxPool> {
  const key = JSON.stringify([tools.backend, tools.timeoutMs, tools.outputChars, tools.poolSize]);
  let pool = sandboxes.get(key);
  if (!pool) {
    pool = SandboxPool.create({
      backend: tools.backend,
      limits: { wallTimeMs: tools.timeoutMs, outputChars: tools.outputChars },
      size: tools.poolSize,
    });
    pool.catch(() => sandboxes.delete(key));
    sandboxes.set(key, pool);
  }
  return pool;
}

/**
 * Stops every sandbox pool this process started (their warm processes would keep it alive): for a process
 * that ran activities outside a worker, such as a test. Pools start again on the next use.
 */
export async function closeSandboxes(): Promise<void> {
  const pools = [...sandboxes.values()];
  sandboxes.clear();
  await Promise.all(pools.map(async (p) => (await p.catch(() => undefined))?.close()));
}

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

/** The prompt of a math problem as token ids: chat templates rendered by the tokenizer, text as is. */
export function mathPromptIds(task: MathTask, tokenizer: QwenTokenizer, problem: string): number[] {
  const prompt = buildPrompt(task.prompt.template, problem, task.prompt.system);
  return prompt.kind === 'messages'
    ? tokenizer.encodeChat(prompt.messages, { addGenerationPrompt: true })
    : tokenizer.encode(prompt.text);
}

/** Stop on the tokenizer's EOS and on every EOS id of the model's generation config. */
export function mathStopTokenIds(tokenizer: QwenTokenizer, modelEos: readonly number[]): number[] {
  // The tokenizer's EOS first: it ends a chat turn (<|im_end|> for Qwen chat models), so SFT targets end with it.
  const ids = new Set(tokenizer.eosTokenId === undefined ? [] : [tokenizer.eosTokenId]);
  for (const id of modelEos) ids.add(id);
  if (ids.size === 0)
    throw new Error('math task: neither the tokenizer nor the model config names an EOS token');
  return [...ids];
}

export function mathRuntime(
  task: MathTask,
  problems: readonly SyntheticProblem[],
  tokenizer: QwenTokenizer,
  modelEos: readonly number[],
  skippedRows = 0,
): TaskRuntime {
  if (problems.length === 0) throw new Error('math task: the data has no usable problems');
  const promptCache = new Map<number, number[]>();
  const text = (tokens: readonly number[]) => tokenizer.decode(tokens, true);
  return {
    size: problems.length,
    promptIds: (i) => {
      let ids = promptCache.get(i);
      if (!ids) {
        ids = mathPromptIds(task, tokenizer, problems[i].problem);
        promptCache.set(i, ids);
      }
      return ids;
    },
    stopTokenIds: mathStopTokenIds(tokenizer, modelEos),
    scoreGroup: (i, responses) => {
      const p = problems[i];
      const scored = scoreGroup(task.reward, {
        gold: p.answer,
        countdown: p.countdown,
        responses: responses.map((r) => ({
          text: text(r.tokens),
          length: r.tokens.length,
          truncated: r.finishReason === 'length',
        })),
      });
      return {
        rewards: scored.rewards,
        correct: scored.correct,
        lossMask: scored.lossMask,
        keep: scored.keep,
      };
    },
    responseText: text,
    generation: async (metrics) => (task.tools ? toolHooks(task.tools, tokenizer, metrics) : {}),
    skippedRows,
  };
}

/** The runtime of a task; `tokenizer` is required for a math task. */
export async function taskRuntime(
  task: TaskConfig,
  tokenizer: QwenTokenizer | undefined,
  modelEos: readonly number[],
): Promise<TaskRuntime> {
  if (task.kind === 'reverseDigits') return reverseDigitsRuntime(task);
  if (!tokenizer) throw new Error('math task: the model has no tokenizer');
  const { problems, skipped } = await loadTaskProblems(task.data);
  return mathRuntime(task, problems, tokenizer, modelEos, skipped.count);
}
