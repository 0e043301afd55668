/**
 * AdamW's element-wise update of float32 parameters and moments as one fused WebAssembly SIMD pass, four
 * lanes at a time: the host optimizer's inner loop (hostAdamW.ts). Each f32x4 operation (+, −, ×, ÷, √) is
 * IEEE single precision, correctly rounded, and the operations are those of adamw.ts in the same order, so
 * the result is bit for bit the JavaScript loop's, whose Math.fround after each double-precision operation
 * gives the same correctly rounded float32 values — four to eight times slower (docs/benchmarks.md,
 * bench:update). The arrays are copied through the module's memory in chunks that stay in cache.
 *
 * The module is written out byte by byte below (no toolchain): one function
 *   step(bytes: i32, gradScale, clipCoef, beta1, beta2, 1−beta1, 1−beta2, eps, √bc2, lr/bc1, 1−lr·wd: f32)
 * over the four chunk buffers p, m, v, g laid one after another in its memory.
 */

/** Elements per chunk: four float32 buffers of this length fill the module's one 64 KiB page. */
const CHUNK = 4096;
const BUF = CHUNK * 4;
const [P, M, V, G] = [0, BUF, 2 * BUF, 3 * BUF];

/** Unsigned LEB128, as WebAssembly encodes integers. */
function leb(n: number): number[] {
  const out: number[] = [];
  do {
    let b = n & 0x7f;
    n >>>= 7;
    if (n) b |= 0x80;
    out.push(b);
  } while (n);
  return out;
}

function section(id: number, body: number[]): number[] {
  return [id, ...leb(body.length), ...body];
}

const SIMD = 0xfd;
const op = {
  get: (i: number) => [0x20, ...leb(i)],
  set: (i: number) => [0x21, ...leb(i)],
  load: (offset: number) => [SIMD, 0x00, 0x04, ...leb(offset)],
  store: (offset: number) => [SIMD, 0x0b, 0x04, ...leb(offset)],
  splat: [SIMD, 0x13],
  sqrt: [SIMD, 0xe3, 0x01],
  add: [SIMD, 0xe4, 0x01],
  sub: [SIMD, 0xe5, 0x01],
  mul: [SIMD, 0xe6, 0x01],
  div: [SIMD, 0xe7, 0x01],
};

/** Locals: 0 the byte length, 1–10 the scalars, 11 the byte address, 12–21 the scalars splat, 22–24 temps. */
const SCALARS = 10;
const ADDR = 11;
const splatOf = (param: number) => 11 + param;
const [gs, coef, b1, b2, omb1, omb2, eps, sqrtBc2, stepSize, keep] = Array.from({ length: SCALARS }, (_, i) =>
  splatOf(i + 1),
);
const [GI, M1, V1] = [22, 23, 24];

function body(): number[] {
  const code: number[] = [];
  for (let p = 1; p <= SCALARS; p++) code.push(...op.get(p), ...op.splat, ...op.set(splatOf(p)));
  code.push(0x02, 0x40, 0x03, 0x40); // block, loop
  code.push(...op.get(ADDR), ...op.get(0), 0x4f, 0x0d, 0x01); // addr ≥ bytes: break
  // gi = (g · gradScale) · clipCoef
  code.push(
    ...op.get(ADDR),
    ...op.load(G),
    ...op.get(gs),
    ...op.mul,
    ...op.get(coef),
    ...op.mul,
    ...op.set(GI),
  );
  // m1 = m·β1 + gi·(1−β1)
  code.push(...op.get(ADDR), ...op.load(M), ...op.get(b1), ...op.mul);
  code.push(...op.get(GI), ...op.get(omb1), ...op.mul, ...op.add, ...op.set(M1));
  // v1 = v·β2 + (gi·gi)·(1−β2)
  code.push(...op.get(ADDR), ...op.load(V), ...op.get(b2), ...op.mul);
  code.push(...op.get(GI), ...op.get(GI), ...op.mul, ...op.get(omb2), ...op.mul, ...op.add, ...op.set(V1));
  code.push(...op.get(ADDR), ...op.get(M1), ...op.store(M));
  code.push(...op.get(ADDR), ...op.get(V1), ...op.store(V));
  // p = p·(1−lr·wd) − (lr/bc1) · (m1 / (√v1 / √bc2 + eps))
  code.push(...op.get(ADDR));
  code.push(...op.get(ADDR), ...op.load(P), ...op.get(keep), ...op.mul);
  code.push(...op.get(stepSize), ...op.get(M1));
  code.push(...op.get(V1), ...op.sqrt, ...op.get(sqrtBc2), ...op.div, ...op.get(eps), ...op.add);
  code.push(...op.div, ...op.mul, ...op.sub, ...op.store(P));
  code.push(...op.get(ADDR), 0x41, 0x10, 0x6a, ...op.set(ADDR)); // addr += 16
  code.push(0x0c, 0x00, 0x0b, 0x0b, 0x0b); // br loop; end loop; end block; end function
  const locals = [0x02, 0x01, 0x7f, 0x0d, 0x7b]; // one i32, thirteen v128
  const fn = [...locals, ...code];
  return [...leb(fn.length), ...fn];
}

