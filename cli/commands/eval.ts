/**
 * `reasonloop eval --config eval.json`: validates the evaluation config (schema, model dir, store
 * reachable) before anything starts, starts one `evaluation` workflow, and prints the equivalent
 * `temporal workflow start` line. `--wait` prints the summary when it is done.
 */
import { temporalWorkflowStartLine } from '../../client/commandLine.ts';
import { withClient } from '../../client/connection.ts';
import { checkGpuWorkers, evaluationQueues } from '../../client/gpuWorkers.ts';
import { preflightEvaluation } from '../../client/preflight.ts';
import { DEFAULT_WORKFLOW_QUEUE, WORKFLOW_TYPES } from '../../client/workflowTypes.ts';
import type { EvaluationConfigInput } from '../../core/config/evaluation.ts';
import type { EvaluationSummary } from '../../core/metrics/evaluation.ts';
import type { evaluation } from '../../workflows/evaluation.ts';
import { parseOptions, readConfigFile, usageError, type Command } from '../command.ts';

const HELP = `usage: reasonloop eval --config eval.json [--task-queue Q] [--wait [--json]] [--check]

  --config FILE     the evaluation config (JSON; see core/config/evaluation.ts)
  --task-queue Q    the workflow task queue the workers poll (default ${DEFAULT_WORKFLOW_QUEUE})
  --wait            wait for the evaluation and print its summary
  --json            with --wait: print the summary as one JSON object
  --check           validate only: do not start anything (prints the equivalent temporal command)
  --endpoint URL    evaluate the model an OpenAI-compatible server serves (reasonloop serve, vLLM, SGLang;
                    the API base, e.g. http://127.0.0.1:8000/v1) instead of the config's model
  --model NAME      with --endpoint: the served model's name
  --tokenizer DIR   with --endpoint: the served model's HF directory (config.json and tokenizer files);
                    default: the config's model.dir

Each start is a new workflow, <evalId>-<UTC timestamp>; results live in the store under evals/<evalId>/.
With model.checkpoint and no step, the run's newest verified checkpoint at the time it runs is evaluated.`;
const USAGE = { name: 'eval', help: HELP };

export const evalCommand: Command = {
  name: 'eval',
  describe: 'validate an evaluation config and evaluate a model (or a run checkpoint) on Temporal',
  run: runEval,
};

/** `20261125T122137.123Z`: sortable, and safe in a workflow id and a shell word. */
export function compactTimestamp(date: Date): string {
  return date.toISOString().replace(/[-:]/g, '');
}

/** Several executions per evalId are normal (re-runs, newer checkpoints): each gets its own id. */
export function evaluationWorkflowId(evalId: string, now: Date): string {
  return `${evalId}-${compactTimestamp(now)}`;
}

const fixed = (x: number, digits = 4) => (Number.isInteger(x) ? String(x) : x.toFixed(digits));

/** avg@n, pass@k, maj@k (k = 1, powers of two, n) with 95% intervals, and the protocol beside them. */
function sampledRows(s: EvaluationSummary): [string, string][] {
  const m = s.metrics;
  if (!m) return [];
  const interval = ([lo, hi]: [number, number]) => `[${fixed(lo)}, ${fixed(hi)}]`;
  const ks = [...new Set([1, ...[2, 4, 8, 16, 32, 64, 128].filter((k) => k < m.n), m.n])];
  const rows: [string, string][] = [
    [`avg@${m.n}`, `${fixed(m.avgAtN)}  95% ${interval(m.interval95.avgAtN)}`],
    ['pass@k', ks.map((k) => `@${k} ${fixed(m.passAt[k])}`).join('  ')],
    ['maj@k', ks.map((k) => `@${k} ${fixed(m.majAt[k])}`).join('  ')],
    [`pass@${m.n} 95%`, interval(m.interval95.passAtN)],
    [`maj@${m.n} 95%`, interval(m.interval95.majAtN)],
  ];
  const p = s.protocol;
  if (p) {
    const sampling = [
      `n=${p.n}`,
      `T=${p.temperature}`,
      ...(p.topP !== undefined ? [`top-p=${p.topP}`] : []),
      ...(p.topK !== undefined ? [`top-k=${p.topK}`] : []),
      `max tokens=${p.maxNewTokens}`,
      ...(p.prompt ? [`prompt=${p.prompt}`] : []),
      `seed=${p.seed}`,
    ];
    rows.push(['protocol', `${p.benchmark} (${p.problems} problems) ${sampling.join(' ')}`]);
  }
  return rows;
}

