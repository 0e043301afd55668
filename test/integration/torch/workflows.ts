/** A test workflow: one updatePolicy on a given task queue (the torch trainer's), no retries. */
import { proxyActivities } from '@temporalio/workflow';
import type { UpdatePolicyInput, UpdatePolicyOutput } from '../../../activities/types.ts';

export async function updatePolicyOn(queue: string, input: UpdatePolicyInput): Promise<UpdatePolicyOutput> {
  const { updatePolicy } = proxyActivities<{
    updatePolicy(i: UpdatePolicyInput): Promise<UpdatePolicyOutput>;
  }>({
    taskQueue: queue,
    startToCloseTimeout: '5 minutes',
    // Short: the worker's keep-alive timer must beat through the model load and the update.
    heartbeatTimeout: '6 seconds',
    retry: { maximumAttempts: 1 },
  });
  return updatePolicy(input);
}
