/** Workflows (deterministic orchestration only; activities are imported as types). */
export { rlTraining } from './rlTraining.ts';
