import {
  CreateBucketCommand,
  DeleteObjectCommand,
  DeleteObjectsCommand,
  GetObjectCommand,
  HeadBucketCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  S3Client,
  type S3ClientConfig,
} from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import { stat } from 'node:fs/promises';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { BaseObjectStore, type OpenedObject } from './baseStore.ts';
import { hashingStream } from './hashing.ts';
import {
  ObjectNotFoundError,
  assertValidKey,
  assertValidPrefix,
  type ObjectInfo,
  putSourceStream,
  type PutSource,
  type StoredObject,
} from './objectStore.ts';
import { describeS3Error, isS3NotFound } from './s3Errors.ts';

/** Where and how to reach one bucket; everything but the bucket has a default. */
export interface S3StoreConfig {
  bucket: string;
  /** Key prefix inside the bucket ('' = the bucket's root); no leading or trailing '/'. */
  prefix?: string;
  /** e.g. http://127.0.0.1:7070 for versitygw or MinIO; absent = AWS S3 of `region`. */
  endpoint?: string;
  region?: string;
  /** Absent = the AWS SDK's default credential chain (env, ~/.aws, instance role). */
  accessKeyId?: string;
  secretAccessKey?: string;
  sessionToken?: string;
  /** bucket in the path, not the host name; S3-compatible servers need it. Default: true iff `endpoint`. */
  forcePathStyle?: boolean;
  maxAttempts?: number;
  connectTimeoutMs?: number;
  partSizeBytes?: number;
  uploadQueueSize?: number;
  /** The most `get` reads into memory (default DEFAULT_MAX_GET_BYTES). */
  maxGetBytes?: number;
}

/** us-east-1 is what AWS assumes without a region and what versitygw and MinIO accept by default. */
export const DEFAULT_S3_REGION = 'us-east-1';
/** The SDK's own default is 3 attempts; kept, but named so a health check can use 1. */
export const DEFAULT_S3_MAX_ATTEMPTS = 3;
/** A loopback or LAN endpoint answers a TCP connect in milliseconds; 5 s flags a dead one without waiting long. */
export const DEFAULT_S3_CONNECT_TIMEOUT_MS = 5_000;
/** S3's minimum part is 5 MiB; 8 MiB matches the AWS CLI's default multipart chunk. */
export const DEFAULT_S3_PART_SIZE_BYTES = 8 * 1024 * 1024;
/** S3 refuses a multipart upload of more parts than this; a stream of unknown size can hold 10,000 parts. */
export const S3_MAX_PARTS = 10_000;
/** Parts uploaded in parallel (lib-storage's default). */
export const DEFAULT_S3_UPLOAD_QUEUE_SIZE = 4;
/** The health check tries once with this connect and total budget, so a wrong endpoint fails in ~2 s. */
export const S3_HEALTH_TIMEOUT_MS = 2_000;

export function describeS3Location(config: S3StoreConfig): string {
  const path = config.prefix ? `${config.bucket}/${config.prefix}` : config.bucket;
  const where = config.endpoint ?? `AWS S3, region ${config.region ?? DEFAULT_S3_REGION}`;
  return `s3://${path} (${where})`;
}

export function s3ClientConfig(config: S3StoreConfig): S3ClientConfig {
  const credentials =
    config.accessKeyId !== undefined && config.secretAccessKey !== undefined
      ? {
          accessKeyId: config.accessKeyId,
          secretAccessKey: config.secretAccessKey,
          ...(config.sessionToken ? { sessionToken: config.sessionToken } : {}),
        }
      : undefined;
  return {
    region: config.region ?? DEFAULT_S3_REGION,
    ...(config.endpoint ? { endpoint: config.endpoint } : {}),
    ...(credentials ? { credentials } : {}),
    forcePathStyle: config.forcePathStyle ?? config.endpoint !== undefined,
    maxAttempts: config.maxAttempts ?? DEFAULT_S3_MAX_ATTEMPTS,
    requestHandler: { connectionTimeout: config.connectTimeoutMs ?? DEFAULT_S3_CONNECT_TIMEOUT_MS },
  };
}

/** An ObjectStore over one S3 bucket (AWS or any S3-compatible server), multipart uploads via lib-storage. */
export class S3ObjectStore extends BaseObjectStore {
  readonly location: string;
  readonly client: S3Client;
  private readonly bucket: string;
  private readonly prefix: string;

  constructor(readonly config: S3StoreConfig) {
    super(config.maxGetBytes);
    if (!config.bucket) throw new Error('S3 store: bucket must be a non-empty string');
    const prefix = config.prefix ?? '';
    if (prefix !== '') assertValidKey(prefix);
    this.bucket = config.bucket;
    this.prefix = prefix === '' ? '' : `${prefix}/`;
    this.location = describeS3Location(config);
    this.client = new S3Client(s3ClientConfig(config));
  }

  private objectKey(key: string): string {
    assertValidKey(key);
    return this.prefix + key;
  }

  private fail(operation: string, key: string, error: unknown): never {
    throw new Error(
      describeS3Error(error, { operation, key, location: this.location, config: this.config }),
      {
        cause: error,
      },
    );
  }

