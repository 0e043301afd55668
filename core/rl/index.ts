// The RL algorithm pieces; see README.md for what lives where.
export * from './actorObjective.ts';
export * from './advantages.ts';
export * from './aggregation.ts';
export * from './batchPlan.ts';
export * from './entropy.ts';
export * from './kl.ts';
export * from './klSchedule.ts';
export * from './lrSchedule.ts';
export * from './policyLoss.ts';
export * from './sftLoss.ts';
export * from './tokens.ts';
