/**
 * The DownloadCounter construct in a stack of its own with a records table (customer-managed key)
 * and the access-log bucket: the rule on CloudFront log objects, the function's least-privilege
 * role, and the log bucket's EventBridge notifications; cdk-nag, cfn-lint and checkov clean.
 */
import { Match } from 'aws-cdk-lib/assertions';
import * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as kms from 'aws-cdk-lib/aws-kms';
import { DOWNLOAD_COUNTER_ENV } from '@core/downloads/contract';
import { WATCHY_RECORDS_TABLE } from '@core/records/contract';
import { AccessLogBucket } from '../../../../lib/constructs/distribution/access-log-bucket';
import { DownloadCounter } from '../../../../lib/constructs/operations/download-counter';
import { lintTemplate, synthLocal, type LocalSynth } from '../release/bisect-local-stack';

let synth: LocalSynth;
let ids: { table: string; key: string; bucket: string };

beforeAll(() => {
  synth = synthLocal((stack) => {
    const key = new kms.Key(stack, 'RecordsKey', { enableKeyRotation: true, description: 'records table' });
    const table = new dynamodb.TableV2(stack, 'Records', {
      partitionKey: { name: 'pk', type: dynamodb.AttributeType.STRING },
      sortKey: { name: 'sk', type: dynamodb.AttributeType.STRING },
      encryption: dynamodb.TableEncryptionV2.customerManagedKey(key),
      pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: true },
    });
    const logs = new AccessLogBucket(stack, 'AccessLogs', { retentionDays: 30, eventBridgeEnabled: true });
    new DownloadCounter(stack, 'Downloads', { table, logBucket: logs.bucket });
    ids = {
      table: stack.getLogicalId(table.node.defaultChild as dynamodb.CfnGlobalTable),
      key: stack.getLogicalId(key.node.defaultChild as kms.CfnKey),
      bucket: stack.getLogicalId(logs.bucket.node.defaultChild as import('aws-cdk-lib/aws-s3').CfnBucket),
    };
  });
});
afterAll(() => synth.cleanup());

interface Statement {
  Sid?: string;
  Action: string | string[];
  Resource: unknown;
  Condition?: unknown;
}

function statements(): Statement[] {
  const policies = Object.values(synth.template.findResources('AWS::IAM::Policy')) as {
    Properties: { PolicyDocument: { Statement: Statement[] } };
  }[];
  return policies.flatMap((p) => p.Properties.PolicyDocument.Statement);
}

describe('DownloadCounter construct', () => {
  test('no unacknowledged cdk-nag findings', () => {
    expect(synth.findings).toEqual([]);
  });

  test('cfn-lint: no errors or warnings; checkov: no failed checks', () => {
    expect(lintTemplate(synth.file)).toEqual({ cfnLint: '', checkovFailed: [] });
  });

  test('the log bucket sends its object events to EventBridge natively (no notifications custom resource)', () => {
    synth.template.hasResourceProperties('AWS::S3::Bucket', {
      NotificationConfiguration: { EventBridgeConfiguration: { EventBridgeEnabled: true } },
    });
    expect(Object.keys(synth.template.findResources('Custom::S3BucketNotifications'))).toEqual([]);
  });

  test('Object Created events of cloudfront/ objects of the log bucket reach the counter, with retries and a dead-letter queue', () => {
    synth.template.hasResourceProperties('AWS::Events::Rule', {
      EventPattern: {
        source: ['aws.s3'],
        'detail-type': ['Object Created'],
        detail: {
          bucket: { name: [{ Ref: ids.bucket }] },
          object: { key: [{ prefix: 'cloudfront/' }] },
        },
      },
      Targets: [
        Match.objectLike({
          DeadLetterConfig: Match.anyValue(),
          RetryPolicy: { MaximumRetryAttempts: 4, MaximumEventAgeInSeconds: 21600 },
        }),
      ],
    });
    synth.template.hasResourceProperties('AWS::Lambda::Function', {
      Architectures: ['arm64'],
      Timeout: 300,
      Environment: {
        Variables: Match.objectLike({
          [WATCHY_RECORDS_TABLE]: { Ref: ids.table },
          [DOWNLOAD_COUNTER_ENV.logBucket]: { Ref: ids.bucket },
          [DOWNLOAD_COUNTER_ENV.logPrefix]: 'cloudfront/',
        }),
      },
    });
  });

  test('the role reads CloudFront log objects only and writes only download counts and counted-file markers', () => {
    const all = statements();
    expect(all.flatMap((s) => [s.Action].flat()).sort()).toEqual([
      'dynamodb:PutItem',
      'dynamodb:UpdateItem',
      'kms:Decrypt',
      'kms:DescribeKey',
      'kms:Encrypt',
      'kms:GenerateDataKey',
      'logs:CreateLogStream',
      'logs:PutLogEvents',
      's3:GetObject',
      'sqs:SendMessage',
      'xray:PutTelemetryRecords',
      'xray:PutTraceSegments',
    ]);
    const bySid = (sid: string) => all.find((s) => s.Sid === sid)!;
    expect(bySid('ReadCloudFrontLogs').Resource).toEqual({
      'Fn::Join': ['', [{ 'Fn::GetAtt': [ids.bucket, 'Arn'] }, '/cloudfront/*']],
    });
    expect(bySid('CountDownloads')).toMatchObject({
      Resource: { 'Fn::GetAtt': [ids.table, 'Arn'] },
      Condition: { 'ForAllValues:StringLike': { 'dynamodb:LeadingKeys': ['DOWNLOADS#*', 'LOGFILE#*'] } },
    });
    expect(bySid('UseTableKey')).toMatchObject({
      Resource: { 'Fn::GetAtt': [ids.key, 'Arn'] },
      Condition: { StringEquals: { 'kms:ViaService': 'dynamodb.us-east-1.amazonaws.com' } },
    });
  });
});
