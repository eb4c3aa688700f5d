import { Duration, Stack } from 'aws-cdk-lib';
import type * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as events from 'aws-cdk-lib/aws-events';
import * as targets from 'aws-cdk-lib/aws-events-targets';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as logs from 'aws-cdk-lib/aws-logs';
import type * as s3 from 'aws-cdk-lib/aws-s3';
import { Construct } from 'constructs';
import { DOWNLOAD_COUNTER_ENV, DOWNLOAD_METRICS_NAMESPACE } from '@core/downloads/contract';
import { WATCHY_RECORDS_TABLE } from '@core/records/contract';
import { acknowledgeCheckov } from '../common/checkov';
import { acknowledgeWildcardResource } from '../common/nag-wildcard';
import { WatchyFunction } from '../common/watchy-function';
import { dependOnRolePolicyOnly } from '../consumers/monitor-function';
import { CLOUDFRONT_LOG_PREFIX } from '../distribution/access-log-bucket';
import { adapterEntry } from '../../repo-paths';

/** Partitions of the records table the counter writes: counts and the markers of counted files. */
export const DOWNLOAD_COUNTER_LEADING_KEYS = ['DOWNLOADS#*', 'LOGFILE#*'] as const;

export interface DownloadCounterProps {
  /** The records table (`pk`/`sk`); the counter writes only its DOWNLOADS# and LOGFILE# items. */
  readonly table: dynamodb.ITable;
  /**
   * The access-log bucket CloudFront writes its standard logs to (Distribution stack), with
   * EventBridge notifications enabled (AccessLogBucket `eventBridgeEnabled`).
   */
  readonly logBucket: s3.IBucket;
  /** Key prefix of the CloudFront logs in it. @default CLOUDFRONT_LOG_PREFIX (`cloudfront/`) */
  readonly logPrefix?: string;
  /** @default logs.RetentionDays.THREE_MONTHS */
  readonly logRetention?: logs.RetentionDays;
}

/**
 * Download counts from the CloudFront standard logs: an EventBridge rule on the log bucket's
 * Object Created events under `cloudfront/` invokes the counter Lambda (lambda/download-counter),
 * which reads that one object and adds its counts to the records table once. Its role may read
 * the CloudFront log objects only, and write only the download-count and counted-file items.
 */
export class DownloadCounter extends Construct {
  readonly function: WatchyFunction;
  readonly rule: events.Rule;

  constructor(scope: Construct, id: string, props: DownloadCounterProps) {
    super(scope, id);
    const prefix = props.logPrefix ?? CLOUDFRONT_LOG_PREFIX;
    this.function = new WatchyFunction(this, 'Function', {
      entry: adapterEntry('download-counter'),
      description: 'Counts release downloads per version and day from the CloudFront standard logs',
      invocation: { kind: 'async' },
      // A log file is streamed; a large one (hours of a busy edge) takes a while, never the memory.
      timeout: Duration.minutes(5),
      memorySize: 512,
      ...(props.logRetention && { logRetention: props.logRetention }),
      environment: {
        [WATCHY_RECORDS_TABLE]: props.table.tableName,
        [DOWNLOAD_COUNTER_ENV.logBucket]: props.logBucket.bucketName,
        [DOWNLOAD_COUNTER_ENV.logPrefix]: prefix,
        POWERTOOLS_METRICS_NAMESPACE: DOWNLOAD_METRICS_NAMESPACE,
      },
    });
    const fn = this.function;
    const role = fn.role;
    const logObjects = props.logBucket.arnForObjects(`${prefix}*`);
    role.addToPolicy(
      new iam.PolicyStatement({
        sid: 'ReadCloudFrontLogs',
        actions: ['s3:GetObject'],
        resources: [logObjects],
      }),
    );
    acknowledgeWildcardResource(
      role,
      logObjects,
      `Read-only GetObject of the CloudFront standard logs (${prefix}); CloudFront names each log file at delivery.`,
    );
    role.addToPolicy(
      new iam.PolicyStatement({
        sid: 'CountDownloads',
        // TransactWriteItems is authorised per action: the marker Put and the count Updates.
        actions: ['dynamodb:PutItem', 'dynamodb:UpdateItem'],
        resources: [props.table.tableArn],
        conditions: {
          'ForAllValues:StringLike': { 'dynamodb:LeadingKeys': [...DOWNLOAD_COUNTER_LEADING_KEYS] },
        },
      }),
    );
    if (props.table.encryptionKey) {
      role.addToPolicy(
        new iam.PolicyStatement({
          sid: 'UseTableKey',
          actions: ['kms:Decrypt', 'kms:Encrypt', 'kms:GenerateDataKey', 'kms:DescribeKey'],
          resources: [props.table.encryptionKey.keyArn],
          conditions: {
            StringEquals: { 'kms:ViaService': `dynamodb.${Stack.of(this).region}.amazonaws.com` },
          },
        }),
      );
    }
    dependOnRolePolicyOnly(fn);
    const what = 'The download counter';
    acknowledgeCheckov(
      fn.function,
      'CKV_AWS_117',
      `${what} calls only S3 and DynamoDB over TLS with IAM auth; a VPC would add NAT or endpoints and no protection.`,
    );
    acknowledgeCheckov(
      fn.function,
      'CKV_AWS_115',
      `${what} runs once per CloudFront log file (a few an hour); reserving concurrency would take from the account pool.`,
    );
    acknowledgeCheckov(
      fn.function,
      'CKV_AWS_173',
      `The environment of ${what} holds a table name, a bucket name and a prefix, no secrets; Lambda encrypts it at rest.`,
    );
    acknowledgeCheckov(
      fn.logGroup,
      'CKV_AWS_158',
      `Logs of ${what}: log object keys and counts, no request data; CloudWatch encrypts them at rest with its service key.`,
    );
    if (fn.deadLetterQueue) {
      acknowledgeCheckov(
        fn.deadLetterQueue,
        'CKV_AWS_27',
        `Dead letters of ${what} (S3 Object Created events naming log objects) are encrypted at rest with SQS-managed SSE.`,
      );
    }
    this.rule = new events.Rule(this, 'LogDelivered', {
      description: 'CloudFront standard log files delivered to the access-log bucket',
      eventPattern: {
        source: ['aws.s3'],
        detailType: ['Object Created'],
        detail: {
          bucket: { name: [props.logBucket.bucketName] },
          object: { key: [{ prefix }] },
        },
      },
      targets: [
        new targets.LambdaFunction(fn.function, {
          deadLetterQueue: fn.deadLetterQueue,
          retryAttempts: 4,
          maxEventAge: Duration.hours(6),
        }),
      ],
    });
  }
}
