/**
 * One log object, from its EventBridge "Object Created" event to its counts in the table. The
 * event is S3's EventBridge event (S3 User Guide, "EventBridge event message structure": `source`
 * `aws.s3`, `detail-type` `Object Created`, `detail.bucket.name`, `detail.object.key`/`size`).
 *
 * Outcomes: `counted` (its counts were added now), `already-counted` (a redelivery: nothing
 * added), `refused` (corrupt, oversized or not a CloudFront log: nothing added, reported),
 * `skipped` (not a log object of ours, or gone). Failures of S3 or DynamoDB throw, so the event is
 * retried; a retry never adds what was added before.
 */
import { GetObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { Readable } from 'node:stream';
import { z } from 'zod';
import { describeZodIssue } from '../zod-issue';
import { DEFAULT_LOG_LIMITS, type LogLimits } from './contract';
import { LogRefusedError, tallyLogFile, type RefusalReason } from './log-file';
import { recordLogCounts, type RecordCountsResult } from './store';

export const ObjectCreatedEventSchema = z.object({
  source: z.literal('aws.s3'),
  'detail-type': z.literal('Object Created'),
  detail: z.object({
    bucket: z.object({ name: z.string().min(1) }),
    object: z.object({ key: z.string().min(1).max(1024), size: z.number().int().nonnegative().optional() }),
  }),
});

export interface CountDeps {
  readonly s3: S3Client;
  readonly doc: DynamoDBDocumentClient;
  readonly table: string;
  /** Only this bucket's objects are counted. */
  readonly logBucket: string;
  /** Only keys under this prefix (`cloudfront/`). */
  readonly logPrefix: string;
  /** @default DEFAULT_LOG_LIMITS */
  readonly limits?: LogLimits;
  readonly now?: () => Date;
}

export type CountOutcome =
  | ({
      readonly outcome: 'counted' | 'already-counted' | 'completed' | 'nothing-to-count';
      readonly key: string;
    } & Omit<RecordCountsResult, 'outcome'> & {
        readonly lines: number;
        readonly downloads: number;
        readonly ignored: number;
        readonly malformed: number;
      })
  | {
      readonly outcome: 'refused';
      readonly key: string;
      readonly reason: RefusalReason;
      readonly message: string;
    }
  | { readonly outcome: 'skipped'; readonly key?: string; readonly message: string };

export async function countLogObject(deps: CountDeps, event: unknown): Promise<CountOutcome> {
  const parsed = ObjectCreatedEventSchema.safeParse(event);
  if (!parsed.success) {
    throw new Error(`not an S3 Object Created event: ${describeZodIssue(parsed.error.issues[0], event)}`);
  }
  const { bucket, object } = parsed.data.detail;
  const key = object.key;
  if (bucket.name !== deps.logBucket) {
    return {
      outcome: 'skipped',
      key,
      message: `bucket ${bucket.name} is not the log bucket ${deps.logBucket}`,
    };
  }
  if (!key.startsWith(deps.logPrefix)) {
    return { outcome: 'skipped', key, message: `${key} is not under ${deps.logPrefix}` };
  }
  const limits = deps.limits ?? DEFAULT_LOG_LIMITS;
  const refused = (reason: RefusalReason, message: string): CountOutcome => ({
    outcome: 'refused',
    key,
    reason,
    message,
  });
  if (object.size !== undefined && object.size > limits.maxCompressedBytes) {
    return refused('too-large', `log file is ${object.size} bytes, over ${limits.maxCompressedBytes}`);
  }
  let body: Readable;
  try {
    const out = await deps.s3.send(new GetObjectCommand({ Bucket: bucket.name, Key: key }));
    if (out.ContentLength !== undefined && out.ContentLength > limits.maxCompressedBytes) {
      (out.Body as Readable | undefined)?.destroy?.();
      return refused(
        'too-large',
        `log file is ${out.ContentLength} bytes, over ${limits.maxCompressedBytes}`,
      );
    }
    if (!(out.Body instanceof Readable)) throw new Error(`GetObject of ${key} returned no stream`);
    body = out.Body;
  } catch (error) {
    // Logs expire by lifecycle: a late redelivery may find the object gone.
    if ((error as Error).name === 'NoSuchKey')
      return { outcome: 'skipped', key, message: `${key} no longer exists` };
    throw error;
  }
  let tally;
  try {
    tally = await tallyLogFile(body, limits);
  } catch (error) {
    if (error instanceof LogRefusedError) return refused(error.reason, error.message);
    throw error;
  }
  const result = await recordLogCounts(deps.doc, deps.table, key, tally, deps.now ? { now: deps.now() } : {});
  return {
    ...result,
    key,
    lines: tally.lines,
    downloads: tally.downloads,
    ignored: tally.ignored,
    malformed: tally.malformed,
  };
}
