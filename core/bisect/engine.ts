/**
 * The bisect engine: starts sessions and advances them on build events. Every change to a session
 * is a compare-and-swap write; a build is started only by the writer that claimed it (or, after a
 * crash, by whoever finds the claim older than CLAIM_LEASE_MS), with a CodeBuild idempotency token, so
 * duplicate, concurrent or out-of-order events never start a step twice.
 *
 *   failing build ──> session (listing) ──list build──> running ──verify builds──> found ──> notify, rollback
 */
import { createHash } from 'node:crypto';
import type { BuildInfo, BuildRunner, SourceOverride } from './build-runner';
import {
  APP_VARIABLE,
  ARCH_VARIABLE,
  BRANCH_VARIABLE,
  COMMIT_PATTERN,
  COPIED_VARIABLES,
  LIST_BAD_VARIABLE,
  LIST_BUCKET_VARIABLE,
  LIST_GOOD_VARIABLE,
  LIST_KEY_VARIABLE,
  MODE_VARIABLE,
  SESSION_VARIABLE,
  VERIFY_MODE,
  commitsKey,
} from './contract';
import { applyOutcome, beginStep, initialSearch, nextAction } from './search';
import {
  CommitListError,
  parseCommitList,
  type BisectSession,
  type CommitInfo,
  type PendingBuild,
} from './session';
import { ConflictError, type SessionStore, type Versioned } from './session-store';

/** A claim older than this whose build id is missing is taken to be from a writer that crashed. */
export const CLAIM_LEASE_MS = 120_000;
/** Failing builds look this far back in the project's history for the last good build. */
export const LAST_GOOD_SEARCH_LIMIT = 100;
const MAX_CAS_ATTEMPTS = 20;

export interface Notification {
  readonly subject: string;
  readonly message: string;
}

export interface BisectDeps {
  readonly store: SessionStore;
  readonly runner: BuildRunner;
  /** The project whose builds list the commits of a range (git log). Needed unless commits are given. */
  readonly listProject?: string;
  /** Source override for builds started outside the pipeline. @default the projects' own sources */
  readonly source?: SourceOverride;
  readonly notify: (notification: Notification) => Promise<void>;
  /** Emergency rollback after a found bisect (sessions with `autoRollback`); returns what it did. */
  readonly rollback?: (session: BisectSession) => Promise<string>;
  readonly now?: () => Date;
}

export interface AutoStartPolicy {
  /** Projects whose failing builds start a bisect. */
  readonly projects: readonly string[];
  /** Only builds of this branch are bisected. */
  readonly releaseBranch: string;
  /** Builds started by these pipelines (initiator `codepipeline/<name>`) are release-branch builds. @default [] */
  readonly releasePipelines?: readonly string[];
  /** Finds the branch of a build that does not carry it (a pipeline run's Source action). @default none */
  readonly resolveBranch?: (build: BuildInfo) => Promise<string | undefined>;
  readonly retries: number;
  readonly autoRollback: boolean;
}

/** Why a range with good == bad is refused; buildspecs/bisect-commits.yml prints the same words. */
export const SAME_COMMIT_MESSAGE = 'good and bad are the same commit';

export class BisectInputError extends Error {
  override readonly name = 'BisectInputError';
}

export interface StartInput {
  readonly project: string;
  readonly good: string;
  readonly bad: string;
  readonly environment?: Readonly<Record<string, string>>;
  readonly trigger: BisectSession['trigger'];
  readonly retries: number;
  readonly autoRollback: boolean;
  /** The range's commits, oldest first, `bad` last; when absent a list-commits build finds them. */
  readonly commits?: readonly CommitInfo[];
}

export type EventOutcome =
  | { readonly kind: 'ignored'; readonly reason: string }
  | { readonly kind: 'started'; readonly session: BisectSession }
  | { readonly kind: 'advanced'; readonly session: BisectSession }
  | { readonly kind: 'duplicate'; readonly session: BisectSession };

const PROJECT_PATTERN = /^[A-Za-z0-9][A-Za-z0-9_-]{1,254}$/;
const VARIABLE_VALUE_PATTERN = /^[A-Za-z0-9._-]{1,64}$/;

/** Session ids come from the trigger, so the same failing build always maps to the same session. */
export function sessionIdFor(
  trigger: BisectSession['trigger'],
  project: string,
  good: string,
  bad: string,
): string {
  const seed = trigger.kind === 'build' ? `build|${trigger.buildId}` : `manual|${project}|${good}|${bad}`;
  return `${trigger.kind === 'build' ? 'b' : 'm'}-${createHash('sha256').update(seed).digest('hex').slice(0, 24)}`;
}

