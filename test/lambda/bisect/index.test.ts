/**
 * The bisect Lambda's core over real HTTP: sessions in S3 on moto; builds from the fake runner
 * (moto's CodeBuild builds always succeed). The automatic rollback's guard reads the real latest
 * pointer from S3; the rollback function itself is a recording stand-in, because invoking a Lambda
 * in moto needs a Docker engine.
 */
import { PutObjectCommand } from '@aws-sdk/client-s3';
import { buildIdOf } from '@core/bisect/contract';
import { configFromEnv, processBisectEvent } from '../../../lambda/bisect/index';
import { rollbackIfLive } from '../../../lambda/bisect/rollback';
import { BISECT_ENV } from '@core/bisect/contract';
import type { AutoStartPolicy, BisectDeps, Notification } from '@core/bisect/engine';
import type { BisectSession } from '@core/bisect/session';
import { SessionStore } from '@core/bisect/session-store';
import { readHistory } from '@core/release/history/history';
import { publish } from '@core/release/publish/publish';
import { emergencyRollback, runPointerOperation } from '@core/release/rollback/rollback';
import { closeReleaseWorld, packageAndStage, releaseWorld, SETTINGS } from '../../core/release/fixtures';
import { BISECT_BUCKET as BUCKET, useBisectMoto } from '../../core/bisect/bisect-moto';
import { FakeBuildRunner } from '../../core/bisect/fake-build-runner';

const PROJECT = 'watchy-nuitka-x86_64';
const sha = (i: number) => i.toString(16).padStart(40, '0');
const GOOD = 'f'.repeat(40);

const aws = useBisectMoto();

const policy: AutoStartPolicy = {
  projects: [PROJECT],
  releaseBranch: 'main',
  releasePipelines: ['Watchy-Release'],
  retries: 1,
  autoRollback: false,
};

function setup() {
  const notifications: Notification[] = [];
  const runner = new FakeBuildRunner(() => 'FAILED');
  const deps: BisectDeps = {
    store: new SessionStore(aws.s3, BUCKET),
    runner,
    listProject: 'watchy-bisect-commits',
    notify: async (n) => {
      notifications.push(n);
    },
  };
  return { deps, runner, notifications };
}

function codebuildEvent(buildId: string, overrides: Record<string, unknown> = {}) {
  return {
    version: '0',
    source: 'aws.codebuild',
    'detail-type': 'CodeBuild Build State Change',
    detail: {
      'build-id': `arn:aws:codebuild:us-east-1:123456789012:build/${buildId}`,
      'project-name': PROJECT,
      'build-status': 'FAILED',
      ...overrides,
    },
  };
}

