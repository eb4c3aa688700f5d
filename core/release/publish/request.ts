/**
 * The publish request: written by `watchy stage` next to the staged objects, read by the publish
 * core (Lambda or CLI). One zod schema, imported by the stager, the publisher, the CLI and the tests.
 *
 * Staged keys: `staging/{build session}/{artifact name}/{version}/{file}`, where the build session
 * is the STS user id of the build (`{role id}:AWSCodeBuild-{uuid}`), the only prefix the build's
 * role may write. The publisher accepts a request only if the request and every object it names sit
 * under that one prefix, so a build can never promote what another build staged; and, in the
 * deployed publisher, only under the prefix of the build it learnt from CodePipeline or CodeBuild
 * (trusted-build.ts), so a caller can never choose whose staging is published.
 */
import { z } from 'zod';
import {
  ARCHITECTURES,
  AppNameSchema,
  BINARY_TYPES,
  STAGING_PREFIX,
  VersionSchema,
  artifactName,
  distFileNames,
  type ArtifactRef,
} from '../../artifacts';
import { BRANCH_CLASSES } from '../../build-env';
import { ReleaseError } from '../errors';
import { describeZodIssue } from '../../zod-issue';

/** File name of the publish request inside the staging folder. */
export const PUBLISH_REQUEST_FILE = 'publish-request.json';
/** File name of a batch of publish requests, directly under `staging/{session}/`. */
export const PUBLISH_BATCH_FILE = 'publish-batch.json';
/** Most requests in one batch. */
export const MAX_BATCH_REQUESTS = 64;
/** Requests (and direct invocations) larger than this are refused before parsing. */
export const MAX_PUBLISH_REQUEST_BYTES = 16 * 1024;
/** Largest `.gz` the publisher will read, verify and copy (it holds one in memory). */
export const MAX_COMPRESSED_BYTES = 512 * 1024 * 1024;
/** Largest raw binary (matches `binary_size` in the metadata schema). */
export const MAX_RAW_BYTES = 4 * 1024 * 1024 * 1024;

const sha256Hex = z.string().regex(/^[0-9a-f]{64}$/, { message: 'expected 64 lowercase hex characters' });
const appName = AppNameSchema;
const version = VersionSchema;
const branchName = z.string().min(1).max(255);
/** A key under `staging/`, with no empty, `.` or `..` segments. */
const stagedKey = z
  .string()
  .max(1024)
  .refine((key) => key.startsWith(`${STAGING_PREFIX}/`) && key.split('/').every(isPlainSegment), {
    message: `expected a key under ${STAGING_PREFIX}/ without empty, "." or ".." segments`,
  });

export const StagedObjectSchema = z.strictObject({
  key: stagedKey,
  /** Bytes of the staged object. */
  size: z.number().int().min(1).max(MAX_COMPRESSED_BYTES),
  /** SHA-256 of the staged object's bytes, lowercase hex. */
  sha256: sha256Hex,
});

export const PublishRequestSchema = z.strictObject({
  requestVersion: z.literal(1),
  app: appName,
  version,
  architecture: z.enum(ARCHITECTURES),
  binaryType: z.enum(BINARY_TYPES),
  /** Git commit the build compiled. */
  sourceRevision: z.string().regex(/^[0-9a-f]{7,64}$/, { message: 'expected a git commit id (hex)' }),
  /** CodeBuild build id (`project:uuid`) or any id of the build that staged the objects. */
  buildId: z.string().min(1).max(256),
  /** Branch the build ran for, as the build saw it; it must match the branch the publisher trusts. */
  branch: branchName,
  /** The staged `.gz`: its size and sha256 (compressed), plus the raw binary's size and sha256. */
  binary: StagedObjectSchema.extend({
    rawSize: z.number().int().min(1).max(MAX_RAW_BYTES),
    rawSha256: sha256Hex,
  }),
  /** The metadata JSON that `watchy package` wrote. */
  metadata: StagedObjectSchema,
  /** Metadata fields from the package that the publisher carries into the released metadata. */
  package: z.strictObject({
    saas_app: z.string().min(1).max(100),
    build_time: z
      .string()
      .regex(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,9})?Z$/, { message: 'expected ISO-8601 UTC' }),
    runtime_environment: z.string().min(1).max(64),
    lambda_compatible: z.boolean(),
    python_version: z
      .string()
      .regex(/^3\.\d{1,2}$/)
      .optional(),
  }),
});

