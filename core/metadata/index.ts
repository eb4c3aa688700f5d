/**
 * The release metadata contract: its type, validation against the JSON Schema that ships in
 * `watchy-metadata.schema.json`, and the canonical bytes that a signature covers.
 *
 * No AWS SDK and no runtime dependency beyond what esbuild inlines: the consumer loader imports this.
 */
import canonicalize from 'canonicalize';
import validateGenerated from './validate-metadata.generated';
import type { Architecture, BinaryType } from '../artifacts';

export interface MetadataSignature {
  readonly alg: 'ES256';
  /** KMS key ARN (or a local key's id) that made the signature. */
  readonly key_id: string;
  /** Base64 of the DER-encoded ECDSA signature. */
  readonly value: string;
}

export interface WatchyMetadata {
  readonly version: string;
  readonly build_time: string;
  readonly saas_app: string;
  readonly binary_type: BinaryType;
  readonly binary_size: number;
  readonly sha256: string;
  readonly download_url: string;
  readonly compression: 'gzip';
  readonly target_architecture: Architecture;
  readonly target_os: 'linux';
  readonly lambda_compatible: boolean;
  readonly runtime_environment: string;
  readonly python_version?: string;
  readonly schema_version?: number;
  readonly app?: string;
  readonly compressed_size?: number;
  readonly compressed_sha256?: string;
  readonly source_revision?: string;
  readonly build_id?: string;
  readonly metadata_version?: number;
  readonly signature?: MetadataSignature;
}

/** Metadata documents larger than this are refused before parsing (hostile servers). */
export const MAX_METADATA_BYTES = 64 * 1024;

/**
 * What was wrong with a metadata document: over MAX_METADATA_BYTES, not JSON, against the JSON
 * Schema, or (signing only) not canonicalizable. Callers map failures by this, never by the text.
 */
export type MetadataErrorKind = 'size' | 'json' | 'schema' | 'canonical';

/** One line, `invalid metadata: <detail>`. */
export class MetadataError extends Error {
  override readonly name = 'MetadataError';
  constructor(
    readonly kind: MetadataErrorKind,
    /** The message without its `invalid metadata: ` prefix. */
    readonly detail: string,
  ) {
    super(`invalid metadata: ${detail}`);
  }
}

/** Validates against the JSON Schema; returns the first problem as `field: message`, or undefined. */
export function metadataProblem(value: unknown): string | undefined {
  if (validateGenerated(value)) return undefined;
  const error = validateGenerated.errors?.[0];
  if (!error) return 'metadata: invalid';
  const field = error.instancePath ? error.instancePath.slice(1).replace(/\//g, '.') : 'metadata';
  const missing = error.params['missingProperty'];
  if (typeof missing === 'string') return `${missing}: required field is missing`;
  const allowed = error.params['allowedValue'] ?? error.params['allowedValues'];
  const detail = allowed === undefined ? error.message : `${error.message} ${JSON.stringify(allowed)}`;
  return `${field}: ${detail}`;
}

/** Returns the value typed as metadata, or throws MetadataError naming the failing field. */
export function parseMetadata(value: unknown): WatchyMetadata {
  const problem = metadataProblem(value);
  if (problem) throw new MetadataError('schema', problem);
  return value as WatchyMetadata;
}

/** Parses JSON text (size-capped) and validates it. */
export function parseMetadataJson(text: string | Buffer): WatchyMetadata {
  const size = typeof text === 'string' ? Buffer.byteLength(text) : text.length;
  if (size > MAX_METADATA_BYTES) {
    throw new MetadataError('size', `${size} bytes is over the ${MAX_METADATA_BYTES}-byte limit`);
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text.toString());
  } catch (error) {
    throw new MetadataError('json', `not JSON (${(error as Error).message})`);
  }
  return parseMetadata(parsed);
}

/**
 * The bytes a signature covers: RFC 8785 (JCS) canonical JSON of the metadata without `signature`.
 */
export function signingPayload(metadata: WatchyMetadata): Buffer {
  const { signature: _signature, ...unsigned } = metadata;
  const text = canonicalize(unsigned);
  if (text === undefined) throw new MetadataError('canonical', 'cannot canonicalize');
  return Buffer.from(text, 'utf8');
}

/** Stable, human-readable serialisation used for every metadata object written to storage. */
export function serializeMetadata(metadata: WatchyMetadata): string {
  return `${JSON.stringify(metadata, null, 2)}\n`;
}
