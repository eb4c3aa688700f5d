/**
 * The rollback Lambda's core over moto: history, status and list (read-only), rollbacks run where
 * the signing key is (here in-process, in AWS through the publish function), and a rebuild of the
 * good commit on CodeBuild (StartBuild with sourceVersion; checked with BatchGetBuilds) when the
 * good release's artifact is gone.
 */
import { BatchGetBuildsCommand, CodeBuildClient, CreateProjectCommand } from '@aws-sdk/client-codebuild';
import { DeleteObjectCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { RELEASE_ENV } from '@core/release/environment';
import { handleOperatorRequest, type RollbackHandlerDeps } from '@core/release/rollback/operator';
import { publish } from '@core/release/publish/publish';
import { CodeBuildRebuilder } from '@core/release/rollback/rebuild';
import { runPointerOperation } from '@core/release/rollback/rollback';
import { startMoto, type MotoServer } from '../../support/moto-server';
import { packageAndStage, releaseWorld, SETTINGS, type ReleaseWorld } from '../../core/release/fixtures';
import { depsFromEnvironment } from '../../../lambda/rollback/index';

let moto: MotoServer;
let world: ReleaseWorld;
let codebuild: CodeBuildClient;
let deps: RollbackHandlerDeps;

beforeAll(async () => {
  moto = await startMoto();
  world = await releaseWorld(moto);
  codebuild = new CodeBuildClient(moto.clientConfig);
  await codebuild.send(
    new CreateProjectCommand({
      name: 'watchy-nuitka-x86_64',
      source: { type: 'GITHUB', location: 'https://github.com/watchy-cloud/watchy-release-platform.git' },
      artifacts: { type: 'NO_ARTIFACTS' },
      environment: {
        type: 'LINUX_CONTAINER',
        image: 'aws/codebuild/amazonlinux-x86_64-standard:5.0',
        computeType: 'BUILD_GENERAL1_SMALL',
      },
      serviceRole: 'arn:aws:iam::123456789012:role/codebuild',
    }),
  );
  deps = {
    store: world.store,
    movePointer: (request) => runPointerOperation(world.deps, request),
    publicKey: async () => world.publicKey,
    rebuilder: new CodeBuildRebuilder(
      codebuild,
      { 'nuitka-x86_64': 'watchy-nuitka-x86_64' },
      () => new Date('2026-11-22T06:00:00Z'),
    ),
  };
  for (const [i, version] of ['7.0.0', '7.1.0'].entries()) {
    const requestKey = await packageAndStage(
      world,
      { version, sourceRevision: `${i + 1}`.repeat(12) },
      `AROATEST:AWSCodeBuild-r${i}`,
    );
    await publish(world.deps, SETTINGS, { requestKey, branch: 'main' });
  }
});
afterAll(async () => {
  world?.s3.destroy();
  world?.kms.destroy();
  world?.cloudfront.destroy();
  codebuild?.destroy();
  await moto?.stop();
});

describe('rollback handler', () => {
  test('list: artifacts and their versions', async () => {
    expect(await handleOperatorRequest(deps, { action: 'list' })).toEqual({
      artifacts: [{ artifact: 'slack-monitor', versions: ['7.0.0', '7.1.0'] }],
    });
  });

  test('status: the pointer, its metadata_version and agreement with the history', async () => {
    expect(await handleOperatorRequest(deps, { action: 'status', app: 'slack' })).toEqual({
      pointers: [
        expect.objectContaining({
          artifact: 'slack-monitor',
          version: '7.1.0',
          metadataVersion: 2,
          signature: 'valid',
          inSync: true,
          lastAction: 'publish',
        }),
      ],
    });
  });

  test('status: a pointer altered after signing shows an invalid signature', async () => {
    const other = await releaseWorld(moto);
    const requestKey = await packageAndStage(other, { version: '7.2.0' }, 'AROATEST:AWSCodeBuild-alt');
    await publish(other.deps, SETTINGS, { requestKey, branch: 'main' });
    const key = 'binaries/slack-monitor/watchy-slack-monitor.json';
    const metadata = JSON.parse((await other.store.get(key, 1 << 20))!.body.toString()) as Record<
      string,
      unknown
    >;
    await other.s3.send(
      new PutObjectCommand({
        Bucket: other.store.bucket,
        Key: key,
        Body: JSON.stringify({ ...metadata, binary_size: 1 }),
      }),
    );
    const result = await handleOperatorRequest(
      { ...deps, store: other.store, publicKey: async () => other.publicKey },
      { action: 'status' },
    );
    expect(result).toEqual({
      pointers: [expect.objectContaining({ version: '7.2.0', signature: 'invalid' })],
    });
    other.s3.destroy();
    other.kms.destroy();
    other.cloudfront.destroy();
  });

  test('an unknown action is refused with one line', async () => {
    await expect(handleOperatorRequest(deps, { action: 'promote', app: 'slack' })).rejects.toThrow(
      /^invalid request: action: /,
    );
  });

  test('a payload that is not a request object is refused with one line, nothing written', async () => {
    const before = await world.store.head('state/history/slack-monitor.json');
    await expect(handleOperatorRequest(deps, 'emergency-rollback slack')).rejects.toThrow(
      /^invalid request: \(root\): [^\n]*$/,
    );
    await expect(handleOperatorRequest(deps, [{ action: 'list' }])).rejects.toThrow(/^invalid request: /);
    expect((await world.store.head('state/history/slack-monitor.json'))?.etag).toBe(before?.etag);
  });

  test('emergency rollback whose good artifact is gone starts a CodeBuild rebuild of its commit', async () => {
    await world.s3.send(
      new DeleteObjectCommand({
        Bucket: world.store.bucket,
        Key: 'binaries/slack-monitor/watchy-slack-monitor-7.0.0.gz',
      }),
    );
    const result = await handleOperatorRequest(deps, {
      action: 'emergency-rollback',
      app: 'slack',
      from: '7.1.0',
      rebuild: true,
      requestId: 'inc-9',
    });
    expect(result).toMatchObject({
      outcome: 'rebuild-started',
      artifact: 'slack-monitor',
      rebuild: {
        project: 'watchy-nuitka-x86_64',
        version: '7.0.0-rebuild.20261122060000',
        sourceRevision: '111111111111',
      },
    });
    const buildId = (result as { rebuild: { buildId: string } }).rebuild.buildId;
    const builds = await codebuild.send(new BatchGetBuildsCommand({ ids: [buildId] }));
    expect(builds.builds?.[0]?.sourceVersion).toBe('111111111111');
    // The pointer did not move.
    expect(await handleOperatorRequest(deps, { action: 'status', app: 'slack' })).toMatchObject({
      pointers: [expect.objectContaining({ version: '7.1.0', metadataVersion: 2 })],
    });
  });

  test('without --rebuild the same rollback refuses, naming the missing artifact', async () => {
    await expect(
      handleOperatorRequest(deps, { action: 'emergency-rollback', app: 'slack', from: '7.1.0' }),
    ).rejects.toThrow(
      /^no earlier good release of slack-monitor with intact artifacts in the history \(current 7\.1\.0\); 7\.0\.0 fails: .*watchy-slack-monitor-7\.0\.0\.gz does not exist$/,
    );
  });

  test.each([
    ['an emergency rollback', { action: 'emergency-rollback' }],
    ['a rollback to a version', { action: 'rollback', version: '7.0.0' }],
  ])(
    '%s that does not say what it rolls back from is refused with one line, nothing written',
    async (_, request) => {
      const before = await world.store.head('state/history/slack-monitor.json');
      await expect(
        handleOperatorRequest(deps, { ...request, app: 'slack', requestId: 'no-from' }),
      ).rejects.toThrow(/^invalid request: from: /);
      expect((await world.store.head('state/history/slack-monitor.json'))?.etag).toBe(before?.etag);
    },
  );

  test('history: newest first, with the bad versions', async () => {
    const history = await handleOperatorRequest(deps, { action: 'history', app: 'slack', limit: 1 });
    expect(history).toMatchObject({
      artifact: 'slack-monitor',
      entries: [{ version: '7.1.0', action: 'publish', metadataVersion: 2 }],
      bad: {},
    });
  });
});

describe('rollback handler environment', () => {
  const env = {
    [RELEASE_ENV.bucket]: 'releases',
    [RELEASE_ENV.publishFunction]: 'watchy-publish',
  };

  test('well-formed rebuild projects are accepted; a type and architecture without a project is not rebuilt', async () => {
    const fromEnv = depsFromEnvironment({
      ...env,
      [RELEASE_ENV.rebuildProjects]: '{"nuitka-x86_64":"watchy-nuitka-x86_64"}',
    });
    await expect(
      fromEnv.rebuilder.start({
        ref: { app: 'rust', binaryType: 'rust', architecture: 'arm64' },
        version: '1.0.0',
        sourceRevision: '1'.repeat(12),
      }),
    ).rejects.toThrow('no build project for rust-arm64 to rebuild 1.0.0 with');
  });

  test.each([
    ['not JSON', '{"nuitka-x86_64": ', /^WATCHY_REBUILD_PROJECTS is not JSON: "\{\\"nuitka-x86_64\\": "$/],
    ['not an object', '["watchy-nuitka-x86_64"]', /^WATCHY_REBUILD_PROJECTS: \(root\): .*expected object/],
    [
      'a key that is no rebuild project key',
      '{"nuitka-mips":"p"}',
      /^WATCHY_REBUILD_PROJECTS: nuitka-mips: unknown field$/,
    ],
    ['a project name that is not a string', '{"rust-arm64":7}', /^WATCHY_REBUILD_PROJECTS: rust-arm64: /],
  ])('a malformed WATCHY_REBUILD_PROJECTS (%s) is refused with one line naming it', (_, value, message) => {
    expect(() => depsFromEnvironment({ ...env, [RELEASE_ENV.rebuildProjects]: value })).toThrow(message);
  });
});