describe('bisect Lambda core', () => {
  test('a failing pipeline build of main (EventBridge event with a build ARN) starts a session', async () => {
    const { deps, runner } = setup();
    runner.add({
      id: `${PROJECT}:good`,
      project: PROJECT,
      status: 'SUCCEEDED',
      resolvedSourceVersion: GOOD,
      environment: { WATCHY_APP: 'slack', WATCHY_ARCH: 'x86_64' },
      initiator: 'codepipeline/Watchy-Release',
      startTime: new Date(1000),
    });
    runner.add({
      id: `${PROJECT}:bad`,
      project: PROJECT,
      status: 'FAILED',
      resolvedSourceVersion: sha(9),
      environment: { WATCHY_APP: 'slack', WATCHY_ARCH: 'x86_64' },
      initiator: 'codepipeline/Watchy-Release',
      startTime: new Date(2000),
    });
    const response = await processBisectEvent(deps, { policy }, codebuildEvent(`${PROJECT}:bad`));
    expect(response).toMatchObject({
      outcome: 'started',
      session: { status: 'listing', good: GOOD, bad: sha(9) },
    });
    expect(runner.started[0]).toMatchObject({ project: 'watchy-bisect-commits', sourceVersion: sha(9) });
  });

  test('a build of another pipeline (develop) is ignored', async () => {
    const { deps, runner } = setup();
    runner.add({
      id: `${PROJECT}:dev`,
      project: PROJECT,
      status: 'FAILED',
      resolvedSourceVersion: sha(9),
      environment: {},
      initiator: 'codepipeline/Watchy-Integration',
    });
    expect(await processBisectEvent(deps, { policy }, codebuildEvent(`${PROJECT}:dev`))).toEqual({
      outcome: 'ignored',
      reason: 'branch unknown is not main',
    });
  });

  test('an event for a build CodeBuild does not know is ignored', async () => {
    const { deps } = setup();
    expect(await processBisectEvent(deps, { policy }, codebuildEvent(`${PROJECT}:gone`))).toEqual({
      outcome: 'ignored',
      reason: `build ${PROJECT}:gone not found`,
    });
  });

  test('a manual start and status round trip', async () => {
    const { deps } = setup();
    const started = await processBisectEvent(
      deps,
      { policy },
      { action: 'start', project: PROJECT, good: GOOD, bad: sha(5), initiator: 'ops' },
    );
    expect(started).toMatchObject({
      outcome: 'started',
      session: { status: 'listing', trigger: { kind: 'manual', initiator: 'ops' } },
    });
    const status = await processBisectEvent(deps, { policy }, { action: 'status' });
    expect(status).toMatchObject({ sessions: [{ project: PROJECT, status: 'listing' }] });
  });

  test.each([
    ['an empty object', {}, 'invalid bisect event: (root): Invalid input'],
    [
      'a CodeBuild event without a build id',
      { ...codebuildEvent('x'), detail: { 'project-name': PROJECT, 'build-status': 'FAILED' } },
      'invalid bisect event',
    ],
    [
      'a start with a number for good',
      { action: 'start', project: PROJECT, good: 1, bad: sha(1) },
      'invalid bisect event',
    ],
    [
      'a start with an unknown field',
      { action: 'start', project: PROJECT, good: GOOD, bad: sha(1), force: true },
      'invalid bisect event',
    ],
  ])('bad event, %s: a clear error and no write', async (_name, event, message) => {
    const { deps, runner } = setup();
    await expect(processBisectEvent(deps, { policy }, event)).rejects.toThrow(message);
    expect(await deps.store.list()).toEqual([]);
    expect(runner.started).toEqual([]);
  });

  test('status of an unknown session is an error', async () => {
    const { deps } = setup();
    await expect(
      processBisectEvent(deps, { policy }, { action: 'status', id: 'm-000000000000' }),
    ).rejects.toThrow('no bisect session m-000000000000');
  });

  test('build ARNs become build ids; ids stay as they are', () => {
    expect(buildIdOf('arn:aws:codebuild:us-east-1:123456789012:build/p:1234')).toBe('p:1234');
    expect(buildIdOf('p:1234')).toBe('p:1234');
  });

  test('a missing environment variable is named', () => {
    expect(() => configFromEnv({})).toThrow(`environment variable ${BISECT_ENV.bucket} is not set`);
  });
});

