/**
 * Which engine samples an RL run's rollouts (`rollout.engine`): the in-process ONNX Generator (default), or
 * OpenAI-compatible servers (`reasonloop serve`, SGLang, vLLM) that the sampleRollouts activity sends
 * prompt token ids to, with the weight sync that makes each server hold the policy of step − 1 before the
 * step samples (docs/rollout-engines.md). Like orchestration, the engine is where sampling happens, not what
 * is trained: it stays out of the run's identity, so a run may resume on the other engine.
 */
import { z } from 'zod';
import { oneOf, positiveInt } from './rules.ts';

export const WEIGHT_SYNCS = ['reasonloop', 'sglang', 'vllm', 'none'] as const;
export type WeightSync = (typeof WEIGHT_SYNCS)[number];

/** One server: its API base (…/v1) and the model name it serves. */
export const rolloutEndpointSchema = z.strictObject({
  url: z.url({ protocol: /^https?$/, error: 'must be an http(s) URL such as http://127.0.0.1:8000/v1' }),
  model: z.string({ error: 'must be the served model name' }).min(1),
});

export const rolloutEngineSchema = z.discriminatedUnion(
  'kind',
  [
    z.strictObject({ kind: z.literal('onnx') }),
    z.strictObject({
      kind: z.literal('openai'),
      /** Requests are spread across these servers; every one must serve the same architecture. */
      endpoints: z.array(rolloutEndpointSchema, { error: 'must be a list of {url, model}' }).min(1, {
        error: 'must name at least one endpoint',
      }),
      /**
       * How each server gets the policy of step − 1 before a step samples: "reasonloop" (POST /admin/load
       * {run, step} of `reasonloop serve` started with --store on the run's store), "sglang"
       * (POST /update_weights_from_disk), "vllm" (POST /collective_rpc reload_weights, dev mode), or "none"
       * (the user loads it; a server that reports its version is still checked).
       */
      weightSync: oneOf(WEIGHT_SYNCS),
      /**
       * "sglang" and "vllm": a folder on a filesystem both the rollout workers and the servers see; the
       * checkpoint of step − 1 is exported there as an HF model directory (`<exportDir>/<runId>/step-<S>`).
       */
      exportDir: z.string({ error: 'must be a folder path the servers can read' }).min(1).optional(),
      /**
       * How long one request to a server — a completion (one turn of one response) or a weight-sync call —
       * may take before it fails as if its server were down; default 3600. A non-streamed answer says
       * nothing until its last token, and a load answers only once a large checkpoint is in memory.
       */
      requestTimeoutSeconds: positiveInt().optional(),
    }),
  ],
  { error: 'must be {"kind": "onnx"} or {"kind": "openai", "endpoints": [...], "weightSync": ...}' },
);
export type RolloutEngine = z.output<typeof rolloutEngineSchema>;
export type OpenAiRolloutEngine = Extract<RolloutEngine, { kind: 'openai' }>;

/** The parts of a run config the server engine's support depends on. */
export interface RolloutEngineShape {
  rollout: { engine?: RolloutEngine; weightDtype?: string };
  algorithm: { lora?: unknown };
}

/** Fields the openai engine cannot honour, refused at parse time with their paths. */
export function checkRolloutEngine(c: RolloutEngineShape, ctx: z.RefinementCtx): void {
  const engine = c.rollout.engine;
  if (engine?.kind !== 'openai') return;
  const why = 'is not supported with rollout.engine.kind "openai"';
  if (c.algorithm.lora !== undefined)
    ctx.addIssue({
      code: 'custom',
      path: ['algorithm', 'lora'],
      message: `${why} (a server loads full weights; a LoRA checkpoint holds adapters)`,
    });
  if (c.rollout.weightDtype !== undefined)
    ctx.addIssue({
      code: 'custom',
      path: ['rollout', 'weightDtype'],
      message: `${why} (the server's precision is the server's flag)`,
      input: c.rollout.weightDtype,
    });
  if ((engine.weightSync === 'sglang' || engine.weightSync === 'vllm') && engine.exportDir === undefined)
    ctx.addIssue({
      code: 'custom',
      path: ['rollout', 'engine', 'exportDir'],
      message: `is required with weightSync "${engine.weightSync}" (where the checkpoint is exported for the server to load)`,
    });
}
