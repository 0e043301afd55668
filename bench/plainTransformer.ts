/**
 * The reference side of `npm run bench:graph`: the train step of bench/tinyTransformer.ts written by hand
 * in plain TypeScript over Float32Arrays (cache-friendly i-k-j loops, no allocation in inner loops) —
 * what one would write without a graph engine. Same model, loss, clipping and AdamW (torch semantics).
 */
import type { TinyTransformerConfig } from './tinyTransformer.ts';
import { MASK_VALUE, RMS_EPS, parameterShapes } from './tinyTransformer.ts';
import { ADAMW_DEFAULTS, CLIP_NORM_EPS } from '../core/graph/index.ts';

type P = Record<string, Float32Array>;

/** C[m,n] (+)= A[m,k]·B[k,n] */
function mm(
  A: Float32Array,
  B: Float32Array,
  C: Float32Array,
  m: number,
  k: number,
  n: number,
  acc = false,
): void {
  if (!acc) C.fill(0, 0, m * n);
  for (let i = 0; i < m; i++) {
    const ci = i * n;
    for (let p = 0; p < k; p++) {
      const a = A[i * k + p];
      if (a === 0) continue;
      const bp = p * n;
      for (let j = 0; j < n; j++) C[ci + j] += a * B[bp + j];
    }
  }
}

/** C[m,n] = A[m,k]·B[n,k]ᵀ: B is transposed once so the inner loop runs over contiguous memory. */
function mmBt(A: Float32Array, B: Float32Array, C: Float32Array, m: number, k: number, n: number): void {
  const Bt = new Float32Array(k * n);
  for (let j = 0; j < n; j++) for (let p = 0; p < k; p++) Bt[p * n + j] = B[j * k + p];
  mm(A, Bt, C, m, k, n);
}

/** C[k,n] += A[m,k]ᵀ·B[m,n] */
function mmAtAcc(A: Float32Array, B: Float32Array, C: Float32Array, m: number, k: number, n: number): void {
  for (let i = 0; i < m; i++)
    for (let p = 0; p < k; p++) {
      const a = A[i * k + p];
      if (a === 0) continue;
      const cp = p * n;
      const bi = i * n;
      for (let j = 0; j < n; j++) C[cp + j] += a * B[bi + j];
    }
}

function rmsForward(
  x: Float32Array,
  w: Float32Array,
  y: Float32Array,
  r: Float32Array,
  n: number,
  d: number,
): void {
  for (let i = 0; i < n; i++) {
    let s = 0;
    for (let j = 0; j < d; j++) s += x[i * d + j] ** 2;
    r[i] = 1 / Math.sqrt(s / d + RMS_EPS);
    for (let j = 0; j < d; j++) y[i * d + j] = x[i * d + j] * r[i] * w[j];
  }
}

/** dx += ∂/∂x, dw += ∂/∂w of y = x·r·w, r = (mean x² + ε)^(−½). */
function rmsBackward(
  x: Float32Array,
  w: Float32Array,
  r: Float32Array,
  dy: Float32Array,
  dx: Float32Array,
  dw: Float32Array,
  n: number,
  d: number,
): void {
  for (let i = 0; i < n; i++) {
    let dot = 0;
    for (let j = 0; j < d; j++) {
      const o = i * d + j;
      dw[j] += dy[o] * x[o] * r[i];
      dot += dy[o] * w[j] * x[o];
    }
    const c = (r[i] ** 3 * dot) / d;
    for (let j = 0; j < d; j++) {
      const o = i * d + j;
      dx[o] += r[i] * dy[o] * w[j] - x[o] * c;
    }
  }
}

export interface PlainState {
  step: number;
  params: P;
  m: P;
  v: P;
}

export function plainState(params: Record<string, { data: Float32Array | unknown }>): PlainState {
  const p: P = {};
  const m: P = {};
  const v: P = {};
  for (const [k, t] of Object.entries(params)) {
    p[k] = (t.data as Float32Array).slice();
    m[k] = new Float32Array(p[k].length);
    v[k] = new Float32Array(p[k].length);
  }
  return { step: 0, params: p, m, v };
}

