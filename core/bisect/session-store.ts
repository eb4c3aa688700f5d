/**
 * Bisect sessions as JSON documents in the release bucket (`state/bisect/sessions/{id}.json`),
 * written only with compare-and-swap: `If-None-Match: *` to create, `If-Match: <etag>` to update.
 * Two writers that read the same version cannot both succeed, so an event handled twice (EventBridge
 * delivers at least once) or out of order can never advance a session twice.
 */
import {
  GetObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  S3ServiceException,
  type S3Client,
} from '@aws-sdk/client-s3';
import { BISECT_PREFIX, commitsKey, sessionKey } from './contract';
import type { BisectSession } from './session';

export interface Versioned<T> {
  readonly value: T;
  readonly etag: string;
}

/** Another writer changed the document since it was read. */
export class ConflictError extends Error {
  override readonly name = 'ConflictError';
}

/** Documents larger than this are refused (a 10,000-commit session is about 1.5 MB). */
export const MAX_SESSION_BYTES = 4 * 1024 * 1024;

export class SessionStore {
  constructor(
    private readonly s3: S3Client,
    readonly bucket: string,
  ) {}

  async get(id: string): Promise<Versioned<BisectSession> | undefined> {
    try {
      const response = await this.s3.send(new GetObjectCommand({ Bucket: this.bucket, Key: sessionKey(id) }));
      const text = await response.Body!.transformToString('utf8');
      return { value: JSON.parse(text) as BisectSession, etag: response.ETag! };
    } catch (error) {
      if (isMissing(error)) return undefined;
      throw error;
    }
  }

  /** Creates the session; ConflictError when one with this id exists. */
  async create(session: BisectSession): Promise<Versioned<BisectSession>> {
    return this.put(session, { IfNoneMatch: '*' });
  }

  /** Replaces the version read as `etag`; ConflictError when it changed since. */
  async replace(session: BisectSession, etag: string): Promise<Versioned<BisectSession>> {
    return this.put(session, { IfMatch: etag });
  }

  /** Ids of every session, newest key order is not guaranteed. */
  async list(): Promise<string[]> {
    const ids: string[] = [];
    let token: string | undefined;
    const prefix = `${BISECT_PREFIX}/sessions/`;
    do {
      const page = await this.s3.send(
        new ListObjectsV2Command({ Bucket: this.bucket, Prefix: prefix, ContinuationToken: token }),
      );
      for (const object of page.Contents ?? []) {
        if (object.Key?.endsWith('.json')) ids.push(object.Key.slice(prefix.length, -'.json'.length));
      }
      token = page.IsTruncated ? page.NextContinuationToken : undefined;
    } while (token);
    return ids;
  }

  /** The commit list a list-commits build wrote for session `id`, or undefined. */
  async readCommitList(id: string): Promise<string | undefined> {
    try {
      const response = await this.s3.send(new GetObjectCommand({ Bucket: this.bucket, Key: commitsKey(id) }));
      return await response.Body!.transformToString('utf8');
    } catch (error) {
      if (isMissing(error)) return undefined;
      throw error;
    }
  }

  /** Writes a commit list (the CLI computes it with git when it has the repository). Create-only. */
  async writeCommitList(id: string, text: string): Promise<void> {
    try {
      await this.s3.send(
        new PutObjectCommand({
          Bucket: this.bucket,
          Key: commitsKey(id),
          Body: text,
          ContentType: 'text/tab-separated-values',
          IfNoneMatch: '*',
        }),
      );
    } catch (error) {
      if (!isConflict(error)) throw error;
      const existing = await this.readCommitList(id);
      if (existing !== text) throw new ConflictError(`a different commit list exists for session ${id}`);
    }
  }

  private async put(
    session: BisectSession,
    condition: { IfNoneMatch: string } | { IfMatch: string },
  ): Promise<Versioned<BisectSession>> {
    const body = JSON.stringify(session);
    if (Buffer.byteLength(body) > MAX_SESSION_BYTES) {
      throw new Error(`bisect session ${session.id} would exceed ${MAX_SESSION_BYTES} bytes`);
    }
    try {
      const response = await this.s3.send(
        new PutObjectCommand({
          Bucket: this.bucket,
          Key: sessionKey(session.id),
          Body: body,
          ContentType: 'application/json',
          ...condition,
        }),
      );
      return { value: session, etag: response.ETag! };
    } catch (error) {
      if (isConflict(error)) throw new ConflictError(`bisect session ${session.id} changed concurrently`);
      throw error;
    }
  }
}

function isMissing(error: unknown): boolean {
  return (
    error instanceof S3ServiceException &&
    (error.name === 'NoSuchKey' || error.$metadata.httpStatusCode === 404)
  );
}

/** 412 Precondition Failed, or 409 ConditionalRequestConflict for two conditional writes at once. */
function isConflict(error: unknown): boolean {
  if (!(error instanceof S3ServiceException)) return false;
  const status = error.$metadata.httpStatusCode;
  return status === 412 || status === 409 || error.name === 'PreconditionFailed';
}
