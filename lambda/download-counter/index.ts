/**
 * The download counter Lambda: an S3 "Object Created" event (EventBridge) of a CloudFront standard
 * log object in, its downloads per release and day added to the records table, once.
 */
import { Logger } from '@aws-lambda-powertools/logger';
import { MetricUnit, Metrics } from '@aws-lambda-powertools/metrics';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { S3Client } from '@aws-sdk/client-s3';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import {
  countLogObject,
  DOWNLOAD_COUNTER_ENV,
  DOWNLOAD_METRICS_NAMESPACE,
  type CountDeps,
  type CountOutcome,
} from '@core/downloads';
import { WATCHY_RECORDS_TABLE } from '@core/records/contract';

const s3 = new S3Client({});
const doc = DynamoDBDocumentClient.from(new DynamoDBClient({}));
const logger = new Logger({ serviceName: 'download-counter' });
const metrics = new Metrics({ namespace: DOWNLOAD_METRICS_NAMESPACE, serviceName: 'download-counter' });

function env(name: string): string {
  const value = process.env[name];
  if (!value) throw new Error(`environment variable ${name} is not set`);
  return value;
}

let deps: CountDeps | undefined;

export async function handler(event: unknown): Promise<CountOutcome> {
  deps ??= {
    s3,
    doc,
    table: env(WATCHY_RECORDS_TABLE),
    logBucket: env(DOWNLOAD_COUNTER_ENV.logBucket),
    logPrefix: env(DOWNLOAD_COUNTER_ENV.logPrefix),
  };
  const outcome = await countLogObject(deps, event);
  const metric = metrics.singleMetric();
  metric.addDimension('outcome', outcome.outcome);
  metric.addMetric('LogFiles', MetricUnit.Count, 1);
  if (outcome.outcome === 'refused') {
    logger.error('log file refused: nothing of it counted', { ...outcome });
  } else if (outcome.outcome === 'skipped') {
    logger.warn('log object skipped', { ...outcome });
  } else {
    if (outcome.malformed > 0) metrics.addMetric('MalformedLines', MetricUnit.Count, outcome.malformed);
    metrics.addMetric('Downloads', MetricUnit.Count, outcome.downloadsAdded);
    metrics.publishStoredMetrics();
    logger.info('log file counted', { ...outcome });
  }
  return outcome;
}
