/**
 * The packaging step: one built binary in, the seed's distribution set out.
 *
 *   watchy-{name}-{version}            the raw binary (mode 0755)
 *   watchy-{name}-{version}.gz         gzip of it (the released artifact)
 *   watchy-{name}.json                 metadata (what the latest pointer will hold)
 *   watchy-{name}-{version}.json       the same metadata under its versioned name
 *   watchy-{app}-lambda{-arch}-{version}.zip   Lambda deployment package of the binary
 *
 * Names come from `distFileNames` (core/artifacts.ts). The binary is read once: the SHA-256
 * and size of the raw bytes and of the gzip output, the raw copy, the gzip and the zip entry are
 * all produced in that one pass. Output is reproducible: the same binary gives byte-identical `.gz`
 * and `.zip` (gzip header with no name and mtime 0; zip with fixed time and mode).
 *
 * Every check (names, version, URL, the ELF machine, and that the kernel could load the ELF:
 * core/elf.ts assertElfLoadable) runs before anything is written, and the files are written
 * into a scratch directory next to the output and moved in only when all are done, so a failure
 * leaves the output directory as it was.
 */
import { createHash } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { chmod, mkdir, mkdtemp, rename, rm, stat, writeFile } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';
import { once } from 'node:events';
import { Transform, type TransformCallback, type Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGzip } from 'node:zlib';
import {
  artifactName,
  assertAppName,
  assertVersion,
  distFileNames,
  releaseKeys,
  BINARIES_PREFIX,
  type Architecture,
  type BinaryType,
  type DistFileNames,
} from '../artifacts';
import { assertElfArchitecture, assertElfLoadable, parseElfHeader, readElfHead } from '../elf';
import { parseMetadata, serializeMetadata, type WatchyMetadata } from '../metadata';
import { METADATA_SCHEMA_VERSION, RUNTIME_ENVIRONMENT } from '../versions';
import { SingleEntryZipWriter } from './zip';

/** The seed's BinaryDistributionUrl, used when neither `--base-url` nor WATCHY_BASE_URL is given. */
export const DEFAULT_BASE_URL = 'https://releases.watchy.cloud/binaries';
/** Largest binary accepted (the metadata schema's `binary_size` maximum). */
export const MAX_BINARY_BYTES = 4 * 1024 * 1024 * 1024;

export class PackagingError extends Error {
  override readonly name = 'PackagingError';
}

export interface PackageOptions {
  readonly app: string;
  readonly binaryType: BinaryType;
  readonly architecture: Architecture;
  readonly version: string;
  /** The built binary. */
  readonly binaryPath: string;
  /** Directory receiving the set; created when missing. Files of other artifacts in it are kept. */
  readonly outDir: string;
  /** Written as `saas_app`: the catalog's display name. */
  readonly saasApp: string;
  /** BinaryDistributionUrl: `download_url` is this + '/' + the versioned key below `binaries/`. */
  readonly baseUrl: string;
  /** Required for nuitka binaries (`python_version`). */
  readonly pythonVersion?: string;
  /** Git commit the binary was built from. */
  readonly sourceRevision?: string;
  /** CodeBuild build id, or a local one. */
  readonly buildId?: string;
  /** @default now */
  readonly buildTime?: Date;
}

export interface PackageResult {
  readonly outDir: string;
  readonly files: DistFileNames;
  readonly metadata: WatchyMetadata;
  readonly zipSize: number;
}

/** Checks the URL form of BinaryDistributionUrl and drops trailing slashes. */
export function normalizeBaseUrl(baseUrl: string): string {
  let url: URL;
  try {
    url = new URL(baseUrl);
  } catch {
    throw new PackagingError(`invalid base URL ${JSON.stringify(baseUrl)}: expected an https:// URL`);
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') {
    throw new PackagingError(`invalid base URL ${JSON.stringify(baseUrl)}: expected an https:// URL`);
  }
  if (url.search || url.hash || /\s/.test(baseUrl)) {
    throw new PackagingError(`invalid base URL ${JSON.stringify(baseUrl)}: no query, fragment or spaces`);
  }
  return baseUrl.replace(/\/+$/, '');
}

/** `{baseUrl}/{name}/watchy-{name}-{version}.gz`: the versioned key relative to `binaries/`. */
export function downloadUrl(
  baseUrl: string,
  ref: { app: string; binaryType: BinaryType; architecture: Architecture },
  version: string,
): string {
  const key = releaseKeys(ref, version).versionedBinary;
  return `${normalizeBaseUrl(baseUrl)}/${key.slice(BINARIES_PREFIX.length + 1)}`;
}

/** ISO-8601 UTC to the second, as the seed writes it. */
export function buildTimestamp(at: Date): string {
  return at.toISOString().replace(/\.\d{3}Z$/, 'Z');
}

/** Writes a chunk; resolves once the stream can take more (the listener is attached before any drain). */
async function writeWithBackpressure(stream: Writable, chunk: Buffer): Promise<void> {
  if (!stream.write(chunk)) await once(stream, 'drain');
}

