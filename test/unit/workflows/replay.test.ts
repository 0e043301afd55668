/**
 * Workflow histories recorded from real runs replay with today's workflow code: a worker upgraded while a
 * run is in flight must issue the same commands for the events already in its history, or the run fails
 * with a non-determinism error. Recorded against a dev server with test/integration's tiny run:
 * rlTraining-2-steps.json (two plain steps) and rlTraining-trainer-failover.json (3 steps, heartbeat
 * timeout 2 s, the trainer worker shut down after step 1: the update of step 2 times out on the old
 * trainer's own queue, a new lookup sends it to the second trainer). Both were recorded with the code of
 * before the trainer failover took one timeout instead of two (workflows/stickyTrainer.ts).
 * rlTraining-torch-engine.json: 3 steps with orchestration.trainer.engine "torch" (test/integration/torch/
 * engine.test.ts), updatePolicy on the torch worker, checkpoint on the TypeScript trainer; it holds the
 * `torch-trainer-engine` patch marker, the two older ones do not (they replay the pre-engine routing).
 * These three were recorded before referenceLogProbs: their steps score the reference inside
 * scoreRollouts. rlTraining-reference-log-probs.json (two plain steps) was recorded after it: the
 * `reference-log-probs-on-trainer` patch marker, then referenceLogProbs before each scoreRollouts.
 * rlTraining-fused-step.json (3 steps, orchestration.fusedStep): the `fused-train-step` patch marker,
 * then one trainStep after each step's sampling.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import proto from '@temporalio/proto';
import { bundleWorkflowCode, DefaultLogger, Runtime, Worker } from '@temporalio/worker';
import { WORKFLOWS_PATH } from '../../../workers/workers.ts';

const HISTORIES = [
  'rlTraining-2-steps.json',
  'rlTraining-trainer-failover.json',
  'rlTraining-torch-engine.json',
  'rlTraining-reference-log-probs.json',
  'rlTraining-fused-step.json',
];

/** Bundling the workflows with webpack takes seconds on a loaded 2-core machine. */
const TIMEOUT_MS = 120_000;

function recorded(name: string) {
  const url = new URL(`../../fixtures/histories/${name}`, import.meta.url);
  // Saved as the fetched History's protobuf JSON (enum names, base64 bytes, int64 as strings).
  return proto.temporal.api.history.v1.History.fromObject(JSON.parse(readFileSync(url, 'utf8')));
}

describe('workflow replay', () => {
  it(
    'replays the recorded rlTraining histories without a non-determinism error',
    { timeout: TIMEOUT_MS },
    async () => {
      Runtime.install({ logger: new DefaultLogger('ERROR') });
      const bundle = await bundleWorkflowCode({
        workflowsPath: WORKFLOWS_PATH,
        logger: { log() {}, trace() {}, debug() {}, info() {}, warn() {}, error: console.error },
      });
      for (const name of HISTORIES) {
        const history = recorded(name);
        assert.ok((history.events ?? []).length > 50, `${name} holds a whole run`);
        await Worker.runReplayHistory({ workflowBundle: { code: bundle.code } }, history, name);
      }
    },
  );
});