describe('automatic rollback at the end of a bisect (pointer on moto S3)', () => {
  const calls: unknown[] = [];
  const deps = () => ({
    s3: aws.s3,
    bucket: BUCKET,
    apps: ['slack'],
    emergencyRollback: async (request: unknown) => {
      calls.push(request);
      return {
        outcome: 'rolled-back' as const,
        artifact: 'slack-monitor',
        from: '1.3.0',
        to: '1.2.0',
        metadataVersion: 7,
        detail: 'rolled back slack-monitor from 1.3.0 to 1.2.0 (metadata_version 7); 1.3.0 marked bad',
      };
    },
  });
  const session = (app = 'slack'): BisectSession => ({
    schema: 1,
    id: 'b-0123456789abcdef01234567',
    project: PROJECT,
    good: GOOD,
    bad: sha(3),
    environment: { WATCHY_APP: app, WATCHY_ARCH: 'x86_64' },
    trigger: { kind: 'build', buildId: `${PROJECT}:bad` },
    retries: 1,
    autoRollback: true,
    status: 'found',
    createdAt: '2026-01-01T00:00:00.000Z',
    updatedAt: '2026-01-01T00:00:00.000Z',
    claims: 2,
    commits: [0, 1, 2, 3].map((i) => ({ sha: sha(i) })),
    builds: [],
    result: { index: 2, commit: { sha: sha(2) }, builds: 2, steps: 2 },
  });
  const pointTo = (revision: string) =>
    aws.s3.send(
      new PutObjectCommand({
        Bucket: BUCKET,
        Key: 'binaries/slack-monitor/watchy-slack-monitor.json',
        Body: JSON.stringify({ version: '1.3.0', source_revision: revision }),
      }),
    );
  beforeEach(() => {
    calls.length = 0;
  });

  test('the live release built from a bad commit is rolled back from the version it saw, with the session as request id', async () => {
    await pointTo(sha(3));
    expect(await rollbackIfLive(deps(), session())).toBe(
      'slack-monitor rolled back from 1.3.0 to 1.2.0 (metadata_version 7)',
    );
    expect(calls).toEqual([
      {
        app: 'slack',
        architecture: 'x86_64',
        binaryType: 'nuitka',
        from: '1.3.0',
        requestId: 'bisect-b-0123456789abcdef01234567',
        reason: `bisect b-0123456789abcdef01234567: first bad commit ${sha(2)}`,
      },
    ]);
  });

  test('an operator who rolled the live release back first makes the bisect a no-op naming them, not a second step back', async () => {
    const world = await releaseWorld(aws.moto);
    try {
      for (const [version, revision] of [
        ['1.0.0', sha(0)],
        ['1.1.0', sha(1)],
        ['1.2.0', sha(3)],
      ] as const) {
        const requestKey = await packageAndStage(
          world,
          { version, sourceRevision: revision },
          `AROATEST:AWSCodeBuild-${version}`,
        );
        await publish(world.deps, SETTINGS, { requestKey, branch: 'main' });
      }
      const ref = { app: 'slack', architecture: 'x86_64', binaryType: 'nuitka' } as const;
      const outcome = await rollbackIfLive(
        {
          s3: world.s3,
          bucket: world.store.bucket,
          apps: ['slack'],
          // The bisect judged 1.2.0 live; an operator's emergency rollback lands before its own request.
          emergencyRollback: async (request) => {
            await emergencyRollback(world.deps, {
              ...ref,
              from: '1.2.0',
              requestId: 'operator-a',
              rebuild: false,
            });
            return runPointerOperation(world.deps, { action: 'emergency-rollback', ...request });
          },
        },
        session(),
      );
      expect(outcome).toBe('slack-monitor unchanged: already rolled back from 1.2.0 to 1.1.0 by operator-a');
      const { history } = await readHistory(world.store, ref);
      expect(history.entries.slice(3).map((e) => e.requestId)).toEqual(['operator-a']);
      expect(Object.keys(history.bad)).toEqual(['1.2.0']);
    } finally {
      await closeReleaseWorld(world, undefined);
    }
  });

  test('a latest pointer that names no version is left alone', async () => {
    await aws.s3.send(
      new PutObjectCommand({
        Bucket: BUCKET,
        Key: 'binaries/slack-monitor/watchy-slack-monitor.json',
        Body: JSON.stringify({ source_revision: sha(3) }),
      }),
    );
    expect(await rollbackIfLive(deps(), session())).toBe(
      'skipped: the latest pointer of slack x86_64 names no version',
    );
    expect(calls).toEqual([]);
  });

  test('a live release older than the first bad commit stays', async () => {
    await pointTo(sha(1));
    expect(await rollbackIfLive(deps(), session())).toBe(
      `skipped: the live release 1.3.0 (${sha(1).slice(0, 12)}) predates the first bad commit`,
    );
    expect(calls).toEqual([]);
  });

  test('nothing promoted: nothing rolled back', async () => {
    expect(await rollbackIfLive(deps(), session())).toBe('skipped: nothing is promoted for slack x86_64');
    expect(calls).toEqual([]);
  });

  test('a build of something without a release pointer (tests, images) rolls nothing back', async () => {
    expect(await rollbackIfLive(deps(), session('status-api'))).toBe(
      'skipped: status-api has no release pointer',
    );
    expect(calls).toEqual([]);
  });
});