/** Counts and hashes what passes through. */
class Digest extends Transform {
  private readonly hash = createHash('sha256');
  size = 0;
  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    this.hash.update(chunk);
    this.size += chunk.length;
    callback(null, chunk);
  }
  hex(): string {
    return this.hash.digest('hex');
  }
}

export async function packageBinary(options: PackageOptions): Promise<PackageResult> {
  const { app, binaryType, architecture, version } = options;
  assertAppName(app);
  assertVersion(version);
  const ref = { app, binaryType, architecture };
  const files = distFileNames(ref, version);
  const url = downloadUrl(options.baseUrl, ref, version);
  if (binaryType === 'nuitka' && !options.pythonVersion) {
    throw new PackagingError('a nuitka binary needs its python version');
  }
  const binaryPath = resolve(options.binaryPath);
  const info = await stat(binaryPath).catch((error: NodeJS.ErrnoException) => {
    throw new PackagingError(`cannot read binary ${options.binaryPath}: ${error.code ?? error.message}`);
  });
  if (!info.isFile()) throw new PackagingError(`binary ${options.binaryPath} is not a regular file`);
  if (info.size === 0) throw new PackagingError(`binary ${options.binaryPath} is empty`);
  if (info.size > MAX_BINARY_BYTES) throw new PackagingError(`binary ${options.binaryPath} is over 4 GiB`);
  // The header and program headers, from one read of the file's first bytes.
  const head = await readElfHead(binaryPath);
  assertElfArchitecture(parseElfHeader(head, binaryPath), architecture, `binary ${options.binaryPath}`);
  assertElfLoadable(head, info.size, `binary ${options.binaryPath}`);

  const outDir = resolve(options.outDir);
  await mkdir(dirname(outDir), { recursive: true });
  const scratch = await mkdtemp(join(dirname(outDir), `.${basename(outDir)}.partial-`));
  try {
    const rawDigest = new Digest();
    const gzDigest = new Digest();
    const gzip = createGzip({ level: 9 });
    const zipEntry = binaryType === 'rust' ? 'bootstrap' : `watchy-${artifactName(ref)}`;
    const zip = new SingleEntryZipWriter(join(scratch, files.lambdaZip), zipEntry);
    const rawOut = createWriteStream(join(scratch, files.raw), { mode: 0o755 });
    const gzWritten = pipeline(gzip, gzDigest, createWriteStream(join(scratch, files.gz), { mode: 0o644 }));
    gzWritten.catch(() => undefined); // awaited below; this only keeps an early failure from going unhandled
    // The one pass over the binary: raw copy, raw digest, gzip (-> gz digest) and zip entry.
    const fanOut = new Transform({
      transform(chunk: Buffer, _encoding, callback) {
        Promise.all([writeWithBackpressure(gzip, chunk), zip.write(chunk)]).then(
          () => callback(null, chunk),
          callback,
        );
      },
      flush(callback) {
        gzip.end();
        callback();
      },
    });
    try {
      await pipeline(createReadStream(binaryPath), rawDigest, fanOut, rawOut);
      await gzWritten;
    } catch (error) {
      await zip.abort();
      gzip.destroy();
      throw error;
    }
    const zipSize = await zip.finish();
    await chmod(join(scratch, files.raw), 0o755);
    if (rawDigest.size !== info.size) {
      throw new PackagingError(`binary ${options.binaryPath} changed while it was being packaged`);
    }

    const draft = {
      version,
      build_time: buildTimestamp(options.buildTime ?? new Date()),
      saas_app: options.saasApp,
      binary_type: binaryType,
      binary_size: rawDigest.size,
      sha256: rawDigest.hex(),
      download_url: url,
      compression: 'gzip',
      target_architecture: architecture,
      target_os: 'linux',
      lambda_compatible: true,
      runtime_environment: RUNTIME_ENVIRONMENT,
      ...(binaryType === 'nuitka' ? { python_version: options.pythonVersion } : {}),
      schema_version: METADATA_SCHEMA_VERSION,
      app,
      compressed_size: gzDigest.size,
      compressed_sha256: gzDigest.hex(),
      ...(options.sourceRevision ? { source_revision: options.sourceRevision } : {}),
      ...(options.buildId ? { build_id: options.buildId } : {}),
    };
    const metadata = parseMetadata(draft);
    const text = serializeMetadata(metadata);
    await writeFile(join(scratch, files.metadata), text, { mode: 0o644 });
    await writeFile(join(scratch, files.versionedMetadata), text, { mode: 0o644 });

    await mkdir(outDir, { recursive: true });
    for (const name of [files.raw, files.gz, files.lambdaZip, files.versionedMetadata, files.metadata]) {
      await rename(join(scratch, name), join(outDir, name));
    }
    return { outDir, files, metadata, zipSize };
  } finally {
    await rm(scratch, { recursive: true, force: true });
  }
}
