/**
 * Download counts in the records table: adding one log file's counts exactly once, and reading
 * them per version.
 *
 * Exactly once: each transaction (TransactWriteItems, at most 100 actions) holds the file's marker
 * item, put only if absent, and up to 99 count updates (`ADD count`). A second delivery of the
 * same log object finds the marker and its whole transaction is cancelled, so nothing is added
 * twice. A file with more counts than fit in one transaction is split into chunks in a fixed order
 * (the groups sorted by key), each with its own marker (`COUNTED#{i}/{n}`): a run cut off between
 * chunks is completed by the next delivery, which skips the chunks already written.
 */
import {
  QueryCommand,
  TransactWriteCommand,
  type DynamoDBDocumentClient,
  type TransactWriteCommandInput,
} from '@aws-sdk/lib-dynamodb';
import { RECORDS_KEYS, ServiceNameSchema } from '../records/contract';
import { downloadsKey, downloadsPartition, logFileKey } from './contract';
import type { LogTally } from './log-file';

/** TransactWriteItems' limit on actions per call. */
export const TRANSACT_MAX_ACTIONS = 100;
/** Markers outlive every redelivery: EventBridge retries for up to 24 hours, Lambda's async queue for 6. */
export const LOG_MARKER_RETENTION_DAYS = 90;
const CONFLICT_ATTEMPTS = 8;

export interface RecordCountsOptions {
  readonly now?: Date;
  /** Count updates per transaction (one action is the marker). @default 99 */
  readonly chunkSize?: number;
  readonly sleep?: (ms: number) => Promise<void>;
}

export interface RecordCountsResult {
  /** `counted`: every chunk written now; `already-counted`: none (a redelivery); `completed`: some were written before. */
  readonly outcome: 'counted' | 'already-counted' | 'completed' | 'nothing-to-count';
  readonly chunks: number;
  readonly chunksWritten: number;
  /** Downloads added by this call. */
  readonly downloadsAdded: number;
}

/** Adds a tallied log file's counts to the table, once per object key. */
export async function recordLogCounts(
  doc: DynamoDBDocumentClient,
  table: string,
  objectKey: string,
  tally: LogTally,
  options: RecordCountsOptions = {},
): Promise<RecordCountsResult> {
  const chunkSize = options.chunkSize ?? TRANSACT_MAX_ACTIONS - 1;
  if (chunkSize < 1 || chunkSize > TRANSACT_MAX_ACTIONS - 1)
    throw new Error(`chunkSize must be 1..${TRANSACT_MAX_ACTIONS - 1}`);
  if (tally.groups.length === 0)
    return { outcome: 'nothing-to-count', chunks: 0, chunksWritten: 0, downloadsAdded: 0 };
  const now = options.now ?? new Date();
  const sleep = options.sleep ?? ((ms: number) => new Promise<void>((r) => setTimeout(r, ms)));
  const chunks: (typeof tally.groups)[] = [];
  for (let i = 0; i < tally.groups.length; i += chunkSize) chunks.push(tally.groups.slice(i, i + chunkSize));
  let written = 0;
  let added = 0;
  for (const [i, groups] of chunks.entries()) {
    const downloads = groups.reduce((sum, g) => sum + g.count, 0);
    const input: TransactWriteCommandInput = {
      TransactItems: [
        {
          Put: {
            TableName: table,
            Item: {
              ...logFileKey(objectKey, i + 1, chunks.length),
              logKey: objectKey,
              countedAt: now.toISOString(),
              downloads,
              [RECORDS_KEYS.expires]: Math.floor(now.getTime() / 1000) + LOG_MARKER_RETENTION_DAYS * 86_400,
            },
            ConditionExpression: 'attribute_not_exists(pk)',
          },
        },
        ...groups.map((g) => ({
          Update: {
            TableName: table,
            Key: downloadsKey(g.service, g.version, g.day),
            UpdateExpression: 'ADD #count :n SET #service = :service, #version = :version, #day = :day',
            ExpressionAttributeNames: {
              '#count': 'count',
              '#service': 'service',
              '#version': 'version',
              '#day': 'day',
            },
            ExpressionAttributeValues: {
              ':n': g.count,
              ':service': g.service,
              ':version': g.version,
              ':day': g.day,
            },
          },
        })),
      ],
    };
    if (await transactOnce(doc, input, sleep)) {
      written++;
      added += downloads;
    }
  }
  const outcome = written === chunks.length ? 'counted' : written === 0 ? 'already-counted' : 'completed';
  return { outcome, chunks: chunks.length, chunksWritten: written, downloadsAdded: added };
}