function moduleBytes(): Uint8Array {
  const name = (s: string) => [s.length, ...[...s].map((c) => c.charCodeAt(0))];
  const type = [0x01, 0x60, 1 + SCALARS, 0x7f, ...Array<number>(SCALARS).fill(0x7d), 0x00];
  const bytes = [
    ...[0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00],
    ...section(1, type),
    ...section(3, [0x01, 0x00]),
    ...section(5, [0x01, 0x00, 0x01]), // one memory of one page
    ...section(7, [0x02, ...name('mem'), 0x02, 0x00, ...name('step'), 0x00, 0x00]),
    ...section(10, [0x01, ...body()]),
  ];
  return Uint8Array.from(bytes);
}

type StepFn = (bytes: number, ...scalars: number[]) => void;

/** The little of the WebAssembly API used here (this project's Node typings do not declare it). */
declare const WebAssembly: {
  validate(bytes: Uint8Array): boolean;
  Module: new (bytes: Uint8Array) => object;
  Instance: new (module: object) => { exports: { step: StepFn; mem: { buffer: ArrayBuffer } } };
};

let instance: { step: StepFn; mem: Float32Array } | null | undefined;

/** The compiled kernel, or null where the runtime lacks WebAssembly SIMD (the caller then loops in JS). */
function kernel(): { step: StepFn; mem: Float32Array } | null {
  if (instance !== undefined) return instance;
  const bytes = moduleBytes();
  if (typeof WebAssembly === 'undefined' || !WebAssembly.validate(bytes)) return (instance = null);
  const { exports } = new WebAssembly.Instance(new WebAssembly.Module(bytes));
  return (instance = { step: exports.step, mem: new Float32Array(exports.mem.buffer) });
}

/** AdamW's per-element constants, each already a float32 value (hostAdamW.ts computes them). */
export interface AdamWConstants {
  gradScale: number;
  clipCoef: number;
  beta1: number;
  beta2: number;
  oneMinusBeta1: number;
  oneMinusBeta2: number;
  eps: number;
  sqrtBc2: number;
  stepSize: number;
  /** 1 − lr·wd, or 1 for a parameter without weight decay (p·1 = p exactly). */
  keep: number;
}

/**
 * p, m and v updated in place from g, chunk by chunk; false (nothing done) where WebAssembly SIMD is missing.
 */
export function adamwFloat32Simd(
  p: Float32Array,
  m: Float32Array,
  v: Float32Array,
  g: Float32Array,
  c: AdamWConstants,
): boolean {
  const k = kernel();
  if (!k) return false;
  const { mem, step } = k;
  const args = [
    c.gradScale,
    c.clipCoef,
    c.beta1,
    c.beta2,
    c.oneMinusBeta1,
    c.oneMinusBeta2,
    c.eps,
    c.sqrtBc2,
    c.stepSize,
    c.keep,
  ];
  for (let start = 0; start < p.length; start += CHUNK) {
    const end = Math.min(start + CHUNK, p.length);
    mem.set(p.subarray(start, end), P / 4);
    mem.set(m.subarray(start, end), M / 4);
    mem.set(v.subarray(start, end), V / 4);
    mem.set(g.subarray(start, end), G / 4);
    // A partial last vector computes on stale lanes that are never copied back.
    step(Math.ceil((end - start) / 4) * 16, ...args);
    p.set(mem.subarray(P / 4, P / 4 + end - start), start);
    m.set(mem.subarray(M / 4, M / 4 + end - start), start);
    v.set(mem.subarray(V / 4, V / 4 + end - start), start);
  }
  return true;
}
