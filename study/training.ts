/**
 * What an arm's GRPO run trained on, read back from the store: per step, the batch's mean task reward and
 * the fraction of responses in the loss (the metrics log), and per response the reward's `length` term
 * (the rollout records: what RRL or RRA added to the answer's reward). A length strategy that changed no
 * reward and dropped no response trains exactly as the base arm does, so "it keeps accuracy" would be
 * true by construction; these numbers let the report tell that case from a real one. Per step, the
 * training rollouts' accuracy, mean length and reflection-word rate are the arm's curve over training,
 * the paper's figures of accuracy and response length against steps.
 */
import { runMetricsHistory, type StepMetrics } from '../core/metrics/history.ts';
import { readStepRecords, recordedSteps, type RolloutRecordView } from '../core/metrics/rolloutRecords.ts';
import { countReflectionWords } from '../core/reward/lengthStrategies.ts';
import type { ObjectStore } from '../core/store/objectStore.ts';

/** A GRPO step's training rollouts (T of the run, before the update): what the policy did at that step. */
export interface TrainingPoint {
  step: number;
  accuracy: number;
  meanLength: number;
  /** Fraction of the step's recorded responses with a reflection word (null: no records of the step). */
  reflectionRate: number | null;
}

export interface TrainingSignal {
  /** Mean over steps of the training batch's task reward (the length strategy's term included). */
  meanTaskReward: number;
  /** Mean over steps of the fraction of responses in the loss (QS, RS and ORM leave some out). */
  keptFraction: number;
  /** Fraction of the recorded training responses whose reward the length strategy changed. */
  lengthRewardedFraction: number;
  /** Mean of the length strategy's reward term over the recorded training responses. */
  meanLengthReward: number;
  /** Training responses the last two are over (0: the run kept no rollout records). */
  responses: number;
  /** Per step, in step order. */
  curve: TrainingPoint[];
}

type RecordedResponse = Pick<RolloutRecordView, 'rewardParts' | 'segments'>;

const mean = (xs: readonly number[]) => (xs.length ? xs.reduce((a, b) => a + b, 0) / xs.length : NaN);

/** The signal of a run from its metrics log and its responses (per recorded step). */
export function trainingSignal(
  history: readonly StepMetrics[],
  recorded: ReadonlyMap<number, readonly RecordedResponse[]>,
): TrainingSignal {
  const responses = [...recorded.values()].flat();
  const lengthTerms = responses.map((r) => r.rewardParts.length ?? 0);
  const reflecting = (rs: readonly RecordedResponse[]) =>
    mean(rs.map((r) => Number(countReflectionWords(r.segments.map((s) => s.text).join('')) > 0)));
  return {
    meanTaskReward: mean(history.map((h) => h.metrics.meanTaskReward)),
    keptFraction: mean(history.map((h) => h.metrics.keptFraction)),
    lengthRewardedFraction: mean(lengthTerms.map((x) => Number(x !== 0))),
    meanLengthReward: mean(lengthTerms),
    responses: responses.length,
    curve: history.map((h) => {
      const rs = recorded.get(h.step);
      return {
        step: h.step,
        accuracy: h.metrics.accuracy,
        meanLength: h.metrics.meanResponseLength,
        reflectionRate: rs && rs.length > 0 ? reflecting(rs) : null,
      };
    }),
  };
}

/** The signal of run `runId`: every step of its metrics log, every step whose records the store keeps. */
export async function readTrainingSignal(store: ObjectStore, runId: string): Promise<TrainingSignal> {
  const history = await runMetricsHistory(store, runId);
  const recorded = new Map<number, RecordedResponse[]>();
  for (const step of await recordedSteps(store, runId)) {
    const records = await readStepRecords(store, runId, step);
    recorded.set(
      step,
      (records?.responses ?? []).map((r) => ({ rewardParts: r.rewardParts, segments: r.segments })),
    );
  }
  return trainingSignal(history, recorded);
}
