import { Duration, RemovalPolicy } from 'aws-cdk-lib';
import * as s3 from 'aws-cdk-lib/aws-s3';
import { Construct } from 'constructs';
import { STAGING_PREFIX } from '../../lambda/core/artifacts';
import { BISECT_PREFIX } from '../../lambda/core/bisect/contract';
import { S3_ACCESS_LOG_PREFIX } from './access-log-bucket';

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
}

/**
 * The release bucket: `binaries/` (served through CloudFront), `staging/` (build output awaiting
 * publish, expired after two weeks) and `state/` (release history; bisect sessions expire). Versioned, SSE-S3 (docs/decisions/003-distribution.md),
 * no public access, TLS 1.2+ only, bucket-owner-enforced object ownership, server access logs to
 * the log bucket, and noncurrent versions expire.
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
  }
}