/** Starts a session (idempotent: the same trigger returns the existing session). */
export async function startBisect(deps: BisectDeps, input: StartInput): Promise<BisectSession> {
  checkStartInput(input);
  const now = iso(deps);
  const id = sessionIdFor(input.trigger, input.project, input.good, input.bad);
  const base: BisectSession = {
    schema: 1,
    id,
    project: input.project,
    good: input.good,
    bad: input.bad,
    environment: pickCopied(input.environment ?? {}),
    trigger: input.trigger,
    retries: input.retries,
    autoRollback: input.autoRollback,
    status: 'listing',
    createdAt: now,
    updatedAt: now,
    claims: 0,
    builds: [],
  };
  let session: BisectSession;
  if (input.commits) {
    session = planNext(
      { ...base, status: 'running', commits: input.commits, search: initialSearch(input.commits.length) },
      now,
    );
  } else {
    if (!deps.listProject)
      throw new BisectInputError('no list-commits project configured and no commit list given');
    session = claim(base, { kind: 'list', commit: input.bad, attempt: 1 }, now);
  }
  let created: Versioned<BisectSession>;
  try {
    created = await deps.store.create(session);
  } catch (error) {
    if (!(error instanceof ConflictError)) throw error;
    const existing = await deps.store.get(id);
    if (!existing) throw error;
    return (await resume(deps, existing)).value;
  }
  return (await afterWrite(deps, created)).value;
}

/**
 * Handles one completed (or any) CodeBuild build: advances the session it belongs to, or starts
 * a session when it is a failing release-branch build of a bisected project.
 */
export async function handleBuild(
  deps: BisectDeps,
  build: BuildInfo,
  policy: AutoStartPolicy,
): Promise<EventOutcome> {
  const sessionId = build.environment[SESSION_VARIABLE];
  if (sessionId) return advanceOnBuild(deps, sessionId, build);
  return autoStart(deps, build, policy);
}

async function autoStart(deps: BisectDeps, build: BuildInfo, policy: AutoStartPolicy): Promise<EventOutcome> {
  if (build.status !== 'FAILED') return { kind: 'ignored', reason: `build status ${build.status}` };
  if (!policy.projects.includes(build.project))
    return { kind: 'ignored', reason: `project ${build.project} is not bisected` };
  if (build.environment[MODE_VARIABLE] === VERIFY_MODE)
    return { kind: 'ignored', reason: 'a verify build outside a bisect' };
  const branch = await branchFor(build, policy);
  if (branch !== policy.releaseBranch) {
    return { kind: 'ignored', reason: `branch ${branch ?? 'unknown'} is not ${policy.releaseBranch}` };
  }
  const trigger = { kind: 'build' as const, buildId: build.id, initiator: build.initiator };
  const bad = build.resolvedSourceVersion;
  const good = bad && COMMIT_PATTERN.test(bad) ? await findLastGood(deps.runner, build, policy) : undefined;
  if (!bad || !COMMIT_PATTERN.test(bad) || !good) {
    const reason =
      !bad || !COMMIT_PATTERN.test(bad)
        ? 'the failing build has no resolved commit'
        : `no earlier successful build of ${build.project} for the same app and architecture`;
    return startFailed(deps, build, trigger, bad ?? '', reason);
  }
  const session = await startBisect(deps, {
    project: build.project,
    good,
    bad,
    environment: build.environment,
    trigger,
    retries: policy.retries,
    autoRollback: policy.autoRollback,
  });
  return { kind: 'started', session };
}

/** Records a session that could not start (once per failing build) and says why. */
async function startFailed(
  deps: BisectDeps,
  build: BuildInfo,
  trigger: BisectSession['trigger'],
  bad: string,
  reason: string,
): Promise<EventOutcome> {
  const now = iso(deps);
  const session: BisectSession = {
    schema: 1,
    id: sessionIdFor(trigger, build.project, '', bad),
    project: build.project,
    good: '',
    bad,
    environment: pickCopied(build.environment),
    trigger,
    retries: 0,
    autoRollback: false,
    status: 'failed',
    error: `cannot bisect: ${reason}`,
    createdAt: now,
    updatedAt: now,
    claims: 0,
    builds: [],
  };
  try {
    const created = await deps.store.create(session);
    return { kind: 'started', session: (await afterWrite(deps, created)).value };
  } catch (error) {
    if (!(error instanceof ConflictError)) throw error;
    const existing = await deps.store.get(session.id);
    return existing
      ? { kind: 'duplicate', session: (await resume(deps, existing)).value }
      : { kind: 'ignored', reason };
  }
}