  /** Fails fast, naming the endpoint, when the server is unreachable, the credentials are wrong or the bucket is missing. */
  async checkReachable(): Promise<void> {
    const probe = new S3Client(
      s3ClientConfig({ ...this.config, maxAttempts: 1, connectTimeoutMs: S3_HEALTH_TIMEOUT_MS }),
    );
    try {
      // A one-key listing, not HeadBucket: a HEAD answer has no body, so "no such bucket" and "unknown
      // access key" (versitygw answers 404 to both) could not be told apart; it also checks list rights.
      await probe.send(new ListObjectsV2Command({ Bucket: this.bucket, Prefix: this.prefix, MaxKeys: 1 }), {
        abortSignal: AbortSignal.timeout(S3_HEALTH_TIMEOUT_MS),
      });
    } catch (error) {
      this.fail('ListObjectsV2', '', error);
    } finally {
      probe.destroy();
    }
  }

  /** Creates the bucket when it does not exist (test stacks and first runs). */
  async ensureBucket(): Promise<void> {
    try {
      await this.client.send(new HeadBucketCommand({ Bucket: this.bucket }));
      return;
    } catch (error) {
      if (!isS3NotFound(error)) this.fail('HeadBucket', '', error);
    }
    try {
      await this.client.send(new CreateBucketCommand({ Bucket: this.bucket }));
    } catch (error) {
      const name = (error as Error).name;
      if (name !== 'BucketAlreadyOwnedByYou' && name !== 'BucketAlreadyExists')
        this.fail('CreateBucket', '', error);
    }
  }

  /**
   * lib-storage sends one PutObject below partSize and a multipart upload above (at most queueSize parts
   * in flight, so memory stays near partSize × queueSize); either is atomic, and a failed multipart upload
   * is aborted. The bytes are hashed on their way to the upload.
   */
  async putStream(key: string, source: PutSource): Promise<StoredObject> {
    const Key = this.objectKey(key);
    const hashing = hashingStream();
    const partSize = await this.partSizeFor(source);
    const input = putSourceStream(source);
    // Not awaited: the upload drains the hashing stream; a source error destroys it, failing the upload.
    pipeline(input, hashing.stream).catch(() => undefined);
    try {
      await new Upload({
        client: this.client,
        params: { Bucket: this.bucket, Key, Body: hashing.stream },
        partSize,
        queueSize: this.config.uploadQueueSize ?? DEFAULT_S3_UPLOAD_QUEUE_SIZE,
      }).done();
    } catch (error) {
      input.destroy();
      this.fail('PutObject', key, error);
    }
    return { key, ...hashing.digest() };
  }

  /** The configured part size, raised for an object so large that it would need more than S3's 10,000 parts. */
  private async partSizeFor(source: PutSource): Promise<number> {
    const configured = this.config.partSizeBytes ?? DEFAULT_S3_PART_SIZE_BYTES;
    if (source instanceof Readable) return configured;
    const size = typeof source === 'string' ? (await stat(source)).size : source.size;
    return Math.max(configured, Math.ceil(size / S3_MAX_PARTS));
  }

  protected async openObject(key: string): Promise<OpenedObject> {
    try {
      const out = await this.client.send(
        new GetObjectCommand({ Bucket: this.bucket, Key: this.objectKey(key) }),
      );
      return { stream: out.Body as Readable, size: out.ContentLength ?? 0 };
    } catch (error) {
      if (isS3NotFound(error)) throw new ObjectNotFoundError(key, this.location);
      this.fail('GetObject', key, error);
    }
  }

  async head(key: string): Promise<ObjectInfo | undefined> {
    try {
      const out = await this.client.send(
        new HeadObjectCommand({ Bucket: this.bucket, Key: this.objectKey(key) }),
      );
      return { key, size: out.ContentLength ?? 0 };
    } catch (error) {
      if (isS3NotFound(error)) return undefined;
      this.fail('HeadObject', key, error);
    }
  }

  async list(prefix: string): Promise<ObjectInfo[]> {
    assertValidPrefix(prefix);
    const found: ObjectInfo[] = [];
    let ContinuationToken: string | undefined;
    do {
      let out;
      try {
        out = await this.client.send(
          new ListObjectsV2Command({ Bucket: this.bucket, Prefix: this.prefix + prefix, ContinuationToken }),
        );
      } catch (error) {
        this.fail('ListObjectsV2', prefix, error);
      }
      for (const item of out.Contents ?? []) {
        found.push({ key: item.Key!.slice(this.prefix.length), size: item.Size ?? 0 });
      }
      ContinuationToken = out.IsTruncated ? out.NextContinuationToken : undefined;
    } while (ContinuationToken);
    return found;
  }

  async delete(key: string): Promise<void> {
    try {
      await this.client.send(new DeleteObjectCommand({ Bucket: this.bucket, Key: this.objectKey(key) }));
    } catch (error) {
      if (!isS3NotFound(error)) this.fail('DeleteObject', key, error);
    }
  }

  async deleteMany(keys: readonly string[]): Promise<void> {
    /** DeleteObjects takes at most 1000 keys per request (S3 API limit). */
    const batch = 1000;
    for (let i = 0; i < keys.length; i += batch) {
      const Objects = keys.slice(i, i + batch).map((key) => ({ Key: this.objectKey(key) }));
      let out;
      try {
        out = await this.client.send(new DeleteObjectsCommand({ Bucket: this.bucket, Delete: { Objects } }));
      } catch (error) {
        this.fail('DeleteObjects', keys[i]!, error);
      }
      const failed = (out.Errors ?? []).filter((e) => e.Code !== 'NoSuchKey');
      if (failed.length > 0) {
        const first = failed[0]!;
        throw new Error(
          `${this.location}: DeleteObjects failed for ${failed.length} keys, e.g. ${first.Key}: ${first.Code} ${first.Message ?? ''}`,
        );
      }
    }
  }

  destroy(): void {
    this.client.destroy();
  }
}
