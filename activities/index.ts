/**
 * Activities: thin adapters from core/ to Temporal — config in, store keys and small summaries out.
 * prepareRun and prepareSft run on the workflow's task queue; sampleRollouts and evaluateModel on
 * `rollout`, scoreRollouts on `cpu`, referenceLogProbs, updatePolicy, checkpoint, trainStep and sftSteps on `trainer`
 * (task queue names come from the config's orchestration section).
 */
export { prepareRun } from './prepareRun.ts';
export { sampleRollouts } from './sampleRollouts.ts';
export { scoreRollouts } from './scoreRollouts.ts';
export { referenceLogProbs } from './referenceLogProbs.ts';
export { updatePolicy } from './updatePolicy.ts';
export { checkpoint } from './checkpoint.ts';
export { trainStep } from './trainStep.ts';
export { evaluateModel } from './evaluateModel.ts';
export { prepareSft, sftSteps } from './sft.ts';
export { planDifficultyFilter, filterShard, writeDifficultyFilter } from './difficultyFilter/index.ts';
export { trainerQueueActivity, uniqueTrainerQueue, type TrainerQueueActivity } from './trainerQueue.ts';
