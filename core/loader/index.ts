/**
 * The consumer loader: fetches `{BinaryDistributionUrl}/{name}/watchy-{name}.json`, checks it, and
 * installs the binary it names, verified, in a local directory (Lambda: `/tmp`).
 *
 * Checks, in order: HTTP status and a 64 KiB size cap; JSON; the metadata JSON Schema; the ES256
 * signature with the deployment's public key (unsigned metadata only when explicitly allowed); the
 * target architecture; `metadata_version` never below the installed one (nor the deployment's
 * floor); the download URL naming the same version; `binary_size` within the deployment's limit;
 * free space; then, while streaming, the compressed size cap, the output size cap, and afterwards
 * both sizes, both SHA-256 hashes, and that the binary is an ELF executable for the target
 * architecture (or a `#!` script) rather than something that fails with "Exec format error".
 *
 * Warm starts send `If-None-Match` with the installed metadata's ETag: unchanged metadata costs one
 * round trip. Verified binaries are kept by hash, so a rollback to a binary still on disk, or
 * metadata re-signed for the same binary, downloads nothing. When the distribution is down or the
 * offered release fails a check, the installed verified binary stays and a warning says why.
 *
 * Node built-ins plus the small metadata and signing modules only: no AWS SDK.
 */
import { createHash, type KeyObject } from 'node:crypto';
import { mkdir, readdir, readFile, rm, unlink, writeFile, rename, stat } from 'node:fs/promises';
import { basename, join, resolve } from 'node:path';
import { isArchitecture, type Architecture } from '../artifacts';
import { MAX_METADATA_BYTES, MetadataError, parseMetadataJson, type WatchyMetadata } from '../metadata';
import { toPublicKey, verifyMetadataSignature } from '../signing';
import { LoaderError } from './errors';
import { oneLine } from '../one-line';
import { expectStatus, HttpClient, readCapped, type HttpSettings } from './http';
import { binaryPath, downloadAndInstall, fileMatches, PARTIAL_PREFIX } from './install';

export { LoaderError, type LoaderCheck } from './errors';
export type { HttpSettings } from './http';

export const DEFAULT_HTTP_SETTINGS: HttpSettings = {
  connectTimeoutMs: 3_000,
  idleTimeoutMs: 10_000,
  retries: 3,
  backoffMs: 200,
};

/**
 * Where a loader remembers what it installed for one metadata URL (so later `watchy fetch` runs see
 * earlier ones), beside the binaries: several artifacts may share a directory.
 */
export function stateFileName(metadataUrl: string): string {
  return `watchy-loader-${createHash('sha256').update(metadataUrl).digest('hex').slice(0, 16)}.json`;
}
const STATE_PREFIX = 'watchy-loader-';
/** A temp file untouched this long belongs to a process that is gone. */
const STALE_PARTIAL_MS = 60_000;

export interface LoaderOptions {
  /** `{BinaryDistributionUrl}/{name}/watchy-{name}.json` */
  readonly metadataUrl: string;
  /** Directory for verified binaries, temp files and the state file (created if missing). */
  readonly destDir: string;
  /** ECDSA P-256 public key: PEM, DER SPKI (as KMS GetPublicKey returns) or a KeyObject. */
  readonly publicKey?: string | Buffer | KeyObject;
  /** Accept metadata without a signature (the seed's format). @default false */
  readonly allowUnsigned?: boolean;
  /** Architecture binaries must target. @default this machine's */
  readonly architecture?: Architecture;
  /** Refuse releases whose `binary_size` is larger (the deployment sized /tmp for this). @default 4 GiB */
  readonly maxBinaryBytes?: number;
  /** Lowest `metadata_version` ever accepted, even on a fresh start. @default 0 */
  readonly minMetadataVersion?: number;
  /** Timeouts and retries. @default DEFAULT_HTTP_SETTINGS */
  readonly http?: Partial<HttpSettings>;
  /** Receives one-line warnings (retries, refused releases). @default console.warn */
  readonly warn?: (message: string) => void;
}

