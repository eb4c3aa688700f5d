/**
 * The loader's checks, pure: what the deployment accepts (its release policy), what offered
 * metadata must pass before anything is downloaded, and what the downloaded bytes must match. No
 * file, network or clock: each check takes what it judges and throws a LoaderError naming the
 * failed check, or returns.
 */
import type { KeyObject } from 'node:crypto';
import { basename } from 'node:path';
import { isArchitecture, type Architecture } from '../artifacts';
import { assertElfLoadable, ElfError, parseElfHeader, type ElfHeader } from '../elf';
import { MetadataError, parseMetadataJson, type MetadataErrorKind, type WatchyMetadata } from '../metadata';
import { toPublicKey, verifyMetadataSignature } from '../signing';
import { LoaderError, type LoaderCheck } from './errors';

/** What a deployment accepts; the loader options that say it. */
export interface ReleasePolicyOptions {
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
}

/** ReleasePolicyOptions resolved: the key parsed, the defaults filled in. */
export interface ReleasePolicy {
  readonly publicKey?: KeyObject;
  readonly allowUnsigned: boolean;
  readonly architecture: Architecture;
  readonly maxBinaryBytes: number;
  readonly minMetadataVersion: number;
}

/** `maxBinaryBytes` when none is given. */
export const DEFAULT_MAX_BINARY_BYTES = 4 * 1024 ** 3;

export function hostArchitecture(): Architecture | undefined {
  if (process.arch === 'x64') return 'x86_64';
  return isArchitecture(process.arch) ? process.arch : undefined;
}

/** Resolves the options; a `config` LoaderError (naming `metadataUrl`) when they cannot work. */
export function releasePolicy(options: ReleasePolicyOptions, metadataUrl: string): ReleasePolicy {
  const fail = (detail: string) => new LoaderError('config', metadataUrl, detail);
  const allowUnsigned = options.allowUnsigned ?? false;
  let publicKey: KeyObject | undefined;
  if (options.publicKey !== undefined) {
    try {
      publicKey = toPublicKey(options.publicKey);
    } catch (error) {
      throw fail(`unusable public key (${(error as Error).message})`);
    }
  } else if (!allowUnsigned) {
    throw fail('no public key given and unsigned metadata is not allowed');
  }
  const architecture = options.architecture ?? hostArchitecture();
  if (!architecture) throw fail(`no Watchy binaries exist for this machine (${process.arch})`);
  return {
    ...(publicKey ? { publicKey } : {}),
    allowUnsigned,
    architecture,
    maxBinaryBytes: options.maxBinaryBytes ?? DEFAULT_MAX_BINARY_BYTES,
    minMetadataVersion: options.minMetadataVersion ?? 0,
  };
}

/** The loader check each kind of MetadataError fails. */
const METADATA_CHECKS: Readonly<Record<MetadataErrorKind, LoaderCheck>> = {
  size: 'metadata-size',
  json: 'metadata-json',
  schema: 'metadata-schema',
  canonical: 'metadata-schema',
};

/**
 * The metadata document `body` (fetched from, or recorded for, `url`) if the policy accepts it:
 * JSON, schema, signature, architecture, download URL and size limit, in that order.
 */
export function acceptMetadata(body: Buffer | string, url: string, policy: ReleasePolicy): WatchyMetadata {
  let metadata: WatchyMetadata;
  try {
    metadata = parseMetadataJson(body);
  } catch (error) {
    if (error instanceof MetadataError) throw new LoaderError(METADATA_CHECKS[error.kind], url, error.detail);
    throw new LoaderError('metadata-schema', url, (error as Error).message);
  }
  if (metadata.signature) {
    if (!policy.publicKey) {
      throw new LoaderError('signature', url, 'metadata is signed but no public key was given to verify it');
    }
    if (!verifyMetadataSignature(metadata, policy.publicKey)) {
      throw new LoaderError(
        'signature',
        url,
        `signature (key_id ${metadata.signature.key_id}) does not verify with the deployment's public key`,
      );
    }
  } else if (!policy.allowUnsigned) {
    throw new LoaderError('signature', url, 'metadata is not signed and unsigned metadata is not allowed');
  }
  if (metadata.target_architecture !== policy.architecture) {
    throw new LoaderError(
      'architecture',
      url,
      `binary targets ${metadata.target_architecture}, this machine runs ${policy.architecture}`,
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
  if (metadata.binary_size > policy.maxBinaryBytes) {
    throw new LoaderError(
      'size-limit',
      url,
      `binary_size ${metadata.binary_size} is over this deployment's limit of ${policy.maxBinaryBytes} bytes`,
    );
  }
  return metadata;
}

/**
 * `metadata_version` only ever grows (from the policy's floor); the same version must mean the
 * same binary. `installed` is the metadata of the binary in use, if any.
 */
export function checkMetadataVersion(
  metadata: WatchyMetadata,
  url: string,
  policy: Pick<ReleasePolicy, 'minMetadataVersion'>,
  installed: WatchyMetadata | undefined,
): void {
  const offered = metadata.metadata_version ?? 0;
  if (offered < policy.minMetadataVersion) {
    throw new LoaderError(
      'metadata-version',
      url,
      `offered metadata_version ${offered} is below this deployment's minimum ${policy.minMetadataVersion}`,
    );
  }
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

/** Without `compressed_size` (seed-format metadata) the download is capped at deflate's worst case. */
export function compressedCap(metadata: WatchyMetadata): number {
  return metadata.compressed_size ?? metadata.binary_size + Math.ceil(metadata.binary_size / 1000) + 65_536;
}

/** A size or hash of the downloaded bytes against the metadata's (a field metadata omits passes). */
export function expectMatch(
  url: string,
  check: LoaderCheck,
  expected: string | number | undefined,
  got: string | number,
): void {
  if (expected === undefined || expected === got) return;
  throw new LoaderError(check, url, `got ${got}, metadata says ${expected}`);
}

/**
 * What the kernel will be asked to run: a `#!` script, or an ELF binary for the metadata's
 * architecture that the kernel could load (program headers and segments inside the file, a
 * PT_LOAD, the entry point in one: core/elf.ts assertElfLoadable). Anything else would fail
 * at exec with "Exec format error" or crash at once, so it is refused here, with the reason,
 * before it is ever made executable. `head` is the file's first ELF_HEAD_BYTES (or all of it),
 * kept from the download stream; `size` is the file's size.
 */
export function checkExecutable(url: string, metadata: WatchyMetadata, head: Buffer, size: number): void {
  if (head.subarray(0, 2).toString('latin1') === '#!') return;
  let elf: ElfHeader;
  try {
    elf = parseElfHeader(head, 'binary');
  } catch (error) {
    if (error instanceof ElfError) {
      throw new LoaderError('executable', url, `${error.message}, and not a #! script`);
    }
    throw error;
  }
  if (elf.architecture !== metadata.target_architecture) {
    throw new LoaderError(
      'executable',
      url,
      `binary is an ELF ${elf.bits}-bit ${elf.machineName} executable, metadata says ${metadata.target_architecture}`,
    );
  }
  try {
    assertElfLoadable(head, size, 'binary');
  } catch (error) {
    if (error instanceof ElfError) throw new LoaderError('executable', url, error.message);
    throw error;
  }
}
