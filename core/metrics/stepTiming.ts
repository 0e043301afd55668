/**
 * A step's `timing/*` (seconds per phase) and `perf/*` (tokens per second) metrics, from the seconds each
 * activity measured on its own clock (verl's `timing_s/*` and `perf/throughput`). Sampling shards run in
 * parallel, so the sampling phase lasts as long as its slowest shard. Pure: workflow code calls it.
 */
export interface StepPhases {
  /** Seconds of each sampling shard. */
  sampleSeconds: readonly number[];
  scoreSeconds: number;
  /** Seconds of the reference policy's log-probs, when the step computed them (a run with a KL term). */
  referenceSeconds?: number;
  updateSeconds: number;
  /** Prompt and response tokens of the step's rollouts (what the trainer processes). */
  promptTokens: number;
  responseTokens: number;
}

export function stepTimingMetrics(p: StepPhases): Record<string, number> {
  const sample = p.sampleSeconds.length ? Math.max(...p.sampleSeconds) : 0;
  const step = sample + (p.referenceSeconds ?? 0) + p.scoreSeconds + p.updateSeconds;
  const perSecond = (tokens: number, seconds: number) => (seconds > 0 ? tokens / seconds : 0);
  return {
    'timing/sample': sample,
    ...(p.referenceSeconds !== undefined ? { 'timing/reference': p.referenceSeconds } : {}),
    'timing/score': p.scoreSeconds,
    'timing/update': p.updateSeconds,
    'timing/step': step,
    // Generation speed: response tokens written per second of the sampling phase.
    'perf/sampleTokensPerSecond': perSecond(p.responseTokens, sample),
    // The trainer's speed: prompt + response tokens through forward, backward and AdamW per second.
    'perf/updateTokensPerSecond': perSecond(p.promptTokens + p.responseTokens, p.updateSeconds),
    // verl's perf/throughput: all tokens of the step over the step's time (checkpoint excluded: it is
    // measured after the metrics are recorded, as `timing/checkpoint` in the metrics log).
    'perf/throughput': perSecond(p.promptTokens + p.responseTokens, step),
  };
}
