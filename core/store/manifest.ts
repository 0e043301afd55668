import { createHash } from 'node:crypto';
import { z } from 'zod';
import { keyProblem } from './objectStore.ts';
import { MANIFEST_NAME, RUN_ID_PATTERN } from './keys.ts';

/** Bumped when the manifest's meaning changes; readers refuse formats they do not know. */
export const MANIFEST_FORMAT = 'reasonloop.checkpoint/1';

export type JsonValue = null | boolean | number | string | JsonValue[] | { [key: string]: JsonValue };

/** One object of a checkpoint: its name below the step's folder, size and sha256 (lowercase hex). */
export interface ManifestObject {
  name: string;
  size: number;
  sha256: string;
}

/**
 * What a checkpoint is. Written after every object it lists, so a manifest that exists and verifies means
 * the checkpoint is complete. `prunedGroups` lists groups retention removed (e.g. `optimizer`).
 */
export interface CheckpointManifest {
  format: typeof MANIFEST_FORMAT;
  runId: string;
  step: number;
  configHash: string;
  dataCursor: JsonValue;
  rng: JsonValue;
  metrics: Record<string, number>;
  objects: ManifestObject[];
  prunedGroups: string[];
  extra?: JsonValue;
  /** sha256 of the canonical JSON of every other field: a flipped byte in the manifest is caught too. */
  manifestSha256: string;
}

export type UnsignedManifest = Omit<CheckpointManifest, 'manifestSha256'>;

const SHA256_HEX = /^[0-9a-f]{64}$/;
const jsonValue: z.ZodType<JsonValue> = z.lazy(() =>
  z.union([
    z.null(),
    z.boolean(),
    z.number(),
    z.string(),
    z.array(jsonValue),
    z.record(z.string(), jsonValue),
  ]),
);
const manifestSchema = z.strictObject({
  format: z.literal(MANIFEST_FORMAT),
  runId: z.string().regex(RUN_ID_PATTERN),
  step: z.number().int().nonnegative(),
  configHash: z.string(),
  dataCursor: jsonValue,
  rng: jsonValue,
  metrics: z.record(z.string(), z.number()),
  objects: z.array(
    z.strictObject({
      name: z
        .string()
        .refine((n) => keyProblem(n) === undefined && n !== MANIFEST_NAME, 'invalid object name'),
      size: z.number().int().nonnegative(),
      sha256: z.string().regex(SHA256_HEX),
    }),
  ),
  prunedGroups: z.array(z.string()),
  extra: jsonValue.optional(),
  manifestSha256: z.string().regex(SHA256_HEX),
});

export function sha256Hex(bytes: Uint8Array | string): string {
  return createHash('sha256').update(bytes).digest('hex');
}

/** JSON with object keys sorted at every level and no whitespace: equal values give equal bytes. */
export function canonicalJson(value: unknown, path = '$'): string {
  if (value === null || typeof value === 'boolean' || typeof value === 'string') return JSON.stringify(value);
  if (typeof value === 'number') {
    if (!Number.isFinite(value)) throw new Error(`${path} must be a finite number for JSON (got ${value})`);
    return JSON.stringify(value);
  }
  if (Array.isArray(value)) return `[${value.map((v, i) => canonicalJson(v, `${path}[${i}]`)).join(',')}]`;
  if (typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v, `${path}.${k}`)}`).join(',')}}`;
  }
  throw new Error(`${path} is not JSON-serialisable (got ${typeof value})`);
}

/** A configuration's identity: sha256 of its canonical JSON, so key order and spacing do not matter. */
export function configHash(config: unknown): string {
  return sha256Hex(canonicalJson(config));
}

/** The manifest's own checksum, over every field but itself. */
export function manifestSha(manifest: UnsignedManifest | CheckpointManifest): string {
  const { manifestSha256: _ignored, ...body } = manifest as CheckpointManifest;
  return sha256Hex(canonicalJson(body));
}

export function signManifest(body: UnsignedManifest): CheckpointManifest {
  const objects = [...body.objects].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  const unsigned = { ...body, objects };
  return { ...unsigned, manifestSha256: manifestSha(unsigned) };
}

export function encodeManifest(manifest: CheckpointManifest): Uint8Array {
  return new TextEncoder().encode(`${JSON.stringify(manifest, null, 2)}\n`);
}

/**
 * Parses and checks a manifest's bytes: JSON, shape, its own checksum, and that it belongs where it was
 * found. Returns the manifest or the reason it is not valid.
 */
export function decodeManifest(
  bytes: Uint8Array,
  expected: { runId: string; step: number },
): { manifest: CheckpointManifest } | { problem: string } {
  let raw: unknown;
  try {
    raw = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes));
  } catch (error) {
    return { problem: `manifest is not valid UTF-8 JSON (${(error as Error).message})` };
  }
  const parsed = manifestSchema.safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    return { problem: `manifest field ${issue.path.join('.') || '(root)'}: ${issue.message}` };
  }
  const manifest = parsed.data as CheckpointManifest;
  const actual = manifestSha(manifest);
  if (actual !== manifest.manifestSha256) {
    return { problem: `manifest checksum is ${actual}, the manifest says ${manifest.manifestSha256}` };
  }
  if (manifest.runId !== expected.runId || manifest.step !== expected.step) {
    return {
      problem: `manifest is for run ${manifest.runId} step ${manifest.step}, found under run ${expected.runId} step ${expected.step}`,
    };
  }
  return { manifest };
}