export interface InstalledBinary {
  /** Absolute path of the verified, executable binary. */
  readonly path: string;
  readonly metadata: WatchyMetadata;
}

/**
 * `downloaded`: a new release was verified and installed. `cached`: the offered release's binary
 * was already on disk, verified. `not-modified`: the metadata has not changed (HTTP 304).
 * `kept`: the offered release was refused or unreachable; the earlier verified binary stays.
 */
export type LoadOutcome = 'downloaded' | 'cached' | 'not-modified' | 'kept';

export interface LoadResult {
  readonly binary: InstalledBinary;
  readonly outcome: LoadOutcome;
  /** Why the offered release was refused (only with `kept`). */
  readonly refused?: LoaderError;
}

interface Installed extends InstalledBinary {
  readonly etag?: string;
}

interface StateFile {
  readonly metadataUrl: string;
  readonly etag?: string;
  /** The accepted metadata document, as received. */
  readonly metadata: string;
  /** SHA-256 of the binary installed before it (kept for an instant rollback). */
  readonly previous?: string;
}

export function hostArchitecture(): Architecture | undefined {
  if (process.arch === 'x64') return 'x86_64';
  return isArchitecture(process.arch) ? process.arch : undefined;
}

export function describe(binary: InstalledBinary): string {
  const m = binary.metadata;
  return `version ${m.version} (metadata_version ${m.metadata_version ?? 'none'}, sha256 ${m.sha256.slice(0, 12)}) at ${binary.path}`;
}

export class BinaryLoader {
  readonly metadataUrl: string;
  readonly destDir: string;
  private readonly publicKey?: KeyObject;
  private readonly allowUnsigned: boolean;
  private readonly architecture: Architecture;
  private readonly maxBinaryBytes: number;
  private readonly minMetadataVersion: number;
  private readonly client: HttpClient;
  private readonly warn: (message: string) => void;
  private installed?: Installed;
  /** SHA-256 of the binary before the installed one, kept on disk. */
  private previous?: string;
  private readonly stateFile: string;
  /** Binaries hashed by this process: never hashed again. */
  private readonly verified = new Set<string>();
  private restored = false;
  private queue: Promise<unknown> = Promise.resolve();

  constructor(options: LoaderOptions) {
    const fail = (detail: string) => new LoaderError('config', options.metadataUrl, detail);
    this.metadataUrl = options.metadataUrl;
    this.destDir = resolve(options.destDir);
    this.stateFile = join(this.destDir, stateFileName(options.metadataUrl));
    this.allowUnsigned = options.allowUnsigned ?? false;
    if (options.publicKey !== undefined) {
      try {
        this.publicKey = toPublicKey(options.publicKey);
      } catch (error) {
        throw fail(`unusable public key (${(error as Error).message})`);
      }
    } else if (!this.allowUnsigned) {
      throw fail('no public key given and unsigned metadata is not allowed');
    }
    const architecture = options.architecture ?? hostArchitecture();
    if (!architecture) throw fail(`no Watchy binaries exist for this machine (${process.arch})`);
    this.architecture = architecture;
    this.maxBinaryBytes = options.maxBinaryBytes ?? 4 * 1024 ** 3;
    this.minMetadataVersion = options.minMetadataVersion ?? 0;
    this.client = new HttpClient({ ...DEFAULT_HTTP_SETTINGS, ...options.http });
    this.warn = options.warn ?? ((message) => console.warn(message));
  }

  /** The verified binary in use, if any. */
  get current(): InstalledBinary | undefined {
    return this.installed && { path: this.installed.path, metadata: this.installed.metadata };
  }

  /**
   * Checks the metadata URL and installs what it offers, if it passes every check. Throws a
   * LoaderError only when no verified binary is installed at all.
   */
  load(): Promise<LoadResult> {
    const run = this.queue.then(() => this.loadNow());
    this.queue = run.catch(() => undefined);
    return run;
  }

  /** Closes pooled HTTP connections. */
  close(): void {
    this.client.close();
  }

