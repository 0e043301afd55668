/**
 * AdamW and global-norm clipping on the host, updating parameters and moments in place: the trainer's
 * optimizer step at real sizes, where the graph form (adamw.ts) would hold the old state, the new state
 * onnxruntime allocates and the copy onnxruntime-node hands back — three sets of 12 bytes per parameter —
 * at once. Each element follows adamw.ts's operations in float32 (every intermediate rounded with
 * Math.fround, which for +, −, ×, ÷ and √ gives the IEEE float32 result), so the update is the graph's;
 * only the global norm differs in rounding: it is summed in float64 here, in float32 by onnxruntime.
 * Float64Array states (the float64 parity graphs) are updated in double precision, unrounded.
 */
import { ADAMW_DEFAULTS, CLIP_NORM_EPS, type AdamWConfig } from './adamw.ts';
import type { HostTensor } from './session.ts';

export interface HostAdamWOptions {
  adamw?: Partial<AdamWConfig>;
  /** Global-norm clipping threshold; null disables clipping (the norm is still reported). */
  maxGradNorm?: number | null;
  /** Parameters exempt from weight decay. */
  noDecay?: (paramName: string) => boolean;
}

type Round = (x: number) => number;
const double: Round = (x) => x;

/** The rounding of the arrays' element type: float32's (Math.fround), or none for Float64Array. */
function roundingOf(t: HostTensor | undefined): Round {
  return t?.data instanceof Float64Array ? double : Math.fround;
}

/** The global L2 norm of `grads`, each multiplied by `scale` first, in the gradients' precision. */
export function globalGradNorm(grads: Record<string, HostTensor>, scale = 1): number {
  const f = roundingOf(Object.values(grads)[0]);
  let sum = 0;
  const s = f(scale);
  for (const t of Object.values(grads)) {
    const g = t.data as Float32Array | Float64Array;
    for (let i = 0; i < g.length; i++) {
      const x = f(g[i] * s);
      sum += x * x;
    }
  }
  return f(Math.sqrt(sum));
}

/** torch.nn.utils.clip_grad_norm_'s factor: min(maxNorm / (norm + 1e-6), 1), rounded by `f`. */
export function clipCoefficient(norm: number, maxNorm: number | null, f: Round = Math.fround): number {
  if (maxNorm === null) return 1;
  return Math.min(f(f(maxNorm) / f(norm + f(CLIP_NORM_EPS))), 1);
}

/** Where adamwInPlace's time goes, added to across calls (core/train/trainSteps.ts StepTimings). */
export interface AdamWTimings {
  normMs: number;
  adamwMs: number;
}

/**
 * One AdamW step (t = `step`, 1-based) of every parameter, in place: p, m and v are overwritten; `grads`
 * are read only. Gradients are multiplied by `gradScale`, then clipped to the global norm. Returns the
 * norm before clipping.
 */
export function adamwInPlace(
  params: Record<string, HostTensor>,
  m: Record<string, HostTensor>,
  v: Record<string, HostTensor>,
  grads: Record<string, HostTensor>,
  { step, lr, gradScale = 1 }: { step: number; lr: number; gradScale?: number },
  options: HostAdamWOptions = {},
  timings?: AdamWTimings,
): number {
  const t0 = performance.now();
  const cfg = { ...ADAMW_DEFAULTS, ...options.adamw };
  const f = roundingOf(Object.values(params)[0]);
  const norm = globalGradNorm(grads, gradScale);
  const t1 = performance.now();
  const maxNorm = options.maxGradNorm === undefined ? 1.0 : options.maxGradNorm;
  const coef = clipCoefficient(norm, maxNorm, f);
  const scale = f(gradScale);
  const b1 = f(cfg.beta1);
  const b2 = f(cfg.beta2);
  const oneMinusB1 = f(1 - cfg.beta1);
  const oneMinusB2 = f(1 - cfg.beta2);
  const eps = f(cfg.eps);
  const lr32 = f(lr);
  const bc1 = f(1 - f(Math.pow(b1, f(step))));
  const sqrtBc2 = f(Math.sqrt(f(1 - f(Math.pow(b2, f(step))))));
  const stepSize = f(lr32 / bc1);
  for (const [name, pt] of Object.entries(params)) {
    const g = grads[name]?.data as Float32Array | Float64Array | undefined;
    if (!g) throw new Error(`adamwInPlace: no gradient for parameter ${name}`);
    const p = pt.data as Float32Array | Float64Array;
    const mm = m[name].data as Float32Array | Float64Array;
    const vv = v[name].data as Float32Array | Float64Array;
    const decay = cfg.weightDecay !== 0 && !options.noDecay?.(name);
    const keep = decay ? f(1 - f(lr32 * f(cfg.weightDecay))) : 1;
    const clipped = coef !== 1;
    for (let i = 0; i < p.length; i++) {
      let gi = scale === 1 ? g[i] : f(g[i] * scale);
      if (clipped) gi = f(gi * coef);
      const m1 = f(f(mm[i] * b1) + f(gi * oneMinusB1));
      const v1 = f(f(vv[i] * b2) + f(f(gi * gi) * oneMinusB2));
      const denom = f(f(f(Math.sqrt(v1)) / sqrtBc2) + eps);
      const decayed = decay ? f(p[i] * keep) : p[i];
      p[i] = f(decayed - f(stepSize * f(m1 / denom)));
      mm[i] = m1;
      vv[i] = v1;
    }
  }
  if (timings) {
    timings.normMs += t1 - t0;
    timings.adamwMs += performance.now() - t1;
  }
  return norm;
}
