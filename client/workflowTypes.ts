/**
 * The names a client starts workflows by. Temporal names a workflow type after its function, so each name
 * is checked against the functions workflows/index.ts exports: renaming a workflow fails to typecheck here.
 */
import type * as workflows from '../workflows/index.ts';

export const WORKFLOW_TYPES = {
  rlTraining: 'rlTraining',
  sftTraining: 'sftTraining',
  evaluation: 'evaluation',
  difficultyFilter: 'difficultyFilter',
} as const satisfies { [Name in keyof typeof workflows]: Name };

/** The workflow task queue workers poll by default (`temporal workflow start --task-queue reasonloop`). */
export const DEFAULT_WORKFLOW_QUEUE = 'reasonloop';
