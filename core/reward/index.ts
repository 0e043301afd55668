/**
 * Rewards: the math verifier (verify/), the STILL 1.5B reward (still.ts), the zero-RL format gate
 * (formatGate.ts), the paper's length strategies QS/RS/RRL/RRA/ORM (lengthStrategies.ts), DAPO's soft
 * overlong penalty (dapoOverlong.ts), dynamic sampling (dynamicSampling.ts), and their composition per
 * group as a run config says (scoreGroup.ts).
 */
export * from './verify/index.ts';
export * from './response.ts';
export * from './still.ts';
export * from './formatGate.ts';
export * from './lengthStrategies.ts';
export * from './dapoOverlong.ts';
export * from './dynamicSampling.ts';
export * from './scoreGroup.ts';
