/**
 * The artifact layout: names and S3 keys that consumers in other languages depend on.
 *
 * x86_64 keys are exactly the seed's (`binaries/{app}-monitor/watchy-{app}-monitor.json`, ...).
 * Every other artifact gets keys of the same shape with a longer artifact name:
 *   nuitka, arm64   -> `{app}-monitor-arm64`
 *   rust,   x86_64  -> `{app}-lambda`
 *   rust,   arm64   -> `{app}-lambda-arm64`
 * so a consumer always fetches `{BinaryDistributionUrl}/{name}/watchy-{name}.json`.
 */
import { z } from 'zod';

export const ARCHITECTURES = ['x86_64', 'arm64'] as const;
export type Architecture = (typeof ARCHITECTURES)[number];

export const BINARY_TYPES = ['nuitka', 'rust'] as const;
export type BinaryType = (typeof BINARY_TYPES)[number];

/** App names become path segments: lowercase letters, digits and inner hyphens only. */
export const APP_NAME_PATTERN = /^[a-z0-9](?:[a-z0-9-]{0,38}[a-z0-9])?$/;

/** Semantic Versioning 2.0.0 (the regular expression published with the spec). */
export const SEMVER_PATTERN =
  /^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)(?:-((?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*)(?:\.(?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*))*))?(?:\+([0-9a-zA-Z-]+(?:\.[0-9a-zA-Z-]+)*))?$/;

/** Longest version accepted anywhere (S3 keys and file names carry it). */
export const MAX_VERSION_LENGTH = 128;

/** What an app name must be, as every error about one says it. */
export const APP_NAME_RULE = 'expected 1-40 lowercase letters, digits or inner hyphens';

/** An app name (APP_NAME_PATTERN), for every schema that takes one. */
export const AppNameSchema = z.string().regex(APP_NAME_PATTERN, { message: APP_NAME_RULE });

/** A release version: semantic, at most MAX_VERSION_LENGTH characters. */
export const VersionSchema = z
  .string()
  .max(MAX_VERSION_LENGTH)
  .regex(SEMVER_PATTERN, { message: 'expected a semantic version like 1.2.3' });

/** Every released object lives under this prefix of the release bucket. */
export const BINARIES_PREFIX = 'binaries';
/** Builds write only under `staging/{build session}/`; the publish step promotes from there. */
export const STAGING_PREFIX = 'staging';
/** Release history and bisect sessions (compare-and-swap JSON documents). */
export const STATE_PREFIX = 'state';

export class ArtifactNameError extends Error {
  override readonly name = 'ArtifactNameError';
}

export interface ArtifactRef {
  readonly app: string;
  readonly binaryType: BinaryType;
  readonly architecture: Architecture;
}

export function assertAppName(app: string): void {
  if (!APP_NAME_PATTERN.test(app)) {
    throw new ArtifactNameError(`invalid app name ${JSON.stringify(app)}: ${APP_NAME_RULE}`);
  }
}

export function assertVersion(version: string): void {
  if (version.length > MAX_VERSION_LENGTH || !SEMVER_PATTERN.test(version)) {
    throw new ArtifactNameError(
      `invalid version ${JSON.stringify(version)}: expected semantic version like 1.2.3`,
    );
  }
}

export function isArchitecture(value: string): value is Architecture {
  return (ARCHITECTURES as readonly string[]).includes(value);
}

/** `slack-monitor`, `slack-monitor-arm64`, `backend-lambda-arm64`, ... */
export function artifactName(ref: ArtifactRef): string {
  assertAppName(ref.app);
  const kind = ref.binaryType === 'nuitka' ? 'monitor' : 'lambda';
  const arch = ref.architecture === 'x86_64' ? '' : `-${ref.architecture}`;
  return `${ref.app}-${kind}${arch}`;
}

/** The four release keys of one artifact (the versioned ones for `version`). */
export interface ReleaseKeys {
  readonly folder: string;
  readonly latestMetadata: string;
  readonly latestBinary: string;
  readonly versionedMetadata: string;
  readonly versionedBinary: string;
}

export function releaseKeys(ref: ArtifactRef, version: string): ReleaseKeys {
  assertVersion(version);
  const name = artifactName(ref);
  const folder = `${BINARIES_PREFIX}/${name}`;
  return {
    folder,
    latestMetadata: `${folder}/watchy-${name}.json`,
    latestBinary: `${folder}/watchy-${name}.gz`,
    versionedMetadata: `${folder}/watchy-${name}-${version}.json`,
    versionedBinary: `${folder}/watchy-${name}-${version}.gz`,
  };
}

/** The latest-pointer keys only (no version needed). */
export function pointerKeys(ref: ArtifactRef): {
  folder: string;
  latestMetadata: string;
  latestBinary: string;
} {
  const name = artifactName(ref);
  const folder = `${BINARIES_PREFIX}/${name}`;
  return {
    folder,
    latestMetadata: `${folder}/watchy-${name}.json`,
    latestBinary: `${folder}/watchy-${name}.gz`,
  };
}

/** File names written by `watchy package` into its output directory. */
export interface DistFileNames {
  readonly raw: string;
  readonly gz: string;
  readonly metadata: string;
  readonly versionedMetadata: string;
  readonly lambdaZip: string;
}

export function distFileNames(ref: ArtifactRef, version: string): DistFileNames {
  assertVersion(version);
  const name = artifactName(ref);
  const arch = ref.architecture === 'x86_64' ? '' : `-${ref.architecture}`;
  return {
    raw: `watchy-${name}-${version}`,
    gz: `watchy-${name}-${version}.gz`,
    metadata: `watchy-${name}.json`,
    versionedMetadata: `watchy-${name}-${version}.json`,
    lambdaZip: `watchy-${ref.app}-lambda${arch}-${version}.zip`,
  };
}
