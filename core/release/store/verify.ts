/**
 * Verifies released or staged bytes against what they are claimed to be: the `.gz` size and SHA-256
 * (against the checksum S3 keeps, when it is a full-object one, and always by hashing the bytes
 * read), and the raw binary's size and SHA-256 by decompressing in a stream with a size cap.
 */
import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';
import { createGunzip } from 'node:zlib';
import { ReleaseError } from '../errors';
import { MAX_COMPRESSED_BYTES, MAX_RAW_BYTES } from '../publish/request';
import { base64ToHex, type ReleaseStore, type StoredObject } from './store';

export interface ExpectedArtifact {
  readonly size: number;
  readonly sha256: string;
  readonly rawSize: number;
  readonly rawSha256: string;
}

export function sha256Hex(bytes: Buffer): string {
  return createHash('sha256').update(bytes).digest('hex');
}

/** Reads `key` and checks its size and SHA-256; returns the bytes. */
export async function readVerified(
  store: ReleaseStore,
  key: string,
  expected: { readonly size: number; readonly sha256: string },
  maxBytes = MAX_COMPRESSED_BYTES,
): Promise<StoredObject> {
  const where = `s3://${store.bucket}/${key}`;
  // One GET: the store refuses bodies over the cap from Content-Length, before reading them.
  const object = await store.get(key, Math.max(maxBytes, 0));
  if (!object) throw new ReleaseError('not-found', `${where} does not exist`);
  if (object.body.length !== expected.size) {
    throw new ReleaseError(
      'verification',
      `size check failed for ${where}: ${object.body.length} bytes, expected ${expected.size}`,
    );
  }
  const checksum = object.checksumSha256;
  if (checksum && !checksum.includes('-') && base64ToHex(checksum) !== expected.sha256) {
    throw new ReleaseError(
      'verification',
      `sha256 check failed for ${where}: S3 checksum is ${base64ToHex(checksum)}, expected ${expected.sha256}`,
    );
  }
  const actual = sha256Hex(object.body);
  if (actual !== expected.sha256) {
    throw new ReleaseError(
      'verification',
      `sha256 check failed for ${where}: got ${actual}, expected ${expected.sha256}`,
    );
  }
  return object;
}

/** Decompresses `gz` in a stream, never holding the raw binary, and checks its size and SHA-256. */
export async function verifyRaw(
  gz: Buffer,
  expected: { rawSize: number; rawSha256: string },
  where: string,
): Promise<void> {
  const hash = createHash('sha256');
  let size = 0;
  const limit = Math.min(expected.rawSize, MAX_RAW_BYTES);
  const gunzip = createGunzip();
  try {
    for await (const chunk of Readable.from([gz]).pipe(gunzip)) {
      size += (chunk as Buffer).length;
      if (size > limit) {
        gunzip.destroy();
        throw new ReleaseError(
          'verification',
          `binary size check failed for ${where}: more than ${expected.rawSize} bytes`,
        );
      }
      hash.update(chunk as Buffer);
    }
  } catch (error) {
    if (error instanceof ReleaseError) throw error;
    throw new ReleaseError('verification', `gzip check failed for ${where}: ${(error as Error).message}`);
  }
  if (size !== expected.rawSize) {
    throw new ReleaseError(
      'verification',
      `binary size check failed for ${where}: ${size} bytes, expected ${expected.rawSize}`,
    );
  }
  const actual = hash.digest('hex');
  if (actual !== expected.rawSha256) {
    throw new ReleaseError(
      'verification',
      `sha256 check failed for ${where}: raw binary is ${actual}, expected ${expected.rawSha256}`,
    );
  }
}

/** Both checks: the `.gz` bytes, then the binary inside it. */
export async function readVerifiedArtifact(
  store: ReleaseStore,
  key: string,
  expected: ExpectedArtifact,
): Promise<StoredObject> {
  const object = await readVerified(store, key, expected);
  await verifyRaw(object.body, expected, `s3://${store.bucket}/${key}`);
  return object;
}
