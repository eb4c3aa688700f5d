/**
 * What a loader has installed in its directory, on disk and in memory: the installed binary and
 * the one before it (kept for an instant rollback), the state file that lets a later process (or
 * `watchy fetch` run) pick them up, the binaries this process already hashed, and the clean-up of
 * temp files left by killed processes and of binaries no loader in the directory keeps. Whether a
 * release is acceptable is not decided here: the caller's `accept` (./checks.ts) re-checks what an
 * earlier process recorded.
 */
import { createHash } from 'node:crypto';
import { mkdir, readdir, readFile, rename, rm, stat, unlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { WatchyMetadata } from '../metadata';
import { binaryPath, fileMatches, PARTIAL_PREFIX } from './install';

/**
 * Where a loader remembers what it installed for one metadata URL (so later `watchy fetch` runs see
 * earlier ones), beside the binaries: several artifacts may share a directory.
 */
export function stateFileName(metadataUrl: string): string {
  return `${STATE_PREFIX}${createHash('sha256').update(metadataUrl).digest('hex').slice(0, 16)}.json`;
}
const STATE_PREFIX = 'watchy-loader-';
/** A temp file untouched this long belongs to a process that is gone. */
const STALE_PARTIAL_MS = 60_000;

export interface InstalledBinary {
  /** Absolute path of the verified, executable binary. */
  readonly path: string;
  readonly metadata: WatchyMetadata;
}

export interface Installed extends InstalledBinary {
  /** ETag of the metadata response it came from (sent back as `If-None-Match`). */
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

export class InstallState {
  private current?: Installed;
  /** SHA-256 of the binary before the installed one, kept on disk. */
  private previous?: string;
  private readonly stateFile: string;
  /** Binaries hashed by this process: never hashed again. */
  private readonly verified = new Set<string>();

  constructor(
    /** Absolute directory of the binaries, temp files and state files. */
    readonly destDir: string,
    private readonly metadataUrl: string,
    private readonly warn: (message: string) => void,
  ) {
    this.stateFile = join(destDir, stateFileName(metadataUrl));
  }

  /** The verified binary in use, if any. */
  get installed(): Installed | undefined {
    return this.current;
  }

  /**
   * Creates the directory, removes stale temp files and picks up what an earlier process installed
   * here, if `accept` still accepts its recorded metadata (as if freshly offered) and the binary
   * on disk still matches it.
   */
  async open(accept: (metadataText: string, source: string) => WatchyMetadata): Promise<void> {
    await mkdir(this.destDir, { recursive: true, mode: 0o700 });
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
      const metadata = accept(state.metadata, this.stateFile);
      const path = binaryPath(this.destDir, metadata.sha256);
      if (!(await this.holds(metadata))) {
        this.warn(`installed binary ${path} is missing or altered; it will be downloaded again`);
        return;
      }
      this.current = { path, metadata, etag: state.etag };
      if (typeof state.previous === 'string' && /^[0-9a-f]{64}$/.test(state.previous)) {
        this.previous = state.previous;
      }
    } catch (error) {
      this.warn(`ignoring earlier install: ${(error as Error).message}`);
    }
  }

  /**
   * A verified copy of the binary `metadata` names is already here (hashed once per process). An
   * altered copy is removed.
   */
  async holds(metadata: WatchyMetadata): Promise<boolean> {
    const path = binaryPath(this.destDir, metadata.sha256);
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

  /** Records that the binary of `sha256` was just downloaded and verified. */
  markVerified(sha256: string): void {
    this.verified.add(binaryPath(this.destDir, sha256));
  }

  /**
   * Makes the verified binary of `metadata` the installed one and records it in the state file.
   * The installed binary and the one before it stay on disk; the one that falls out of that pair
   * goes, unless another loader in the directory keeps it.
   */
  async install(
    metadata: WatchyMetadata,
    etag: string | undefined,
    metadataText: string,
  ): Promise<Installed> {
    const before = this.current?.metadata.sha256;
    let dropped: string | undefined;
    if (before && before !== metadata.sha256) {
      dropped = this.previous !== metadata.sha256 ? this.previous : undefined;
      this.previous = before;
    }
    this.current = { path: binaryPath(this.destDir, metadata.sha256), metadata, etag };
    await this.save(metadataText);
    if (dropped && dropped !== metadata.sha256) await this.drop(dropped);
    return this.current;
  }

  private async save(metadataText: string): Promise<void> {
    const state: StateFile = {
      metadataUrl: this.metadataUrl,
      etag: this.current?.etag,
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
