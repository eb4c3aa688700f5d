/**
 * The build records contract: what the recorder, the release cores, the webhooks, the download
 * counter, the /api service and the CLI agree on. One DynamoDB table (on demand, PITR, the
 * platform's KMS key) holds every item kind below; its name reaches the Lambdas in
 * `WATCHY_RECORDS_TABLE`.
 *
 * Keys (all strings): `pk` (partition) and `sk` (sort), and one index, `byService`, on
 * `gsi1pk`/`gsi1sk`, so every question about one service is one Query:
 *
 *   build record     pk BUILD#{buildId}            sk RECORD
 *                    gsi1pk SERVICE#{service}      gsi1sk BUILD#{startedAt}#{buildId}
 *   release event    pk SERVICE#{service}          sk RELEASE#{at}#{eventId}
 *                    gsi1pk SERVICE#{service}      gsi1sk RELEASE#{at}#{eventId}
 *   commit           pk COMMIT#{repository}        sk {sha}
 *   webhook delivery pk DELIVERY#{provider}        sk {deliveryId}            (expires: TTL)
 *   downloads        pk DOWNLOADS#{service}        sk {version}#{day}         count: N
 *   counted log file pk LOGFILE#{object key}       sk COUNTED   (COUNTED#{i}/{n}: chunk i of n)
 *
 * `at`, `startedAt` and `day` are ISO-8601 UTC (`2026-12-03T17:52:20.000Z`, `2026-12-03`), so the
 * sort keys order by time; `buildId` is CodeBuild's `project:uuid`.
 */
import { z } from 'zod';
import { ARCHITECTURES, AppNameSchema, BINARY_TYPES, VersionSchema, artifactName } from '../artifacts';
import { BUILD_END_STATES } from '../build-env';
import { POINTER_ACTIONS } from '../release/history/history';

/** Environment variable naming the records table, for every Lambda that reads or writes it. */
export const WATCHY_RECORDS_TABLE = 'WATCHY_RECORDS_TABLE';

export const RECORDS_KEYS = {
  partition: 'pk',
  sort: 'sk',
  byService: { indexName: 'byService', partition: 'gsi1pk', sort: 'gsi1sk' },
  /** TTL attribute (epoch seconds) of items that expire, e.g. webhook deliveries. */
  expires: 'expires',
} as const;

/** CodeBuild phases in the order a build goes through them (as CodeBuild reports `build-phase`). */
export const BUILD_PHASES = [
  'SUBMITTED',
  'QUEUED',
  'PROVISIONING',
  'DOWNLOAD_SOURCE',
  'INSTALL',
  'PRE_BUILD',
  'BUILD',
  'POST_BUILD',
  'UPLOAD_ARTIFACTS',
  'FINALIZING',
  'COMPLETED',
] as const;
export type BuildPhase = (typeof BUILD_PHASES)[number];

export const BUILD_STATUSES = ['IN_PROGRESS', ...BUILD_END_STATES] as const;
export type BuildStatus = (typeof BUILD_STATUSES)[number];

/** What started a build. */
export const BUILD_TRIGGERS = ['pipeline', 'bisect', 'rebuild', 'manual'] as const;
export type BuildTrigger = (typeof BUILD_TRIGGERS)[number];

/**
 * A service is one catalog entry: a binary (app × type × architecture) is named by its artifact
 * name (`slack-monitor`, `backend-lambda-arm64`); an image service by `{name}-image` (and
 * `{name}-image-arm64`), so the two never collide.
 */
export const ServiceNameSchema = z.string().regex(/^[a-z0-9](?:[a-z0-9-]{0,62}[a-z0-9])?$/, {
  message: 'expected a service name: lowercase letters, digits or inner hyphens, at most 64',
});

export const BinaryServiceSchema = z.strictObject({
  kind: z.literal('binary'),
  app: AppNameSchema,
  binaryType: z.enum(BINARY_TYPES),
  architecture: z.enum(ARCHITECTURES),
});
export const ImageServiceSchema = z.strictObject({
  kind: z.literal('image'),
  name: AppNameSchema,
  architecture: z.enum(ARCHITECTURES),
});
export const ServiceRefSchema = z.discriminatedUnion('kind', [BinaryServiceSchema, ImageServiceSchema]);
export type ServiceRef = z.output<typeof ServiceRefSchema>;

export function serviceName(ref: ServiceRef): string {
  if (ref.kind === 'binary') return artifactName(ref);
  return `${ref.name}-image${ref.architecture === 'x86_64' ? '' : `-${ref.architecture}`}`;
}

const IsoTime = z.iso.datetime({ offset: false });

/** One build, as the recorder keeps it: it only ever moves forward (see `BUILD_PHASES`). */
export const BuildRecordSchema = z.strictObject({
  buildId: z.string().min(1).max(300),
  project: z.string().min(1).max(255),
  service: ServiceNameSchema.optional(),
  commit: z.string().max(64).optional(),
  branch: z.string().max(255).optional(),
  trigger: z.enum(BUILD_TRIGGERS),
  /** The pipeline execution or bisect session that started it, when one did. */
  triggerId: z.string().max(255).optional(),
  status: z.enum(BUILD_STATUSES),
  /** The phase in progress (or the last one reached, once ended). */
  phase: z.enum(BUILD_PHASES).optional(),
  startedAt: IsoTime,
  endedAt: IsoTime.optional(),
  durationSeconds: z.number().nonnegative().optional(),
  failedPhase: z.enum(BUILD_PHASES).optional(),
  /** The first error line of the failed phase (CodeBuild's phase context), one line. */
  firstError: z.string().max(1000).optional(),
  logUrl: z.string().url().optional(),
  /** Log group and stream, for `watchy logs`. */
  logGroup: z.string().optional(),
  logStream: z.string().optional(),
  /** What it produced, once published. */
  version: VersionSchema.optional(),
  binarySize: z.number().int().nonnegative().optional(),
  imageDigest: z
    .string()
    .regex(/^sha256:[0-9a-f]{64}$/)
    .optional(),
  /** Time of the newest event folded in: older events never overwrite newer state. */
  eventTime: IsoTime,
});
export type BuildRecord = z.output<typeof BuildRecordSchema>;

export const RELEASE_EVENT_ACTIONS = [...POINTER_ACTIONS, 'promote'] as const;

/** A release event: publish, promotion or rollback of one pointer, written by the release cores. */
export const ReleaseEventSchema = z.strictObject({
  eventId: z.string().min(1).max(200),
  service: ServiceNameSchema,
  action: z.enum(RELEASE_EVENT_ACTIONS),
  at: IsoTime,
  /** Who: the caller's identity (IAM principal ARN, pipeline execution, bisect session). */
  actor: z.string().max(500),
  from: VersionSchema.optional(),
  to: VersionSchema,
  metadataVersion: z.number().int().min(1),
  reason: z.string().max(1000).optional(),
  buildId: z.string().max(300).optional(),
});
export type ReleaseEvent = z.output<typeof ReleaseEventSchema>;

/** Where the release cores report release events (the DynamoDB-backed one, or none). */
export interface ReleaseEventSink {
  record(event: ReleaseEvent): Promise<void>;
}

export const CommitSchema = z.strictObject({
  repository: z.string().min(1).max(300),
  sha: z.string().regex(/^[0-9a-f]{7,64}$/),
  author: z.string().max(300),
  message: z.string().max(2000),
  at: IsoTime.optional(),
});
export type Commit = z.output<typeof CommitSchema>;

/** A page of results: `cursor` is opaque to callers (absent on the last page). */
export interface Page<T> {
  readonly items: readonly T[];
  readonly cursor?: string;
}
