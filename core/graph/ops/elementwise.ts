/** Element-wise ops (numpy broadcasting) and their gradients. */
import type { DType } from '../dtype.ts';
import { FLOAT_DTYPES, isFloat } from '../dtype.ts';
import type { TypeInfo, Value } from '../graph.ts';
import { broadcastShapes } from '../dim.ts';
import { defineOp, NOT_DIFFERENTIABLE } from './registry.ts';
import type { GradContext, InputGrad } from './registry.ts';
import { apply, attr, requireDtype, sameType, toValues } from './util.ts';
import type { Operand } from './util.ts';
import { sumToShape } from './reduce.ts';

const NUMERIC: DType[] = ['float32', 'float64', 'int64'];

function binaryInfer(out: 'same' | 'bool', allowed: DType[] = NUMERIC) {
  return ([a, b]: readonly Value[]): TypeInfo[] => {
    if (a.dtype !== b.dtype) throw new Error(`operand dtypes differ: ${a.dtype} vs ${b.dtype}`);
    requireDtype(a, allowed, 'operands');
    return [{ dtype: out === 'bool' ? 'bool' : a.dtype, shape: broadcastShapes(a.shape, b.shape) }];
  };
}

function unaryInfer(allowed: DType[] = FLOAT_DTYPES as DType[]) {
  return ([x]: readonly Value[]): TypeInfo[] => {
    requireDtype(x, allowed, 'input');
    return [sameType(x)];
  };
}

/** Gradient of a binary op: each side's local gradient, summed back over broadcast axes. */
function binaryGrad(local: (ctx: GradContext, g: Value) => [Value | undefined, Value | undefined]) {
  return (ctx: GradContext): InputGrad[] => {
    const g = ctx.gOut[0];
    if (!g) return [undefined, undefined];
    const [ga, gb] = local(ctx, g);
    const [a, b] = ctx.inputs;
    return [ga && sumToShape(ga, a.shape), gb && sumToShape(gb, b.shape)];
  };
}

defineOp({ op: 'Add', infer: binaryInfer('same'), grad: binaryGrad((_c, g) => [g, g]) });
defineOp({ op: 'Sub', infer: binaryInfer('same'), grad: binaryGrad((_c, g) => [g, neg(g)]) });
defineOp({
  op: 'Mul',
  infer: binaryInfer('same'),
  grad: binaryGrad(({ inputs: [a, b] }, g) => [mul(g, b), mul(g, a)]),
});
defineOp({
  op: 'Div',
  infer: binaryInfer('same'),
  // d(a/b)/db = -a/b² = -out/b
  grad: binaryGrad(({ inputs: [, b], outputs: [out] }, g) => [div(g, b), neg(div(mul(g, out), b))]),
});
defineOp({
  op: 'Pow',
  infer: binaryInfer('same', FLOAT_DTYPES as DType[]),
  // d(a^b)/da = b·a^(b−1); d(a^b)/db = a^b·ln a (dropped by the serializer when the exponent is constant)
  grad: binaryGrad(({ inputs: [a, b], outputs: [out] }, g) => [
    mul(g, mul(b, pow(a, sub(b, 1)))),
    mul(g, mul(out, log(a))),
  ]),
});

/** Ties split the gradient evenly between both sides, as torch.minimum / torch.maximum do. */
function minMaxGrad(pick: typeof less) {
  return binaryGrad(({ inputs: [a, b] }, g) => {
    const half = g.graph.scalar(0.5, g.dtype);
    const wa = add(cast(pick(a, b), g.dtype), mul(cast(equal(a, b), g.dtype), half));
    return [mul(g, wa), mul(g, sub(1, wa))];
  });
}
defineOp({ op: 'Min', infer: binaryInfer('same'), grad: minMaxGrad((a, b) => less(a, b)) });
defineOp({ op: 'Max', infer: binaryInfer('same'), grad: minMaxGrad((a, b) => greater(a, b)) });

for (const op of ['Equal', 'Less', 'Greater', 'LessOrEqual', 'GreaterOrEqual'])
  defineOp({ op, infer: binaryInfer('bool', [...NUMERIC, 'bool']) });
for (const op of ['And', 'Or']) defineOp({ op, infer: binaryInfer('bool', ['bool']) });
defineOp({ op: 'Not', infer: unaryInfer(['bool']) });

function unaryGrad(local: (x: Value, out: Value, g: Value) => Value) {
  return ({ inputs: [x], outputs: [out], gOut: [g] }: GradContext): InputGrad[] => [g && local(x, out, g)];
}

