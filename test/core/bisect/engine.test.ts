/**
 * The bisect engine over real HTTP: sessions in an S3 bucket on moto (conditional writes), builds
 * from the in-process fake runner (moto's CodeBuild builds always succeed, so outcomes come from an
 * oracle). The list-commits "build" of the fake writes the commit list to S3 exactly where the
 * buildspec would.
 */
import { PutObjectCommand } from '@aws-sdk/client-s3';
import fc from 'fast-check';
import type { BuildRequest, BuildStatus } from '@core/bisect/build-runner';
import { commitsKey, sessionKey } from '@core/bisect/contract';
import {
  BisectInputError,
  CLAIM_LEASE_MS,
  handleBuild,
  startBisect,
  type AutoStartPolicy,
  type BisectDeps,
  type Notification,
} from '@core/bisect/engine';
import type { BisectSession } from '@core/bisect/session';
import { SessionStore } from '@core/bisect/session-store';
import { BISECT_BUCKET as BUCKET, useBisectMoto } from './bisect-moto';
import { FakeBuildRunner } from './fake-build-runner';

const PROJECT = 'watchy-nuitka-x86_64';
const LIST_PROJECT = 'watchy-bisect-commits';
const sha = (i: number) => i.toString(16).padStart(40, '0');
const GOOD = 'f'.repeat(40);
/** The bound the tests hold the search to, written out here, not taken from the implementation's maxSteps. */
const ceilLog2 = (n: number) => Math.ceil(Math.log2(n));

const aws = useBisectMoto();

interface Harness {
  deps: BisectDeps;
  runner: FakeBuildRunner;
  store: SessionStore;
  notifications: Notification[];
  rollbacks: string[];
  clock: { now: number };
}

/** Commits 0..n-1 (sha(i)); builds of commits >= firstBad fail; `flaky` good commits fail first. */
function harness(n: number, firstBad: number, flaky = new Map<number, number>()): Harness {
  const store = new SessionStore(aws.s3, BUCKET);
  const notifications: Notification[] = [];
  const rollbacks: string[] = [];
  const clock = { now: Date.UTC(2026, 5, 1) };
  const runner = new FakeBuildRunner(async (request: BuildRequest, attempt: number): Promise<BuildStatus> => {
    if (request.project === LIST_PROJECT) {
      const lines = Array.from(
        { length: n },
        (_, i) => `${sha(i)}\tDev ${i} <dev${i}@example.com>\tchange ${i}`,
      );
      await aws.s3.send(
        new PutObjectCommand({
          Bucket: request.environment['WATCHY_BISECT_BUCKET'],
          Key: request.environment['WATCHY_BISECT_COMMITS_KEY'],
          Body: lines.join('\n') + '\n',
        }),
      );
      return 'SUCCEEDED';
    }
    const index = parseInt(request.sourceVersion, 16);
    if (index >= firstBad) return 'FAILED';
    return attempt <= (flaky.get(index) ?? 0) ? 'FAILED' : 'SUCCEEDED';
  });
  const deps: BisectDeps = {
    store,
    runner,
    listProject: LIST_PROJECT,
    notify: async (notification) => {
      notifications.push(notification);
    },
    rollback: async (session) => {
      rollbacks.push(session.id);
      return 'slack x86_64 rolled back to 1.2.2';
    },
    now: () => new Date(clock.now),
  };
  return { deps, runner, store, notifications, rollbacks, clock };
}

const policy: AutoStartPolicy = {
  projects: [PROJECT],
  releaseBranch: 'main',
  retries: 1,
  autoRollback: false,
};

async function deliver(h: Harness, buildId: string) {
  const [build] = await h.runner.get([buildId]);
  return handleBuild(h.deps, build!, policy);
}

/** Delivers the current build's event until the session ends. */
async function runToEnd(h: Harness, id: string): Promise<BisectSession> {
  for (let i = 0; i < 100; i++) {
    const session = (await h.store.get(id))!.value;
    if (!session.current) return session;
    await deliver(h, session.current.buildId!);
  }
  throw new Error('bisect did not end');
}

