/** Workflows (deterministic orchestration only; activities are imported as types). */
export { rlTraining } from './rlTraining.ts';
export { sftTraining } from './sftTraining.ts';
export { evaluation } from './evaluation.ts';
export { difficultyFilter } from './difficultyFilter.ts';
