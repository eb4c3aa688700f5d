/**
 * Loads a released version as a pointer target: its versioned metadata (parsed, and describing this
 * artifact) and its versioned `.gz`, read back and checked against the metadata's sizes and hashes
 * (compressed and decompressed). A rollback never points at anything that fails here.
 */
import { MAX_METADATA_BYTES, parseMetadataJson, type WatchyMetadata } from '../../metadata';
import { artifactName, releaseKeys, type ArtifactRef } from '../../artifacts';
import { ReleaseError } from '../errors';
import type { PointerTarget } from './pointer';
import type { ReleaseStore } from './store';
import { readVerifiedArtifact } from './verify';

export async function loadVersionedMetadata(
  store: ReleaseStore,
  ref: ArtifactRef,
  version: string,
): Promise<WatchyMetadata> {
  const keys = releaseKeys(ref, version);
  const object = await store.get(keys.versionedMetadata, MAX_METADATA_BYTES);
  if (!object) {
    throw new ReleaseError(
      'not-found',
      `version ${version} of ${artifactName(ref)} is not published (${keys.versionedMetadata} is missing)`,
    );
  }
  let metadata: WatchyMetadata;
  try {
    metadata = parseMetadataJson(object.body);
  } catch (error) {
    throw new ReleaseError('verification', `${keys.versionedMetadata}: ${(error as Error).message}`);
  }
  if (
    metadata.version !== version ||
    metadata.target_architecture !== ref.architecture ||
    metadata.binary_type !== ref.binaryType
  ) {
    throw new ReleaseError(
      'verification',
      `${keys.versionedMetadata} describes another artifact (${metadata.binary_type} ${metadata.target_architecture} ${metadata.version})`,
    );
  }
  if (metadata.compressed_sha256 === undefined || metadata.compressed_size === undefined) {
    throw new ReleaseError(
      'verification',
      `${keys.versionedMetadata} has no compressed_sha256/compressed_size to verify the .gz with`,
    );
  }
  return metadata;
}

export async function loadVersionedTarget(
  store: ReleaseStore,
  ref: ArtifactRef,
  version: string,
): Promise<PointerTarget> {
  const metadata = await loadVersionedMetadata(store, ref, version);
  const { versionedBinary } = releaseKeys(ref, version);
  const gz = await readVerifiedArtifact(store, versionedBinary, {
    size: metadata.compressed_size ?? 0,
    sha256: metadata.compressed_sha256 ?? '',
    rawSize: metadata.binary_size,
    rawSha256: metadata.sha256,
  });
  // The versioned metadata has no metadata_version (that belongs to a pointer); drop any all the same.
  const versioned: { -readonly [K in keyof WatchyMetadata]: WatchyMetadata[K] } = { ...metadata };
  delete versioned.metadata_version;
  return { metadata: versioned, gz: gz.body };
}
