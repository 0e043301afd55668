/**
 * What a generate call takes and gives back: one request per (prompt, sample), the shared options (sampling,
 * seed, stops, the tool turn hook) and one `Generation` per request. Both decode paths (hostDecode.ts,
 * graphDecode.ts) fill the same `Generation`s, token by token, through rows.ts.
 */
import type { SamplingParams } from './sampling.ts';

export type FinishReason = 'stop' | 'length';

export interface GenerationRequest {
  promptIds: number[];
  /** RNG coordinates: which prompt of the step, which of its n samples. */
  prompt: number;
  sample: number;
}

/** What the turn hook sees when a stop string ends a turn. */
export interface TurnEnd {
  request: GenerationRequest;
  /** Response tokens so far (sampled and inserted). */
  tokens: readonly number[];
  /** The stop string that matched. */
  stop: string;
}

export interface GenerateOptions {
  maxNewTokens: number;
  sampling: SamplingParams;
  seed: number;
  /** RL step (an RNG coordinate); 0 outside training. */
  step?: number;
  stopTokenIds?: readonly number[];
  stopStrings?: readonly string[];
  /** Detokenizer for stop strings (required when stopStrings is non-empty). */
  decode?: (ids: number[]) => string;
  /** Fed for finished rows and as the left padding; never attended to. */
  padTokenId?: number;
  /**
   * Called when a stop string ends a turn. Returning tokens continues the response with them inserted
   * (not sampled); returning undefined finishes the response with reason "stop".
   */
  onTurnEnd?: (turn: TurnEnd) => Promise<number[] | undefined> | number[] | undefined;
}

export interface Generation {
  tokens: number[];
  /** log-prob of each token under the policy at the sampling temperature; 0 for inserted tokens. */
  logprobs: number[];
  /** false for tokens inserted by the turn hook (tool output). */
  sampled: boolean[];
  finishReason: FinishReason;
}