defineOp({ op: 'Identity', infer: ([x]) => [sameType(x)], grad: unaryGrad((_x, _o, g) => g) });
defineOp({
  op: 'Neg',
  infer: unaryInfer([...FLOAT_DTYPES, 'int64']),
  grad: unaryGrad((_x, _o, g) => neg(g)),
});
defineOp({ op: 'Exp', infer: unaryInfer(), grad: unaryGrad((_x, out, g) => mul(g, out)) });
defineOp({ op: 'Log', infer: unaryInfer(), grad: unaryGrad((x, _o, g) => div(g, x)) });
defineOp({ op: 'Sqrt', infer: unaryInfer(), grad: unaryGrad((_x, out, g) => div(mul(g, 0.5), out)) });
defineOp({
  op: 'Reciprocal',
  infer: unaryInfer(),
  grad: unaryGrad((_x, out, g) => neg(mul(g, mul(out, out)))),
});
defineOp({
  op: 'Sigmoid',
  infer: unaryInfer(),
  grad: unaryGrad((_x, out, g) => mul(g, mul(out, sub(1, out)))),
});
defineOp({ op: 'Tanh', infer: unaryInfer(), grad: unaryGrad((_x, out, g) => mul(g, sub(1, mul(out, out)))) });
defineOp({ op: 'Cos', infer: unaryInfer(), grad: unaryGrad((x, _o, g) => neg(mul(g, sin(x)))) });
defineOp({ op: 'Sin', infer: unaryInfer(), grad: unaryGrad((x, _o, g) => mul(g, cos(x))) });
defineOp({ op: 'Abs', infer: unaryInfer(), grad: unaryGrad((x, _o, g) => mul(g, sign(x))) });
defineOp({ op: 'Sign', infer: unaryInfer() });
defineOp({
  op: 'Relu',
  infer: unaryInfer(),
  grad: unaryGrad((x, _o, g) => mul(g, cast(greater(x, 0), g.dtype))),
});

defineOp({
  op: 'Cast',
  infer: ([x], attrs) => {
    const to = attrs._to;
    if (!to || to.kind !== 'string') throw new Error('Cast needs a target dtype');
    return [{ dtype: to.value as DType, shape: x.shape }];
  },
  grad: ({ inputs: [x], gOut: [g] }) => [
    g && (isFloat(x.dtype) ? (g.dtype === x.dtype ? g : cast(g, x.dtype)) : NOT_DIFFERENTIABLE),
  ],
});

const ONNX_TYPE_CODE: Record<DType, number> = { float32: 1, float64: 11, float16: 10, int64: 7, bool: 9 };

// --- builders -------------------------------------------------------------------------------------------
export const add = (a: Operand, b: Operand): Value => apply('Add', toValues([a, b]));
export const sub = (a: Operand, b: Operand): Value => apply('Sub', toValues([a, b]));
export const mul = (a: Operand, b: Operand): Value => apply('Mul', toValues([a, b]));
export const div = (a: Operand, b: Operand): Value => apply('Div', toValues([a, b]));
export const pow = (a: Operand, b: Operand): Value => apply('Pow', toValues([a, b]));
export const minimum = (a: Operand, b: Operand): Value => apply('Min', toValues([a, b]));
export const maximum = (a: Operand, b: Operand): Value => apply('Max', toValues([a, b]));
export const equal = (a: Operand, b: Operand): Value => apply('Equal', toValues([a, b]));
export const less = (a: Operand, b: Operand): Value => apply('Less', toValues([a, b]));
export const greater = (a: Operand, b: Operand): Value => apply('Greater', toValues([a, b]));
export const lessOrEqual = (a: Operand, b: Operand): Value => apply('LessOrEqual', toValues([a, b]));
export const greaterOrEqual = (a: Operand, b: Operand): Value => apply('GreaterOrEqual', toValues([a, b]));
export const and = (a: Value, b: Value): Value => apply('And', [a, b]);
export const or = (a: Value, b: Value): Value => apply('Or', [a, b]);
export const not = (x: Value): Value => apply('Not', [x]);
export const identity = (x: Value): Value => apply('Identity', [x]);
export const neg = (x: Value): Value => apply('Neg', [x]);
export const exp = (x: Value): Value => apply('Exp', [x]);
export const log = (x: Value): Value => apply('Log', [x]);
export const sqrt = (x: Value): Value => apply('Sqrt', [x]);
export const reciprocal = (x: Value): Value => apply('Reciprocal', [x]);
export const sigmoid = (x: Value): Value => apply('Sigmoid', [x]);
export const tanh = (x: Value): Value => apply('Tanh', [x]);
export const cos = (x: Value): Value => apply('Cos', [x]);
export const sin = (x: Value): Value => apply('Sin', [x]);
export const abs = (x: Value): Value => apply('Abs', [x]);
export const sign = (x: Value): Value => apply('Sign', [x]);
export const relu = (x: Value): Value => apply('Relu', [x]);
export const square = (x: Value): Value => mul(x, x);

export function cast(x: Value, to: DType): Value {
  if (x.dtype === to) return x;
  return apply('Cast', [x], { to: attr.int(ONNX_TYPE_CODE[to]), _to: attr.string(to) });
}
