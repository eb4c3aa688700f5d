/**
 * One pass over the bytes: download -> SHA-256 of the compressed stream -> gunzip -> SHA-256 of the
 * raw output -> a 0600 temp file beside the destination -> check both hashes and sizes, then the
 * executable (its ELF header and program headers, from the first 64 KiB kept from the stream) ->
 * atomic rename -> chmod 0755. The download is capped at `compressed_size` and the output at
 * `binary_size`, so endless bodies and gzip bombs stop at the cap. Nothing executable exists until
 * every check passed and the file is closed; on any failure the temp file is removed. The checks
 * themselves are pure (./checks.ts); this module does the I/O.
 */
import { createHash, randomBytes } from 'node:crypto';
import { createReadStream, createWriteStream, type WriteStream } from 'node:fs';
import { chmod, rename, stat, statfs, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { Transform, type TransformCallback } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGunzip } from 'node:zlib';
import { ELF_HEAD_BYTES } from '../elf';
import type { WatchyMetadata } from '../metadata';
import { checkExecutable, compressedCap, expectMatch } from './checks';
import { LoaderError } from './errors';
import { asLoaderError, expectStatus, type HttpClient } from './http';

/** Temp files start with this; anything left by a killed process is removed at the next start. */
export const PARTIAL_PREFIX = '.partial-';
/** Verified binaries are kept as `{dest}/sha256-{hex}`. */
export const BINARY_PREFIX = 'sha256-';
/** Output buffer of the gunzip stream: fewer, larger hand-offs to the zlib thread. */
const INFLATE_CHUNK_BYTES = 256 * 1024;
/**
 * Stream buffers: enough for inflate (on the libuv pool) to run ahead while the main thread
 * hashes and the file write (also on the pool) completes, so the stages overlap instead of
 * taking turns. Memory stays bounded by these, not by the binary.
 */
const STAGE_BUFFER_BYTES = 1024 * 1024;

export function binaryPath(destDir: string, sha256: string): string {
  return join(destDir, `${BINARY_PREFIX}${sha256}`);
}

/**
 * Counts and hashes what flows through, and fails the moment more than `cap` bytes arrive. Keeps a
 * copy of the first `headBytes` (an executable's ELF header and program headers), so checking
 * them takes no second read of the file.
 */
class MeteredHash extends Transform {
  readonly hash = createHash('sha256');
  bytes = 0;
  private readonly headBuffer: Buffer;
  private headLength = 0;

  constructor(
    private readonly cap: number,
    private readonly overflow: () => LoaderError,
    headBytes = 0,
  ) {
    super({ highWaterMark: STAGE_BUFFER_BYTES });
    this.headBuffer = Buffer.allocUnsafe(headBytes);
  }

  /** The first bytes that went through, up to `headBytes`. */
  get head(): Buffer {
    return this.headBuffer.subarray(0, this.headLength);
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    this.bytes += chunk.length;
    if (this.bytes > this.cap) {
      callback(this.overflow());
      return;
    }
    this.hash.update(chunk);
    if (this.headLength < this.headBuffer.length)
      this.headLength += chunk.copy(this.headBuffer, this.headLength);
    callback(null, chunk);
  }
}

/** Refuses before downloading when the destination's filesystem cannot hold the binary. */
export async function assertFreeSpace(destDir: string, url: string, bytes: number): Promise<void> {
  const fs = await statfs(destDir);
  const free = fs.bavail * fs.bsize;
  if (free < bytes) {
    throw new LoaderError('disk-space', url, `${destDir} has ${free} bytes free, the binary needs ${bytes}`);
  }
}

