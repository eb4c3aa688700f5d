/**
 * Download counts from the CloudFront standard logs: tally a log file, add its counts once, and
 * read them per version (the /api calls `downloadCountsByVersion`).
 */
export * from './contract';
export { releaseDownloadOf, type ReleaseDownload } from './release-key';
export {
  tallyLogFile,
  LogRefusedError,
  type DownloadGroup,
  type LogTally,
  type RefusalReason,
} from './log-file';
export {
  downloadCountsByVersion,
  recordLogCounts,
  LOG_MARKER_RETENTION_DAYS,
  TRANSACT_MAX_ACTIONS,
  type DayCount,
  type DownloadQuery,
  type RecordCountsOptions,
  type RecordCountsResult,
  type ServiceDownloads,
  type VersionDownloads,
} from './store';
export { countLogObject, ObjectCreatedEventSchema, type CountDeps, type CountOutcome } from './count-object';
