/**
 * A problem file kept in an object store (the difficulty filter's `filtered.jsonl`, say): downloaded to a
 * temporary file and read exactly as a `file` data source reads a local one, so a filter's output can be
 * a task's data without a copy step. Credentials come from the environment, as for a run's store.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openStore, S3ObjectStore } from '../store/index.ts';
import { loadProblems, type LoadedProblems } from './load.ts';
import type { FieldSpec } from './problems.ts';

export interface StoreDataSpec extends FieldSpec {
  /** The store: `s3://bucket/prefix`, `file:///abs/path` or a folder path. */
  url: string;
  /** The object's key; its extension (.jsonl, .json, .parquet) picks the reader. */
  key: string;
  dedupe?: boolean;
}

/** The object's base name (keys use '/', whatever the platform). */
function baseName(key: string): string {
  return key.slice(key.lastIndexOf('/') + 1);
}

export async function loadStoreProblems(
  spec: StoreDataSpec,
  env: NodeJS.ProcessEnv = process.env,
): Promise<LoadedProblems> {
  const store = openStore(spec.url, env);
  const dir = await mkdtemp(join(tmpdir(), 'reasonloop-data-'));
  const path = join(dir, baseName(spec.key));
  try {
    await store.getFile(spec.key, path);
    const loaded = await loadProblems({ ...spec, path });
    // Messages name the object, not the temporary copy.
    const where = `${spec.url} ${spec.key}`;
    loaded.skipped.reasons = loaded.skipped.reasons.map((r) => r.split(path).join(where));
    return loaded;
  } finally {
    await rm(dir, { recursive: true, force: true });
    if (store instanceof S3ObjectStore) store.destroy();
  }
}
