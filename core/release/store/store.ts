/**
 * The release store: the few S3 operations release control needs, with the write semantics that make
 * it safe: create-only writes (`If-None-Match: *`) for immutable keys, compare-and-swap (`If-Match` on
 * the ETag) for pointers and state documents, and SHA-256 checksums on every write so S3 refuses
 * bytes that changed in transit.
 *
 * `S3ReleaseStore` is the implementation; tests run it against moto over HTTP. Anything else that
 * implements `ReleaseStore` (an in-process fake for what moto cannot do) sees the same callers.
 */
import {
  GetObjectCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  S3ServiceException,
  type S3Client,
} from '@aws-sdk/client-s3';
import { ReleaseError } from '../errors';

export interface ObjectInfo {
  readonly size: number;
  readonly etag: string;
  /** Base64 SHA-256 that S3 keeps for the object; composite checksums end in `-N`. */
  readonly checksumSha256?: string;
  /** User metadata (`x-amz-meta-*`), lowercase keys. */
  readonly metadata: Readonly<Record<string, string>>;
}

export interface StoredObject extends ObjectInfo {
  readonly body: Buffer;
}

export interface WriteOptions {
  readonly contentType: string;
  /** SHA-256 of `body`, lowercase hex; sent as `x-amz-checksum-sha256` so S3 verifies the bytes. */
  readonly sha256: string;
  /** @default none */
  readonly cacheControl?: string;
  /** @default {} */
  readonly metadata?: Readonly<Record<string, string>>;
}

/** `created`/`written` on success; `exists`/`conflict` when the condition failed (nothing written). */
export type CreateResult = 'created' | 'exists';
export type SwapResult = 'written' | 'conflict';

export interface ReleaseStore {
  readonly bucket: string;
  head(key: string): Promise<ObjectInfo | undefined>;
  /** Reads an object; refuses objects larger than `maxBytes` before reading them. */
  get(key: string, maxBytes: number): Promise<StoredObject | undefined>;
  /** Writes only if no object exists at `key`. */
  putIfAbsent(key: string, body: Buffer, options: WriteOptions): Promise<CreateResult>;
  /** Writes only if the object's ETag is still `etag` (or, for `undefined`, if there is no object). */
  putIfMatch(key: string, body: Buffer, etag: string | undefined, options: WriteOptions): Promise<SwapResult>;
  /** Keys (and with a delimiter, common prefixes) under `prefix`. */
  list(prefix: string, delimiter?: string): Promise<{ keys: string[]; prefixes: string[] }>;
}

export class S3ReleaseStore implements ReleaseStore {
  constructor(
    private readonly s3: S3Client,
    readonly bucket: string,
  ) {}

  async head(key: string): Promise<ObjectInfo | undefined> {
    try {
      const out = await this.s3.send(
        new HeadObjectCommand({ Bucket: this.bucket, Key: key, ChecksumMode: 'ENABLED' }),
      );
      return {
        size: out.ContentLength ?? 0,
        etag: out.ETag ?? '',
        checksumSha256: out.ChecksumSHA256,
        metadata: out.Metadata ?? {},
      };
    } catch (error) {
      if (isStatus(error, 404)) return undefined;
      throw error;
    }
  }

  async get(key: string, maxBytes: number): Promise<StoredObject | undefined> {
    try {
      const out = await this.s3.send(
        new GetObjectCommand({ Bucket: this.bucket, Key: key, ChecksumMode: 'ENABLED' }),
      );
      const size = out.ContentLength ?? 0;
      if (size > maxBytes) {
        // Drop the connection rather than read a body we refuse.
        (out.Body as { destroy?: () => void } | undefined)?.destroy?.();
        throw new ReleaseError(
          'verification',
          `s3://${this.bucket}/${key} is ${size} bytes, over the ${maxBytes}-byte limit`,
        );
      }
      const body = Buffer.from((await out.Body?.transformToByteArray()) ?? new Uint8Array());
      if (body.length > maxBytes) {
        throw new ReleaseError(
          'verification',
          `s3://${this.bucket}/${key} is over the ${maxBytes}-byte limit`,
        );
      }
      return {
        body,
        size: body.length,
        etag: out.ETag ?? '',
        checksumSha256: out.ChecksumSHA256,
        metadata: out.Metadata ?? {},
      };
    } catch (error) {
      if (isStatus(error, 404)) return undefined;
      throw error;
    }
  }

  async putIfAbsent(key: string, body: Buffer, options: WriteOptions): Promise<CreateResult> {
    try {
      await this.s3.send(new PutObjectCommand({ ...this.putInput(key, body, options), IfNoneMatch: '*' }));
      return 'created';
    } catch (error) {
      if (isConditionFailure(error)) return 'exists';
      throw error;
    }
  }

  async putIfMatch(
    key: string,
    body: Buffer,
    etag: string | undefined,
    options: WriteOptions,
  ): Promise<SwapResult> {
    const condition = etag === undefined ? { IfNoneMatch: '*' } : { IfMatch: etag };
    try {
      await this.s3.send(new PutObjectCommand({ ...this.putInput(key, body, options), ...condition }));
      return 'written';
    } catch (error) {
      // 412: the ETag moved (or the object appeared); 409: a concurrent conditional write won;
      // 404: the object we expected was deleted. All mean: re-read and decide again.
      if (isConditionFailure(error) || (etag !== undefined && isStatus(error, 404))) return 'conflict';
      throw error;
    }
  }

  async list(prefix: string, delimiter?: string): Promise<{ keys: string[]; prefixes: string[] }> {
    const keys: string[] = [];
    const prefixes: string[] = [];
    let token: string | undefined;
    do {
      const out = await this.s3.send(
        new ListObjectsV2Command({
          Bucket: this.bucket,
          Prefix: prefix,
          Delimiter: delimiter,
          ContinuationToken: token,
        }),
      );
      for (const object of out.Contents ?? []) if (object.Key) keys.push(object.Key);
      for (const common of out.CommonPrefixes ?? []) if (common.Prefix) prefixes.push(common.Prefix);
      token = out.IsTruncated ? out.NextContinuationToken : undefined;
    } while (token);
    return { keys, prefixes };
  }

  private putInput(key: string, body: Buffer, options: WriteOptions) {
    return {
      Bucket: this.bucket,
      Key: key,
      Body: body,
      ContentLength: body.length,
      ContentType: options.contentType,
      CacheControl: options.cacheControl,
      Metadata: options.metadata ? { ...options.metadata } : undefined,
      ChecksumSHA256: hexToBase64(options.sha256),
    };
  }
}

export function hexToBase64(hex: string): string {
  return Buffer.from(hex, 'hex').toString('base64');
}

export function base64ToHex(base64: string): string {
  return Buffer.from(base64, 'base64').toString('hex');
}

function isStatus(error: unknown, status: number): boolean {
  if (error instanceof S3ServiceException) return error.$metadata.httpStatusCode === status;
  return (error as { $metadata?: { httpStatusCode?: number } })?.$metadata?.httpStatusCode === status;
}

function isConditionFailure(error: unknown): boolean {
  return isStatus(error, 412) || isStatus(error, 409);
}
