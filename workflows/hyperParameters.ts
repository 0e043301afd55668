/**
 * rlTraining's setHyperParameters update: validated before it is accepted, applied from the next step that
 * has not started sampling. Each step's overrides are fixed when it starts sampling, so what every activity
 * of step s computes with is a pure function of the base config and the updates accepted before step s
 * began. All overrides so far ride along in each checkpoint's metrics (a run resumed from it keeps them)
 * and across continue-as-new.
 */
import { condition, setHandler } from '@temporalio/workflow';
import {
  checkClipOrder,
  effectiveHyperParameters,
  mergeHyperParameters,
  parseHyperParameters,
  type HyperParameters,
  type HyperParameterValues,
} from '../core/config/hyperParameters.ts';
import { setHyperParametersUpdate, type TrainingStatus } from './definitions.ts';

export interface HyperParameterControl {
  /** prepareRun's answer: the config's values and the overrides its checkpoint recorded. */
  start(base: HyperParameterValues, recorded: HyperParameters): void;
  /** Fixes and returns the overrides of `step` as it starts sampling; later updates apply from step + 1. */
  beginStep(step: number): HyperParameters;
  /** The step has been checkpointed. */
  endStep(): void;
  /** Every override so far: what the next step not yet sampling gets, and what a checkpoint carries. */
  overrides(): HyperParameters;
}

/**
 * Installs the update handler. `carried`: the overrides the previous workflow run handed over through
 * continue-as-new (newer than its last checkpoint's); without them the checkpoint's are used.
 */
export function hyperParameterControl(
  status: TrainingStatus,
  carried: HyperParameters | undefined,
): HyperParameterControl {
  let base: HyperParameterValues | undefined;
  let overrides: HyperParameters = carried ?? {};
  /** The step that has started sampling and is not yet checkpointed. */
  let inProgress: number | undefined;
  const nextUnsampled = () => (inProgress ?? status.step) + 1;
  const publish = () => {
    status.hyperParameters = { effective: effectiveHyperParameters(base!, overrides), overrides };
  };

  setHandler(
    setHyperParametersUpdate,
    async (raw) => {
      // An update that arrives while prepareRun runs waits for the run's base values.
      await condition(() => base !== undefined);
      overrides = mergeHyperParameters(overrides, parseHyperParameters(raw));
      publish();
      return { ...status.hyperParameters!, appliesFromStep: nextUnsampled() };
    },
    {
      validator: (raw) => {
        const update = parseHyperParameters(raw);
        // Checked against what the step would run with: the base config and every override so far.
        if (base !== undefined)
          checkClipOrder(effectiveHyperParameters(base, mergeHyperParameters(overrides, update)));
        if (status.stopRequested || status.phase === 'done' || status.phase === 'stopped') {
          throw new Error(
            `run ${status.runId} is ${status.stopRequested ? 'stopping' : 'finished'}: no step left to apply it to`,
          );
        }
        if (status.totalSteps > 0 && nextUnsampled() > status.totalSteps) {
          throw new Error(
            `run ${status.runId}: its last step (${status.totalSteps}) has started; no step left to apply it to`,
          );
        }
      },
    },
  );

  return {
    start(values, recorded) {
      base = values;
      // No update has merged yet: the handler waits for `base`.
      if (carried === undefined) overrides = recorded;
      publish();
    },
    beginStep(step) {
      inProgress = step;
      return overrides;
    },
    endStep() {
      inProgress = undefined;
    },
    overrides: () => overrides,
  };
}
