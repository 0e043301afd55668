/**
 * The verifier: extract.ts (find the answer), normalize.ts (rewrite LaTeX variants), value.ts (structure:
 * numbers, sets, tuples, intervals, relations), latex.ts + fastLatex.ts (LaTeX → MathJSON), evaluate.ts
 * (float evaluation, random points), compare.ts (equivalence, gold first), verifyAnswer.ts (the entry
 * point: bounded, never throws); limits.ts holds every bound, braces.ts and lru.ts are helpers.
 */
export { verifyAnswer, type Verdict, type VerifyOptions } from './verifyAnswer.ts';
export { extractAnswer, findBoxes, latexSpans, type ExtractOptions, type ExtractionMode } from './extract.ts';
export { normalizeAnswer } from './normalize.ts';
export { buildValue, type Value } from './value.ts';
export { compareValues, numbersClose } from './compare.ts';
