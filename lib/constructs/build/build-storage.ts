import { ArnFormat, Duration, RemovalPolicy, Stack } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as s3 from 'aws-cdk-lib/aws-s3';
import { Construct } from 'constructs';
import { AccessLogBucket, S3_ACCESS_LOG_PREFIX } from '../distribution/access-log-bucket';

export interface BuildStorageProps {
  /** Prefix of every build log group name; the key lets CloudWatch Logs use it only under this prefix. */
  readonly logGroupPrefix: string;
  /** S3 cache objects expire after this many days without being rewritten. @default 30 */
  readonly cacheExpirationDays?: number;
  /** Pipeline artifacts (source snapshots, build outputs) expire after this many days. @default 30 */
  readonly artifactExpirationDays?: number;
  /** Server access logs of the two buckets expire after this many days. @default 365 */
  readonly accessLogRetentionDays?: number;
  /** Of the key and the buckets. @default RemovalPolicy.RETAIN */
  readonly removalPolicy?: RemovalPolicy;
}

/**
 * Where builds keep things that are not releases: one customer-managed KMS key (rotated yearly)
 * for build output, build logs, the S3 build cache and the pipeline artifact store; the cache
 * bucket; the pipeline artifact bucket; and an access-log bucket for those two.
 *
 * The pipeline artifact bucket lives here, next to the projects, not in the Pipeline stack:
 * CodePipeline's CodeBuild action grants each project's role access to the artifact bucket, and
 * with the bucket in the Pipeline stack those grants would make the Build stack depend on the
 * Pipeline stack, which already depends on it (docs/decisions/005-pipeline.md).
 */
export class BuildStorage extends Construct {
  readonly key: kms.Key;
  readonly cacheBucket: s3.Bucket;
  readonly artifactBucket: s3.Bucket;
  readonly accessLogBucket: s3.Bucket;

  constructor(scope: Construct, id: string, props: BuildStorageProps) {
    super(scope, id);
    const stack = Stack.of(this);
    const removalPolicy = props.removalPolicy ?? RemovalPolicy.RETAIN;
    this.key = new kms.Key(this, 'Key', {
      description: `Build output, build logs, build cache and pipeline artifacts of ${stack.stackName}`,
      enableKeyRotation: true,
      removalPolicy,
    });
    // CloudWatch Logs encrypts the build log groups with this key, and only those log groups.
    this.key.addToResourcePolicy(
      new iam.PolicyStatement({
        sid: 'BuildLogGroups',
        principals: [new iam.ServicePrincipal(`logs.${stack.region}.amazonaws.com`)],
        actions: ['kms:Encrypt*', 'kms:Decrypt*', 'kms:ReEncrypt*', 'kms:GenerateDataKey*', 'kms:Describe*'],
        resources: ['*'],
        conditions: {
          ArnLike: {
            'kms:EncryptionContext:aws:logs:arn': stack.formatArn({
              service: 'logs',
              resource: 'log-group',
              resourceName: `${props.logGroupPrefix}*`,
              arnFormat: ArnFormat.COLON_RESOURCE_NAME,
            }),
          },
        },
      }),
    );

    this.accessLogBucket = new AccessLogBucket(this, 'AccessLogs', {
      retentionDays: props.accessLogRetentionDays ?? 365,
      removalPolicy,
    }).bucket;
    const common: s3.BucketProps = {
      encryption: s3.BucketEncryption.KMS,
      encryptionKey: this.key,
      bucketKeyEnabled: true,
      enforceSSL: true,
      minimumTLSVersion: 1.2,
      blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL,
      objectOwnership: s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
      versioned: true,
      serverAccessLogsBucket: this.accessLogBucket,
      removalPolicy,
    };
    this.cacheBucket = new s3.Bucket(this, 'Cache', {
      ...common,
      serverAccessLogsPrefix: `${S3_ACCESS_LOG_PREFIX}build-cache/`,
      lifecycleRules: [
        {
          id: 'expire-stale-cache',
          expiration: Duration.days(props.cacheExpirationDays ?? 30),
          noncurrentVersionExpiration: Duration.days(1),
          abortIncompleteMultipartUploadAfter: Duration.days(1),
        },
      ],
    });
    this.artifactBucket = new s3.Bucket(this, 'PipelineArtifacts', {
      ...common,
      serverAccessLogsPrefix: `${S3_ACCESS_LOG_PREFIX}pipeline-artifacts/`,
      lifecycleRules: [
        {
          id: 'expire-old-artifacts',
          expiration: Duration.days(props.artifactExpirationDays ?? 30),
          noncurrentVersionExpiration: Duration.days(1),
          abortIncompleteMultipartUploadAfter: Duration.days(1),
        },
      ],
    });
  }
}
