/**
 * The host side of a decode run: the KV cache buffers, the attention mask over them, and one run of the
 * decode graph fed with both plus the new tokens. The cache stays on the host between runs (fed whole;
 * only the new positions come back), so both decode paths keep their state here.
 */
import type { Executable, Feeds, HostTensor } from '../graph/index.ts';
import type { Qwen2Config } from '../model/config.ts';
import { cacheNames } from '../model/qwen2.ts';

/**
 * The KV cache on the host: per layer and K/V a [batch, kvHeads, capacity, headDim] buffer, fed whole to
 * every run (inputs cross into onnxruntime without a copy) and extended with each run's new positions.
 */
export class KvBuffers {
  private keys: Float32Array[] = [];
  private values: Float32Array[] = [];
  private length = 0;

  constructor(
    private readonly c: Qwen2Config,
    private readonly batch: number,
    private capacity: number,
  ) {
    const size = batch * c.numKeyValueHeads * capacity * c.headDim;
    for (let i = 0; i < c.numHiddenLayers; i++) {
      this.keys.push(new Float32Array(size));
      this.values.push(new Float32Array(size));
    }
  }

  /**
   * Makes room for `added` more positions. Only a turn that drops drawn tokens (graphDecode.ts) uses
   * positions beyond prompt + response, so the buffers grow (copied) only then.
   */
  reserve(added: number): void {
    if (this.length + added <= this.capacity) return;
    const capacity = Math.max(this.length + added, Math.ceil(this.capacity * 1.25));
    const D = this.c.headDim;
    const rows = this.batch * this.c.numKeyValueHeads;
    const grow = (old: Float32Array) => {
      const next = new Float32Array(rows * capacity * D);
      for (let r = 0; r < rows; r++)
        next.set(
          old.subarray(r * this.capacity * D, (r * this.capacity + this.length) * D),
          r * capacity * D,
        );
      return next;
    };
    this.keys = this.keys.map(grow);
    this.values = this.values.map(grow);
    this.capacity = capacity;
  }

  feeds(): Feeds {
    const dims = [this.batch, this.c.numKeyValueHeads, this.capacity, this.c.headDim];
    const f: Feeds = {};
    for (let i = 0; i < this.c.numHiddenLayers; i++) {
      f[cacheNames.pastKey(i)] = { data: this.keys[i], dims };
      f[cacheNames.pastValue(i)] = { data: this.values[i], dims };
    }
    return f;
  }

  /** Copies the run's new positions [batch, kvHeads, added, headDim] in after the filled ones. */
  append(step: Record<string, HostTensor>, added: number): void {
    const D = this.c.headDim;
    const rows = this.batch * this.c.numKeyValueHeads;
    for (let i = 0; i < this.c.numHiddenLayers; i++) {
      for (const [buffer, name] of [
        [this.keys[i], cacheNames.presentKey(i)],
        [this.values[i], cacheNames.presentValue(i)],
      ] as const) {
        const fresh = step[name].data as Float32Array;
        for (let r = 0; r < rows; r++)
          buffer.set(
            fresh.subarray(r * added * D, (r + 1) * added * D),
            (r * this.capacity + this.length) * D,
          );
      }
    }
    this.length += added;
  }
}

/** The attention mask one column wider: 1 for rows still generating, 0 for finished ones. */
export function growMask(mask: HostTensor, active: boolean[]): HostTensor {
  const [B, L] = mask.dims;
  const data = new BigInt64Array(B * (L + 1));
  const old = mask.data as BigInt64Array;
  for (let b = 0; b < B; b++) {
    data.set(old.subarray(b * L, (b + 1) * L), b * (L + 1));
    data[b * (L + 1) + L] = active[b] ? 1n : 0n;
  }
  return { data, dims: [B, L + 1] };
}

/** `count` more mask columns: row b's first kept[b] of them 1 (positions it keeps), the rest 0. */
export function appendMaskColumns(mask: HostTensor, count: number, kept: readonly number[]): HostTensor {
  if (count === 0) return mask;
  const [B, L] = mask.dims;
  const data = new BigInt64Array(B * (L + count));
  const old = mask.data as BigInt64Array;
  for (let b = 0; b < B; b++) {
    data.set(old.subarray(b * L, (b + 1) * L), b * (L + count));
    data.fill(1n, b * (L + count) + L, b * (L + count) + L + Math.min(kept[b], count));
  }
  return { data, dims: [B, L + count] };
}

/**
 * One decode-graph run: the weights (when fed), the cache, and `width` new tokens per row with their
 * position ids; the mask covers the cache's filled positions plus the new ones.
 */
export function runDecode(
  exec: Executable,
  weights: Feeds,
  cache: Feeds,
  ids: BigInt64Array,
  pos: BigInt64Array,
  attention: HostTensor,
  width: number,
  outputs: readonly string[],
) {
  const B = attention.dims[0];
  return exec.run(
    {
      ...weights,
      ...cache,
      input_ids: { data: ids, dims: [B, width] },
      position_ids: { data: pos, dims: [B, width] },
      attention_mask: attention,
    },
    outputs,
  );
}
