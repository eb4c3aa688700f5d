import { Duration, RemovalPolicy, Stack, Token } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as s3 from 'aws-cdk-lib/aws-s3';
import { Construct, type IConstruct } from 'constructs';
import { BINARIES_PREFIX, STAGING_PREFIX } from '@core/artifacts';
import { BISECT_PREFIX } from '@core/bisect/contract';
import { HISTORY_PREFIX } from '@core/release/history/history';
import { S3_ACCESS_LOG_PREFIX } from './access-log-bucket';
import { RELEASE_BEHAVIOURS } from './release-distribution';

/**
 * Physical names of the roles that write `binaries/` and `state/` of the release bucket. The bucket
 * policy names them by ARN: the roles live in the ReleaseControl stack, which deploys after the
 * bucket's, so the policy cannot reference them by token. IAM role names are global to an account,
 * so each carries the region.
 */
export interface ReleaseWriterRoleNames {
  /** The publish function's role: `binaries/` and `state/history/`. */
  readonly publish: string;
  /** The bisect function's role: `state/bisect/` (sessions and commit lists). */
  readonly bisect: string;
  /** The bisect list-commits project's role: `state/bisect/commits/`. */
  readonly bisectList: string;
}

/** IAM's limit on a role name. */
const MAX_ROLE_NAME = 64;
/** The longest region name (`ap-southeast-2`, `us-gov-west-1` and friends are shorter). */
const MAX_REGION_NAME = 15;

/** `{prefix}-publish-{region}`, `{prefix}-bisect-{region}`, `{prefix}-bisectlist-{region}`. */
export function releaseWriterRoleNames(stackPrefix: string, region: string): ReleaseWriterRoleNames {
  const names = {
    publish: `${stackPrefix}-publish-${region}`,
    bisect: `${stackPrefix}-bisect-${region}`,
    bisectList: `${stackPrefix}-bisectlist-${region}`,
  };
  const regionLength = Token.isUnresolved(region) ? MAX_REGION_NAME : region.length;
  const longest = `${stackPrefix}-bisectlist-`.length + regionLength;
  if (longest > MAX_ROLE_NAME) {
    throw new Error(
      `release writer role names: ${stackPrefix} is too long (the role name would be ${longest} characters; IAM allows ${MAX_ROLE_NAME})`,
    );
  }
  return names;
}

/** `arn:{partition}:iam::{account}:role/{name}` in the stack of `scope`. */
export function roleArnFromName(scope: IConstruct, name: string): string {
  return Stack.of(scope).formatArn({ service: 'iam', region: '', resource: 'role', resourceName: name });
}

/** Who may change what the bucket holds, as role ARNs; the bucket policy denies everybody else. */
export interface ReleaseBucketWriters {
  /** The only principal that may write `binaries/` and `state/history/`. */
  readonly publisher: string;
  /** The only principal that may write bisect sessions (`state/bisect/sessions/`). */
  readonly bisect: string;
  /** Principals that may write bisect commit lists (`state/bisect/commits/`), besides `bisect`. */
  readonly bisectCommitLists: readonly string[];
}

/**
 * Actions that change an object or its versions, tags, ACL, retention or legal hold. Denies use
 * the families (`s3:PutObject*`, `s3:DeleteObject*`, `s3:Replicate*`), so an action S3 adds to a
 * family later is denied too. Multipart uploads are `s3:PutObject`.
 */
export const OBJECT_WRITE_ACTIONS = ['s3:PutObject*', 's3:RestoreObject', 's3:Replicate*'];
export const OBJECT_DELETE_ACTIONS = [
  's3:DeleteObject*',
  's3:AbortMultipartUpload',
  's3:BypassGovernanceRetention',
];
/** Bisect sessions and commit lists. */
export const BISECT_SESSIONS_PREFIX = `${BISECT_PREFIX}/sessions`;
export const BISECT_COMMITS_PREFIX = `${BISECT_PREFIX}/commits`;

export interface ReleaseBucketProps {
  /** Bucket that receives this bucket's S3 server access logs. */
  readonly accessLogBucket: s3.IBucket;
  /** Noncurrent object versions expire after this many days. */
  readonly noncurrentVersionExpirationDays: number;
  /** Incomplete multipart uploads are aborted after this many days. @default 7 */
  readonly abortIncompleteMultipartUploadDays?: number;
  /**
   * Staged build output (`staging/`) expires this many days after it was written: a build is
   * published minutes after it stages, and the versioned copies are what stays. @default 14
   */
  readonly stagingExpirationDays?: number;
  /** Finished bisect sessions and commit lists (`state/bisect/`) expire after this many days. @default 90 */
  readonly bisectStateExpirationDays?: number;
  /** What happens to the bucket when it leaves the stack. @default RemovalPolicy.RETAIN */
  readonly removalPolicy?: RemovalPolicy;
  /** The roles that write `binaries/` and `state/` (docs/decisions/010-release-bucket-policy.md). */
  readonly writers: ReleaseBucketWriters;
}

