/**
 * Publish: verify what a build staged, copy it to the immutable versioned keys, write the signed
 * versioned metadata and, for the release branch only, promote it to the latest pointer.
 *
 * Nothing is trusted from the request alone: the staged `.gz` is read and hashed (compressed and
 * decompressed), the staged metadata is read, hashed and cross-checked field by field. Versioned keys
 * are created once (`If-None-Match: *`); the same request again finds identical objects and changes
 * nothing, a different artifact for an existing version is refused and nothing is overwritten.
 *
 * Nor is the caller trusted in the deployed publisher (`publishBuild`): it publishes only from the
 * staging prefix of a build it learnt from CodePipeline or CodeBuild (trusted-build.ts), and only a
 * request that records that build, its branch and its commit.
 */
import {
  MAX_METADATA_BYTES,
  metadataProblem,
  parseMetadataJson,
  serializeMetadata,
  type WatchyMetadata,
} from '../../metadata';
import { signMetadata } from '../../signing';
import { METADATA_SCHEMA_VERSION } from '../../versions';
import { BINARIES_PREFIX, artifactName, releaseKeys, type ArtifactRef } from '../../artifacts';
import type { ReleaseDeps } from '../deps';
import { ReleaseError } from '../errors';
import { movePointer, IMMUTABLE_CACHE_CONTROL, type MoveOutcome, type PointerTarget } from '../store/pointer';
import {
  artifactRefOf,
  expectedStagedKeys,
  parsePublishBatchJson,
  parsePublishInvocation,
  parsePublishableKey,
  parsePublishRequestJson,
  sessionPrefixOf,
  PUBLISH_BATCH_FILE,
  PUBLISH_REQUEST_FILE,
  MAX_PUBLISH_REQUEST_BYTES,
  type PublishRequest,
} from './request';
import { readVerified, readVerifiedArtifact, sha256Hex } from '../store/verify';
import { loadVersionedTarget } from '../store/targets';
import { readHistory } from '../history/history';
import type { TrustedBuild } from './trusted-build';

export interface PublishSettings {
  /** Builds of this branch are promoted to the latest pointer. */
  readonly releaseBranch: string;
  /** Builds of this branch publish versioned artifacts only. */
  readonly integrationBranch: string;
  /** BinaryDistributionUrl (`https://…/binaries`): `download_url` = this + `/{name}/watchy-{name}-{version}.gz`. */
  readonly binaryDistributionUrl: string;
}

export interface PublishResult {
  readonly artifact: string;
  readonly version: string;
  readonly branch: string;
  /** `created`: this call wrote the versioned objects; `unchanged`: identical ones were already there. */
  readonly versioned: 'created' | 'unchanged';
  readonly versionedMetadataKey: string;
  readonly versionedBinaryKey: string;
  /** `promoted`: the pointer moved; `already-promoted`: a retry; `not-promoted`: not the release branch. */
  readonly pointer: 'promoted' | 'already-promoted' | 'not-promoted' | 'refused';
  readonly metadataVersion?: number;
  readonly detail?: string;
}

/** The id a publish records in the history: the same artifact of the same version is one request. */
export function publishRequestId(version: string, compressedSha256: string): string {
  return `publish:${version}:${compressedSha256}`;
}

export interface PublishOutcome {
  /** One result per artifact: one for a request, one per listed request for a batch. */
  readonly results: readonly PublishResult[];
}

/** What the publisher holds against a request: the branch, and in the deployed publisher the build. */
interface PublishFacts {
  readonly branch: string;
  /** The build the key was staged by, learnt from CodePipeline or CodeBuild. @default none (`--endpoint-url`) */
  readonly build?: TrustedBuild;
}

/**
 * Publishes what `invocation.requestKey` names on `invocation.branch`: `watchy publish
 * --endpoint-url`, an operator who holds the bucket and the key already. One publish request, or a
 * batch of them (a Rust workspace build stages one request per Lambda binary and one batch listing
 * them), in order.
 */
export async function publish(
  deps: ReleaseDeps,
  settings: PublishSettings,
  invocation: unknown,
): Promise<PublishOutcome> {
  const { requestKey, branch } = parsePublishInvocation(invocation);
  return publishKey(deps, settings, requestKey, { branch });
}