/** True when written; false when the marker (the first action) was there already. */
async function transactOnce(
  doc: DynamoDBDocumentClient,
  input: TransactWriteCommandInput,
  sleep: (ms: number) => Promise<void>,
): Promise<boolean> {
  for (let attempt = 1; ; attempt++) {
    try {
      await doc.send(new TransactWriteCommand(input));
      return true;
    } catch (error) {
      const reasons = (error as { CancellationReasons?: { Code?: string }[] }).CancellationReasons;
      if ((error as Error).name !== 'TransactionCanceledException' || !reasons) throw error;
      if (reasons[0]?.Code === 'ConditionalCheckFailed') return false;
      // Another writer touched one of the items (a concurrent log file of the same day): retry.
      if (reasons.some((r) => r.Code === 'TransactionConflict') && attempt < CONFLICT_ATTEMPTS) {
        await sleep(Math.min(2000, 25 * 2 ** attempt) * (0.5 + Math.random()));
        continue;
      }
      throw error;
    }
  }
}

export interface DayCount {
  readonly day: string;
  readonly count: number;
}

export interface VersionDownloads {
  /** A semantic version, or `latest` for the latest pointer's binary. */
  readonly version: string;
  readonly total: number;
  /** Per day, oldest first. */
  readonly days: readonly DayCount[];
}

export interface ServiceDownloads {
  readonly service: string;
  readonly total: number;
  /** Versions in key order; `latest`, when counted, is one of them. */
  readonly versions: readonly VersionDownloads[];
  /** True when more than `maxItems` day counts exist and the rest were not read. */
  readonly truncated: boolean;
}

export interface DownloadQuery {
  /** Only days on or after this (`YYYY-MM-DD`). @default all */
  readonly fromDay?: string;
  /** Only days on or before this. @default all */
  readonly toDay?: string;
  /** Day counts read at most. @default 10,000 */
  readonly maxItems?: number;
}

const DAY = /^\d{4}-\d{2}-\d{2}$/;

/** Download counts per version of one service (one Query of its partition, paged). */
export async function downloadCountsByVersion(
  doc: DynamoDBDocumentClient,
  table: string,
  service: string,
  query: DownloadQuery = {},
): Promise<ServiceDownloads> {
  if (!ServiceNameSchema.safeParse(service).success)
    throw new Error(`invalid service name ${JSON.stringify(service.slice(0, 80))}`);
  for (const day of [query.fromDay, query.toDay]) {
    if (day !== undefined && !DAY.test(day))
      throw new Error(`invalid day ${JSON.stringify(day)}: expected YYYY-MM-DD`);
  }
  const maxItems = query.maxItems ?? 10_000;
  const filters: string[] = [];
  const values: Record<string, unknown> = { ':pk': downloadsPartition(service) };
  if (query.fromDay) {
    filters.push('#day >= :from');
    values[':from'] = query.fromDay;
  }
  if (query.toDay) {
    filters.push('#day <= :to');
    values[':to'] = query.toDay;
  }
  const byVersion = new Map<string, DayCount[]>();
  let read = 0;
  let truncated = false;
  let startKey: Record<string, unknown> | undefined;
  do {
    const page = await doc.send(
      new QueryCommand({
        TableName: table,
        KeyConditionExpression: 'pk = :pk',
        ...(filters.length > 0
          ? { FilterExpression: filters.join(' AND '), ExpressionAttributeNames: { '#day': 'day' } }
          : {}),
        ExpressionAttributeValues: values,
        ExclusiveStartKey: startKey,
      }),
    );
    for (const item of page.Items ?? []) {
      if (read >= maxItems) {
        truncated = true;
        break;
      }
      read++;
      const version = String(item['version']);
      const days = byVersion.get(version) ?? [];
      days.push({ day: String(item['day']), count: Number(item['count'] ?? 0) });
      byVersion.set(version, days);
    }
    startKey = page.LastEvaluatedKey;
  } while (startKey && !truncated);
  const versions = [...byVersion.entries()].map(([version, days]) => ({
    version,
    total: days.reduce((sum, d) => sum + d.count, 0),
    days: days.sort((a, b) => (a.day < b.day ? -1 : a.day > b.day ? 1 : 0)),
  }));
  return { service, total: versions.reduce((sum, v) => sum + v.total, 0), versions, truncated };
}
