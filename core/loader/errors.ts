/**
 * Every loader failure is one line that names the URL and the check that failed:
 *   `sha256 check failed for https://…/watchy-slack-monitor-1.2.0.gz: got 3f…, metadata says 9a…`
 */
import { oneLine } from '../one-line';

/** The checks a release goes through, in the order the loader runs them. */
export type LoaderCheck =
  | 'config'
  | 'http'
  | 'timeout'
  | 'metadata-size'
  | 'metadata-json'
  | 'metadata-schema'
  | 'signature'
  | 'architecture'
  | 'metadata-version'
  | 'download-url'
  | 'size-limit'
  | 'disk-space'
  | 'compressed-size'
  | 'compressed-sha256'
  | 'gzip'
  | 'binary-size'
  | 'sha256'
  | 'executable'
  | 'write';

/**
 * `check` is the error's kind: callers map a failure by it (and by `retryable`), never by its text.
 * `config` alone comes from the options (the constructor); every other check from a load.
 */
export class LoaderError extends Error {
  override readonly name = 'LoaderError';

  constructor(
    readonly check: LoaderCheck,
    readonly url: string,
    readonly detail: string,
    /** Network errors and 5xx responses are worth another attempt; nothing else is. */
    readonly retryable = false,
  ) {
    super(`${check} check failed for ${url}: ${oneLine(detail)}`);
  }
}
