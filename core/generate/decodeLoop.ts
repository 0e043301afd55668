/**
 * Several tokens per session run: the decode graph with the sampling head, followed by an ONNX Loop that
 * feeds each drawn token back through the decoder `chunk` more times. The KV cache is loop-carried, so it
 * crosses from the host once per run instead of once per token (with the CUDA provider every input is
 * copied to the device on every run: 113 MB per token for a 0.5B model at batch 32 × 144 positions), and
 * the per-run costs (feed checks, output copies, the host's bookkeeping) are paid once per chunk.
 *
 * Each iteration is the one-token decode step on exactly the filled cache, as the per-token path runs it,
 * so a chunked generation draws the same tokens. The host still decides everything that needs text (stop
 * strings, tool turns) after the run: tokens drawn past a row's end are discarded and their cache columns
 * masked (graphDecode.ts). Tool output due in the chunk is forced into the loop per row, so a row in a tool
 * turn needs no separate runs.
 *
 * Inputs beyond the decode graph's and the head's: `chunk_uniform` [batch, chunk] (the uniform of each
 * loop iteration's draw), `greedy_row` [batch] (argmax instead of the draw), `forced_token` / `forced_row`
 * [batch, chunk + 1] (column 0 for the head's draw, then one per iteration: the token to emit instead of
 * drawing). Outputs: `chunk_tokens` / `chunk_logprobs` [chunk + 1, batch] (log-prob 0 for forced tokens)
 * and the cache's new positions [batch, kvHeads, new + chunk, headDim].
 */
import type { FileRegion, Value } from '../graph/graph.ts';
import { op } from '../graph/index.ts';
import type { Qwen2Config } from '../model/config.ts';
import {
  buildQwen2Decode,
  cacheNames,
  linear,
  lmHeadWeight,
  qwen2Hidden,
  type WeightDtype,
} from '../model/qwen2.ts';
import type { KvCache } from '../model/qwen2.ts';
import type { LoraSpec } from '../model/lora.ts';
import { addSamplingHead, drawTokens } from './samplingHead.ts';
import type { HeadDraws } from './samplingHead.ts';

export const decodeLoopNames = {
  uniforms: 'chunk_uniform',
  greedy: 'greedy_row',
  forcedToken: 'forced_token',
  forced: 'forced_row',
  tokens: 'chunk_tokens',
  logprobs: 'chunk_logprobs',
} as const;

/** The token a row emits: forced (log-prob 0), else the argmax for greedy rows, else the draw. */
function emitted(d: HeadDraws, greedy: Value, forced: Value, forcedToken: Value) {
  const drawnToken = op.where(greedy, d.greedyToken, d.token);
  const drawnLogprob = op.where(greedy, d.greedyLogprob, d.logprob);
  return {
    token: op.where(forced, forcedToken, drawnToken),
    logprob: op.where(forced, drawnLogprob.graph.scalar(0, 'float32'), drawnLogprob),
  };
}

/** The decode graph with the sampling head and a Loop drawing `chunk` more tokens (see the file comment). */
export function buildDecodeLoop(
  config: Qwen2Config,
  embedded?: Map<string, Float32Array | FileRegion>,
  weightDtype: WeightDtype = 'float32',
  lora?: LoraSpec,
) {
  const d = buildQwen2Decode(config, 'float32', embedded, false, weightDtype, lora);
  const g = d.graph;
  const head = addSamplingHead(g, d.logits);
  const uniforms = g.input(decodeLoopNames.uniforms, 'float32', ['batch', 'chunk']);
  const greedy = g.input(decodeLoopNames.greedy, 'bool', ['batch']);
  const forcedToken = g.input(decodeLoopNames.forcedToken, 'int64', ['batch', 'chunk + 1']);
  const forced = g.input(decodeLoopNames.forced, 'bool', ['batch', 'chunk + 1']);
  const column = (x: Value, j: Value) => op.gather(x, j, 1);

  const first = emitted(
    head,
    greedy,
    column(forced, g.scalar(0, 'int64')),
    column(forcedToken, g.scalar(0, 'int64')),
  );
  const L = config.numHiddenLayers;
  const cacheShape = (len: string) => ['batch', config.numKeyValueHeads, len, config.headDim];
  const caches = [...d.present.keys, ...d.present.values];
  const ones = (batchOf: Value) => op.constantOfShape(batchOf.graph, 'int64', [batchOf.shape[0], 1], 1);
  const { carried, scans } = op.loop(
    g,
    {
      trips: 'chunk',
      carried: [
        { initial: op.unsqueeze(first.token, [1]), bodyShape: ['batch', 1], finalShape: ['batch', 1] },
        {
          initial: op.add(op.slice(d.inputs.positionIds, [-1], [op.SLICE_END], [1]), 1),
          bodyShape: ['batch', 1],
          finalShape: ['batch', 1],
        },
        {
          initial: op.concat([d.inputs.attentionMask, ones(d.inputs.attentionMask)], 1),
          bodyShape: ['batch', 'ctx'],
          finalShape: ['batch', 'total + chunk + 1'],
        },
        ...caches.map((c) => ({
          initial: c,
          bodyShape: cacheShape('ctx - 1'),
          finalShape: cacheShape('total + chunk'),
        })),
      ],
      body: ({ graph: body, iteration, carried: [token, position, mask, ...cache] }) => {
        // Weights are read in the body, so the transposes of `linear` happen there and ORT can fuse them.
        const params = new Map([...d.params].map(([k, v]) => [k, body.capture(v)]));
        const past: KvCache = { keys: cache.slice(0, L), values: cache.slice(L) };
        const inputs = { inputIds: token, positionIds: position, attentionMask: mask };
        const { hidden, present } = qwen2Hidden(inputs, params, config, past, d.loraScaling);
        const logits = linear(op.squeeze(hidden, [1]), lmHeadWeight(params, config));
        const draws = drawTokens(logits, column(uniforms, iteration), body.capture(head.inverseTemperature));
        const next = op.add(iteration, 1);
        const out = emitted(draws, body.capture(greedy), column(forced, next), column(forcedToken, next));
        return {
          carried: [
            op.unsqueeze(out.token, [1]),
            op.add(position, 1),
            op.concat([mask, ones(mask)], 1),
            ...present.keys,
            ...present.values,
          ],
          scans: [out.token, out.logprob],
        };
      },
    },
    'decode_loop',
  );
  g.output(op.concat([op.unsqueeze(first.token, [0]), scans[0]], 0), decodeLoopNames.tokens);
  g.output(op.concat([op.unsqueeze(first.logprob, [0]), scans[1]], 0), decodeLoopNames.logprobs);
  const finalCache = carried.slice(3);
  for (let i = 0; i < L; i++) {
    const fresh = (c: Value) => op.sliceDims(c, ['total - new'], ['new + chunk'], [2]);
    g.output(fresh(finalCache[i]), cacheNames.presentKey(i));
    g.output(fresh(finalCache[L + i]), cacheNames.presentValue(i));
  }
  return { graph: g, logits: d.logits };
}