/**
 * Publishes what a trusted build staged: `requestKey` if given (by the operator, or by the build
 * itself through its WATCHY_PUBLISH_REQUEST output), which must lie under the build's own staging
 * prefix; else the batch or the one request staged there. The branch is the build's, never the
 * caller's: a bare-commit build outside the pipeline counts as the release branch only for a commit
 * that artifact was already released from.
 */
export async function publishBuild(
  deps: ReleaseDeps,
  settings: PublishSettings,
  build: TrustedBuild,
  requestKey: string | undefined = build.requestKey,
): Promise<PublishOutcome> {
  const key = parsePublishableKey(requestKey ?? (await stagedKeyOf(deps, build)));
  if (!key.startsWith(build.stagingPrefix)) {
    throw new ReleaseError(
      'invalid-request',
      `${key} is outside the staging prefix of build ${build.buildId} (${build.stagingPrefix}); nothing was published`,
    );
  }
  const branch = build.branch.from === 'released-commit' ? settings.releaseBranch : build.branch.name;
  const classBranch = build.branchClass === 'release' ? settings.releaseBranch : settings.integrationBranch;
  if (branch !== classBranch) {
    throw new ReleaseError(
      'conflict',
      `build ${build.buildId} is of the ${build.branchClass} class, which publishes ${classBranch} only, not ${branch}; nothing was published`,
    );
  }
  return publishKey(deps, settings, key, { branch, build });
}

/** The batch a build staged, else its one request. */
async function stagedKeyOf(deps: ReleaseDeps, build: TrustedBuild): Promise<string> {
  const batch = `${build.stagingPrefix}${PUBLISH_BATCH_FILE}`;
  if (await deps.store.head(batch)) return batch;
  const requests = (await deps.store.list(build.stagingPrefix)).keys.filter((k) =>
    k.endsWith(`/${PUBLISH_REQUEST_FILE}`),
  );
  if (requests.length === 1) return requests[0]!;
  throw new ReleaseError(
    requests.length === 0 ? 'not-found' : 'invalid-request',
    requests.length === 0
      ? `build ${build.buildId} staged no publish request under ${build.stagingPrefix}`
      : `build ${build.buildId} staged ${requests.length} publish requests and no batch; name one with --request-key`,
  );
}

async function publishKey(
  deps: ReleaseDeps,
  settings: PublishSettings,
  requestKey: string,
  facts: PublishFacts,
): Promise<PublishOutcome> {
  if (!requestKey.endsWith(`/${PUBLISH_BATCH_FILE}`)) {
    return { results: [await publishOne(deps, settings, requestKey, facts)] };
  }
  const object = await deps.store.get(requestKey, MAX_PUBLISH_REQUEST_BYTES).catch((error: unknown) => {
    if (error instanceof ReleaseError)
      throw new ReleaseError('invalid-request', `invalid publish batch: ${error.message}`);
    throw error;
  });
  if (!object)
    throw new ReleaseError(
      'not-found',
      `publish batch s3://${deps.store.bucket}/${requestKey} does not exist`,
    );
  const batch = parsePublishBatchJson(object.body);
  const session = sessionPrefixOf(requestKey);
  for (const key of batch.requests) {
    if (!key.startsWith(session)) {
      throw new ReleaseError(
        'invalid-request',
        `invalid publish batch: ${key} is outside the batch's staging prefix ${session}`,
      );
    }
  }
  const results: PublishResult[] = [];
  for (const key of batch.requests) results.push(await publishOne(deps, settings, key, facts));
  return { results };
}

