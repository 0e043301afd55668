/**
 * AdamW (Loshchilov & Hutter, decoupled weight decay) and global-norm gradient clipping as graph nodes,
 * matching torch.optim.AdamW and torch.nn.utils.clip_grad_norm_ step for step.
 */
import type { Value } from './graph.ts';
import { add, div, minimum, mul, pow, sqrt, sub } from './ops/elementwise.ts';
import { sumAll } from './ops/reduce.ts';

export interface AdamWConfig {
  beta1: number;
  beta2: number;
  eps: number;
  weightDecay: number;
}

/** torch.optim.AdamW's defaults. */
export const ADAMW_DEFAULTS: AdamWConfig = { beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0.01 };

/** torch.nn.utils.clip_grad_norm_ adds this to the norm before dividing. */
export const CLIP_NORM_EPS = 1e-6;

/** The global L2 norm of all gradients, and the gradients scaled so that norm is at most `maxNorm`. */
export function clipGradNorm(grads: Value[], maxNorm: number | null): { norm: Value; clipped: Value[] } {
  const sq = grads.map((g) => sumAll(mul(g, g)));
  const norm = sqrt(sq.reduce((a, b) => add(a, b)));
  if (maxNorm === null) return { norm, clipped: grads };
  const coef = minimum(div(maxNorm, add(norm, CLIP_NORM_EPS)), 1);
  return { norm, clipped: grads.map((g) => mul(g, coef)) };
}

export interface AdamWScalars {
  /** 1-based optimizer step t, as a float scalar input. */
  step: Value;
  lr: Value;
}

/** One AdamW update of one parameter; `decay` false exempts it from weight decay (norms, biases). */
export function adamwUpdate(
  param: Value,
  grad: Value,
  m: Value,
  v: Value,
  { step, lr }: AdamWScalars,
  cfg: AdamWConfig,
  decay = true,
): { param: Value; m: Value; v: Value } {
  const m1 = add(mul(m, cfg.beta1), mul(grad, 1 - cfg.beta1));
  const v1 = add(mul(v, cfg.beta2), mul(mul(grad, grad), 1 - cfg.beta2));
  const biasCorrection1 = sub(1, pow(param.graph.scalar(cfg.beta1, param.dtype), step));
  const biasCorrection2 = sub(1, pow(param.graph.scalar(cfg.beta2, param.dtype), step));
  // p ← p·(1 − lr·wd) − (lr / bc1) · m / (√v / √bc2 + eps), in torch's order of operations.
  const decayed = decay && cfg.weightDecay !== 0 ? mul(param, sub(1, mul(lr, cfg.weightDecay))) : param;
  const denom = add(div(sqrt(v1), sqrt(biasCorrection2)), cfg.eps);
  const stepSize = div(lr, biasCorrection1);
  return { param: sub(decayed, mul(stepSize, div(m1, denom))), m: m1, v: v1 };
}
