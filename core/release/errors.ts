/**
 * Every release-control failure is one line that says what was refused and why, e.g.
 *   `invalid publish request: app: expected 1-40 lowercase letters, digits or inner hyphens, got "../x"`
 * `kind` lets adapters map failures (CodePipeline job failure, CLI exit code) without parsing text.
 */
import { oneLine } from '../one-line';

export type ReleaseErrorKind =
  /** The request itself is malformed (schema, size, keys outside the caller's staging prefix). */
  | 'invalid-request'
  /** A staged or released object is missing. */
  | 'not-found'
  /** Bytes, sizes or hashes do not match what was claimed. */
  | 'verification'
  /** An immutable key already holds something else, or a version is refused (bad, wrong branch). */
  | 'conflict'
  /** Compare-and-swap kept losing to other writers. */
  | 'contention';

export class ReleaseError extends Error {
  override readonly name = 'ReleaseError';
  constructor(
    readonly kind: ReleaseErrorKind,
    message: string,
  ) {
    super(oneLine(message));
  }
}
