/**
 * A deterministic, resumable position in a dataset: (epoch, position, shuffle seed). Each epoch visits
 * every problem once in an order that depends only on (seed, epoch), so a run resumed from a saved
 * cursor takes exactly the batches it would have taken, and never re-uses consumed data within an epoch.
 */

export interface DataCursor {
  epoch: number;
  /** Index of the next problem in this epoch's order. */
  position: number;
  /** Shuffle seed; 0 is a valid seed. */
  seed: number;
}

export function initialCursor(seed: number): DataCursor {
  return { epoch: 0, position: 0, seed };
}

export function validateCursor(c: DataCursor, size: number): void {
  for (const k of ['epoch', 'position', 'seed'] as const) {
    if (!Number.isSafeInteger(c[k]) || c[k] < 0)
      throw new Error(`data cursor ${k} must be a non-negative integer (got ${c[k]})`);
  }
  if (c.position > size)
    throw new Error(`data cursor position ${c.position} is past the dataset end (${size} problems)`);
}

/** 32-bit mix (the finaliser of MurmurHash3): a counter-based source of randomness, no state to save. */
function mix32(x: number): number {
  x ^= x >>> 16;
  x = Math.imul(x, 0x85ebca6b);
  x ^= x >>> 13;
  x = Math.imul(x, 0xc2b2ae35);
  x ^= x >>> 16;
  return x >>> 0;
}

let cached: { size: number; seed: number; epoch: number; order: Uint32Array } | undefined;

/** This epoch's visiting order: a Fisher–Yates shuffle driven by mix32(seed, epoch, step). */
export function epochOrder(size: number, seed: number, epoch: number): Uint32Array {
  if (cached && cached.size === size && cached.seed === seed && cached.epoch === epoch) return cached.order;
  const order = new Uint32Array(size);
  for (let i = 0; i < size; i++) order[i] = i;
  const key = mix32(mix32(seed >>> 0) ^ mix32((epoch + 0x9e3779b9) >>> 0));
  for (let i = size - 1; i > 0; i--) {
    const r = mix32(key ^ mix32(i));
    const j = r % (i + 1);
    const t = order[i];
    order[i] = order[j];
    order[j] = t;
  }
  cached = { size, seed, epoch, order };
  return order;
}

/** The next `batchSize` problem indices and the cursor after them (rolling into the next epoch as needed). */
export function takeBatch(
  cursor: DataCursor,
  size: number,
  batchSize: number,
): { indices: number[]; next: DataCursor } {
  if (size <= 0) throw new Error('cannot take a batch from an empty dataset');
  if (!Number.isSafeInteger(batchSize) || batchSize <= 0) {
    throw new Error(`batch size must be a positive integer (got ${batchSize})`);
  }
  validateCursor(cursor, size);
  let { epoch, position } = cursor;
  const indices: number[] = [];
  while (indices.length < batchSize) {
    if (position >= size) {
      epoch++;
      position = 0;
    }
    const order = epochOrder(size, cursor.seed, epoch);
    indices.push(order[position++]);
  }
  return { indices, next: { epoch, position, seed: cursor.seed } };
}
