/**
 * Host-side state of a graph-trained model — parameters, AdamW moments and the step count — and the
 * functions that feed it through the train-step graphs and take the updated values back.
 */
import type { HostArray } from './dtype.ts';
import type { Executable, Feeds, HostTensor } from './session.ts';
import { names } from './trainStep.ts';
import { adamwInPlace, type AdamWTimings, type HostAdamWOptions } from './hostAdamW.ts';

export interface OptimizerState {
  /** Optimizer steps taken so far (the next step is step + 1, AdamW's t). */
  step: number;
  params: Record<string, HostTensor>;
  m: Record<string, HostTensor>;
  v: Record<string, HostTensor>;
}

function zerosLike(t: HostTensor): HostTensor {
  const Ctor = t.data.constructor as new (n: number) => HostArray;
  return { data: new Ctor(t.data.length), dims: [...t.dims] };
}

export function initOptimizerState(params: Record<string, HostTensor>): OptimizerState {
  const m: Record<string, HostTensor> = {};
  const v: Record<string, HostTensor> = {};
  for (const [name, t] of Object.entries(params)) {
    m[name] = zerosLike(t);
    v[name] = zerosLike(t);
  }
  return { step: 0, params, m, v };
}

function scalar(like: HostTensor, value: number): HostTensor {
  const Ctor = like.data.constructor as new (values: number[]) => HostArray;
  return { data: new Ctor([value]), dims: [] };
}

function optimizerFeeds(state: OptimizerState, lr: number): Feeds {
  const feeds: Feeds = {};
  const any = Object.values(state.params)[0];
  feeds[names.step] = scalar(any, state.step + 1);
  feeds[names.lr] = scalar(any, lr);
  for (const [name, t] of Object.entries(state.params)) {
    feeds[name] = t;
    feeds[names.m(name)] = state.m[name];
    feeds[names.v(name)] = state.v[name];
  }
  return feeds;
}

function nextState(state: OptimizerState, out: Record<string, HostTensor>): OptimizerState {
  const next: OptimizerState = { step: state.step + 1, params: {}, m: {}, v: {} };
  for (const name of Object.keys(state.params)) {
    next.params[name] = out[names.next(name)];
    next.m[name] = out[names.next(names.m(name))];
    next.v[name] = out[names.next(names.v(name))];
  }
  return next;
}

export interface StepResult {
  state: OptimizerState;
  loss: number;
  gradNorm: number;
  /** Every output of the step that is not state (the graph's metrics). */
  metrics: Record<string, number>;
}

function scalarsOf(out: Record<string, HostTensor>, skip: (name: string) => boolean): Record<string, number> {
  const metrics: Record<string, number> = {};
  for (const [name, t] of Object.entries(out))
    if (!skip(name) && t.data.length === 1) metrics[name] = Number(t.data[0]);
  return metrics;
}

const isStateOutput = (name: string) => name.endsWith('.next') || name.startsWith('grad.');

/** One fused train step (graph from buildTrainStep). */
export async function runTrainStep(
  exec: Executable,
  state: OptimizerState,
  batch: Feeds,
  lr: number,
): Promise<StepResult> {
  const out = await exec.run({ ...batch, ...optimizerFeeds(state, lr) });
  return {
    state: nextState(state, out),
    loss: Number(out[names.loss].data[0]),
    gradNorm: Number(out[names.gradNorm].data[0]),
    metrics: scalarsOf(out, isStateOutput),
  };
}

/** Gradients of one micro-batch (graph from buildGradStep). */
export async function runGradStep(
  exec: Executable,
  params: Record<string, HostTensor>,
  batch: Feeds,
): Promise<{ loss: number; grads: Record<string, HostTensor>; metrics: Record<string, number> }> {
  const out = await exec.run({ ...batch, ...params });
  const grads: Record<string, HostTensor> = {};
  for (const name of Object.keys(params)) grads[name] = out[names.grad(name)];
  return { loss: Number(out[names.loss].data[0]), grads, metrics: scalarsOf(out, isStateOutput) };
}

/** acc += g, element-wise, in place (acc undefined: a copy of g). */
export function accumulateGrads(
  acc: Record<string, HostTensor> | undefined,
  grads: Record<string, HostTensor>,
): Record<string, HostTensor> {
  if (!acc) {
    const copy: Record<string, HostTensor> = {};
    for (const [k, t] of Object.entries(grads))
      copy[k] = { data: (t.data as Float32Array).slice() as HostArray, dims: [...t.dims] };
    return copy;
  }
  for (const [k, t] of Object.entries(grads)) {
    const a = acc[k].data as Float32Array;
    const b = t.data as Float32Array;
    for (let i = 0; i < a.length; i++) a[i] += b[i];
  }
  return acc;
}

/** AdamW on accumulated gradients (graph from buildApplyGrads), scaled by `gradScale` first. */
export async function runApplyGrads(
  exec: Executable,
  state: OptimizerState,
  grads: Record<string, HostTensor>,
  lr: number,
  gradScale = 1,
): Promise<StepResult> {
  const feeds = optimizerFeeds(state, lr);
  const any = Object.values(state.params)[0];
  feeds[names.gradScale] = scalar(any, gradScale);
  for (const [name, g] of Object.entries(grads)) feeds[names.grad(name)] = g;
  const out = await exec.run(feeds);
  return {
    state: nextState(state, out),
    loss: NaN,
    gradNorm: Number(out[names.gradNorm].data[0]),
    metrics: scalarsOf(out, isStateOutput),
  };
}

/** Zeroed gradient sums shaped like `params`: the running sum of an accumulating gradient step. */
export function zeroGrads(params: Record<string, HostTensor>): Record<string, HostTensor> {
  const out: Record<string, HostTensor> = {};
  for (const [name, t] of Object.entries(params)) out[name] = zerosLike(t);
  return out;
}

/**
 * One micro-batch of an accumulating gradient step (buildGradStep with `accumulate`): `acc` += this
 * micro-batch's gradients, computed by onnxruntime straight into `acc`'s arrays.
 */
export async function runGradStepInto(
  exec: Executable,
  params: Record<string, HostTensor>,
  batch: Feeds,
  acc: Record<string, HostTensor>,
): Promise<{ loss: number; metrics: Record<string, number> }> {
  const feeds: Feeds = { ...batch, ...params };
  const into: Record<string, HostTensor> = {};
  for (const [name, t] of Object.entries(acc)) {
    feeds[names.gradAcc(name)] = t;
    into[names.grad(name)] = t;
  }
  const out = await exec.run(feeds, exec.outputNames, into);
  return { loss: Number(out[names.loss].data[0]), metrics: scalarsOf(out, isStateOutput) };
}

/** AdamW on summed gradients on the host, the state updated in place (hostAdamW.ts). */
export function applyGradsInPlace(
  state: OptimizerState,
  grads: Record<string, HostTensor>,
  lr: number,
  options: HostAdamWOptions,
  gradScale = 1,
  timings?: AdamWTimings,
): StepResult {
  const gradNorm = adamwInPlace(
    state.params,
    state.m,
    state.v,
    grads,
    { step: state.step + 1, lr, gradScale },
    options,
    timings,
  );
  state.step += 1;
  return { state, loss: NaN, gradNorm, metrics: {} };
}