export type PublishRequest = z.output<typeof PublishRequestSchema>;
export type StagedObject = z.output<typeof StagedObjectSchema>;

const requestKey = stagedKey.refine((key) => key.endsWith(`/${PUBLISH_REQUEST_FILE}`), {
  message: `expected a key ending in /${PUBLISH_REQUEST_FILE}`,
});

export const PublishBatchSchema = z.strictObject({
  batchVersion: z.literal(1),
  requests: z.array(requestKey).min(1).max(MAX_BATCH_REQUESTS),
});
export type PublishBatch = z.output<typeof PublishBatchSchema>;

/** What may be published: one request, or a batch directly under `staging/{session}/`. */
const publishableKey = stagedKey.refine(
  (key) =>
    key.endsWith(`/${PUBLISH_REQUEST_FILE}`) ||
    (key.endsWith(`/${PUBLISH_BATCH_FILE}`) && key.split('/').length === 3),
  {
    message: `expected a key ending in /${PUBLISH_REQUEST_FILE} or staging/{session}/${PUBLISH_BATCH_FILE}`,
  },
);

/**
 * The in-process publish of `watchy publish --endpoint-url` (an operator with the bucket and the key
 * in hand): the key and the branch as given. The deployed publisher never takes a branch.
 */
export const PublishInvocationSchema = z.strictObject({
  requestKey: publishableKey,
  branch: branchName,
});
export type PublishInvocation = z.output<typeof PublishInvocationSchema>;

/** A CodeBuild build id: `{project}:{build uuid}`. */
export const BUILD_ID_PATTERN =
  /^([A-Za-z0-9][A-Za-z0-9_-]{1,254}):([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})$/;
const buildId = z.string().max(300).regex(BUILD_ID_PATTERN, {
  message: 'expected a CodeBuild build id ({project}:{uuid})',
});

/**
 * A direct invocation of the deployed publisher (`watchy publish --build-id`): the build to publish,
 * and optionally which of its staged keys. Everything else (branch, commit, staging prefix) the
 * publisher learns from CodeBuild and the pipeline.
 */
export const PublishBuildInvocationSchema = z.strictObject({
  buildId,
  requestKey: publishableKey.optional(),
});
export type PublishBuildInvocation = z.output<typeof PublishBuildInvocationSchema>;

/**
 * The Publish action's UserParameters, written at synth: the run (resolved by the pipeline service)
 * and the static name of the build action whose output it publishes.
 */
export const PublishJobParametersSchema = z.strictObject({
  pipelineExecutionId: z.string().regex(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/, {
    message: 'expected a pipeline execution id (a UUID)',
  }),
  buildAction: z.string().regex(/^[A-Za-z0-9.@_-]{1,100}$/, { message: 'expected an action name' }),
  /** The branch class of the pipeline whose Publish action this is: its runs are the ones read. */
  pipeline: z.enum(BRANCH_CLASSES),
});
export type PublishJobParameters = z.output<typeof PublishJobParametersSchema>;

/** `{project, uuid}` of a build id, or undefined when it is not one. */
export function parseBuildId(id: string): { project: string; uuid: string } | undefined {
  const match = BUILD_ID_PATTERN.exec(id);
  return match ? { project: match[1]!, uuid: match[2]! } : undefined;
}

/**
 * The only prefix a CodeBuild build could write: `staging/{role id}:AWSCodeBuild-{uuid}/`, its
 * `aws:userid` under its project's role (docs/decisions/004-build-isolation.md).
 */
export function buildStagingPrefix(roleId: string, buildUuid: string): string {
  return `${STAGING_PREFIX}/${roleId}:AWSCodeBuild-${buildUuid}/`;
}

export function artifactRefOf(
  request: Pick<PublishRequest, 'app' | 'binaryType' | 'architecture'>,
): ArtifactRef {
  return { app: request.app, binaryType: request.binaryType, architecture: request.architecture };
}

/** `staging/{session}/` of a staged key. */
export function sessionPrefixOf(key: string): string {
  const [prefix, session] = key.split('/');
  return `${prefix}/${session}/`;
}