/** The newest earlier successful, non-bisect build of the same project, app, architecture and branch. */
export async function findLastGood(
  runner: BuildRunner,
  failing: BuildInfo,
  policy: AutoStartPolicy,
): Promise<string | undefined> {
  const builds = await runner.recent(failing.project, LAST_GOOD_SEARCH_LIMIT);
  const failedAt = failing.startTime?.getTime() ?? Number.POSITIVE_INFINITY;
  const failingBranch = await branchFor(failing, policy);
  for (const build of builds) {
    if (build.id === failing.id || build.status !== 'SUCCEEDED') continue;
    if (build.environment[SESSION_VARIABLE] || build.environment[MODE_VARIABLE] === VERIFY_MODE) continue;
    if ((build.startTime?.getTime() ?? 0) > failedAt) continue;
    if (
      COPIED_VARIABLES.some((name) => (build.environment[name] ?? '') !== (failing.environment[name] ?? ''))
    ) {
      continue;
    }
    const sha = build.resolvedSourceVersion;
    if (!sha || !COMMIT_PATTERN.test(sha) || sha === failing.resolvedSourceVersion) continue;
    if ((await branchFor(build, policy)) !== failingBranch) continue;
    return sha;
  }
  return undefined;
}

/**
 * A build's branch: its own (`branchOf`), else a configured release pipeline's, else what the
 * resolver finds (the pipeline run's Source action).
 */
async function branchFor(build: BuildInfo, policy: AutoStartPolicy): Promise<string | undefined> {
  const own = branchOf(build);
  if (own) return own;
  if ((policy.releasePipelines ?? []).some((name) => build.initiator === `codepipeline/${name}`)) {
    return policy.releaseBranch;
  }
  return policy.resolveBranch ? await policy.resolveBranch(build) : undefined;
}

/**
 * Hands a build to session `sessionId` (`watchy bisect deliver --session`): advanced only when the
 * build is the session's current step, exactly as for an event.
 */
export async function advanceOnBuild(
  deps: BisectDeps,
  sessionId: string,
  build: BuildInfo,
): Promise<EventOutcome> {
  for (let attempt = 0; attempt < MAX_CAS_ATTEMPTS; attempt++) {
    const read = await deps.store.get(sessionId);
    if (!read) return { kind: 'ignored', reason: `no bisect session ${sessionId}` };
    const session = read.value;
    if (session.current?.buildId !== build.id) {
      if (session.builds.some((b) => b.buildId === build.id)) {
        return { kind: 'duplicate', session: (await resume(deps, read)).value };
      }
      return { kind: 'ignored', reason: `build ${build.id} is not the current step of session ${sessionId}` };
    }
    if (!build.complete) return { kind: 'ignored', reason: `build ${build.id} is still ${build.status}` };
    const next = await advance(deps, session, build);
    try {
      const written = await deps.store.replace(next, read.etag);
      return { kind: 'advanced', session: (await afterWrite(deps, written)).value };
    } catch (error) {
      if (!(error instanceof ConflictError)) throw error;
    }
  }
  throw new Error(`bisect session ${sessionId}: too many concurrent writers`);
}

/** The session after the current build ended with `build.status`. */
async function advance(deps: BisectDeps, session: BisectSession, build: BuildInfo): Promise<BisectSession> {
  const now = iso(deps);
  const current = session.current!;
  const builds = session.builds.map((b) =>
    b.buildId === build.id
      ? { ...b, outcome: build.status, ...(build.logsLink && { logsLink: build.logsLink }) }
      : b,
  );
  const base: BisectSession = { ...session, builds, current: undefined, updatedAt: now };
  if (build.status === 'STOPPED') {
    return { ...base, status: 'cancelled', error: `build ${build.id} was stopped` };
  }
  if (current.kind === 'list') {
    if (build.status !== 'SUCCEEDED') {
      return {
        ...base,
        status: 'failed',
        error: `listing the commits failed (build ${build.id}: ${build.status})`,
      };
    }
    const text = await deps.store.readCommitList(session.id);
    if (text === undefined) {
      return {
        ...base,
        status: 'failed',
        error: `build ${build.id} wrote no commit list at ${commitsKey(session.id)}`,
      };
    }
    try {
      const commits = parseCommitList(text, session.bad);
      return planNext({ ...base, status: 'running', commits, search: initialSearch(commits.length) }, now);
    } catch (error) {
      if (!(error instanceof CommitListError)) throw error;
      return { ...base, status: 'failed', error: error.message };
    }
  }
  const outcome = build.status === 'SUCCEEDED' ? 'succeeded' : 'failed';
  return planNext({ ...base, search: applyOutcome(session.search!, outcome, session.retries) }, now);
}

