import { RNG_STREAM, uniformAt } from '../random.ts';

/**
 * How one rollout batch becomes optimizer steps: `epochs` passes over the batch; each pass shuffles the
 * rows (seeded) and cuts them into mini-batches (one optimizer step each), each cut into micro-batches
 * (gradient accumulation: a memory knob that leaves the math unchanged). verl's
 * ppo_epochs / ppo_mini_batch_size / ppo_micro_batch_size, counted in responses (rows), not prompts.
 * One epoch with mini-batch = batch is strictly on-policy; anything else re-uses samples of an older
 * policy (the on- vs off-policy comparison of STILL-3 §3).
 */

export interface UpdatePlanConfig {
  /** Rows (responses) in the rollout batch. */
  batchSize: number;
  miniBatchSize: number;
  microBatchSize: number;
  epochs: number;
  /** Run seed (uint32) and RL step: the shuffle is a pure function of both. */
  seed: number;
  step: number;
  /** Shuffle the rows each epoch (default true); false keeps rollout order. */
  shuffle?: boolean;
}

export interface MicroBatch {
  epoch: number;
  miniBatch: number;
  microBatch: number;
  /** Row indices into the rollout batch. */
  rows: Int32Array;
}

export interface UpdatePlan {
  config: Readonly<UpdatePlanConfig>;
  /** Optimizer steps this batch takes: epochs × batch/miniBatch. */
  optimizerSteps: number;
  /** In execution order. */
  microBatches: MicroBatch[];
}

function positiveInteger(name: string, value: number): void {
  if (!Number.isInteger(value) || value < 1) {
    throw new RangeError(`update plan: ${name} must be a positive integer (got ${value})`);
  }
}

/** Throws, naming the field, when the sizes do not nest. */
export function checkUpdatePlanConfig(c: UpdatePlanConfig): void {
  positiveInteger('batchSize', c.batchSize);
  positiveInteger('miniBatchSize', c.miniBatchSize);
  positiveInteger('microBatchSize', c.microBatchSize);
  positiveInteger('epochs', c.epochs);
  if (c.miniBatchSize > c.batchSize || c.batchSize % c.miniBatchSize !== 0) {
    throw new RangeError(
      `update plan: miniBatchSize (${c.miniBatchSize}) must divide batchSize (${c.batchSize})`,
    );
  }
  if (c.microBatchSize > c.miniBatchSize || c.miniBatchSize % c.microBatchSize !== 0) {
    throw new RangeError(
      `update plan: microBatchSize (${c.microBatchSize}) must divide miniBatchSize (${c.miniBatchSize})`,
    );
  }
  if (!Number.isInteger(c.seed) || c.seed < 0 || c.seed >= 2 ** 32) {
    throw new RangeError(`update plan: seed must be an integer in [0, 2^32) (got ${c.seed})`);
  }
  if (!Number.isInteger(c.step) || c.step < 0) {
    throw new RangeError(`update plan: step must be an integer ≥ 0 (got ${c.step})`);
  }
}

/** Fisher–Yates permutation of 0..n−1 from the shuffle stream at (seed, step, epoch). */
export function shuffledRows(n: number, seed: number, step: number, epoch: number): Int32Array {
  const rows = new Int32Array(n);
  for (let i = 0; i < n; i++) rows[i] = i;
  for (let i = n - 1; i > 0; i--) {
    const j = Math.floor(uniformAt(seed, step, epoch, 0, i, RNG_STREAM.shuffle) * (i + 1));
    const t = rows[i];
    rows[i] = rows[j];
    rows[j] = t;
  }
  return rows;
}

/** The deterministic list of micro-batches for one rollout batch. */
export function planUpdate(config: UpdatePlanConfig): UpdatePlan {
  checkUpdatePlanConfig(config);
  const { batchSize, miniBatchSize, microBatchSize, epochs } = config;
  const microBatches: MicroBatch[] = [];
  for (let epoch = 0; epoch < epochs; epoch++) {
    const order =
      config.shuffle === false
        ? Int32Array.from({ length: batchSize }, (_, i) => i)
        : shuffledRows(batchSize, config.seed, config.step, epoch);
    for (let mini = 0; mini < batchSize / miniBatchSize; mini++) {
      for (let micro = 0; micro < miniBatchSize / microBatchSize; micro++) {
        const start = mini * miniBatchSize + micro * microBatchSize;
        microBatches.push({
          epoch,
          miniBatch: mini,
          microBatch: micro,
          rows: order.slice(start, start + microBatchSize),
        });
      }
    }
  }
  return { config: { ...config }, optimizerSteps: epochs * (batchSize / miniBatchSize), microBatches };
}

/** Strictly on-policy: one optimizer step, on samples of the policy being updated. */
export function isOnPolicy(plan: UpdatePlan): boolean {
  return plan.config.epochs === 1 && plan.config.miniBatchSize === plan.config.batchSize;
}
