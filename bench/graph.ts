/**
 * `npm run bench:graph`: one train step (forward, backward, global-norm clip, AdamW) of a one-layer
 * transformer on onnxruntime-node through core/graph, against the same step written by hand in plain
 * TypeScript (bench/plainTransformer.ts), measured in the same run. Prints the ≈10M-parameter figures,
 * then, as the last line, the JSON of the ≈1M-parameter model (the target: speedup ≥ 10).
 */
import { Executable, initOptimizerState, runTrainStep } from '../core/graph/index.ts';
import type { OptimizerState } from '../core/graph/index.ts';
import {
  CONFIG_10M,
  CONFIG_1M,
  batchTokens,
  buildTinyTransformerStep,
  initialParameters,
  parameterCount,
} from './tinyTransformer.ts';
import type { TinyTransformerConfig } from './tinyTransformer.ts';
import { plainState, plainTrainStep } from './plainTransformer.ts';

const LR = 1e-3;

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

async function measure(c: TinyTransformerConfig, ortSteps: number, plainSteps: number, threads: number) {
  const exec = await Executable.compile(buildTinyTransformerStep(c), { intraOpThreads: threads });
  const { tokens, targets } = batchTokens(c);
  const batch = {
    tokens: { data: tokens, dims: [c.batch, c.seq] },
    targets: { data: targets, dims: [c.batch, c.seq] },
  };
  let state: OptimizerState = initOptimizerState(initialParameters(c));
  const warm = await runTrainStep(exec, state, batch, LR); // first run allocates ORT's arena
  const ortMs: number[] = [];
  for (let i = 0; i < ortSteps; i++) {
    const t0 = performance.now();
    state = (await runTrainStep(exec, state, batch, LR)).state;
    ortMs.push(performance.now() - t0);
  }
  const plain = plainState(initialParameters(c));
  const plainMs: number[] = [];
  let plainFirst = NaN;
  for (let i = 0; i < plainSteps; i++) {
    const t0 = performance.now();
    const r = plainTrainStep(c, plain, tokens, targets, LR);
    plainMs.push(performance.now() - t0);
    if (i === 0) plainFirst = r.loss;
  }
  await exec.release();
  // Both sides start from the same weights: their first losses must agree, or the comparison is void.
  const lossAgreement = Math.abs(warm.loss - plainFirst);
  if (!(lossAgreement < 1e-3))
    throw new Error(`first-step losses differ: engine ${warm.loss}, plain ${plainFirst}`);
  return {
    params: parameterCount(c),
    ortStepMs: median(ortMs),
    plainTsStepMs: median(plainMs),
    lossAgreement,
  };
}

const round = (x: number, d = 2) => Math.round(x * 10 ** d) / 10 ** d;
const threads = Number(process.env.REASONLOOP_BENCH_THREADS ?? 1);
const big = await measure(CONFIG_10M, 5, 1, threads);
console.log(
  `≈10M params (${big.params}): engine ${round(big.ortStepMs)} ms/step, plain TS ${round(big.plainTsStepMs)} ms/step, speedup ${round(big.plainTsStepMs / big.ortStepMs, 1)}× (intra-op threads ${threads}; plain TS single-threaded)`,
);
console.log(
  JSON.stringify({
    bench: 'graph-10m',
    params: big.params,
    ortStepMs: round(big.ortStepMs),
    plainTsStepMs: round(big.plainTsStepMs),
    speedup: round(big.plainTsStepMs / big.ortStepMs, 1),
  }),
);
const small = await measure(CONFIG_1M, 20, 3, threads);
console.log(
  `≈1M params (${small.params}): engine ${round(small.ortStepMs)} ms/step, plain TS ${round(small.plainTsStepMs)} ms/step (batch 8 × 64 tokens, first-step loss agreement ${small.lossAgreement.toExponential(1)})`,
);
console.log(
  JSON.stringify({
    bench: 'graph',
    params: small.params,
    ortStepMs: round(small.ortStepMs),
    plainTsStepMs: round(small.plainTsStepMs),
    speedup: round(small.plainTsStepMs / small.ortStepMs, 1),
    intraOpThreads: threads,
  }),
);
