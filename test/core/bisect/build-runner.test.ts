/**
 * CodeBuildRunner against moto's CodeBuild over HTTP: StartBuild with `sourceVersion`, environment
 * overrides and an idempotency token, BatchGetBuilds, ListBuildsForProject. Moto stores the source
 * version but not the environment overrides, so those are read from the request that went over the
 * wire (an SDK middleware records each request body).
 */
import type { CodeBuildClient } from '@aws-sdk/client-codebuild';
import { CodeBuildRunner, toBuildInfo } from '@core/bisect/build-runner';
import { useBisectMoto } from './bisect-moto';

const aws = useBisectMoto({ project: 'watchy-nuitka-x86_64' });
let client: CodeBuildClient;
const sent: { target: string; body: Record<string, unknown> }[] = [];
const COMMIT = '0123456789abcdef0123456789abcdef01234567';

beforeAll(() => {
  client = aws.codebuild;
  client.middlewareStack.add(
    (next) => async (args) => {
      const request = args.request as { headers: Record<string, string>; body?: string };
      sent.push({ target: request.headers['x-amz-target'] ?? '', body: JSON.parse(request.body ?? '{}') });
      return next(args);
    },
    { step: 'finalizeRequest', name: 'recordRequests' },
  );
});
beforeEach(() => {
  sent.length = 0;
});

describe('CodeBuildRunner against moto', () => {
  test('StartBuild carries the commit as sourceVersion, the verify-mode overrides and the idempotency token', async () => {
    const runner = new CodeBuildRunner(client);
    const id = await runner.start({
      project: 'watchy-nuitka-x86_64',
      sourceVersion: COMMIT,
      environment: { WATCHY_MODE: 'verify', WATCHY_APP: 'slack', WATCHY_ARCH: 'x86_64' },
      idempotencyToken: 'b-123-1',
    });
    expect(id).toMatch(/^watchy-nuitka-x86_64:/);
    const start = sent.find((r) => r.target.endsWith('.StartBuild'))!;
    expect(start.body).toEqual({
      projectName: 'watchy-nuitka-x86_64',
      sourceVersion: COMMIT,
      idempotencyToken: 'b-123-1',
      environmentVariablesOverride: [
        { name: 'WATCHY_MODE', value: 'verify', type: 'PLAINTEXT' },
        { name: 'WATCHY_APP', value: 'slack', type: 'PLAINTEXT' },
        { name: 'WATCHY_ARCH', value: 'x86_64', type: 'PLAINTEXT' },
      ],
    });
    const [build] = await runner.get([id]);
    expect(build).toMatchObject({
      id,
      project: 'watchy-nuitka-x86_64',
      sourceVersion: COMMIT,
      complete: true,
    });
  });

  test('a source override clones the repository through the CodeConnections connection, full depth', async () => {
    const runner = new CodeBuildRunner(client);
    await runner.start({
      project: 'watchy-nuitka-x86_64',
      sourceVersion: COMMIT,
      environment: {},
      idempotencyToken: 't',
      source: {
        type: 'GITHUB',
        location: 'https://github.com/watchy-cloud/watchy-release-platform.git',
        connectionArn: 'arn:aws:codeconnections:us-east-1:123456789012:connection/abc',
      },
      fullClone: true,
    });
    expect(sent.find((r) => r.target.endsWith('.StartBuild'))!.body).toMatchObject({
      sourceTypeOverride: 'GITHUB',
      sourceLocationOverride: 'https://github.com/watchy-cloud/watchy-release-platform.git',
      sourceAuthOverride: {
        type: 'CODECONNECTIONS',
        resource: 'arn:aws:codeconnections:us-east-1:123456789012:connection/abc',
      },
      gitCloneDepthOverride: 0,
    });
  });

  test('BatchGetBuilds reads every build, in batches of 100, and leaves out unknown ids', async () => {
    const runner = new CodeBuildRunner(client);
    const ids: string[] = [];
    for (let i = 0; i < 3; i++) {
      ids.push(
        await runner.start({
          project: 'watchy-nuitka-x86_64',
          sourceVersion: COMMIT,
          environment: {},
          idempotencyToken: `t${i}`,
        }),
      );
    }
    const builds = await runner.get([...ids, 'watchy-nuitka-x86_64:missing']);
    expect(builds.map((b) => b.id).sort()).toEqual([...ids].sort());
    expect(builds.every((b) => b.status === 'SUCCEEDED')).toBe(true);
  });

  test('recent lists the project builds through ListBuildsForProject and BatchGetBuilds', async () => {
    const runner = new CodeBuildRunner(client);
    const ids: string[] = [];
    for (let i = 0; i < 3; i++) {
      ids.push(
        await runner.start({
          project: 'watchy-nuitka-x86_64',
          sourceVersion: COMMIT,
          environment: {},
          idempotencyToken: `r${i}`,
        }),
      );
    }
    const recent = await runner.recent('watchy-nuitka-x86_64', 2);
    expect(recent).toHaveLength(2);
    expect(
      sent.some((r) => r.target.endsWith('.ListBuildsForProject') && r.body['sortOrder'] === 'DESCENDING'),
    ).toBe(true);
    expect(ids).toEqual(expect.arrayContaining(recent.map((b) => b.id)));
  });

  test('StartBuild of an unknown project fails with CodeBuild’s error', async () => {
    const runner = new CodeBuildRunner(client);
    await expect(
      runner.start({ project: 'nope', sourceVersion: COMMIT, environment: {}, idempotencyToken: 'x' }),
    ).rejects.toThrow('Project cannot be found');
  });

  test('environment variables of a build are read; secret references are left out', () => {
    const info = toBuildInfo({
      id: 'p:1',
      projectName: 'p',
      buildStatus: 'FAILED',
      buildComplete: true,
      resolvedSourceVersion: COMMIT,
      environment: {
        type: 'LINUX_CONTAINER',
        image: 'i',
        computeType: 'BUILD_GENERAL1_SMALL',
        environmentVariables: [
          { name: 'WATCHY_APP', value: 'slack', type: 'PLAINTEXT' },
          { name: 'TOKEN', value: 'arn:aws:secretsmanager:x', type: 'SECRETS_MANAGER' },
        ],
      },
    });
    expect(info).toMatchObject({ status: 'FAILED', complete: true, environment: { WATCHY_APP: 'slack' } });
  });
});
