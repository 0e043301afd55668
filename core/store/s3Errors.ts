import type { S3StoreConfig } from './s3Store.ts';

/** Error codes Node and the SDK use when the endpoint cannot be reached at all. */
const NETWORK_CODES = new Set([
  'ECONNREFUSED',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ETIMEDOUT',
  'ECONNRESET',
  'EPIPE',
]);
/**
 * What S3 answers when the access key is unknown or the signature (secret) is wrong; versitygw answers an
 * unknown access key with XAdminUserNotFound (HTTP 404) where AWS says InvalidAccessKeyId (403).
 */
const CREDENTIAL_CODES = new Set([
  'InvalidAccessKeyId',
  'SignatureDoesNotMatch',
  'AccessDenied',
  'Forbidden',
  'XAdminUserNotFound',
]);

interface S3ErrorLike {
  name?: string;
  code?: string;
  message?: string;
  errors?: unknown[];
  cause?: unknown;
  $metadata?: { httpStatusCode?: number };
}

/** The first network error code found on the error, its AggregateError members or its causes. */
export function networkErrorCode(error: unknown, depth = 0): string | undefined {
  if (error === null || typeof error !== 'object' || depth > 4) return undefined;
  const e = error as S3ErrorLike;
  if (e.code && NETWORK_CODES.has(e.code)) return e.code;
  if (e.name === 'TimeoutError' || e.name === 'AbortError') return 'timed out';
  for (const inner of e.errors ?? []) {
    const code = networkErrorCode(inner, depth + 1);
    if (code) return code;
  }
  return networkErrorCode(e.cause, depth + 1);
}

/** A missing key or bucket; not any 404 (versitygw also answers an unknown access key with 404). */
export function isS3NotFound(error: unknown): boolean {
  const name = (error as S3ErrorLike)?.name;
  return name === 'NoSuchKey' || name === 'NotFound' || name === 'NoSuchBucket';
}

/** One sentence naming the endpoint and what is wrong: unreachable, credentials refused, no bucket, or other. */
export function describeS3Error(
  error: unknown,
  where: { operation: string; key: string; location: string; config: S3StoreConfig },
): string {
  const e = (error ?? {}) as S3ErrorLike;
  const what = where.key ? `${where.operation} ${where.key}` : where.operation;
  const network = networkErrorCode(error);
  if (network) {
    return `S3 endpoint ${where.config.endpoint ?? where.location} is unreachable (${network}) during ${what} on ${where.location}`;
  }
  const status = e.$metadata?.httpStatusCode;
  if ((e.name && CREDENTIAL_CODES.has(e.name)) || status === 403) {
    const key = where.config.accessKeyId ?? '(from the default AWS credential chain)';
    return `S3 endpoint ${where.location} refused the credentials for access key ${key} during ${what}: ${e.name ?? status}`;
  }
  if (e.name === 'NoSuchBucket' || (where.operation === 'HeadBucket' && e.name === 'NotFound')) {
    return `S3 bucket ${where.config.bucket} does not exist at ${where.location}`;
  }
  return `S3 ${what} failed on ${where.location}: ${e.name ?? 'Error'}${status ? ` (HTTP ${status})` : ''}: ${e.message ?? String(error)}`;
}
