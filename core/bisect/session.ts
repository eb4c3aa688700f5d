/**
 * The bisect session document and the commit list it searches.
 *
 * Commit lists are tab-separated, one commit a line, oldest first, the failing commit last:
 *   <sha>\t<author>\t<subject>
 * written by `git log --first-parent --reverse --format='%H%x09%an <%ae>%x09%s' good..bad`
 * (by the list-commits build, or by `watchy bisect` when it runs inside the repository).
 */
import type { BuildStatus } from './build-runner';
import { COMMIT_PATTERN, MAX_COMMITS } from './contract';
import type { SearchState } from './search';

export type SessionStatus = 'listing' | 'running' | 'found' | 'failed' | 'cancelled';

export interface CommitInfo {
  readonly sha: string;
  readonly author?: string;
  readonly subject?: string;
}

/** A build the session claimed: written before StartBuild, its id added once started. */
export interface PendingBuild {
  readonly kind: 'list' | 'verify';
  readonly commit: string;
  /** Index into `commits` (verify builds). */
  readonly index?: number;
  readonly attempt: number;
  /** CodeBuild idempotency token: a second StartBuild with it returns the same build. */
  readonly token: string;
  readonly claimedAt: string;
  readonly buildId?: string;
}

export interface BuildRecord {
  readonly buildId: string;
  readonly kind: 'list' | 'verify';
  readonly commit: string;
  readonly index?: number;
  readonly attempt: number;
  readonly outcome?: BuildStatus;
  readonly logsLink?: string;
}

export interface BisectResult {
  readonly index: number;
  readonly commit: CommitInfo;
  /** Verify builds used (retries included). */
  readonly builds: number;
  /** Distinct commits built. */
  readonly steps: number;
}

export interface BisectSession {
  readonly schema: 1;
  readonly id: string;
  readonly project: string;
  readonly good: string;
  readonly bad: string;
  /** Variables copied onto each step (WATCHY_APP, WATCHY_ARCH). */
  readonly environment: Readonly<Record<string, string>>;
  readonly trigger: {
    readonly kind: 'build' | 'manual';
    readonly buildId?: string;
    readonly initiator?: string;
  };
  readonly retries: number;
  readonly autoRollback: boolean;
  readonly status: SessionStatus;
  readonly createdAt: string;
  readonly updatedAt: string;
  /** Claims made so far (numbers the idempotency tokens). */
  readonly claims: number;
  readonly commits?: readonly CommitInfo[];
  readonly search?: SearchState;
  readonly current?: PendingBuild;
  readonly builds: readonly BuildRecord[];
  readonly result?: BisectResult;
  readonly error?: string;
  /** Done once the session ended: the notification, and the rollback when configured. */
  readonly followUp?: { readonly at: string; readonly notified: boolean; readonly rollback?: string };
}

export class CommitListError extends Error {
  override readonly name = 'CommitListError';
}

/** Parses and checks a commit list: full ids, no duplicates, at most MAX_COMMITS, `bad` last. */
export function parseCommitList(text: string, bad: string): CommitInfo[] {
  const commits: CommitInfo[] = [];
  const seen = new Set<string>();
  const lines = text.split('\n').filter((line) => line.trim() !== '');
  if (lines.length > MAX_COMMITS) {
    throw new CommitListError(
      `the range has ${lines.length} commits; at most ${MAX_COMMITS} can be bisected`,
    );
  }
  for (const [n, line] of lines.entries()) {
    const [sha = '', author, ...subject] = line.replace(/\r$/, '').split('\t');
    if (!COMMIT_PATTERN.test(sha)) {
      throw new CommitListError(
        `commit list line ${n + 1}: ${JSON.stringify(sha.slice(0, 80))} is not a full commit id`,
      );
    }
    if (seen.has(sha)) throw new CommitListError(`commit list line ${n + 1}: ${sha} appears twice`);
    seen.add(sha);
    commits.push({
      sha,
      ...(author && { author: author.slice(0, 200) }),
      ...(subject.length > 0 && { subject: subject.join('\t').slice(0, 300) }),
    });
  }
  if (commits.length === 0)
    throw new CommitListError('the commit list is empty: is bad a descendant of good?');
  if (commits.at(-1)!.sha !== bad) {
    throw new CommitListError(`the commit list ends with ${commits.at(-1)!.sha}, not the bad commit ${bad}`);
  }
  return commits;
}

export function formatCommitList(commits: readonly CommitInfo[]): string {
  return commits.map((c) => [c.sha, c.author ?? '', c.subject ?? ''].join('\t')).join('\n') + '\n';
}
