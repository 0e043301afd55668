/**
 * How far a non-default setting of our side (`--decode-chunk N`: the in-graph float32 draw; `--weight-dtype
 * float16`) strays from the CPU default, the float32 host sampler, whose seeded tokens every recorded run
 * (the README's demo table, the study) was made with: the default Generator generates the same seed as the
 * side's last timed run, and the rows are compared token by token; log-probs over each row's prefix that
 * agrees. Speed at the cost of other tokens is not the same rollout, so the bench shows it beside the figure.
 */
import { Generator } from '../../core/generate/generator.ts';
import type { RolloutWorkload } from './workload.ts';
import { rolloutOptions, rolloutRequests, type OurSide } from './ours.ts';

export interface Exactness {
  /** Rows whose tokens all equal the default's. */
  sameTokenRows: number;
  rows: number;
  /** Tokens drawn before each differing row's first difference (the rest then follows other contexts). */
  firstDifferences: number[];
  /** Largest |Δ log-prob| over the agreeing prefixes, and how many of those log-probs are equal bit for bit. */
  maxLogprobDiff: number;
  equalLogprobs: number;
  comparedLogprobs: number;
}

/** Compares `candidate` with `reference` (same requests, same seed) row by row. */
export function compareGenerations(
  reference: readonly { tokens: number[]; logprobs: number[] }[],
  candidate: readonly { tokens: number[]; logprobs: number[] }[],
): Exactness {
  const result: Exactness = {
    sameTokenRows: 0,
    rows: reference.length,
    firstDifferences: [],
    maxLogprobDiff: 0,
    equalLogprobs: 0,
    comparedLogprobs: 0,
  };
  reference.forEach((ref, b) => {
    const got = candidate[b];
    let first = ref.tokens.findIndex((t, i) => t !== got.tokens[i]);
    if (first < 0 && got.tokens.length !== ref.tokens.length) first = ref.tokens.length;
    if (first < 0) result.sameTokenRows++;
    else result.firstDifferences.push(first);
    for (let i = 0; i < (first < 0 ? ref.tokens.length : first); i++) {
      const diff = Math.abs(got.logprobs[i] - ref.logprobs[i]);
      result.comparedLogprobs++;
      if (Object.is(got.logprobs[i], ref.logprobs[i])) result.equalLogprobs++;
      result.maxLogprobDiff = Math.max(result.maxLogprobDiff, diff);
    }
  });
  return result;
}

/** The default CPU Generator (host sampler, float32) on the seed of `side`'s last run, compared with it. */
export async function exactnessVsDefault(workload: RolloutWorkload, side: OurSide): Promise<Exactness> {
  const last = side.last!;
  const reference = await Generator.create(workload.config, workload.weights, {
    intraOpThreads: side.threads,
  });
  const out = await reference.generate(rolloutRequests(workload.prompts), rolloutOptions(last.seed));
  return compareGenerations(out, last.generations);
}

export function formatExactness(e: Exactness): string {
  const rows = `tokens equal to the default Generator's (host sampler, float32, same seed) in ${e.sameTokenRows}/${e.rows} rows`;
  const diverged = e.firstDifferences.length
    ? ` (the others from token ${e.firstDifferences.join(', ')})`
    : '';
  return `${rows}${diverged}; log-probs over the agreeing tokens: ${e.equalLogprobs}/${e.comparedLogprobs} bit-equal, max |Δ| ${e.maxLogprobDiff.toExponential(2)}`;
}
