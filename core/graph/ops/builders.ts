/** Every op builder, for `import { op } from 'core/graph'` → `op.matmul(x, w)`. */
export * from './elementwise.ts';
export * from './reduce.ts';
export * from './shape.ts';
export * from './matmul.ts';
export * from './softmax.ts';
export * from './gather.ts';
export * from './select.ts';
export * from './scan.ts';
export type { Operand } from './util.ts';
export { dimValue, shapeTensor } from './util.ts';
export * from './loop.ts';
export * from './chunkedLogProbs.ts';
export * from './vocabChunkedLogProbs.ts';
