/**
 * Staging: what a release build does after `watchy package`. For every package in the output
 * directory it uploads the `.gz` and the metadata JSON to `staging/{session}/{artifact}/{version}/`
 * (with their SHA-256 as `x-amz-checksum-sha256`, so S3 refuses bytes changed in transit), then a
 * publish request describing them. With several packages (a Rust workspace) it also writes a batch
 * listing the requests. It returns the key to publish: the request, or the batch.
 *
 * Everything is checked locally before the first upload (metadata schema, the `.gz` against the
 * metadata's sizes and hashes, decompressed too), so a bad package uploads nothing.
 */
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { STAGING_PREFIX, distFileNames, type ArtifactRef } from '../../artifacts';
import { parseMetadataJson, type WatchyMetadata } from '../../metadata';
import { ReleaseError } from '../errors';
import { parseArtifactName } from '../history/queries';
import {
  parsePublishRequest,
  stagingFolder,
  MAX_BATCH_REQUESTS,
  PUBLISH_BATCH_FILE,
  PUBLISH_REQUEST_FILE,
  type PublishRequest,
} from './request';
import type { ReleaseStore } from '../store/store';
import { sha256Hex, verifyRaw } from '../store/verify';

export interface StageOptions {
  /** The `watchy package` output directory. */
  readonly dir: string;
  /** The build session: STS user id of the build (`{role id}:AWSCodeBuild-{uuid}`). */
  readonly session: string;
  /** Used when the metadata has no `source_revision`. @default none */
  readonly sourceRevision?: string;
  /** This build's id: used when the metadata has no `build_id`, and must match it when it has. @default none */
  readonly buildId?: string;
  /** The branch the build is of, recorded in every request; the publisher checks it against the branch it trusts. */
  readonly branch: string;
}

export interface StageResult {
  /** Publish this: the request (one package) or the batch (several). */
  readonly key: string;
  readonly requests: readonly string[];
}

interface LocalPackage {
  readonly ref: ArtifactRef;
  readonly metadata: WatchyMetadata;
  readonly metadataBytes: Buffer;
  readonly gz: Buffer;
  readonly gzName: string;
  readonly metadataName: string;
}

export async function stageDist(store: ReleaseStore, options: StageOptions): Promise<StageResult> {
  const packages = await findPackages(options.dir);
  if (packages.length === 0)
    throw new ReleaseError(
      'not-found',
      `no packages in ${options.dir} (expected watchy-{name}.json and its .gz)`,
    );
  if (packages.length > MAX_BATCH_REQUESTS) {
    throw new ReleaseError(
      'invalid-request',
      `${packages.length} packages in ${options.dir}: at most ${MAX_BATCH_REQUESTS} per build`,
    );
  }
  const planned = packages.map((pkg) => ({ pkg, request: requestFor(pkg, options) }));
  const requests: string[] = [];
  for (const { pkg, request } of planned) {
    await putStaged(store, request.binary.key, pkg.gz, 'application/gzip');
    await putStaged(store, request.metadata.key, pkg.metadataBytes, 'application/json');
    const requestKey = `${stagingFolder(options.session, pkg.ref, pkg.metadata.version)}${PUBLISH_REQUEST_FILE}`;
    await putStaged(
      store,
      requestKey,
      Buffer.from(`${JSON.stringify(request, null, 2)}\n`),
      'application/json',
    );
    requests.push(requestKey);
  }
  if (requests.length === 1) return { key: requests[0]!, requests };
  const batchKey = `${STAGING_PREFIX}/${options.session}/${PUBLISH_BATCH_FILE}`;
  await putStaged(
    store,
    batchKey,
    Buffer.from(`${JSON.stringify({ batchVersion: 1, requests }, null, 2)}\n`),
    'application/json',
  );
  return { key: batchKey, requests };
}