/** One train step in place; returns the loss and the gradient norm before clipping. */
export function plainTrainStep(
  c: TinyTransformerConfig,
  s: PlainState,
  tokens: BigInt64Array,
  targets: BigInt64Array,
  lr: number,
  maxNorm = 1.0,
): { loss: number; gradNorm: number } {
  const { batch: B, seq: T, dim: D, heads: H, ffn: F, vocab: V } = c;
  const N = B * T;
  const dh = D / H;
  const p = s.params;
  const f32 = (n: number) => new Float32Array(n);
  // ---- forward
  const x = f32(N * D);
  for (let i = 0; i < N; i++)
    x.set(p.embed.subarray(Number(tokens[i]) * D, Number(tokens[i]) * D + D), i * D);
  const n1 = f32(N * D),
    r1 = f32(N);
  rmsForward(x, p.norm1, n1, r1, N, D);
  const q = f32(N * D),
    k = f32(N * D),
    v = f32(N * D);
  mm(n1, p.wq, q, N, D, D);
  mm(n1, p.wk, k, N, D, D);
  mm(n1, p.wv, v, N, D, D);
  const probs = f32(B * H * T * T);
  const att = f32(N * D);
  const scale = 1 / Math.sqrt(dh);
  for (let b = 0; b < B; b++)
    for (let h = 0; h < H; h++) {
      const P0 = (b * H + h) * T * T;
      for (let i = 0; i < T; i++) {
        const qi = (b * T + i) * D + h * dh;
        let mx = -Infinity;
        for (let j = 0; j < T; j++) {
          let sc = MASK_VALUE;
          if (j <= i) {
            sc = 0;
            const kj = (b * T + j) * D + h * dh;
            for (let e = 0; e < dh; e++) sc += q[qi + e] * k[kj + e];
            sc *= scale;
          }
          probs[P0 + i * T + j] = sc;
          if (sc > mx) mx = sc;
        }
        let sum = 0;
        for (let j = 0; j < T; j++) sum += probs[P0 + i * T + j] = Math.exp(probs[P0 + i * T + j] - mx);
        for (let j = 0; j < T; j++) probs[P0 + i * T + j] /= sum;
        const ai = (b * T + i) * D + h * dh;
        for (let j = 0; j <= i; j++) {
          const pij = probs[P0 + i * T + j];
          const vj = (b * T + j) * D + h * dh;
          for (let e = 0; e < dh; e++) att[ai + e] += pij * v[vj + e];
        }
      }
    }
  const h1 = f32(N * D);
  mm(att, p.wo, h1, N, D, D);
  for (let i = 0; i < N * D; i++) h1[i] += x[i];
  const n2 = f32(N * D),
    r2 = f32(N);
  rmsForward(h1, p.norm2, n2, r2, N, D);
  const u = f32(N * F);
  mm(n2, p.w1, u, N, D, F);
  const a = u.map((z) => (z > 0 ? z : 0));
  const h2 = f32(N * D);
  mm(a, p.w2, h2, N, F, D);
  for (let i = 0; i < N * D; i++) h2[i] += h1[i];
  const n3 = f32(N * D),
    r3 = f32(N);
  rmsForward(h2, p.norm3, n3, r3, N, D);
  const logits = f32(N * V);
  mm(n3, p.head, logits, N, D, V);
  let loss = 0;
  // dlogits = (softmax − onehot) / N, computed in place
  for (let i = 0; i < N; i++) {
    const row = logits.subarray(i * V, i * V + V);
    let mx = -Infinity;
    for (let j = 0; j < V; j++) if (row[j] > mx) mx = row[j];
    let sum = 0;
    for (let j = 0; j < V; j++) sum += Math.exp(row[j] - mx);
    const lse = mx + Math.log(sum);
    const t = Number(targets[i]);
    loss += lse - row[t];
    for (let j = 0; j < V; j++) row[j] = Math.exp(row[j] - lse) / N;
    row[t] -= 1 / N;
  }
  loss /= N;
  // ---- backward
  const gr: P = {};
  for (const [name, dims] of Object.entries(parameterShapes(c)))
    gr[name] = f32(dims.reduce((m, n) => m * n, 1));
  const dn3 = f32(N * D);
  mmAtAcc(n3, logits, gr.head, N, D, V);
  mmBt(logits, p.head, dn3, N, V, D);
  const dh2 = f32(N * D);
  rmsBackward(h2, p.norm3, r3, dn3, dh2, gr.norm3, N, D);
  const dh1 = dh2.slice();
  const da = f32(N * F);
  mmAtAcc(a, dh2, gr.w2, N, F, D);
  mmBt(dh2, p.w2, da, N, D, F);
  for (let i = 0; i < N * F; i++) if (u[i] <= 0) da[i] = 0;
  const dn2 = f32(N * D);
  mmAtAcc(n2, da, gr.w1, N, D, F);
  mmBt(da, p.w1, dn2, N, F, D);
  rmsBackward(h1, p.norm2, r2, dn2, dh1, gr.norm2, N, D);
  const dx = dh1.slice();
  const datt = f32(N * D);
  mmAtAcc(att, dh1, gr.wo, N, D, D);
  mmBt(dh1, p.wo, datt, N, D, D);
  const dq = f32(N * D),
    dk = f32(N * D),
    dv = f32(N * D);
  const dp = f32(T);
  for (let b = 0; b < B; b++)
    for (let h = 0; h < H; h++) {
      const P0 = (b * H + h) * T * T;
      for (let i = 0; i < T; i++) {
        const ai = (b * T + i) * D + h * dh;
        let dot = 0;
        for (let j = 0; j <= i; j++) {
          const vj = (b * T + j) * D + h * dh;
          let s2 = 0;
          const pij = probs[P0 + i * T + j];
          for (let e = 0; e < dh; e++) {
            s2 += datt[ai + e] * v[vj + e];
            dv[vj + e] += pij * datt[ai + e];
          }
          dp[j] = s2;
          dot += s2 * pij;
        }
        for (let j = 0; j <= i; j++) {
          const ds = probs[P0 + i * T + j] * (dp[j] - dot) * scale;
          const kj = (b * T + j) * D + h * dh;
          for (let e = 0; e < dh; e++) {
            dq[ai + e] += ds * k[kj + e];
            dk[kj + e] += ds * q[ai + e];
          }
        }
      }
    }
  const dn1 = f32(N * D);
  for (const [w, d] of [
    ['wq', dq],
    ['wk', dk],
    ['wv', dv],
  ] as const) {
    mmAtAcc(n1, d, gr[w], N, D, D);
    const t = f32(N * D);
    mmBt(d, p[w], t, N, D, D);
    for (let i = 0; i < N * D; i++) dn1[i] += t[i];
  }
  rmsBackward(x, p.norm1, r1, dn1, dx, gr.norm1, N, D);
  for (let i = 0; i < N; i++) {
    const row = Number(tokens[i]) * D;
    for (let j = 0; j < D; j++) gr.embed[row + j] += dx[i * D + j];
  }
  // ---- clip + AdamW
  let sq = 0;
  for (const g of Object.values(gr)) for (let i = 0; i < g.length; i++) sq += g[i] * g[i];
  const gradNorm = Math.sqrt(sq);
  const coef = Math.min(maxNorm / (gradNorm + CLIP_NORM_EPS), 1);
  const { beta1, beta2, eps, weightDecay } = ADAMW_DEFAULTS;
  s.step += 1;
  const bc1 = 1 - beta1 ** s.step;
  const bc2 = Math.sqrt(1 - beta2 ** s.step);
  for (const name of Object.keys(gr)) {
    const w = p[name],
      g = gr[name],
      m = s.m[name],
      vv = s.v[name];
    for (let i = 0; i < w.length; i++) {
      const gi = g[i] * coef;
      w[i] *= 1 - lr * weightDecay;
      m[i] = beta1 * m[i] + (1 - beta1) * gi;
      vv[i] = beta2 * vv[i] + (1 - beta2) * gi * gi;
      w[i] -= (lr / bc1) * (m[i] / (Math.sqrt(vv[i]) / bc2 + eps));
    }
  }
  return { loss, gradNorm };
}
