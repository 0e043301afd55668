/**
 * LoRA (Hu et al. 2021) on the Qwen2 linears, as PEFT's `LoraLayer` computes it: a targeted nn.Linear
 * y = x·Wᵀ (+ b) gains s·(x·Aᵀ)·Bᵀ with A [r, in], B [out, r] and s = alpha / r. Adapter tensors are
 * named as PEFT names them inside the wrapped model, without its `base_model.model.` prefix
 * (`model.layers.0.self_attn.q_proj.lora_A.weight`), so they are HF-style parameter names of our graph
 * and `peftAdapter.ts` only adds the prefix. Initialisation follows PEFT's `reset_lora_parameters`:
 * A kaiming-uniform with a = √5, i.e. U(−1/√in, 1/√in), B zeros, so the adapted model starts equal to
 * the base model; A's draws come from our seeded generator (one stream per tensor name), not torch's.
 */
import { Prng, hashString } from '../random.ts';
import type { Qwen2Config } from './config.ts';
import { elementCount, layerPrefix } from './parameters.ts';

/** The Linear modules of a Qwen2 decoder layer, by the names PEFT's `target_modules` matches. */
export const LORA_TARGET_MODULES = [
  'q_proj',
  'k_proj',
  'v_proj',
  'o_proj',
  'gate_proj',
  'up_proj',
  'down_proj',
] as const;
export type LoraTargetModule = (typeof LORA_TARGET_MODULES)[number];

/** PEFT's shorthand for every Linear but the output layer (for Qwen2: the seven above). */
export const ALL_LINEAR = 'all-linear';

export interface LoraSpec {
  rank: number;
  alpha: number;
  targetModules: readonly LoraTargetModule[];
}

/** PEFT's `scaling = lora_alpha / r` (no rsLoRA). */
export function loraScaling(spec: Pick<LoraSpec, 'rank' | 'alpha'>): number {
  return spec.alpha / spec.rank;
}

const ATTENTION = new Set<LoraTargetModule>(['q_proj', 'k_proj', 'v_proj', 'o_proj']);

/** `model.layers.{i}.self_attn.q_proj` / `model.layers.{i}.mlp.up_proj`: the module a base weight hangs on. */
export function loraModulePath(layer: number, module: LoraTargetModule): string {
  return `${layerPrefix(layer)}.${ATTENTION.has(module) ? 'self_attn' : 'mlp'}.${module}`;
}

export const loraNames = {
  a: (modulePath: string) => `${modulePath}.lora_A.weight`,
  b: (modulePath: string) => `${modulePath}.lora_B.weight`,
  base: (modulePath: string) => `${modulePath}.weight`,
};

/** One adapted Linear: its base weight's name and [out, in] shape, and its two adapter tensors. */
export interface LoraModule {
  path: string;
  base: string;
  out: number;
  in: number;
  a: { name: string; shape: [number, number] };
  b: { name: string; shape: [number, number] };
}

function linearShape(c: Qwen2Config, module: LoraTargetModule): [number, number] {
  const H = c.hiddenSize;
  const q = c.numAttentionHeads * c.headDim;
  const kv = c.numKeyValueHeads * c.headDim;
  const I = c.intermediateSize;
  const shapes: Record<LoraTargetModule, [number, number]> = {
    q_proj: [q, H],
    k_proj: [kv, H],
    v_proj: [kv, H],
    o_proj: [H, q],
    gate_proj: [I, H],
    up_proj: [I, H],
    down_proj: [H, I],
  };
  return shapes[module];
}

/** Every adapted Linear, layer by layer, modules in the order of LORA_TARGET_MODULES. */
export function loraModules(config: Qwen2Config, spec: LoraSpec): LoraModule[] {
  const unknown = spec.targetModules.find((m) => !(LORA_TARGET_MODULES as readonly string[]).includes(m));
  if (unknown !== undefined) {
    throw new Error(`lora: unknown target module "${unknown}" (known: ${LORA_TARGET_MODULES.join(', ')})`);
  }
  if (!Number.isInteger(spec.rank) || spec.rank < 1)
    throw new Error(`lora: rank must be ≥ 1 (got ${spec.rank})`);
  const targets = LORA_TARGET_MODULES.filter((m) => spec.targetModules.includes(m));
  const modules: LoraModule[] = [];
  for (let i = 0; i < config.numHiddenLayers; i++) {
    for (const m of targets) {
      const path = loraModulePath(i, m);
      const [out, inDim] = linearShape(config, m);
      modules.push({
        path,
        base: loraNames.base(path),
        out,
        in: inDim,
        a: { name: loraNames.a(path), shape: [spec.rank, inDim] },
        b: { name: loraNames.b(path), shape: [out, spec.rank] },
      });
    }
  }
  return modules;
}

