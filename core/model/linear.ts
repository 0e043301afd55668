/**
 * The Linear layers of the Qwen2 graph (nn.Linear, PEFT's LoRA-wrapped Linear) and how a float16 weight
 * meets float32 activations in them.
 */
import { op } from '../graph/index.ts';
import type { DType, Value } from '../graph/index.ts';
import { loraNames } from './lora.ts';

/**
 * How a float16 weight meets wider activations: "half" multiplies at half precision (x is cast down:
 * the GPU's half GEMM accumulates in float32, and reading half the bytes per weight is what a
 * bandwidth-bound decode step gains); "upcast" casts the weight to x's dtype where it is used, so the
 * product is exactly the float32 one on the half-rounded weight (the trainer's frozen LoRA base; a layer's
 * casts are transient, re-made in its recomputed backward: core/graph/recompute.ts).
 */
export type HalfWeightUse = 'half' | 'upcast';

/** A float16 weight as "upcast" uses it (cast to `dtype`); any other weight as it is. */
export function upcastWeight(weight: Value, dtype: DType): Value {
  return weight.dtype === 'float16' && dtype !== 'float16' ? op.cast(weight, dtype) : weight;
}

/** nn.Linear: x · Wᵀ (+ b), with W stored [out, in] as in HF checkpoints; a float16 W as `halfUse` says. */
export function linear(x: Value, weight: Value, bias?: Value, halfUse: HalfWeightUse = 'half'): Value {
  if (halfUse === 'upcast') weight = upcastWeight(weight, x.dtype);
  const half = weight.dtype === 'float16' && x.dtype !== 'float16';
  const product = op.matmul(half ? op.cast(x, 'float16') : x, op.transposeLast2(weight));
  const y = half ? op.cast(product, x.dtype) : product;
  return bias ? op.add(y, bias) : y;
}

/**
 * The Linear at `path` (its `.weight`, `.bias` if any): with LoRA adapters for it among the parameters,
 * PEFT's `base_layer(x) + lora_B(lora_A(x)) · scaling` (no dropout: it is refused at config time).
 */
export function loraLinear(
  x: Value,
  params: Map<string, Value>,
  path: string,
  scaling?: number,
  halfUse: HalfWeightUse = 'half',
): Value {
  const y = linear(x, params.get(`${path}.weight`)!, params.get(`${path}.bias`), halfUse);
  const a = params.get(loraNames.a(path));
  if (!a || scaling === undefined) return y;
  return op.add(y, op.mul(linear(linear(x, a), params.get(loraNames.b(path))!), scaling));
}

/** The matrices among the parameters: what `WeightDtype` "float16" stores at half precision. */
export function isMatrixWeight(shape: readonly number[]): boolean {
  return shape.length === 2;
}