/** Claims the next step, or ends the session with the first bad commit. */
function planNext(session: BisectSession, now: string): BisectSession {
  const action = nextAction(session.search!);
  const commits = session.commits!;
  if (action.kind === 'found') {
    const verify = session.builds.filter((b) => b.kind === 'verify');
    return {
      ...session,
      status: 'found',
      current: undefined,
      result: {
        index: action.index,
        commit: commits[action.index]!,
        builds: verify.length,
        steps: new Set(verify.map((b) => b.index)).size,
      },
    };
  }
  const search = beginStep(session.search!, action.index);
  return claim(
    { ...session, search },
    { kind: 'verify', commit: commits[action.index]!.sha, index: action.index, attempt: action.attempt },
    now,
  );
}

function claim(
  session: BisectSession,
  build: Omit<PendingBuild, 'token' | 'claimedAt'>,
  now: string,
): BisectSession {
  const claims = session.claims + 1;
  return { ...session, claims, current: { ...build, token: `${session.id}-${claims}`, claimedAt: now } };
}

/** After a successful write: start the claimed build, or do the follow-ups of an ended session. */
async function afterWrite(
  deps: BisectDeps,
  written: Versioned<BisectSession>,
): Promise<Versioned<BisectSession>> {
  const { value } = written;
  if (value.current && !value.current.buildId) return launch(deps, written);
  if (isEnded(value) && !value.followUp) return followUp(deps, written);
  return written;
}

/** A duplicate event: finish what a crashed writer left (stale claim, missing follow-ups). */
async function resume(deps: BisectDeps, read: Versioned<BisectSession>): Promise<Versioned<BisectSession>> {
  const { value } = read;
  const stale = (at: string) => now(deps).getTime() - Date.parse(at) >= CLAIM_LEASE_MS;
  if (value.current && !value.current.buildId && stale(value.current.claimedAt)) return launch(deps, read);
  if (isEnded(value) && !value.followUp && stale(value.updatedAt)) return followUp(deps, read);
  return read;
}

async function launch(deps: BisectDeps, read: Versioned<BisectSession>): Promise<Versioned<BisectSession>> {
  const session = read.value;
  const current = session.current!;
  const environment: Record<string, string> =
    current.kind === 'list'
      ? {
          [SESSION_VARIABLE]: session.id,
          [LIST_GOOD_VARIABLE]: session.good,
          [LIST_BAD_VARIABLE]: session.bad,
          [LIST_BUCKET_VARIABLE]: deps.store.bucket,
          [LIST_KEY_VARIABLE]: commitsKey(session.id),
        }
      : { ...session.environment, [MODE_VARIABLE]: VERIFY_MODE, [SESSION_VARIABLE]: session.id };
  const buildId = await deps.runner.start({
    project: current.kind === 'list' ? deps.listProject! : session.project,
    sourceVersion: current.commit,
    environment,
    idempotencyToken: current.token,
    ...(deps.source && { source: deps.source }),
    ...(current.kind === 'list' && { fullClone: true }),
  });
  let latest = read;
  for (let attempt = 0; attempt < MAX_CAS_ATTEMPTS; attempt++) {
    const now = iso(deps);
    const value = latest.value;
    if (value.current?.token !== current.token || value.current.buildId) return latest;
    const record = {
      buildId,
      kind: current.kind,
      commit: current.commit,
      index: current.index,
      attempt: current.attempt,
    };
    const next: BisectSession = {
      ...value,
      current: { ...value.current, buildId },
      builds: [...value.builds, record],
      updatedAt: now,
    };
    try {
      return await deps.store.replace(next, latest.etag);
    } catch (error) {
      if (!(error instanceof ConflictError)) throw error;
      const reread = await deps.store.get(session.id);
      if (!reread) throw error;
      latest = reread;
    }
  }
  throw new Error(`bisect session ${session.id}: could not record build ${buildId}`);
}