  private async loadNow(): Promise<LoadResult> {
    if (!this.restored) {
      this.restored = true;
      await mkdir(this.destDir, { recursive: true, mode: 0o700 });
      await this.restore();
    }
    try {
      return await this.update();
    } catch (error) {
      const failure =
        error instanceof LoaderError
          ? error
          : new LoaderError('write', this.metadataUrl, oneLine((error as Error).message));
      if (!this.installed) throw failure;
      this.warn(`${failure.message}; keeping the verified ${describe(this.installed)}`);
      return { binary: this.current!, outcome: 'kept', refused: failure };
    }
  }

  private async update(): Promise<LoadResult> {
    const url = this.metadataUrl;
    const installed = this.installed;
    const headers: Record<string, string> = installed?.etag ? { 'if-none-match': installed.etag } : {};
    const fetched = await this.client.withRetries(
      async () => {
        const response = await this.client.open(url, headers);
        if (response.statusCode === 304 && installed) {
          response.resume();
          return undefined;
        }
        expectStatus(response, url, [200]);
        const body = await readCapped(response, url, MAX_METADATA_BYTES, 'metadata-size');
        const etag = response.headers.etag;
        return { body, etag };
      },
      (error) => this.warn(`${error.message}; retrying`),
    );
    if (!fetched) return { binary: this.current!, outcome: 'not-modified' };

    const metadata = this.accept(fetched.body, url);
    this.checkVersion(metadata, url);
    const path = binaryPath(this.destDir, metadata.sha256);
    let outcome: LoadOutcome = 'cached';
    if (!(await this.onDisk(path, metadata))) {
      await downloadAndInstall(this.client, metadata, this.destDir);
      this.verified.add(path);
      outcome = 'downloaded';
    }
    // Keep the installed binary and the one before it; the one that falls out of that pair goes.
    const before = this.installed?.metadata.sha256;
    let dropped: string | undefined;
    if (before && before !== metadata.sha256) {
      dropped = this.previous !== metadata.sha256 ? this.previous : undefined;
      this.previous = before;
    }
    this.installed = { path, metadata, etag: fetched.etag };
    await this.save(fetched.body.toString('utf8'));
    if (dropped && dropped !== metadata.sha256) await this.drop(dropped);
    return { binary: this.current!, outcome };
  }

  /** JSON, schema, signature, architecture, download URL and size limit. */
  private accept(body: Buffer | string, url: string): WatchyMetadata {
    let metadata: WatchyMetadata;
    try {
      metadata = parseMetadataJson(body);
    } catch (error) {
      const message = (error as MetadataError).message.replace(/^invalid metadata: /, '');
      if (message.includes('-byte limit')) throw new LoaderError('metadata-size', url, message);
      if (message.startsWith('not JSON')) throw new LoaderError('metadata-json', url, message);
      throw new LoaderError('metadata-schema', url, message);
    }
    if (metadata.signature) {
      if (!this.publicKey) {
        throw new LoaderError(
          'signature',
          url,
          'metadata is signed but no public key was given to verify it',
        );
      }
      if (!verifyMetadataSignature(metadata, this.publicKey)) {
        throw new LoaderError(
          'signature',
          url,
          `signature (key_id ${metadata.signature.key_id}) does not verify with the deployment's public key`,
        );
      }
    } else if (!this.allowUnsigned) {
      throw new LoaderError('signature', url, 'metadata is not signed and unsigned metadata is not allowed');
    }
    if (metadata.target_architecture !== this.architecture) {
      throw new LoaderError(
        'architecture',
        url,
        `binary targets ${metadata.target_architecture}, this machine runs ${this.architecture}`,
      );
    }
    const file = basename(new URL(metadata.download_url).pathname);
    if (!file.endsWith(`-${metadata.version}.gz`)) {
      throw new LoaderError(
        'download-url',
        metadata.download_url,
        `metadata for version ${metadata.version} points at ${file}, not a versioned key of that version`,
      );
    }
    if (metadata.binary_size > this.maxBinaryBytes) {
      throw new LoaderError(
        'size-limit',
        url,
        `binary_size ${metadata.binary_size} is over this deployment's limit of ${this.maxBinaryBytes} bytes`,
      );
    }
    return metadata;
  }