function addFailingPipelineBuild(h: Harness, n: number, opts: { branch?: string } = {}) {
  h.runner.add({
    id: `${PROJECT}:good-build`,
    project: PROJECT,
    status: 'SUCCEEDED',
    resolvedSourceVersion: GOOD,
    sourceVersion: 'refs/heads/main',
    environment: { WATCHY_APP: 'slack', WATCHY_ARCH: 'x86_64' },
    startTime: new Date(Date.UTC(2025, 0, 1)),
  });
  h.runner.add({
    id: `${PROJECT}:failing-build`,
    project: PROJECT,
    status: 'FAILED',
    resolvedSourceVersion: sha(n - 1),
    sourceVersion: `refs/heads/${opts.branch ?? 'main'}`,
    environment: { WATCHY_APP: 'slack', WATCHY_ARCH: 'x86_64', CODEBUILD_OTHER: 'x' },
    startTime: new Date(Date.UTC(2025, 0, 2)),
    initiator: 'codepipeline/Watchy-Release',
  });
  return `${PROJECT}:failing-build`;
}

describe('bisect engine: S3 sessions on moto, fake build runner (moto builds always succeed)', () => {
  test('a failing main build starts a session that lists the commits, bisects and notifies once', async () => {
    const h = harness(20, 13);
    const outcome = await deliver(h, addFailingPipelineBuild(h, 20));
    expect(outcome.kind).toBe('started');
    if (outcome.kind !== 'started') return;
    expect(outcome.session).toMatchObject({ status: 'listing', good: GOOD, bad: sha(19) });
    const list = h.runner.started[0]!;
    expect(list).toMatchObject({ project: LIST_PROJECT, sourceVersion: sha(19), fullClone: true });
    expect(list.environment).toMatchObject({ WATCHY_BISECT_GOOD: GOOD, WATCHY_BISECT_BAD: sha(19) });
    const end = await runToEnd(h, outcome.session.id);
    expect(end.status).toBe('found');
    expect(end.result).toMatchObject({
      index: 13,
      commit: { sha: sha(13), author: 'Dev 13 <dev13@example.com>' },
    });
    const verify = h.runner.verifyStarts();
    expect(end.result!.steps).toBeLessThanOrEqual(5); // ceil(log2 20)
    expect(verify.length).toBe(end.result!.builds);
    expect(verify.length).toBeLessThanOrEqual(end.result!.steps * (1 + policy.retries));
    for (const step of verify) {
      expect(step).toMatchObject({ project: PROJECT });
      expect(step.environment).toEqual({
        WATCHY_MODE: 'verify',
        WATCHY_APP: 'slack',
        WATCHY_ARCH: 'x86_64',
        WATCHY_BISECT_SESSION: outcome.session.id,
      });
    }
    expect(h.notifications).toHaveLength(1);
    expect(h.notifications[0]!.message).toContain(`commit:  ${sha(13)}`);
    expect(h.notifications[0]!.message).toContain('author:  Dev 13 <dev13@example.com>');
    expect(h.notifications[0]!.message).toContain('message: change 13');
    expect(h.notifications[0]!.message).toContain(`builds:  ${verify.length}`);
    expect(h.rollbacks).toEqual([]);
  });

  test('through the S3 engine too, generated histories end at the first bad commit within ceil(log2 n) steps plus retries', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 1, max: 1000 }),
        fc.double({ min: 0, max: 1, maxExcluded: true, noNaN: true }),
        fc.boolean(),
        async (n, position, flakyRun) => {
          await aws.reset();
          const firstBad = Math.floor(position * n);
          const flaky = new Map<number, number>(
            flakyRun && firstBad > 0 ? [[Math.floor(firstBad / 2), 1]] : [],
          );
          const h = harness(n, firstBad, flaky);
          const commits = Array.from({ length: n }, (_, i) => ({ sha: sha(i) }));
          const session = await startBisect(h.deps, {
            project: PROJECT,
            good: GOOD,
            bad: sha(n - 1),
            trigger: { kind: 'manual' },
            retries: 1,
            autoRollback: false,
            commits,
          });
          const end = await runToEnd(h, session.id);
          expect(end.result?.index).toBe(firstBad);
          expect(end.result!.steps).toBeLessThanOrEqual(ceilLog2(n));
          expect(end.result!.builds).toBeLessThanOrEqual(end.result!.steps * 2);
          expect(end.result!.builds).toBeLessThanOrEqual(ceilLog2(n) * (1 + 1)); // one retry per step
          expect(h.runner.started.length).toBe(end.result!.builds);
        },
      ),
      { numRuns: 15 },
    );
  });

  test('a duplicate event of a finished step starts nothing', async () => {
    const h = harness(64, 40);
    const session = await startManual(h, 64);
    const first = session.current!.buildId!;
    await deliver(h, first);
    const startsAfterFirst = h.runner.started.length;
    const again = await deliver(h, first);
    expect(again.kind).toBe('duplicate');
    expect(h.runner.started.length).toBe(startsAfterFirst);
  });

  test('the same event handled by 6 concurrent invocations starts the next step exactly once', async () => {
    const h = harness(64, 40);
    const session = await startManual(h, 64);
    const first = session.current!.buildId!;
    const outcomes = await Promise.all(Array.from({ length: 6 }, () => deliver(h, first)));
    expect(outcomes.filter((o) => o.kind === 'advanced')).toHaveLength(1);
    expect(h.runner.started).toHaveLength(2);
    const stored = (await h.store.get(session.id))!.value;
    expect(stored.builds).toHaveLength(2);
    expect(stored.builds[0]!.outcome).toBe('SUCCEEDED');
  });

  test('an out-of-order event for an earlier step is ignored', async () => {
    const h = harness(64, 40);
    const session = await startManual(h, 64);
    const first = session.current!.buildId!;
    await deliver(h, first);
    const second = (await h.store.get(session.id))!.value.current!.buildId!;
    await deliver(h, second);
    const before = (await h.store.get(session.id))!;
    const late = await deliver(h, first);
    expect(late.kind).toBe('duplicate');
    expect((await h.store.get(session.id))!.etag).toBe(before.etag);
  });

  test('an event for a build the session never started is ignored', async () => {
    const h = harness(16, 3);
    const session = await startManual(h, 16);
    h.runner.add({
      id: 'other:1',
      project: PROJECT,
      status: 'FAILED',
      environment: { WATCHY_BISECT_SESSION: session.id },
    });
    expect(await deliver(h, 'other:1')).toMatchObject({ kind: 'ignored' });
    expect(h.runner.started).toHaveLength(1);
  });

  test('a crash between claiming a step and StartBuild is resumed by the retried event after the lease, once', async () => {
    const h = harness(64, 40);
    const session = await startManual(h, 64);
    const first = session.current!.buildId!;
    h.runner.failNextStarts = 1;
    await expect(deliver(h, first)).rejects.toThrow('connection reset');
    const claimed = (await h.store.get(session.id))!.value;
    expect(claimed.current).toMatchObject({ index: 47 });
    expect(claimed.current!.buildId).toBeUndefined();
    await deliver(h, first); // within the lease: the claimant may still be running
    expect(h.runner.started).toHaveLength(1);
    h.clock.now += CLAIM_LEASE_MS;
    await deliver(h, first);
    const resumed = (await h.store.get(session.id))!.value;
    expect(h.runner.started).toHaveLength(2);
    expect(resumed.current!.buildId).toBe(h.runner.last().id);
    expect(h.runner.last().request!.idempotencyToken).toBe(claimed.current!.token);
  });

  test('a flaky step is retried before it counts as bad', async () => {
    const h = harness(8, 6, new Map([[3, 1]]));
    const session = await startManual(h, 8);
    const end = await runToEnd(h, session.id);
    expect(end.result).toMatchObject({ index: 6 });
    const commit3 = end.builds.filter((b) => b.commit === sha(3));
    expect(commit3.map((b) => [b.attempt, b.outcome])).toEqual([
      [1, 'FAILED'],
      [2, 'SUCCEEDED'],
    ]);
  });

  test('a stopped step cancels the session and says so', async () => {
    const h = harness(16, 3);
    const session = await startManual(h, 16);
    const id = session.current!.buildId!;
    h.runner.builds.set(id, { ...h.runner.builds.get(id)!, status: 'STOPPED' });
    await deliver(h, id);
    const end = (await h.store.get(session.id))!.value;
    expect(end.status).toBe('cancelled');
    expect(h.notifications.map((n) => n.subject)).toEqual([`Bisect of ${PROJECT} cancelled`]);
  });

  test('with autoRollback the found session rolls back once and reports it', async () => {
    const h = harness(10, 4);
    const session = await startBisect(h.deps, {
      project: PROJECT,
      good: GOOD,
      bad: sha(9),
      trigger: { kind: 'manual' },
      retries: 0,
      autoRollback: true,
      commits: Array.from({ length: 10 }, (_, i) => ({ sha: sha(i) })),
    });
    const end = await runToEnd(h, session.id);
    await deliver(h, end.builds.at(-1)!.buildId);
    expect(h.rollbacks).toEqual([session.id]);
    expect(end.followUp?.rollback).toBe('slack x86_64 rolled back to 1.2.2');
    expect(h.notifications[0]!.message).toContain('rollback: slack x86_64 rolled back to 1.2.2');
  });

  test('starting the same manual bisect twice returns the one session', async () => {
    const h = harness(16, 3);
    const a = await startManual(h, 16);
    const b = await startManual(h, 16);
    expect(b.id).toBe(a.id);
    expect(h.runner.started).toHaveLength(1);
  });

  test('a develop build is not bisected', async () => {
    const h = harness(8, 3);
    expect(await deliver(h, addFailingPipelineBuild(h, 8, { branch: 'develop' }))).toEqual({
      kind: 'ignored',
      reason: 'branch develop is not main',
    });
    expect(await h.store.list()).toEqual([]);
  });

  test('a failing build with no earlier good build records why, and notifies once for duplicate events', async () => {
    const h = harness(8, 3);
    h.runner.add({
      id: `${PROJECT}:only`,
      project: PROJECT,
      status: 'FAILED',
      resolvedSourceVersion: sha(7),
      sourceVersion: 'refs/heads/main',
      environment: {},
    });
    await deliver(h, `${PROJECT}:only`);
    await deliver(h, `${PROJECT}:only`);
    const [id] = await h.store.list();
    expect((await h.store.get(id!))!.value).toMatchObject({
      status: 'failed',
      error: `cannot bisect: no earlier successful build of ${PROJECT} for the same app and architecture`,
    });
    expect(h.notifications).toHaveLength(1);
    expect(h.runner.started).toHaveLength(0);
  });

  test('a commit list that does not end with the bad commit fails the session with a clear error', async () => {
    const h = harness(8, 3);
    const outcome = await deliver(h, addFailingPipelineBuild(h, 8));
    if (outcome.kind !== 'started') throw new Error('not started');
    // Replace the list the list build wrote with one that ends elsewhere.
    await aws.s3.send(
      new PutObjectCommand({ Bucket: BUCKET, Key: commitsKey(outcome.session.id), Body: `${sha(1)}\n` }),
    );
    await deliver(h, outcome.session.current!.buildId!);
    const end = (await h.store.get(outcome.session.id))!.value;
    expect(end.status).toBe('failed');
    expect(end.error).toBe(`the commit list ends with ${sha(1)}, not the bad commit ${sha(7)}`);
  });

  test.each([
    [
      'a good commit that is not a full id',
      { good: 'abc123' },
      '--good must be a full commit id (40 hex digits), got "abc123"',
    ],
    [
      'a bad commit that is not a full id',
      { bad: 'HEAD' },
      '--bad must be a full commit id (40 hex digits), got "HEAD"',
    ],
    ['good equal to bad', { good: sha(7) }, 'good and bad are the same commit'],
    ['a project name with a slash', { project: '../x' }, 'invalid project name "../x"'],
    [
      'an app value with a path',
      { environment: { WATCHY_APP: '../slack' } },
      'invalid WATCHY_APP "../slack"',
    ],
    ['retries out of range', { retries: 9 }, 'retries must be 0-5, got 9'],
  ])('bad input, %s: a clear error and no write', async (_name, override, message) => {
    const h = harness(8, 3);
    const input = {
      project: PROJECT,
      good: GOOD,
      bad: sha(7),
      trigger: { kind: 'manual' as const },
      retries: 1,
      autoRollback: false,
      ...override,
    };
    await expect(startBisect(h.deps, input)).rejects.toThrow(new BisectInputError(message));
    expect(await h.store.list()).toEqual([]);
    expect(h.runner.started).toHaveLength(0);
  });

  test('sessions are stored under state/bisect/sessions/', async () => {
    const h = harness(4, 2);
    const session = await startManual(h, 4);
    expect(sessionKey(session.id)).toBe(`state/bisect/sessions/${session.id}.json`);
    expect(await h.store.list()).toEqual([session.id]);
  });
});