async function publishOne(
  deps: ReleaseDeps,
  settings: PublishSettings,
  requestKey: string,
  facts: PublishFacts,
): Promise<PublishResult> {
  const { store } = deps;
  const { branch } = facts;
  if (branch !== settings.releaseBranch && branch !== settings.integrationBranch) {
    throw new ReleaseError(
      'conflict',
      `branch ${JSON.stringify(branch)} is not published: only ${settings.releaseBranch} (promoted) and ${settings.integrationBranch} (versioned only)`,
    );
  }
  const requestObject = await store.get(requestKey, MAX_PUBLISH_REQUEST_BYTES).catch((error: unknown) => {
    if (error instanceof ReleaseError)
      throw new ReleaseError('invalid-request', `invalid publish request: ${error.message}`);
    throw error;
  });
  if (!requestObject)
    throw new ReleaseError('not-found', `publish request s3://${store.bucket}/${requestKey} does not exist`);
  const request = parsePublishRequestJson(requestObject.body);
  checkStagedKeys(request, requestKey);
  await checkFacts(deps, request, facts);

  const ref = artifactRefOf(request);
  const keys = releaseKeys(ref, request.version);
  await readStagedMetadata(deps, request);
  const release = releaseMetadata(request, settings, keys.versionedBinary);

  const { gz, created: binaryCreated } = await writeVersionedBinary(deps, request, keys.versionedBinary);
  const { metadata: versionedMetadata, created: metadataCreated } = await writeVersionedMetadata(
    deps,
    release,
    keys.versionedMetadata,
  );
  const created = binaryCreated || metadataCreated;
  deps.telemetry?.published({
    ref,
    version: request.version,
    created,
    binarySize: request.binary.rawSize,
    compressedSize: request.binary.size,
  });
  const base = {
    artifact: artifactName(ref),
    version: request.version,
    branch,
    versioned: created ? ('created' as const) : ('unchanged' as const),
    versionedMetadataKey: keys.versionedMetadata,
    versionedBinaryKey: keys.versionedBinary,
  };
  if (branch !== settings.releaseBranch) return { ...base, pointer: 'not-promoted' };

  const outcome = await promote(deps, ref, request, { metadata: versionedMetadata, gz });
  return { ...base, ...describePromotion(outcome) };
}

/** The request must record the facts the publisher holds: branch, and the build and its commit. */
async function checkFacts(deps: ReleaseDeps, request: PublishRequest, facts: PublishFacts): Promise<void> {
  const { build, branch } = facts;
  if (request.branch !== branch) {
    throw new ReleaseError(
      'conflict',
      `publish request says branch ${request.branch}, ${build ? `build ${build.buildId} is of` : 'the invocation says'} ${branch}`,
    );
  }
  if (!build) return;
  if (request.buildId !== build.buildId) {
    throw new ReleaseError(
      'conflict',
      `publish request says build ${request.buildId}, but build ${build.buildId} staged it`,
    );
  }
  if (build.sourceRevision !== undefined && request.sourceRevision !== build.sourceRevision) {
    throw new ReleaseError(
      'conflict',
      `publish request says commit ${request.sourceRevision}, build ${build.buildId} built ${build.sourceRevision}`,
    );
  }
  if (build.branch.from === 'released-commit') {
    const ref = artifactRefOf(request);
    const { history } = await readHistory(deps.store, ref);
    if (!history.entries.some((entry) => entry.sourceRevision === request.sourceRevision)) {
      throw new ReleaseError(
        'conflict',
        `build ${build.buildId} built commit ${request.sourceRevision} outside the pipeline, and no release of ${artifactName(ref)} came from it: only the pipeline publishes a new commit`,
      );
    }
  }
}

function describePromotion(
  outcome: MoveOutcome,
): Pick<PublishResult, 'pointer' | 'metadataVersion' | 'detail'> {
  switch (outcome.kind) {
    case 'moved':
      return { pointer: 'promoted', metadataVersion: outcome.entry.metadataVersion };
    case 'retry':
      return { pointer: 'already-promoted', metadataVersion: outcome.entry.metadataVersion };
    default:
      return { pointer: 'refused', detail: outcome.reason };
  }
}

async function promote(deps: ReleaseDeps, ref: ArtifactRef, request: PublishRequest, target: PointerTarget) {
  return movePointer(
    deps,
    ref,
    publishRequestId(request.version, request.binary.sha256),
    async (history) => {
      const bad = history.bad[request.version];
      if (bad)
        return {
          kind: 'noop',
          reason: `version ${request.version} is marked bad (${bad.reason}); not promoted`,
        };
      return {
        kind: 'move',
        target,
        entry: {
          action: 'publish',
          version: request.version,
          sha256: request.binary.rawSha256,
          compressedSha256: request.binary.sha256,
          sourceRevision: request.sourceRevision,
          buildId: request.buildId,
        },
      };
    },
    (entry) => loadVersionedTarget(deps.store, ref, entry.version),
  );
}