  /** `metadata_version` only ever grows; the same version must mean the same binary. */
  private checkVersion(metadata: WatchyMetadata, url: string): void {
    const offered = metadata.metadata_version ?? 0;
    if (offered < this.minMetadataVersion) {
      throw new LoaderError(
        'metadata-version',
        url,
        `offered metadata_version ${offered} is below this deployment's minimum ${this.minMetadataVersion}`,
      );
    }
    const installed = this.installed?.metadata;
    if (!installed) return;
    const current = installed.metadata_version ?? 0;
    if (offered < current) {
      throw new LoaderError(
        'metadata-version',
        url,
        `offered metadata_version ${offered} (version ${metadata.version}) is lower than the installed ${current} (version ${installed.version})`,
      );
    }
    if (offered === current && offered > 0 && metadata.sha256 !== installed.sha256) {
      throw new LoaderError(
        'metadata-version',
        url,
        `metadata_version ${offered} is already installed with a different binary (sha256 ${installed.sha256.slice(0, 12)})`,
      );
    }
  }

  /** A verified copy of this binary is already here (hashed once per process). */
  private async onDisk(path: string, metadata: WatchyMetadata): Promise<boolean> {
    if (this.verified.has(path)) {
      const size = await stat(path).then(
        (s) => s.size,
        () => -1,
      );
      if (size === metadata.binary_size) return true;
      this.verified.delete(path);
    }
    if (await fileMatches(path, metadata)) {
      this.verified.add(path);
      return true;
    }
    await unlink(path).catch(() => undefined);
    return false;
  }

  /** Picks up what an earlier process installed here, re-checking it as if freshly offered. */
  private async restore(): Promise<void> {
    for (const name of await readdir(this.destDir)) {
      if (!name.startsWith(PARTIAL_PREFIX)) continue;
      const path = join(this.destDir, name);
      const modified = await stat(path).then(
        (s) => s.mtimeMs,
        () => Date.now(),
      );
      if (Date.now() - modified > STALE_PARTIAL_MS) await rm(path, { force: true });
    }
    let state: StateFile;
    try {
      state = JSON.parse(await readFile(this.stateFile, 'utf8')) as StateFile;
    } catch {
      return;
    }
    if (state.metadataUrl !== this.metadataUrl || typeof state.metadata !== 'string') return;
    try {
      const metadata = this.accept(state.metadata, this.stateFile);
      const path = binaryPath(this.destDir, metadata.sha256);
      if (!(await this.onDisk(path, metadata))) {
        this.warn(`installed binary ${path} is missing or altered; it will be downloaded again`);
        return;
      }
      this.installed = { path, metadata, etag: state.etag };
      if (typeof state.previous === 'string' && /^[0-9a-f]{64}$/.test(state.previous)) {
        this.previous = state.previous;
      }
    } catch (error) {
      this.warn(`ignoring earlier install: ${(error as Error).message}`);
    }
  }

  private async save(metadataText: string): Promise<void> {
    const state: StateFile = {
      metadataUrl: this.metadataUrl,
      etag: this.installed?.etag,
      metadata: metadataText,
      previous: this.previous,
    };
    const temp = `${this.stateFile}.${process.pid}.tmp`;
    await writeFile(temp, JSON.stringify(state), { mode: 0o600 });
    await rename(temp, this.stateFile);
  }

  /** Removes a binary no loader in this directory keeps (installed or previous). */
  private async drop(sha256: string): Promise<void> {
    for (const name of await readdir(this.destDir)) {
      if (!name.startsWith(STATE_PREFIX) || !name.endsWith('.json')) continue;
      const path = join(this.destDir, name);
      if (path === this.stateFile) continue;
      const text = await readFile(path, 'utf8').catch(() => '');
      if (text.includes(sha256)) return;
    }
    const path = binaryPath(this.destDir, sha256);
    await rm(path, { force: true });
    this.verified.delete(path);
  }
}
