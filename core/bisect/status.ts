/**
 * What `watchy bisect status` shows: a summary of each session (small enough for a Lambda response,
 * without the commit list) and its text form.
 */
import { maxSteps } from './search';
import type { BisectSession, BuildRecord, SessionStatus } from './session';

export interface SessionSummary {
  readonly id: string;
  readonly project: string;
  readonly status: SessionStatus;
  readonly good: string;
  readonly bad: string;
  readonly createdAt: string;
  readonly updatedAt: string;
  readonly trigger: BisectSession['trigger'];
  /** Commits in the range (after listing). */
  readonly commits?: number;
  /** Candidates left: the first bad commit is one of these. */
  readonly remaining?: { readonly first: string; readonly last: string; readonly count: number };
  /** Verify builds still needed at most (retries not counted). */
  readonly stepsLeft?: number;
  readonly current?: {
    readonly kind: string;
    readonly commit: string;
    readonly attempt: number;
    readonly buildId?: string;
  };
  readonly builds: readonly BuildRecord[];
  readonly result?: BisectSession['result'];
  readonly error?: string;
  readonly rollback?: string;
}

export function summarizeSession(session: BisectSession): SessionSummary {
  const { search, commits } = session;
  const remaining =
    search && commits && session.status === 'running'
      ? { first: commits[search.lo]!.sha, last: commits[search.hi]!.sha, count: search.hi - search.lo + 1 }
      : undefined;
  return {
    id: session.id,
    project: session.project,
    status: session.status,
    good: session.good,
    bad: session.bad,
    createdAt: session.createdAt,
    updatedAt: session.updatedAt,
    trigger: session.trigger,
    ...(commits && { commits: commits.length }),
    ...(remaining && { remaining, stepsLeft: maxSteps(remaining.count) }),
    ...(session.current && {
      current: {
        kind: session.current.kind,
        commit: session.current.commit,
        attempt: session.current.attempt,
        ...(session.current.buildId && { buildId: session.current.buildId }),
      },
    }),
    builds: session.builds,
    ...(session.result && { result: session.result }),
    ...(session.error && { error: session.error }),
    ...(session.followUp?.rollback && { rollback: session.followUp.rollback }),
  };
}

const short = (sha: string) => sha.slice(0, 12);

/** One session in detail. */
export function formatSession(s: SessionSummary): string {
  const lines = [
    `session  ${s.id}  ${s.status}`,
    `project  ${s.project}`,
    `range    ${short(s.good) || '-'}..${short(s.bad) || '-'}${s.commits !== undefined ? ` (${s.commits} commits)` : ''}`,
    `started  ${s.createdAt}${s.trigger.kind === 'build' ? ` by failing build ${s.trigger.buildId}` : ` by hand${s.trigger.initiator ? ` (${s.trigger.initiator})` : ''}`}`,
  ];
  if (s.remaining) {
    lines.push(
      `left     ${s.remaining.count} candidates ${short(s.remaining.first)}..${short(s.remaining.last)}, at most ${s.stepsLeft} more steps`,
    );
  }
  if (s.current) {
    lines.push(
      `building ${s.current.kind === 'list' ? 'commit list' : short(s.current.commit)} attempt ${s.current.attempt}: ${s.current.buildId ?? 'starting'}`,
    );
  }
  if (s.result) {
    const c = s.result.commit;
    lines.push(
      `found    ${c.sha}`,
      `author   ${c.author ?? 'unknown'}`,
      `message  ${c.subject ?? 'unknown'}`,
    );
    lines.push(
      `builds   ${s.result.builds} (${s.result.steps} commits built, ${s.result.builds - s.result.steps} retries)`,
    );
  }
  if (s.error) lines.push(`error    ${s.error}`);
  if (s.rollback) lines.push(`rollback ${s.rollback}`);
  if (s.builds.length > 0) {
    lines.push('builds:');
    for (const b of s.builds) {
      const what = b.kind === 'list' ? 'list commits ' : `${short(b.commit)} #${b.attempt}`;
      lines.push(`  ${what}  ${(b.outcome ?? 'RUNNING').padEnd(11)} ${b.buildId}`);
    }
  }
  return lines.join('\n');
}

/** Every session, one line each, newest first. */
export function formatSessionTable(sessions: readonly SessionSummary[]): string {
  if (sessions.length === 0) return 'no bisect sessions';
  const sorted = [...sessions].sort((a, b) => b.createdAt.localeCompare(a.createdAt));
  return sorted
    .map((s) => {
      const detail = s.result
        ? `first bad ${short(s.result.commit.sha)} in ${s.result.builds} builds`
        : s.remaining
          ? `${s.remaining.count} candidates left`
          : (s.error ?? '');
      return `${s.id}  ${s.status.padEnd(9)} ${s.project}  ${s.createdAt}  ${detail}`;
    })
    .join('\n');
}

/** What the bisect Lambda answers: one session's outcome, or the sessions `status` asked for. */
export type BisectResponse =
  | { readonly outcome: string; readonly session?: SessionSummary; readonly reason?: string }
  | { readonly sessions: SessionSummary[] };
