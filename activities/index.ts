/**
 * Activities: thin adapters from core/ to Temporal — config in, store keys and small summaries out.
 * prepareRun runs on the workflow's task queue; sampleRollouts on `rollout`, scoreRollouts on `cpu`,
 * updatePolicy and checkpoint on `trainer` (task queue names come from run.orchestration.taskQueues).
 */
export { prepareRun } from './prepareRun.ts';
export { sampleRollouts } from './sampleRollouts.ts';
export { scoreRollouts } from './scoreRollouts.ts';
export { updatePolicy } from './updatePolicy.ts';
export { checkpoint } from './checkpoint.ts';
