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
 * Node built-ins plus the small metadata and signing modules only: no AWS SDK. The checks are pure
 * (./checks.ts); what is installed lives in ./state.ts; the download in ./install.ts; this class
 * runs one load at a time through them.
 */
import { resolve } from 'node:path';
import { MAX_METADATA_BYTES, type WatchyMetadata } from '../metadata';
import {
  acceptMetadata,
  checkMetadataVersion,
  releasePolicy,
  type ReleasePolicy,
  type ReleasePolicyOptions,
} from './checks';
import { LoaderError } from './errors';
import { oneLine } from '../one-line';
import { expectStatus, HttpClient, readCapped, type HttpSettings } from './http';
import { downloadAndInstall } from './install';
import { InstallState, type InstalledBinary } from './state';

export { hostArchitecture } from './checks';
export { LoaderError, type LoaderCheck } from './errors';
export type { HttpSettings } from './http';
export { stateFileName, type InstalledBinary } from './state';

export const DEFAULT_HTTP_SETTINGS: HttpSettings = {
  connectTimeoutMs: 3_000,
  idleTimeoutMs: 10_000,
  retries: 3,
  backoffMs: 200,
};

export interface LoaderOptions extends ReleasePolicyOptions {
  /** `{BinaryDistributionUrl}/{name}/watchy-{name}.json` */
  readonly metadataUrl: string;
  /** Directory for verified binaries, temp files and the state file (created if missing). */
  readonly destDir: string;
  /** Timeouts and retries. @default DEFAULT_HTTP_SETTINGS */
  readonly http?: Partial<HttpSettings>;
  /** Receives one-line warnings (retries, refused releases). @default console.warn */
  readonly warn?: (message: string) => void;
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

export function describe(binary: InstalledBinary): string {
  const m = binary.metadata;
  return `version ${m.version} (metadata_version ${m.metadata_version ?? 'none'}, sha256 ${m.sha256.slice(0, 12)}) at ${binary.path}`;
}

export class BinaryLoader {
  readonly metadataUrl: string;
  readonly destDir: string;
  private readonly policy: ReleasePolicy;
  private readonly client: HttpClient;
  private readonly warn: (message: string) => void;
  private readonly state: InstallState;
  private opened = false;
  /** Loads run one at a time: each starts from what the one before installed. */
  private queue: Promise<unknown> = Promise.resolve();

  constructor(options: LoaderOptions) {
    this.metadataUrl = options.metadataUrl;
    this.destDir = resolve(options.destDir);
    this.policy = releasePolicy(options, options.metadataUrl);
    this.client = new HttpClient({ ...DEFAULT_HTTP_SETTINGS, ...options.http });
    this.warn = options.warn ?? ((message) => console.warn(message));
    this.state = new InstallState(this.destDir, this.metadataUrl, this.warn);
  }

  /** The verified binary in use, if any. */
  get current(): InstalledBinary | undefined {
    const installed = this.state.installed;
    return installed && { path: installed.path, metadata: installed.metadata };
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
    if (!this.opened) {
      this.opened = true;
      await this.state.open((text, source) => this.accept(text, source));
    }
    try {
      return await this.update();
    } catch (error) {
      const failure =
        error instanceof LoaderError
          ? error
          : new LoaderError('write', this.metadataUrl, oneLine((error as Error).message));
      if (!this.state.installed) throw failure;
      this.warn(`${failure.message}; keeping the verified ${describe(this.state.installed)}`);
      return { binary: this.current!, outcome: 'kept', refused: failure };
    }
  }

  private async update(): Promise<LoadResult> {
    const url = this.metadataUrl;
    const installed = this.state.installed;
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
    checkMetadataVersion(metadata, url, this.policy, this.state.installed?.metadata);
    let outcome: LoadOutcome = 'cached';
    if (!(await this.state.holds(metadata))) {
      await downloadAndInstall(this.client, metadata, this.destDir);
      this.state.markVerified(metadata.sha256);
      outcome = 'downloaded';
    }
    await this.state.install(metadata, fetched.etag, fetched.body.toString('utf8'));
    return { binary: this.current!, outcome };
  }

  private accept(body: Buffer | string, url: string): WatchyMetadata {
    return acceptMetadata(body, url, this.policy);
  }
}
