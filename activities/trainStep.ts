/**
 * trainStep (orchestration.fusedStep): everything of an RL step after sampling — the reference's
 * log-probs (a run with a KL term), scoring, the policy update and the checkpoint — as one activity on the
 * trainer that holds the run's state. The same functions the separate activities are, called in the order
 * the workflow calls them, so the step writes the same objects and records the same metrics; what it saves
 * is the server round trip (activity completion, workflow task, next dispatch) between each pair, which at
 * a small model's size is most of the orchestration overhead (docs/benchmarks.md, bench:orchestration).
 * A retry repeats the whole step after sampling: every part rewrites identical bytes (updatePolicy reloads
 * the state of step − 1 from its checkpoint when the trainer has moved past it).
 */
import { stepMetrics } from '../core/metrics/stepMetrics.ts';
import { checkpoint } from './checkpoint.ts';
import { referenceLogProbs } from './referenceLogProbs.ts';
import { scoreRollouts } from './scoreRollouts.ts';
import { updatePolicy } from './updatePolicy.ts';
import type { TrainStepInput, TrainStepOutput } from './types.ts';

export async function trainStep(input: TrainStepInput): Promise<TrainStepOutput> {
  const { config, step, shards } = input;
  const batch = {
    config,
    step,
    shardKeys: shards.map((s) => s.key),
    ...(input.rounds && input.rounds > 1 ? { rounds: input.rounds } : {}),
  };
  const reference = input.referenceLogProbs ? await referenceLogProbs(batch) : undefined;
  const scored = await scoreRollouts({ ...batch, ...(reference ? { referenceKey: reference.key } : {}) });
  const update = await updatePolicy({ config, configHash: input.configHash, step, scoredKey: scored.key });
  const metrics = stepMetrics({
    shards,
    scored,
    update,
    ...(reference ? { referenceSeconds: reference.seconds } : {}),
    rounds: input.rounds ?? 1,
    refill: input.refill,
  });
  const saved = await checkpoint({
    config: input.runConfig,
    step,
    objects: update.objects,
    cursor: input.cursor,
    metrics: { ...metrics, ...input.extraMetrics },
  });
  return { metrics, checkpoint: saved };
}