async function startManual(h: Harness, n: number): Promise<BisectSession> {
  return startBisect(h.deps, {
    project: PROJECT,
    good: GOOD,
    bad: sha(n - 1),
    trigger: { kind: 'manual', initiator: 'tester' },
    retries: 1,
    autoRollback: false,
    commits: Array.from({ length: n }, (_, i) => ({
      sha: sha(i),
      author: `Dev ${i}`,
      subject: `change ${i}`,
    })),
  });
}

describe('bisect engine: the branch of a pipeline build that does not carry it', () => {
  test('a failing build resolved to main starts a session; its last good build must resolve to main too', async () => {
    const h = harness(8, 3);
    const branches = new Map([
      [`${PROJECT}:develop-good`, 'develop'],
      [`${PROJECT}:main-good`, 'main'],
      [`${PROJECT}:failing`, 'main'],
    ]);
    const base = {
      project: PROJECT,
      environment: { WATCHY_APP: 'slack' },
      initiator: 'codepipeline/Watchy-Pipeline-X',
    };
    h.runner.add({
      ...base,
      id: `${PROJECT}:main-good`,
      status: 'SUCCEEDED',
      resolvedSourceVersion: GOOD,
      startTime: new Date(1000),
    });
    h.runner.add({
      ...base,
      id: `${PROJECT}:develop-good`,
      status: 'SUCCEEDED',
      resolvedSourceVersion: sha(2),
      startTime: new Date(2000),
    });
    h.runner.add({
      ...base,
      id: `${PROJECT}:failing`,
      status: 'FAILED',
      resolvedSourceVersion: sha(7),
      startTime: new Date(3000),
    });
    const resolving: AutoStartPolicy = { ...policy, resolveBranch: async (b) => branches.get(b.id) };
    const [failing] = await h.runner.get([`${PROJECT}:failing`]);
    const outcome = await handleBuild(h.deps, failing!, resolving);
    expect(outcome).toMatchObject({ kind: 'started', session: { good: GOOD, bad: sha(7) } });
  });

  test('a failing build resolved to develop is ignored', async () => {
    const h = harness(8, 3);
    h.runner.add({
      id: `${PROJECT}:f`,
      project: PROJECT,
      status: 'FAILED',
      resolvedSourceVersion: sha(7),
      environment: {},
    });
    const [failing] = await h.runner.get([`${PROJECT}:f`]);
    const outcome = await handleBuild(h.deps, failing!, { ...policy, resolveBranch: async () => 'develop' });
    expect(outcome).toEqual({ kind: 'ignored', reason: 'branch develop is not main' });
  });
});