/**
 * The release bucket: `binaries/` (served through CloudFront), `staging/` (build output awaiting
 * publish, expired after two weeks) and `state/` (release history; bisect sessions expire). Versioned, SSE-S3 (docs/decisions/003-distribution.md),
 * no public access, TLS 1.2+ only, bucket-owner-enforced object ownership, server access logs to
 * the log bucket, and noncurrent versions expire.
 *
 * Its policy holds the writers to their prefixes whatever IAM grants elsewhere
 * (docs/decisions/010-release-bucket-policy.md): only the publisher writes `binaries/` and
 * `state/history/`, nobody deletes there, every write there is create-only or compare-and-swap and a
 * versioned key only ever create-only; only bisect writes `state/bisect/`; no key outside the known
 * prefixes is written at all.
 */
export class ReleaseBucket extends Construct {
  readonly bucket: s3.Bucket;

  constructor(scope: Construct, id: string, props: ReleaseBucketProps) {
    super(scope, id);
    this.bucket = new s3.Bucket(this, 'Bucket', {
      versioned: true,
      encryption: s3.BucketEncryption.S3_MANAGED,
      enforceSSL: true,
      minimumTLSVersion: 1.2,
      blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL,
      objectOwnership: s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
      serverAccessLogsBucket: props.accessLogBucket,
      serverAccessLogsPrefix: `${S3_ACCESS_LOG_PREFIX}release-bucket/`,
      removalPolicy: props.removalPolicy ?? RemovalPolicy.RETAIN,
      lifecycleRules: [
        {
          id: 'expire-noncurrent-versions',
          noncurrentVersionExpiration: Duration.days(props.noncurrentVersionExpirationDays),
          abortIncompleteMultipartUploadAfter: Duration.days(props.abortIncompleteMultipartUploadDays ?? 7),
        },
        {
          id: 'expire-staging',
          prefix: `${STAGING_PREFIX}/`,
          expiration: Duration.days(props.stagingExpirationDays ?? 14),
          noncurrentVersionExpiration: Duration.days(1),
        },
        {
          id: 'expire-bisect-state',
          prefix: `${BISECT_PREFIX}/`,
          expiration: Duration.days(props.bisectStateExpirationDays ?? 90),
          noncurrentVersionExpiration: Duration.days(1),
        },
      ],
    });
    this.denyWritesButByTheirWriters(props.writers);
  }

  private denyWritesButByTheirWriters(writers: ReleaseBucketWriters): void {
    const bucket = this.bucket;
    const keys = (prefix: string) => bucket.arnForObjects(`${prefix}/*`);
    const releases = [keys(BINARIES_PREFIX), keys(HISTORY_PREFIX)];
    const everyone = new iam.StarPrincipal();
    const modify = [...OBJECT_WRITE_ACTIONS, ...OBJECT_DELETE_ACTIONS];
    const deny = (
      sid: string,
      actions: string[],
      target: { resources: string[] } | { notResources: string[] },
      conditions?: Record<string, Record<string, unknown>>,
    ) =>
      bucket.addToResourcePolicy(
        new iam.PolicyStatement({
          sid,
          effect: iam.Effect.DENY,
          principals: [everyone],
          actions,
          ...target,
          conditions,
        }),
      );
    deny(
      'OnlyThePublisherWritesReleases',
      modify,
      { resources: releases },
      {
        ArnNotEquals: { 'aws:PrincipalArn': writers.publisher },
      },
    );
    deny('NobodyDeletesReleases', OBJECT_DELETE_ACTIONS, { resources: releases });
    // S3 condition keys of the request's If-None-Match / If-Match headers. CreateMultipartUpload and
    // UploadPart carry neither, so multipart uploads to these keys are refused as well.
    deny(
      'ReleaseWritesAreConditional',
      ['s3:PutObject'],
      { resources: releases },
      {
        Null: { 's3:if-none-match': 'true', 's3:if-match': 'true' },
      },
    );
    deny(
      'VersionedKeysAreCreateOnly',
      ['s3:PutObject'],
      {
        resources: RELEASE_BEHAVIOURS.filter((b) => b.cache === 'immutable').map((b) =>
          bucket.arnForObjects(b.pathPattern),
        ),
      },
      { Null: { 's3:if-none-match': 'true' } },
    );
    deny(
      'OnlyBisectWritesSessions',
      modify,
      { resources: [keys(BISECT_SESSIONS_PREFIX)] },
      {
        ArnNotEquals: { 'aws:PrincipalArn': writers.bisect },
      },
    );
    deny(
      'OnlyBisectWritesCommitLists',
      modify,
      { resources: [keys(BISECT_COMMITS_PREFIX)] },
      {
        ArnNotEquals: { 'aws:PrincipalArn': [writers.bisect, ...writers.bisectCommitLists] },
      },
    );
    deny('NoWritesOutsideTheKnownPrefixes', modify, {
      notResources: [
        ...releases,
        keys(STAGING_PREFIX),
        keys(BISECT_SESSIONS_PREFIX),
        keys(BISECT_COMMITS_PREFIX),
      ],
    });
  }
}
