import { Duration, RemovalPolicy, Validations } from 'aws-cdk-lib';
import * as s3 from 'aws-cdk-lib/aws-s3';
import { Construct } from 'constructs';
import { acknowledgeCheckov } from '../common/checkov';

export interface AccessLogBucketProps {
  /** Log objects expire after this many days. */
  readonly retentionDays: number;
  /** What happens to the bucket when it leaves the stack. @default RemovalPolicy.RETAIN */
  readonly removalPolicy?: RemovalPolicy;
  /**
   * Send the bucket's object events to EventBridge (the download counter's rule, in a later stack,
   * matches the CloudFront logs' Object Created events; the bucket depends on nothing of it).
   * @default false
   */
  readonly eventBridgeEnabled?: boolean;
}

/** Key prefix of S3 server access logs in the log bucket (one folder per logged bucket below it). */
export const S3_ACCESS_LOG_PREFIX = 's3/';
/** Key prefix of CloudFront standard logs in the log bucket. */
export const CLOUDFRONT_LOG_PREFIX = 'cloudfront/';

/**
 * The bucket that receives S3 server access logs and CloudFront standard logs: SSE-S3, TLS only,
 * no public access, and a lifecycle that expires logs after `retentionDays`.
 *
 * Object ownership is BucketOwnerPreferred, not BucketOwnerEnforced, because CloudFront standard
 * logging delivers through an ACL grant to the awslogsdelivery account; S3 server access logging
 * uses the bucket policy instead (`@aws-cdk/aws-s3:serverAccessLogsUseBucketPolicy`).
 */
export class AccessLogBucket extends Construct {
  readonly bucket: s3.Bucket;

  constructor(scope: Construct, id: string, props: AccessLogBucketProps) {
    super(scope, id);
    this.bucket = new s3.Bucket(this, 'Bucket', {
      encryption: s3.BucketEncryption.S3_MANAGED,
      enforceSSL: true,
      minimumTLSVersion: 1.2,
      blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL,
      objectOwnership: s3.ObjectOwnership.BUCKET_OWNER_PREFERRED,
      removalPolicy: props.removalPolicy ?? RemovalPolicy.RETAIN,
      lifecycleRules: [
        {
          id: 'expire-logs',
          expiration: Duration.days(props.retentionDays),
          abortIncompleteMultipartUploadAfter: Duration.days(1),
        },
      ],
    });
    if (props.eventBridgeEnabled) {
      // On the CloudFormation resource itself: CDK's eventBridgeEnabled adds a custom-resource
      // Lambda (with a wildcard S3 policy) to manage bucket notifications that CloudFormation
      // manages natively.
      (this.bucket.node.defaultChild as s3.CfnBucket).notificationConfiguration = {
        eventBridgeConfiguration: { eventBridgeEnabled: true },
      };
    }
    Validations.of(this.bucket).acknowledge({
      id: 'AwsSolutions-S1',
      reason: 'This is the access-log destination itself; logging its own access into itself would loop.',
    });
    acknowledgeCheckov(
      this.bucket,
      'CKV_AWS_18',
      'This is the access-log destination itself; logging its own access into itself would loop.',
    );
    acknowledgeCheckov(
      this.bucket,
      'CKV_AWS_21',
      'Log objects are written once under unique names and expire by lifecycle; versions would only keep deleted logs past their retention.',
    );
  }
}
