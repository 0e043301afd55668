/**
 * Data: JSONL/parquet rows (rows.ts) → problems with configurable fields (problems.ts, load.ts), the
 * benchmark registry (benchmarks.ts), the resumable shuffled cursor (cursor.ts), synthetic verifiable
 * tasks (synthetic.ts) and prompt templates (prompts.ts).
 */
export * from './benchmarks.ts';
export * from './cursor.ts';
export * from './load.ts';
export * from './paths.ts';
export * from './problems.ts';
export * from './prompts.ts';
export * from './rows.ts';
export * from './synthetic.ts';
export * from './splits.ts';
export * from './traces.ts';
