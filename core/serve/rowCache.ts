/**
 * The KV cache of a batch whose rows come and go (continuous batching). Every row's filled positions are
 * contiguous and end at the shared column `length` (right-aligned; the columns before a row's start are
 * masked), so a decode run feeds one rectangular cache, and a change of membership — rows that finished
 * leave, prefilled rows join — is one copy of each kept row's positions into a fresh buffer (`repack`).
 * Layout per layer and K/V: [batch, kvHeads, capacity, headDim], as the decode graph reads it.
 */
import type { Feeds, HostTensor } from '../graph/index.ts';
import type { Qwen2Config } from '../model/config.ts';
import { cacheNames } from '../model/qwen2.ts';

/** Bytes of one cached position of one row (all layers, K and V, float32). */
export function kvBytesPerPosition(c: Qwen2Config): number {
  return c.numHiddenLayers * 2 * c.numKeyValueHeads * c.headDim * 4;
}

/** Where a row of a new cache takes its positions from: a row of an existing cache. */
export interface RowSource {
  cache: RowCache;
  row: number;
}

export class RowCache {
  private constructor(
    private readonly c: Qwen2Config,
    /** Per layer: keys then values. */
    private readonly buffers: { keys: Float32Array; values: Float32Array }[],
    readonly batch: number,
    readonly capacity: number,
    /** Filled columns (the shared right edge). */
    public length: number,
    /** Filled positions of each row, ending at `length`. */
    readonly rowLengths: number[],
  ) {}

  static empty(c: Qwen2Config, batch: number, capacity: number): RowCache {
    const size = batch * c.numKeyValueHeads * capacity * c.headDim;
    const buffers = Array.from({ length: c.numHiddenLayers }, () => ({
      keys: new Float32Array(size),
      values: new Float32Array(size),
    }));
    return new RowCache(c, buffers, batch, capacity, 0, new Array<number>(batch).fill(0));
  }

  /**
   * A prefill run's output as a cache: `present` [batch, kvHeads, width, headDim] per layer, the rows
   * left-padded to `width` with `rowLengths` real positions each. No copy: the run's arrays are the buffers.
   */
  static fromPrefill(
    c: Qwen2Config,
    present: Record<string, HostTensor>,
    width: number,
    rowLengths: number[],
  ): RowCache {
    const buffers = Array.from({ length: c.numHiddenLayers }, (_, i) => ({
      keys: present[cacheNames.presentKey(i)].data as Float32Array,
      values: present[cacheNames.presentValue(i)].data as Float32Array,
    }));
    return new RowCache(c, buffers, rowLengths.length, width, width, [...rowLengths]);
  }

  /**
   * A new cache holding `sources`' rows in that order, each right-aligned at the longest one's length,
   * with room for `headroom` more positions.
   */
  static repack(c: Qwen2Config, sources: RowSource[], headroom: number): RowCache {
    const lengths = sources.map((s) => s.cache.rowLengths[s.row]);
    const length = Math.max(0, ...lengths);
    const next = RowCache.empty(c, sources.length, length + headroom);
    const H = c.numKeyValueHeads;
    const D = c.headDim;
    next.length = length;
    sources.forEach((s, b) => {
      const n = lengths[b];
      next.rowLengths[b] = n;
      const from = s.cache;
      for (let i = 0; i < c.numHiddenLayers; i++) {
        for (const kind of ['keys', 'values'] as const) {
          const src = from.buffers[i][kind];
          const dst = next.buffers[i][kind];
          for (let h = 0; h < H; h++) {
            const srcStart = ((s.row * H + h) * from.capacity + from.length - n) * D;
            const dstStart = ((b * H + h) * next.capacity + length - n) * D;
            dst.set(src.subarray(srcStart, srcStart + n * D), dstStart);
          }
        }
      }
    });
    return next;
  }

  /** Positions still free before the buffers are full. */
  get free(): number {
    return this.capacity - this.length;
  }

  feeds(): Feeds {
    const dims = [this.batch, this.c.numKeyValueHeads, this.capacity, this.c.headDim];
    const f: Feeds = {};
    this.buffers.forEach((b, i) => {
      f[cacheNames.pastKey(i)] = { data: b.keys, dims };
      f[cacheNames.pastValue(i)] = { data: b.values, dims };
    });
    return f;
  }

  /** The attention mask over the filled columns plus one new token per row. */
  maskWithNext(): HostTensor {
    const L = this.length + 1;
    const data = new BigInt64Array(this.batch * L);
    this.rowLengths.forEach((n, b) => data.fill(1n, b * L + this.length - n, (b + 1) * L));
    return { data, dims: [this.batch, L] };
  }

  /** Appends one run's single new position per row (`present` [batch, kvHeads, 1, headDim] per layer). */
  appendOne(present: Record<string, HostTensor>): void {
    if (this.free < 1) throw new Error('RowCache: no free position (repack with more headroom)');
    const H = this.c.numKeyValueHeads;
    const D = this.c.headDim;
    this.buffers.forEach((b, i) => {
      for (const [dst, name] of [
        [b.keys, cacheNames.presentKey(i)],
        [b.values, cacheNames.presentValue(i)],
      ] as const) {
        const fresh = present[name].data as Float32Array;
        for (let r = 0; r < this.batch * H; r++)
          dst.set(fresh.subarray(r * D, (r + 1) * D), (r * this.capacity + this.length) * D);
      }
    });
    this.length += 1;
    for (let b = 0; b < this.batch; b++) this.rowLengths[b] += 1;
  }
}