async function followUp(deps: BisectDeps, read: Versioned<BisectSession>): Promise<Versioned<BisectSession>> {
  const session = read.value;
  let rollback: string | undefined;
  if (session.status === 'found' && session.autoRollback) {
    try {
      rollback = deps.rollback ? await deps.rollback(session) : 'not available in this deployment';
    } catch (error) {
      rollback = `failed: ${(error as Error).message.split('\n')[0]}`;
    }
  }
  await deps.notify(describeEnd(session, rollback));
  const next: BisectSession = {
    ...session,
    followUp: { at: iso(deps), notified: true, ...(rollback !== undefined && { rollback }) },
  };
  try {
    return await deps.store.replace(next, read.etag);
  } catch (error) {
    if (!(error instanceof ConflictError)) throw error;
    return (await deps.store.get(session.id)) ?? read;
  }
}

/** The one message sent when a session ends. */
export function describeEnd(session: BisectSession, rollback?: string): Notification {
  const short = (sha: string) => sha.slice(0, 12);
  if (session.status === 'found' && session.result) {
    const { commit, builds, steps } = session.result;
    return {
      subject: `Bisect of ${session.project}: first bad commit ${short(commit.sha)}`.slice(0, 100),
      message: [
        `Bisect ${session.id} of ${session.project} found the first bad commit.`,
        `commit:  ${commit.sha}`,
        `author:  ${commit.author ?? 'unknown'}`,
        `message: ${commit.subject ?? 'unknown'}`,
        `range:   ${short(session.good)}..${short(session.bad)} (${session.commits?.length ?? 0} commits)`,
        `builds:  ${builds} (${steps} commits built, ${builds - steps} retries)`,
        ...(rollback !== undefined ? [`rollback: ${rollback}`] : []),
        `details: watchy bisect status ${session.id}`,
      ].join('\n'),
    };
  }
  return {
    subject: `Bisect of ${session.project} ${session.status}`.slice(0, 100),
    message: [
      `Bisect ${session.id} of ${session.project} ended: ${session.status}.`,
      `reason:  ${session.error ?? 'unknown'}`,
      ...(session.bad ? [`failing commit: ${session.bad}`] : []),
      `builds:  ${session.builds.length}`,
      `details: watchy bisect status ${session.id}`,
    ].join('\n'),
  };
}

export function isEnded(session: BisectSession): boolean {
  return session.status === 'found' || session.status === 'failed' || session.status === 'cancelled';
}

/**
 * The branch a build ran for: `WATCHY_BRANCH` when the build sets it, else a `refs/heads/<branch>`
 * source version.
 */
export function branchOf(build: BuildInfo): string | undefined {
  const fromEnv = build.environment[BRANCH_VARIABLE];
  if (fromEnv) return fromEnv;
  const match = /^refs\/heads\/(.+)$/.exec(build.sourceVersion ?? '');
  return match?.[1];
}

function checkStartInput(input: StartInput): void {
  if (!PROJECT_PATTERN.test(input.project)) {
    throw new BisectInputError(`invalid project name ${JSON.stringify(input.project)}`);
  }
  for (const [name, sha] of [
    ['good', input.good],
    ['bad', input.bad],
  ] as const) {
    if (!COMMIT_PATTERN.test(sha)) {
      throw new BisectInputError(
        `--${name} must be a full commit id (40 hex digits), got ${JSON.stringify(sha)}`,
      );
    }
  }
  if (input.good === input.bad) throw new BisectInputError(SAME_COMMIT_MESSAGE);
  if (!Number.isInteger(input.retries) || input.retries < 0 || input.retries > 5) {
    throw new BisectInputError(`retries must be 0-5, got ${input.retries}`);
  }
  for (const [name, value] of Object.entries(pickCopied(input.environment ?? {}))) {
    if (!VARIABLE_VALUE_PATTERN.test(value))
      throw new BisectInputError(`invalid ${name} ${JSON.stringify(value)}`);
  }
  if (input.commits) parseCommitList(input.commits.map((c) => c.sha).join('\n'), input.bad);
}

function pickCopied(environment: Readonly<Record<string, string>>): Record<string, string> {
  const copied: Record<string, string> = {};
  for (const name of [APP_VARIABLE, ARCH_VARIABLE]) {
    const value = environment[name];
    if (value) copied[name] = value;
  }
  return copied;
}

function now(deps: BisectDeps): Date {
  return deps.now ? deps.now() : new Date();
}

function iso(deps: BisectDeps): string {
  return now(deps).toISOString();
}
