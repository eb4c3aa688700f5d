/**
 * The push trigger's file-path filters: the pure logic is in the core (`@core/trigger-paths`), where
 * the webhooks match pushed paths with the same patterns the pipeline trigger uses.
 */
export {
  BUILDSPECS_PATTERN,
  FORCE_BUILD_FILE,
  MAX_FILE_PATH_PATTERNS,
  globMatches,
  triggerFilePaths,
} from '@core/trigger-paths';