/** The folder the stager writes one artifact's files into. */
export function stagingFolder(session: string, ref: ArtifactRef, releaseVersion: string): string {
  if (!isPlainSegment(session) || session.length > 256) {
    throw new ReleaseError('invalid-request', `invalid build session id ${JSON.stringify(session)}`);
  }
  return `${STAGING_PREFIX}/${session}/${artifactName(ref)}/${releaseVersion}/`;
}

/** The keys a request must use, derived from its own app, type, architecture and version. */
export function expectedStagedKeys(request: PublishRequest, requestKey: string) {
  const folder = stagingFolder(requestKey.split('/')[1] ?? '', artifactRefOf(request), request.version);
  const files = distFileNames(artifactRefOf(request), request.version);
  return {
    folder,
    request: `${folder}${PUBLISH_REQUEST_FILE}`,
    binary: `${folder}${files.gz}`,
    metadata: `${folder}${files.metadata}`,
  };
}

/** Parses JSON text of a publish request (size-capped): one-line ReleaseError naming the field. */
export function parsePublishRequestJson(text: string | Buffer): PublishRequest {
  const size = typeof text === 'string' ? Buffer.byteLength(text) : text.length;
  if (size > MAX_PUBLISH_REQUEST_BYTES) {
    throw new ReleaseError(
      'invalid-request',
      `invalid publish request: ${size} bytes is over the ${MAX_PUBLISH_REQUEST_BYTES}-byte limit`,
    );
  }
  let value: unknown;
  try {
    value = JSON.parse(text.toString());
  } catch (error) {
    throw new ReleaseError(
      'invalid-request',
      `invalid publish request: not JSON (${(error as Error).message})`,
    );
  }
  return parseWith(PublishRequestSchema, value, 'publish request');
}

export function parsePublishBatchJson(text: string | Buffer): PublishBatch {
  let value: unknown;
  try {
    value = JSON.parse(text.toString());
  } catch (error) {
    throw new ReleaseError(
      'invalid-request',
      `invalid publish batch: not JSON (${(error as Error).message})`,
    );
  }
  return parseWith(PublishBatchSchema, value, 'publish batch');
}

export function parsePublishRequest(value: unknown): PublishRequest {
  return parseWith(PublishRequestSchema, value, 'publish request');
}

export function parsePublishInvocation(value: unknown): PublishInvocation {
  return parseWith(PublishInvocationSchema, value, 'publish invocation');
}

/** A direct invocation of the deployed publisher; a branch in it is refused by name. */
export function parsePublishBuildInvocation(value: unknown): PublishBuildInvocation {
  if (typeof value === 'object' && value !== null && 'branch' in value) {
    throw new ReleaseError(
      'invalid-request',
      'invalid publish invocation: name the build (buildId), not a branch: the publisher takes the branch from the pipeline or CodeBuild',
    );
  }
  return parseWith(PublishBuildInvocationSchema, value, 'publish invocation');
}

/** A key to publish (a request, or a batch directly under its session), however it was named. */
export function parsePublishableKey(value: unknown): string {
  return parseWith(publishableKey, value, 'publish request key');
}

export function parsePublishJobParameters(value: unknown): PublishJobParameters {
  return parseWith(PublishJobParametersSchema, value, 'Publish action UserParameters');
}

/** zod parse with the first issue as one line: `invalid {what}: {path}: {message}[, got {value}]`. */
export function parseWith<S extends z.ZodType>(schema: S, value: unknown, what: string): z.output<S> {
  const size = jsonSize(value);
  if (size > MAX_PUBLISH_REQUEST_BYTES) {
    throw new ReleaseError(
      'invalid-request',
      `invalid ${what}: ${size} bytes is over the ${MAX_PUBLISH_REQUEST_BYTES}-byte limit`,
    );
  }
  const result = schema.safeParse(value);
  if (result.success) return result.data;
  throw new ReleaseError(
    'invalid-request',
    `invalid ${what}: ${describeZodIssue(result.error.issues[0], value)}`,
  );
}

function jsonSize(value: unknown): number {
  try {
    return Buffer.byteLength(JSON.stringify(value) ?? '');
  } catch {
    return Number.POSITIVE_INFINITY;
  }
}

function isPlainSegment(segment: string): boolean {
  return segment !== '' && segment !== '.' && segment !== '..' && !/[\\\u0000-\u001f]/.test(segment);
}