/** Every `watchy-{name}.json` (not the versioned copies) with its `.gz`, checked. */
export async function findPackages(dir: string): Promise<LocalPackage[]> {
  let names: string[];
  try {
    names = await readdir(dir);
  } catch (error) {
    throw new ReleaseError('not-found', `cannot read ${dir}: ${(error as NodeJS.ErrnoException).code}`);
  }
  const packages: LocalPackage[] = [];
  for (const name of names.sort()) {
    const match = /^watchy-(.+)\.json$/.exec(name);
    const ref = match ? parseArtifactName(match[1]!) : undefined;
    if (!ref) continue;
    const metadataBytes = await readFile(join(dir, name));
    let metadata: WatchyMetadata;
    try {
      metadata = parseMetadataJson(metadataBytes);
    } catch (error) {
      throw new ReleaseError('invalid-request', `${join(dir, name)}: ${(error as Error).message}`);
    }
    const actual: ArtifactRef = {
      app: metadata.app ?? ref.app,
      binaryType: metadata.binary_type,
      architecture: metadata.target_architecture,
    };
    if (
      actual.app !== ref.app ||
      actual.binaryType !== ref.binaryType ||
      actual.architecture !== ref.architecture
    ) {
      throw new ReleaseError(
        'invalid-request',
        `${join(dir, name)} describes ${metadata.binary_type} ${metadata.target_architecture} ${metadata.app ?? ''}, not what its name says`,
      );
    }
    const files = distFileNames(ref, metadata.version);
    if (name !== files.metadata) continue;
    const gzPath = join(dir, files.gz);
    const gz = await readFile(gzPath).catch(() => {
      throw new ReleaseError('not-found', `${gzPath} is missing (named by ${name})`);
    });
    if (metadata.compressed_size !== undefined && gz.length !== metadata.compressed_size) {
      throw new ReleaseError(
        'verification',
        `${gzPath} is ${gz.length} bytes, metadata says ${metadata.compressed_size}`,
      );
    }
    if (metadata.compressed_sha256 !== undefined && sha256Hex(gz) !== metadata.compressed_sha256) {
      throw new ReleaseError(
        'verification',
        `sha256 check failed for ${gzPath}: does not match the metadata's compressed_sha256`,
      );
    }
    await verifyRaw(gz, { rawSize: metadata.binary_size, rawSha256: metadata.sha256 }, gzPath);
    packages.push({ ref, metadata, metadataBytes, gz, gzName: files.gz, metadataName: files.metadata });
  }
  return packages;
}

function requestFor(pkg: LocalPackage, options: StageOptions): PublishRequest {
  const folder = stagingFolder(options.session, pkg.ref, pkg.metadata.version);
  if (options.buildId && pkg.metadata.build_id && pkg.metadata.build_id !== options.buildId) {
    throw new ReleaseError(
      'invalid-request',
      `${pkg.metadataName} was packaged by build ${pkg.metadata.build_id}, not by this build ${options.buildId}`,
    );
  }
  const sourceRevision = pkg.metadata.source_revision ?? options.sourceRevision;
  const buildId = pkg.metadata.build_id ?? options.buildId;
  if (!sourceRevision)
    throw new ReleaseError(
      'invalid-request',
      `${pkg.metadataName} has no source_revision and none was given`,
    );
  if (!buildId)
    throw new ReleaseError('invalid-request', `${pkg.metadataName} has no build_id and none was given`);
  return parsePublishRequest({
    requestVersion: 1,
    app: pkg.ref.app,
    version: pkg.metadata.version,
    architecture: pkg.ref.architecture,
    binaryType: pkg.ref.binaryType,
    sourceRevision,
    buildId,
    branch: options.branch,
    binary: {
      key: `${folder}${pkg.gzName}`,
      size: pkg.gz.length,
      sha256: sha256Hex(pkg.gz),
      rawSize: pkg.metadata.binary_size,
      rawSha256: pkg.metadata.sha256,
    },
    metadata: {
      key: `${folder}${pkg.metadataName}`,
      size: pkg.metadataBytes.length,
      sha256: sha256Hex(pkg.metadataBytes),
    },
    package: {
      saas_app: pkg.metadata.saas_app,
      build_time: pkg.metadata.build_time,
      runtime_environment: pkg.metadata.runtime_environment,
      lambda_compatible: pkg.metadata.lambda_compatible,
      ...(pkg.metadata.python_version ? { python_version: pkg.metadata.python_version } : {}),
    },
  });
}

/** Create-only; a retry of the same build finds identical bytes and carries on. */
async function putStaged(store: ReleaseStore, key: string, body: Buffer, contentType: string): Promise<void> {
  const sha256 = sha256Hex(body);
  const result = await store.putIfAbsent(key, body, { contentType, sha256 });
  if (result === 'created') return;
  const existing = await store.get(key, body.length);
  if (!existing || sha256Hex(existing.body) !== sha256) {
    throw new ReleaseError(
      'conflict',
      `s3://${store.bucket}/${key} already holds something else; this build staged it before with other bytes`,
    );
  }
}
