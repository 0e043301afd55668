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
import { randomBytes } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdir, rename, rm, stat } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import {
  ObjectNotFoundError,
  assertValidKey,
  assertValidPrefix,
  type ObjectBody,
  type ObjectInfo,
  type ObjectStore,
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
}

/** us-east-1 is what AWS assumes without a region and what versitygw and MinIO accept by default. */
export const DEFAULT_S3_REGION = 'us-east-1';
/** The SDK's own default is 3 attempts; kept, but named so a health check can use 1. */
export const DEFAULT_S3_MAX_ATTEMPTS = 3;
/** A loopback or LAN endpoint answers a TCP connect in milliseconds; 5 s flags a dead one without waiting long. */
export const DEFAULT_S3_CONNECT_TIMEOUT_MS = 5_000;
/** S3's minimum part is 5 MiB; 8 MiB matches the AWS CLI's default multipart chunk. */
export const DEFAULT_S3_PART_SIZE_BYTES = 8 * 1024 * 1024;
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
export class S3ObjectStore implements ObjectStore {
  readonly location: string;
  readonly client: S3Client;
  private readonly bucket: string;
  private readonly prefix: string;

  constructor(readonly config: S3StoreConfig) {
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

  async put(key: string, body: ObjectBody): Promise<ObjectInfo> {
    const Key = this.objectKey(key);
    try {
      // lib-storage sends one PutObject below partSize and a multipart upload above; either is atomic.
      await new Upload({
        client: this.client,
        params: { Bucket: this.bucket, Key, Body: body },
        partSize: this.config.partSizeBytes ?? DEFAULT_S3_PART_SIZE_BYTES,
        queueSize: this.config.uploadQueueSize ?? DEFAULT_S3_UPLOAD_QUEUE_SIZE,
      }).done();
    } catch (error) {
      this.fail('PutObject', key, error);
    }
    if (body instanceof Uint8Array) return { key, size: body.byteLength };
    const info = await this.head(key);
    if (!info) throw new Error(`${this.location}: ${key} is missing right after it was uploaded`);
    return info;
  }

  async putFile(key: string, path: string): Promise<ObjectInfo> {
    const size = (await stat(path)).size;
    await this.put(key, createReadStream(path));
    return { key, size };
  }

  async getStream(key: string): Promise<Readable> {
    try {
      const out = await this.client.send(
        new GetObjectCommand({ Bucket: this.bucket, Key: this.objectKey(key) }),
      );
      return out.Body as Readable;
    } catch (error) {
      if (isS3NotFound(error)) throw new ObjectNotFoundError(key, this.location);
      this.fail('GetObject', key, error);
    }
  }

  async get(key: string): Promise<Uint8Array> {
    const stream = await this.getStream(key);
    const chunks: Buffer[] = [];
    for await (const chunk of stream) chunks.push(chunk as Buffer);
    return new Uint8Array(Buffer.concat(chunks));
  }

  async getFile(key: string, path: string): Promise<ObjectInfo> {
    const source = await this.getStream(key);
    const temp = `${path}.tmp-${process.pid}-${randomBytes(4).toString('hex')}`;
    await mkdir(dirname(resolve(path)), { recursive: true });
    try {
      await pipeline(source, createWriteStream(temp));
      await rename(temp, path);
    } catch (error) {
      await rm(temp, { force: true });
      throw error;
    }
    return { key, size: (await stat(path)).size };
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

  async exists(key: string): Promise<boolean> {
    return (await this.head(key)) !== undefined;
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
