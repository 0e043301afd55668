/**
 * The GPU-worker check of client/gpuWorkers.ts from inside a workflow's prepare activity: a run started
 * with `temporal workflow start` skips the CLI's check, so its first activity makes it.
 */
import { Context } from '@temporalio/activity';
import { checkGpuWorkers, type RoutedQueue } from '../client/gpuWorkers.ts';
import { isGpuQueue } from '../core/config/taskQueues.ts';

/**
 * Retryable, so the run waits, with what is missing as the activity's last failure, until a GPU worker
 * polls; then it starts.
 */
export async function checkGpuWorkersFromActivity(routes: readonly RoutedQueue[]): Promise<void> {
  if (!routes.some((r) => isGpuQueue(r.queue))) return;
  await checkGpuWorkers(Context.current().client, routes);
}
