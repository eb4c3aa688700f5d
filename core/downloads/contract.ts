/**
 * Download counts: what the download counter writes and the /api reads. Items of the records
 * table (core/records/contract.ts):
 *
 *   downloads        pk DOWNLOADS#{service}   sk {version}#{day}   count (N, added to), service, version, day
 *   counted log file pk LOGFILE#{object key}  sk COUNTED           (or COUNTED#{i}/{n} when one file's
 *                                                                  counts take n transactions)
 *
 * A download is a GET of a release binary (`.gz`) that CloudFront answered 200, or 206 for a
 * range starting at byte 0 (the first part of a ranged download; later parts are not counted
 * again). 304s (the client already had the bytes), HEADs, errors and metadata JSON fetches are not
 * downloads. The latest pointer's binary (`watchy-{name}.gz`) counts under the version `latest`:
 * which version it pointed at when it was fetched is not in the log.
 */
/** The version under which downloads of a latest pointer's binary are counted. */
export const LATEST_VERSION = 'latest';

/** Environment of the download counter Lambda. */
export const DOWNLOAD_COUNTER_ENV = {
  /** The bucket whose CloudFront log objects are counted (events of any other bucket are refused). */
  logBucket: 'WATCHY_LOG_BUCKET',
  /** Key prefix of the CloudFront logs in it (`cloudfront/`). */
  logPrefix: 'WATCHY_LOG_PREFIX',
} as const;

/** Metric namespace of the counter (files counted, refused, lines skipped). */
export const DOWNLOAD_METRICS_NAMESPACE = 'Watchy/Downloads';

/** How much of a log object is read at most: anything bigger is refused whole, never counted in part. */
export interface LogLimits {
  /** Compressed object size. @default 64 MiB */
  readonly maxCompressedBytes: number;
  /**
   * Decompressed size (a gzip bomb stops here). About 2-3 minutes of parsing on the counter's
   * 512 MB Lambda at the measured ~23 MiB/s of a full vCPU; CloudFront's files are usually a few MB.
   * @default 1 GiB
   */
  readonly maxDecompressedBytes: number;
  /** A longer line is skipped as malformed, without being held in memory. @default 64 KiB */
  readonly maxLineBytes: number;
  /** Distinct (service, version, day) counts of one file. @default 100,000 */
  readonly maxGroups: number;
}

export const DEFAULT_LOG_LIMITS: LogLimits = {
  maxCompressedBytes: 64 * 1024 * 1024,
  maxDecompressedBytes: 1024 * 1024 * 1024,
  maxLineBytes: 64 * 1024,
  maxGroups: 100_000,
};

/** The partition of one service's download counts. */
export function downloadsPartition(service: string): string {
  return `DOWNLOADS#${service}`;
}

export function downloadsKey(service: string, version: string, day: string): { pk: string; sk: string } {
  return { pk: downloadsPartition(service), sk: `${version}#${day}` };
}

/** The marker of one counted log file (`chunks` transactions; `chunk` from 1). */
export function logFileKey(objectKey: string, chunk = 1, chunks = 1): { pk: string; sk: string } {
  return { pk: `LOGFILE#${objectKey}`, sk: chunks === 1 ? 'COUNTED' : `COUNTED#${chunk}/${chunks}` };
}