function checkStagedKeys(request: PublishRequest, requestKey: string): void {
  const expected = expectedStagedKeys(request, requestKey);
  if (requestKey !== expected.request) {
    throw new ReleaseError(
      'invalid-request',
      `invalid publish request: requestKey: expected ${expected.request}, got ${requestKey}`,
    );
  }
  if (request.binary.key !== expected.binary) {
    throw new ReleaseError(
      'invalid-request',
      `invalid publish request: binary.key: expected ${expected.binary}, got ${request.binary.key}`,
    );
  }
  if (request.metadata.key !== expected.metadata) {
    throw new ReleaseError(
      'invalid-request',
      `invalid publish request: metadata.key: expected ${expected.metadata}, got ${request.metadata.key}`,
    );
  }
}

/** Reads the package's metadata JSON, checks its hash and that it describes the same binary. */
async function readStagedMetadata(deps: ReleaseDeps, request: PublishRequest): Promise<WatchyMetadata> {
  const object = await readVerified(deps.store, request.metadata.key, request.metadata, MAX_METADATA_BYTES);
  let staged: WatchyMetadata;
  try {
    staged = parseMetadataJson(object.body);
  } catch (error) {
    throw new ReleaseError('verification', `staged ${request.metadata.key}: ${(error as Error).message}`);
  }
  const expectations: [string, unknown, unknown][] = [
    ['version', staged.version, request.version],
    ['target_architecture', staged.target_architecture, request.architecture],
    ['binary_type', staged.binary_type, request.binaryType],
    ['sha256', staged.sha256, request.binary.rawSha256],
    ['binary_size', staged.binary_size, request.binary.rawSize],
    ['saas_app', staged.saas_app, request.package.saas_app],
    ['build_time', staged.build_time, request.package.build_time],
    ['python_version', staged.python_version, request.package.python_version],
  ];
  if (staged.build_id !== undefined) expectations.push(['build_id', staged.build_id, request.buildId]);
  if (staged.source_revision !== undefined)
    expectations.push(['source_revision', staged.source_revision, request.sourceRevision]);
  if (staged.compressed_sha256 !== undefined)
    expectations.push(['compressed_sha256', staged.compressed_sha256, request.binary.sha256]);
  if (staged.compressed_size !== undefined)
    expectations.push(['compressed_size', staged.compressed_size, request.binary.size]);
  for (const [field, actual, wanted] of expectations) {
    if (actual !== wanted) {
      throw new ReleaseError(
        'verification',
        `staged metadata does not match the request: ${field} is ${JSON.stringify(actual)}, request says ${JSON.stringify(wanted)}`,
      );
    }
  }
  return staged;
}

/** The released metadata: the package's fields, the verified hashes, and where to download it. */
function releaseMetadata(
  request: PublishRequest,
  settings: PublishSettings,
  versionedBinaryKey: string,
): WatchyMetadata {
  const metadata: WatchyMetadata = {
    version: request.version,
    build_time: request.package.build_time,
    saas_app: request.package.saas_app,
    binary_type: request.binaryType,
    binary_size: request.binary.rawSize,
    sha256: request.binary.rawSha256,
    download_url: `${settings.binaryDistributionUrl.replace(/\/+$/, '')}/${versionedBinaryKey.slice(BINARIES_PREFIX.length + 1)}`,
    compression: 'gzip',
    target_architecture: request.architecture,
    target_os: 'linux',
    lambda_compatible: request.package.lambda_compatible,
    runtime_environment: request.package.runtime_environment,
    ...(request.package.python_version === undefined
      ? {}
      : { python_version: request.package.python_version }),
    schema_version: METADATA_SCHEMA_VERSION,
    app: request.app,
    compressed_size: request.binary.size,
    compressed_sha256: request.binary.sha256,
    source_revision: request.sourceRevision,
    build_id: request.buildId,
  };
  const problem = metadataProblem(metadata);
  if (problem)
    throw new ReleaseError(
      'invalid-request',
      `invalid publish request: the release metadata would be invalid: ${problem}`,
    );
  return metadata;
}

