/**
 * The download counter Lambda as deployed: its module-scope SDK clients reach moto through
 * AWS_ENDPOINT_URL, its settings come from the environment the construct sets.
 */
import { CreateBucketCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { CreateTableCommand, DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { DOWNLOAD_COUNTER_ENV, downloadCountsByVersion } from '@core/downloads';
import { WATCHY_RECORDS_TABLE } from '@core/records/contract';
import { startMoto, type MotoServer } from '../../support/moto-server';
import { logFile, logKey, objectCreatedEvent } from '../../core/downloads/cloudfront-log';

const TABLE = 'watchy-records';
const BUCKET = 'watchy-access-logs';
let moto: MotoServer;
const savedEnv = { ...process.env };

beforeAll(async () => {
  moto = await startMoto();
  Object.assign(process.env, {
    AWS_ENDPOINT_URL: moto.endpoint,
    AWS_REGION: 'us-east-1',
    AWS_ACCESS_KEY_ID: 'testing',
    AWS_SECRET_ACCESS_KEY: 'testing',
    [WATCHY_RECORDS_TABLE]: TABLE,
    [DOWNLOAD_COUNTER_ENV.logBucket]: BUCKET,
    [DOWNLOAD_COUNTER_ENV.logPrefix]: 'cloudfront/',
    POWERTOOLS_METRICS_DISABLED: 'true',
  });
  const s3 = new S3Client(moto.clientConfig);
  await s3.send(new CreateBucketCommand({ Bucket: BUCKET }));
  await new DynamoDBClient(moto.clientConfig).send(
    new CreateTableCommand({
      TableName: TABLE,
      BillingMode: 'PAY_PER_REQUEST',
      AttributeDefinitions: [
        { AttributeName: 'pk', AttributeType: 'S' },
        { AttributeName: 'sk', AttributeType: 'S' },
      ],
      KeySchema: [
        { AttributeName: 'pk', KeyType: 'HASH' },
        { AttributeName: 'sk', KeyType: 'RANGE' },
      ],
    }),
  );
  const body = logFile([{ path: '/binaries/github-monitor/watchy-github-monitor-3.1.0.gz' }]);
  await s3.send(new PutObjectCommand({ Bucket: BUCKET, Key: logKey('lambda01'), Body: body }));
  s3.destroy();
});
afterAll(async () => {
  process.env = savedEnv;
  await moto?.stop();
});

test('the handler counts a CloudFront log object from its EventBridge event, once', async () => {
  const { handler } = await import('../../../lambda/download-counter/index');
  const event = objectCreatedEvent(BUCKET, logKey('lambda01'), 200);
  expect(await handler(event)).toMatchObject({ outcome: 'counted', downloads: 1, downloadsAdded: 1 });
  expect(await handler(event)).toMatchObject({ outcome: 'already-counted', downloadsAdded: 0 });
  const doc = DynamoDBDocumentClient.from(new DynamoDBClient(moto.clientConfig));
  expect(await downloadCountsByVersion(doc, TABLE, 'github-monitor')).toMatchObject({
    total: 1,
    versions: [{ version: '3.1.0', total: 1 }],
  });
  doc.destroy();
});