/** Downloads, verifies and installs the binary `metadata` names at `binaryPath(destDir, sha256)`. */
export async function downloadAndInstall(
  client: HttpClient,
  metadata: WatchyMetadata,
  destDir: string,
): Promise<string> {
  const url = metadata.download_url;
  const finalPath = binaryPath(destDir, metadata.sha256);
  await assertFreeSpace(destDir, url, metadata.binary_size);
  const tempPath = join(destDir, `${PARTIAL_PREFIX}${metadata.sha256}-${randomBytes(6).toString('hex')}`);
  try {
    await client.withRetries(async () => {
      await unlink(tempPath).catch(() => undefined);
      await downloadOnce(client, metadata, tempPath);
    });
    await rename(tempPath, finalPath);
    await chmod(finalPath, 0o755);
    return finalPath;
  } catch (error) {
    await unlink(tempPath).catch(() => undefined);
    throw error;
  }
}

async function downloadOnce(client: HttpClient, metadata: WatchyMetadata, tempPath: string): Promise<void> {
  const url = metadata.download_url;
  const response = await client.open(url);
  expectStatus(response, url, [200]);
  const cap = compressedCap(metadata);
  const declared = Number(response.headers['content-length'] ?? NaN);
  if (declared > cap) {
    response.destroy();
    throw new LoaderError('compressed-size', url, `server offers ${declared} bytes, metadata allows ${cap}`);
  }
  const compressed = new MeteredHash(
    cap,
    () => new LoaderError('compressed-size', url, `server sent more than the ${cap} bytes metadata allows`),
  );
  const raw = new MeteredHash(
    metadata.binary_size,
    () =>
      new LoaderError(
        'binary-size',
        url,
        `gzip output exceeds binary_size ${metadata.binary_size} (decompression stopped at the cap)`,
      ),
    ELF_HEAD_BYTES,
  );
  const file: WriteStream = createWriteStream(tempPath, {
    flags: 'wx',
    mode: 0o600,
    highWaterMark: STAGE_BUFFER_BYTES,
  });
  try {
    await pipeline(response, compressed, createGunzip({ chunkSize: INFLATE_CHUNK_BYTES }), raw, file);
  } catch (error) {
    throw classify(error, url);
  } finally {
    if (!file.closed) await new Promise<void>((resolve) => file.once('close', () => resolve()));
  }
  expectMatch(url, 'compressed-size', metadata.compressed_size, compressed.bytes);
  expectMatch(url, 'compressed-sha256', metadata.compressed_sha256, compressed.hash.digest('hex'));
  expectMatch(url, 'binary-size', metadata.binary_size, raw.bytes);
  expectMatch(url, 'sha256', metadata.sha256, raw.hash.digest('hex'));
  checkExecutable(url, metadata, raw.head, raw.bytes);
}

function classify(error: unknown, url: string): LoaderError {
  if (error instanceof LoaderError) return error;
  const err = error as NodeJS.ErrnoException;
  if (err.code === 'ENOSPC' || err.code === 'EDQUOT') {
    return new LoaderError('disk-space', url, `no space left while writing the binary (${err.code})`);
  }
  if (err.code === 'EFBIG') {
    return new LoaderError(
      'disk-space',
      url,
      'the binary exceeds the file size limit while writing it (EFBIG)',
    );
  }
  if (typeof err.code === 'string' && err.code.startsWith('Z_')) {
    return new LoaderError('gzip', url, `not a valid gzip stream (${err.code}: ${err.message})`);
  }
  if (err.syscall === 'open' || err.syscall === 'write' || err.syscall === 'close') {
    return new LoaderError('write', url, `${err.code ?? 'error'}: ${err.message}`);
  }
  return asLoaderError(error, url);
}

/** True when `path` holds exactly the binary `metadata` describes (size, then SHA-256). */
export async function fileMatches(path: string, metadata: WatchyMetadata): Promise<boolean> {
  try {
    if ((await stat(path)).size !== metadata.binary_size) return false;
    const hash = createHash('sha256');
    for await (const chunk of createReadStream(path, { highWaterMark: 1024 * 1024 }))
      hash.update(chunk as Buffer);
    return hash.digest('hex') === metadata.sha256;
  } catch {
    return false;
  }
}
