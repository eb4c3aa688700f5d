import { CfnOutput, Duration, Stack, type StackProps } from 'aws-cdk-lib';
import type * as cloudfront from 'aws-cdk-lib/aws-cloudfront';
import type * as s3 from 'aws-cdk-lib/aws-s3';
import type { Construct } from 'constructs';
import { BINARIES_PREFIX } from '@core/artifacts';
import type { WatchyConfig } from '@core/config';
import { AccessLogBucket } from '../constructs/distribution/access-log-bucket';
import {
  ReleaseBucket,
  releaseWriterRoleNames,
  roleArnFromName,
} from '../constructs/distribution/release-bucket';
import { ReleaseDistribution } from '../constructs/distribution/release-distribution';

export interface DistributionStackProps extends StackProps {
  /** Prefix of stack and resource names (`Watchy`, `Watchy-Prod`): names the release bucket's writers. */
  readonly stackPrefix: string;
  readonly distribution: WatchyConfig['distribution'];
}

/** The release bucket, its access-log bucket, and CloudFront in front of `binaries/`. */
export class DistributionStack extends Stack {
  readonly releaseBucket: s3.Bucket;
  readonly accessLogBucket: s3.Bucket;
  readonly distribution: cloudfront.Distribution;
  /** `https://{distribution or custom domain}/binaries`: the default of `BinaryDistributionUrl`. */
  readonly binaryDistributionUrl: string;

  constructor(scope: Construct, id: string, props: DistributionStackProps) {
    super(scope, id, props);
    const config = props.distribution;

    this.accessLogBucket = new AccessLogBucket(this, 'AccessLogs', {
      retentionDays: config.accessLogRetentionDays,
      // The download counter (Operations stack) counts the CloudFront logs from their events.
      eventBridgeEnabled: true,
    }).bucket;
    // The writers are ReleaseControl roles with these fixed names (that stack deploys after this one).
    const writers = releaseWriterRoleNames(props.stackPrefix, this.region);
    this.releaseBucket = new ReleaseBucket(this, 'Releases', {
      accessLogBucket: this.accessLogBucket,
      noncurrentVersionExpirationDays: config.noncurrentVersionExpirationDays,
      writers: {
        publisher: roleArnFromName(this, writers.publish),
        bisect: roleArnFromName(this, writers.bisect),
        bisectCommitLists: [roleArnFromName(this, writers.bisectList)],
      },
    }).bucket;
    const cdn = new ReleaseDistribution(this, 'Cdn', {
      bucket: this.releaseBucket,
      logBucket: this.accessLogBucket,
      latestPointerTtl: Duration.seconds(config.latestPointerTtlSeconds),
      domainName: config.domainName,
      certificateArn: config.certificateArn,
      webAclArn: config.webAclArn,
    });
    this.distribution = cdn.distribution;
    this.binaryDistributionUrl = `${cdn.baseUrl}/${BINARIES_PREFIX}`;

    new CfnOutput(this, 'BinaryDistributionUrl', {
      description: 'Base URL of released binaries: {url}/{name}/watchy-{name}.json is the latest metadata',
      value: this.binaryDistributionUrl,
    });
    new CfnOutput(this, 'ReleaseBucketName', {
      description: 'Release bucket (binaries/, staging/, state/)',
      value: this.releaseBucket.bucketName,
    });
    new CfnOutput(this, 'DistributionId', {
      description: 'CloudFront distribution in front of binaries/ (invalidated on promote and rollback)',
      value: this.distribution.distributionId,
    });
  }
}
