/**
 * AdamW and global-norm clipping on the host, updating parameters and moments in place: the trainer's
 * optimizer step at real sizes, where the graph form (adamw.ts) would hold the old state, the new state
 * onnxruntime allocates and the copy onnxruntime-node hands back — three sets of 12 bytes per parameter —
 * at once. Each element follows adamw.ts's operations in float32 (every intermediate rounded with
 * Math.fround, which for +, −, ×, ÷ and √ gives the IEEE float32 result; in one fused WebAssembly SIMD
 * pass, adamwSimd.ts, with the same values), so the update is the graph's; only the global norm differs
 * in rounding: it is summed in float64 here, in float32 by onnxruntime.
 * Float64Array states (the float64 parity graphs) are updated in double precision, unrounded.
 */
import { ADAMW_DEFAULTS, CLIP_NORM_EPS, type AdamWConfig } from './adamw.ts';
import type { HostTensor } from './session.ts';
import { adamwFloat32Simd, type AdamWConstants } from './adamwSimd.ts';

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
  const s = f(scale);
  let sum = 0;
  for (const t of Object.values(grads)) sum += sumOfSquares(t.data as Float32Array | Float64Array, s, f);
  return f(Math.sqrt(sum));
}

/**
 * Σ (g·s)² in float64, in four interleaved partial sums: one running sum waits on each addition's
 * latency, four overlap (57 → 21 ms on bench-25m's 25M float32 gradients). A float32 square is exact in
 * float64, so only the order of the additions differs from a single sum, below the norm's float32 rounding.
 */
function sumOfSquares(g: Float32Array | Float64Array, s: number, f: Round): number {
  let a = 0;
  let b = 0;
  let c = 0;
  let d = 0;
  const whole = g.length - (g.length % 4);
  let i = 0;
  if (s === 1) {
    // g·1 is g, already in its precision: nothing to multiply or round.
    for (; i < whole; i += 4) {
      a += g[i] * g[i];
      b += g[i + 1] * g[i + 1];
      c += g[i + 2] * g[i + 2];
      d += g[i + 3] * g[i + 3];
    }
    for (; i < g.length; i++) a += g[i] * g[i];
    return a + b + (c + d);
  }
  for (; i < whole; i += 4) {
    const x = f(g[i] * s);
    const y = f(g[i + 1] * s);
    const z = f(g[i + 2] * s);
    const w = f(g[i + 3] * s);
    a += x * x;
    b += y * y;
    c += z * z;
    d += w * w;
  }
  for (; i < g.length; i++) {
    const x = f(g[i] * s);
    a += x * x;
  }
  return a + b + (c + d);
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
 * norm before clipping. Float32 states go through the fused SIMD pass (adamwSimd.ts) where the runtime has
 * WebAssembly SIMD, through the loop below otherwise: the same values either way.
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
  const lr32 = f(lr);
  const b1 = f(cfg.beta1);
  const b2 = f(cfg.beta2);
  const bc1 = f(1 - f(Math.pow(b1, f(step))));
  const base = {
    gradScale: f(gradScale),
    // Multiplying by 1 (no clipping, no scale, no decay) leaves a float32 value as it is: no branches needed.
    clipCoef: clipCoefficient(norm, maxNorm, f),
    beta1: b1,
    beta2: b2,
    oneMinusBeta1: f(1 - cfg.beta1),
    oneMinusBeta2: f(1 - cfg.beta2),
    eps: f(cfg.eps),
    sqrtBc2: f(Math.sqrt(f(1 - f(Math.pow(b2, f(step)))))),
    stepSize: f(lr32 / bc1),
  };
  for (const [name, pt] of Object.entries(params)) {
    const g = grads[name]?.data as Float32Array | Float64Array | undefined;
    if (!g) throw new Error(`adamwInPlace: no gradient for parameter ${name}`);
    const decay = cfg.weightDecay !== 0 && !options.noDecay?.(name);
    const c = { ...base, keep: decay ? f(1 - f(lr32 * f(cfg.weightDecay))) : 1 };
    const [p, mm, vv] = [pt.data, m[name].data, v[name].data];
    if (p instanceof Float32Array)
      adamwFloat32(p, mm as Float32Array, vv as Float32Array, g as Float32Array, c);
    else adamwFloat64(p as Float64Array, mm as Float64Array, vv as Float64Array, g as Float64Array, c);
  }
  if (timings) {
    timings.normMs += t1 - t0;
    timings.adamwMs += performance.now() - t1;
  }
  return norm;
}

/** Float32 arrays: the SIMD pass, else each operation rounded to float32 (Math.fround). */
function adamwFloat32(p: Float32Array, m: Float32Array, v: Float32Array, g: Float32Array, c: AdamWConstants) {
  if (adamwFloat32Simd(p, m, v, g, c)) return;
  const fr = Math.fround;
  for (let i = 0; i < p.length; i++) {
    const gi = fr(fr(g[i] * c.gradScale) * c.clipCoef);
    const m1 = fr(fr(m[i] * c.beta1) + fr(gi * c.oneMinusBeta1));
    const v1 = fr(fr(v[i] * c.beta2) + fr(fr(gi * gi) * c.oneMinusBeta2));
    const denom = fr(fr(fr(Math.sqrt(v1)) / c.sqrtBc2) + c.eps);
    p[i] = fr(fr(p[i] * c.keep) - fr(c.stepSize * fr(m1 / denom)));
    m[i] = m1;
    v[i] = v1;
  }
}

/** Float64 arrays (the parity graphs): the same operations in double precision, unrounded. */
function adamwFloat64(p: Float64Array, m: Float64Array, v: Float64Array, g: Float64Array, c: AdamWConstants) {
  for (let i = 0; i < p.length; i++) {
    const gi = g[i] * c.gradScale * c.clipCoef;
    const m1 = m[i] * c.beta1 + gi * c.oneMinusBeta1;
    const v1 = v[i] * c.beta2 + gi * gi * c.oneMinusBeta2;
    const denom = Math.sqrt(v1) / c.sqrtBc2 + c.eps;
    p[i] = p[i] * c.keep - c.stepSize * (m1 / denom);
    m[i] = m1;
    v[i] = v1;
  }
}