async function writeVersionedBinary(
  deps: ReleaseDeps,
  request: PublishRequest,
  key: string,
): Promise<{ gz: Buffer; created: boolean }> {
  const { store } = deps;
  const expected = {
    size: request.binary.size,
    sha256: request.binary.sha256,
    rawSize: request.binary.rawSize,
    rawSha256: request.binary.rawSha256,
  };
  // First publishes are the common case: verify and write straight away; a create-only write that
  // finds the key taken compares what is there instead (a retry, or a conflict).
  let staged;
  try {
    staged = await readVerifiedArtifact(store, request.binary.key, expected);
  } catch (error) {
    // A retry after the staged copy is gone still succeeds when the versioned one is this artifact.
    if (error instanceof ReleaseError && error.kind === 'not-found' && (await store.head(key))) {
      return { gz: await existingMustMatch(deps, request, key), created: false };
    }
    throw error;
  }
  const result = await store.putIfAbsent(key, staged.body, {
    contentType: 'application/gzip',
    sha256: request.binary.sha256,
    cacheControl: IMMUTABLE_CACHE_CONTROL,
  });
  if (result === 'exists') return { gz: await existingMustMatch(deps, request, key), created: false };
  return { gz: staged.body, created: true };
}

async function existingMustMatch(deps: ReleaseDeps, request: PublishRequest, key: string): Promise<Buffer> {
  const info = await deps.store.head(key);
  const object =
    info && info.size === request.binary.size ? await deps.store.get(key, request.binary.size) : undefined;
  const actual = object ? sha256Hex(object.body) : undefined;
  if (!object || actual !== request.binary.sha256) {
    throw new ReleaseError(
      'conflict',
      `version ${request.version} of ${artifactName(artifactRefOf(request))} is already published with a different artifact (${key}); nothing was overwritten`,
    );
  }
  return object.body;
}

async function writeVersionedMetadata(
  deps: ReleaseDeps,
  release: WatchyMetadata,
  key: string,
): Promise<{ metadata: WatchyMetadata; created: boolean }> {
  const { store } = deps;
  const signed = await signMetadata(release, deps.signer);
  const body = Buffer.from(serializeMetadata(signed), 'utf8');
  const result = await store.putIfAbsent(key, body, {
    contentType: 'application/json',
    sha256: sha256Hex(body),
    cacheControl: IMMUTABLE_CACHE_CONTROL,
  });
  if (result === 'created') return { metadata: signed, created: true };
  const raced = await readExistingMetadata(deps, key);
  if (!raced) throw new ReleaseError('conflict', `${key} was created and deleted while publishing`);
  return { metadata: sameRelease(raced, release, key), created: false };
}

async function readExistingMetadata(deps: ReleaseDeps, key: string): Promise<WatchyMetadata | undefined> {
  const object = await deps.store.get(key, MAX_METADATA_BYTES);
  if (!object) return undefined;
  try {
    return parseMetadataJson(object.body);
  } catch (error) {
    throw new ReleaseError(
      'conflict',
      `${key} already exists and is not valid metadata (${(error as Error).message}); nothing was overwritten`,
    );
  }
}

/** An existing versioned metadata is accepted only if it describes the very same artifact. */
function sameRelease(existing: WatchyMetadata, release: WatchyMetadata, key: string): WatchyMetadata {
  const same =
    existing.version === release.version &&
    existing.sha256 === release.sha256 &&
    existing.binary_size === release.binary_size &&
    existing.compressed_sha256 === release.compressed_sha256 &&
    existing.target_architecture === release.target_architecture &&
    existing.binary_type === release.binary_type;
  if (!same) {
    throw new ReleaseError(
      'conflict',
      `${key} already describes a different artifact (sha256 ${existing.sha256}); nothing was overwritten`,
    );
  }
  return existing;
}
