/** A workflow of `n` sequential trivial activities: the time between them is the server's hop cost. */
import { proxyActivities } from '@temporalio/workflow';
import type * as activities from './activities.ts';

const { stamp } = proxyActivities<typeof activities>({ startToCloseTimeout: '10s' });

export async function hops(n: number): Promise<number[]> {
  const times: number[] = [];
  for (let i = 0; i < n; i++) times.push(await stamp());
  return times;
}
