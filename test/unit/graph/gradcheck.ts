/**
 * Central finite differences for graph gradients (test helper). The checked function is
 * f(inputs) = Σ y·cos(1.3·y) over the op's output y: non-linear, so a wrong gradient rule cannot hide
 * behind a linear loss, and defined for every output shape.
 */
import assert from 'node:assert/strict';
import { Executable, Graph, grad, op } from '../../../core/graph/index.ts';
import type { Feeds, HostArray, SessionConfig, Value } from '../../../core/graph/index.ts';

export interface CheckInput {
  value: Value;
  data: Float64Array;
  dims: number[];
}

export interface GradCheckCase {
  /** Inputs to differentiate with respect to (float64 graph inputs) and their values. */
  wrt: CheckInput[];
  /** Further feeds that are not differentiated (indices, masks). */
  feeds?: Feeds;
  out: Value;
  /** Build the backward with recomputation of the graph's checkpointed segments. */
  recompute?: boolean | 'selective';
  /** Session options of the compiled graph (default: the engine's). */
  session?: SessionConfig;
}

/** Step for central differences in float64: truncation O(h²) and rounding O(ε/h) both ≈1e-10. */
const H = 1e-5;

export function rand(n: number, seed: number, lo = -1, hi = 1): Float64Array {
  let s = seed >>> 0 || 1;
  const out = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    s ^= s << 13;
    s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5;
    s >>>= 0;
    out[i] = lo + ((s >>> 0) / 4294967296) * (hi - lo);
  }
  return out;
}

export function input(g: Graph, name: string, dims: number[], seed: number, lo = -1, hi = 1): CheckInput {
  const n = dims.reduce((a, b) => a * b, 1);
  return { value: g.input(name, 'float64', dims), data: rand(n, seed, lo, hi), dims };
}

function norm(a: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i] * a[i];
  return Math.sqrt(s);
}

/** Relative error ‖analytic − numeric‖ / max(‖analytic‖, ‖numeric‖) for each input. */
export async function gradCheck(g: Graph, c: GradCheckCase): Promise<number[]> {
  const y = c.out;
  const loss = op.sumAll(op.mul(y, op.cos(op.mul(y, 1.3))));
  const grads = grad(
    loss,
    c.wrt.map((w) => w.value),
    { recompute: c.recompute },
  );
  g.output(loss, 'loss');
  grads.forEach((gr, i) => g.output(gr, `grad_${i}`));
  const exec = await Executable.compile(g, c.session);
  const feeds: Feeds = { ...(c.feeds ?? {}) };
  for (const w of c.wrt) feeds[w.value.name] = { data: w.data, dims: w.dims };
  const analytic = await exec.run(feeds);
  const errors: number[] = [];
  for (const [i, w] of c.wrt.entries()) {
    const a = analytic[`grad_${i}`].data as Float64Array;
    assert.deepEqual([...analytic[`grad_${i}`].dims], w.dims, `grad_${i} dims`);
    const numeric = new Float64Array(w.data.length);
    for (let k = 0; k < w.data.length; k++) {
      const orig = w.data[k];
      w.data[k] = orig + H;
      const plus = Number((await exec.run(feeds, ['loss'])).loss.data[0]);
      w.data[k] = orig - H;
      const minus = Number((await exec.run(feeds, ['loss'])).loss.data[0]);
      w.data[k] = orig;
      numeric[k] = (plus - minus) / (2 * H);
    }
    const diff = a.map((v, k) => v - numeric[k]);
    const scale = Math.max(norm(a), norm(numeric), 1e-12);
    errors.push(norm(diff) / scale);
  }
  await exec.release();
  return errors;
}

export function int64(values: number[]): HostArray {
  return BigInt64Array.from(values.map(BigInt));
}
