/**
 * core/store — where everything heavy lives between activities: one ObjectStore interface (local folder,
 * the embedded default; S3 or any S3-compatible server), checkpoints (objects + a manifest written last,
 * verified by sha256 before use) and retention.
 */
export * from './objectStore.ts';
export { LocalFolderStore, compareKeys } from './localStore.ts';
export { hashingStream, sha256OfStream, type StreamDigest } from './hashing.ts';
export * from './s3Store.ts';
export { describeS3Error, networkErrorCode } from './s3Errors.ts';
export * from './keys.ts';
export * from './manifest.ts';
export * from './checkpoint.ts';
export * from './retention.ts';
export * from './openStore.ts';
