/**
 * bench:update --engine torch, the workflow half of the hop measurement: the RL steps' updatePolicy calls
 * one after another on the torch trainer's queue, as the rlTraining workflow makes them (one activity, a
 * heartbeat timeout, no retries: a failure is the bench's error). The activity's contract is
 * activities/types.ts's UpdatePolicyInput/Output; bench/ cannot import activities/, so the fields the
 * bench sends and reads are spelled here.
 */
import { proxyActivities } from '@temporalio/workflow';

export interface TorchUpdateInput {
  config: Record<string, unknown>;
  configHash: string;
  step: number;
  scoredKey: string;
}

export interface TorchUpdateOutput {
  /** The activity's own time, as the torch trainer measures it around its update_policy. */
  seconds: number;
  reloaded: boolean;
  metrics: Record<string, number>;
}

export async function torchUpdates(queue: string, inputs: TorchUpdateInput[]): Promise<TorchUpdateOutput[]> {
  const { updatePolicy } = proxyActivities<{
    updatePolicy(i: TorchUpdateInput): Promise<TorchUpdateOutput & Record<string, unknown>>;
  }>({
    taskQueue: queue,
    startToCloseTimeout: '30 minutes',
    // Beaten by the worker's keep-alive timer (a quarter of this) through the model load and the update.
    heartbeatTimeout: '60 seconds',
    retry: { maximumAttempts: 1 },
  });
  const out: TorchUpdateOutput[] = [];
  for (const input of inputs) {
    const r = await updatePolicy(input);
    out.push({ seconds: r.seconds, reloaded: r.reloaded, metrics: r.metrics });
  }
  return out;
}
