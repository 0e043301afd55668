/**
 * The default task queues (workers poll them; configs may rename them). Dependency-free, because
 * workflows import it and Temporal's workflow bundle may not pull in Node modules.
 */
export const DEFAULT_TASK_QUEUES = {
  rollout: 'reasonloop-rollout',
  cpu: 'reasonloop-cpu',
  trainer: 'reasonloop-trainer',
} as const;