/** The trainable tensors (A then B per module), with their shapes. */
export function loraParameters(config: Qwen2Config, spec: LoraSpec): { name: string; shape: number[] }[] {
  return loraModules(config, spec).flatMap((m) => [
    { name: m.a.name, shape: [...m.a.shape] },
    { name: m.b.name, shape: [...m.b.shape] },
  ]);
}

/** Number of trainable scalars with LoRA: r·(in + out) per adapted Linear. */
export function loraParameterCount(config: Qwen2Config, spec: LoraSpec): number {
  return loraParameters(config, spec).reduce((n, p) => n + elementCount(p.shape), 0);
}

/**
 * Fresh adapters: A ~ U(−1/√in, 1/√in) (kaiming_uniform_(a=√5): gain √(2/(1+5)), bound gain·√(3/in)),
 * B = 0. Each A draws from its own stream keyed by (seed, name), like `initQwen2Weights`.
 */
export function initLoraWeights(
  config: Qwen2Config,
  spec: LoraSpec,
  seed: number,
): Map<string, Float32Array> {
  const out = new Map<string, Float32Array>();
  for (const m of loraModules(config, spec)) {
    const a = new Float32Array(elementCount(m.a.shape));
    const bound = 1 / Math.sqrt(m.in);
    const rng = new Prng(seed, hashString(m.a.name));
    for (let k = 0; k < a.length; k++) a[k] = (2 * rng.nextFloat() - 1) * bound;
    out.set(m.a.name, a);
    out.set(m.b.name, new Float32Array(elementCount(m.b.shape)));
  }
  return out;
}

/**
 * W + s·B·A for one module, as a new float32 [out, in] matrix (PEFT's `merge`): each element's B·A sum
 * is accumulated in double precision, scaled, added to W and rounded once, so the merge is the same on
 * every machine.
 */
export function mergedWeight(
  w: Float32Array,
  a: Float32Array,
  b: Float32Array,
  shape: { out: number; in: number; rank: number },
  scaling: number,
): Float32Array {
  const { out, in: inDim, rank } = shape;
  if (w.length !== out * inDim || a.length !== rank * inDim || b.length !== out * rank) {
    throw new Error(
      `lora merge: sizes W ${w.length}, A ${a.length}, B ${b.length} do not fit [${out}, ${inDim}] r=${rank}`,
    );
  }
  const merged = new Float32Array(w.length);
  const row = new Float64Array(inDim);
  for (let o = 0; o < out; o++) {
    row.fill(0);
    for (let r = 0; r < rank; r++) {
      const bor = b[o * rank + r];
      if (bor === 0) continue;
      const aRow = r * inDim;
      for (let i = 0; i < inDim; i++) row[i] += bor * a[aRow + i];
    }
    const wRow = o * inDim;
    for (let i = 0; i < inDim; i++) merged[wRow + i] = w[wRow + i] + scaling * row[i];
  }
  return merged;
}

/**
 * The base weights with every adapted matrix replaced by W + s·B·A (the policy that sampling and
 * scoring run); untouched tensors are the base's own arrays, not copies.
 */
export function mergeLoraWeights(
  config: Qwen2Config,
  spec: LoraSpec,
  base: ReadonlyMap<string, Float32Array>,
  adapters: ReadonlyMap<string, Float32Array>,
): Map<string, Float32Array> {
  const merged = new Map(base);
  const scaling = loraScaling(spec);
  for (const m of loraModules(config, spec)) {
    const w = base.get(m.base);
    const a = adapters.get(m.a.name);
    const b = adapters.get(m.b.name);
    if (!w) throw new Error(`lora merge: base weights lack ${m.base}`);
    if (!a || !b) throw new Error(`lora merge: adapters lack ${a ? m.b.name : m.a.name}`);
    merged.set(m.base, mergedWeight(w, a, b, { out: m.out, in: m.in, rank: spec.rank }, scaling));
  }
  return merged;
}