/** The summary for a terminal: which model, then the numbers, one per line. */
export function formatEvaluationSummary(s: EvaluationSummary): string {
  const rows: [string, string][] = [
    ['problems', `${s.problems} × ${s.samples} sample${s.samples === 1 ? '' : 's'}`],
    ['accuracy', fixed(s.accuracy)],
    [`pass@${s.samples}`, fixed(s.passAtK)],
    ['mean length', `${fixed(s.meanLength, 1)} ± ${fixed(s.lengthStd, 1)} tokens`],
    ['completion ratio', fixed(s.completionRatio)],
    ['mean reward', fixed(s.meanReward)],
    ...sampledRows(s),
    ['stored at', s.key],
  ];
  const width = Math.max(...rows.map(([label]) => label.length));
  return [
    `evaluation ${s.evalId}: ${s.model}${s.step !== undefined ? ` (step ${s.step})` : ''}`,
    ...rows.map(([label, value]) => `  ${label.padEnd(width)}  ${value}`),
  ].join('\n');
}

async function runEval(argv: string[]): Promise<number> {
  const parsed = parseOptions(USAGE, argv, {
    config: { type: 'string' },
    'task-queue': { type: 'string' },
    wait: { type: 'boolean' },
    json: { type: 'boolean' },
    check: { type: 'boolean' },
    endpoint: { type: 'string' },
    model: { type: 'string' },
    tokenizer: { type: 'string' },
  });
  if ('exit' in parsed) return parsed.exit;
  const args = parsed.values;
  if (!args.config) return usageError(USAGE, '--config is required');
  if (args.json && !args.wait) return usageError(USAGE, '--json prints the summary: it needs --wait');
  if (args.check && args.wait) return usageError(USAGE, '--check and --wait exclude each other');
  if ((args.endpoint === undefined) !== (args.model === undefined))
    return usageError(USAGE, '--endpoint and --model go together');
  if (args.tokenizer !== undefined && args.endpoint === undefined)
    return usageError(USAGE, '--tokenizer goes with --endpoint');
  const configFile = args.config;
  let raw = readConfigFile(configFile);
  if (args.endpoint !== undefined) {
    const fileModel = (raw as { model?: { dir?: unknown } }).model;
    const tokenizer = args.tokenizer ?? (typeof fileModel?.dir === 'string' ? fileModel.dir : undefined);
    if (tokenizer === undefined)
      return usageError(USAGE, "--endpoint needs --tokenizer DIR (the served model's HF directory)");
    raw = { ...(raw as object), model: { endpoint: { url: args.endpoint, model: args.model, tokenizer } } };
  }
  const config = await preflightEvaluation(raw);
  const taskQueue = args['task-queue'] ?? DEFAULT_WORKFLOW_QUEUE;
  const workflowId = evaluationWorkflowId(config.evalId, new Date());
  // With --endpoint the started config is the file's with its model replaced: no file holds it.
  const equivalent =
    args.endpoint === undefined
      ? temporalWorkflowStartLine(WORKFLOW_TYPES.evaluation, workflowId, configFile, taskQueue)
      : `${configFile} with model.endpoint ${JSON.stringify((raw as { model: unknown }).model)}`;
  if (args.check) {
    console.log(`evaluation config ${configFile}: ok (eval ${config.evalId}, store ${config.store.url})`);
    console.log(`equivalent: ${equivalent}`);
    return 0;
  }
  return withClient(async (client) => {
    await checkGpuWorkers(client, evaluationQueues(config));
    const handle = await client.workflow.start<typeof evaluation>(WORKFLOW_TYPES.evaluation, {
      taskQueue,
      workflowId,
      args: [raw as EvaluationConfigInput],
    });
    console.log(
      `started evaluation ${config.evalId} (workflow ${workflowId}, run ${handle.firstExecutionRunId})`,
    );
    console.log(`equivalent: ${equivalent}`);
    if (!args.wait) return 0;
    const summary = await handle.result();
    console.log(args.json ? JSON.stringify(summary) : formatEvaluationSummary(summary));
    return 0;
  });
}
