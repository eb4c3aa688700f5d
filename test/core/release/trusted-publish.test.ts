/**
 * The deployed publisher publishes only what it learns from CodePipeline and CodeBuild, never what
 * its caller says: the staging prefix of the build the run (or the operator) names, that build's
 * branch and commit. Over moto (S3, KMS, CloudFront, CodeBuild builds) and the local CodePipeline
 * endpoint (moto has no ListActionExecutions); where moto cannot give a build outcome or initiator
 * (its builds always succeed, started by "rootme"), an in-process fake over moto's answer, named so.
 */
import { PutObjectCommand } from '@aws-sdk/client-s3';
import type { BuildInfo } from '@core/bisect/build-runner';
import { readHistory } from '@core/release/history/history';
import { publish, publishBuild } from '@core/release/publish/publish';
import { CodeBuildRebuilder } from '@core/release/rollback/rebuild';
import { PUBLISH_REQUEST_FILE, type PublishRequest } from '@core/release/publish/request';
import { trustedBuild, trustedPipelineBuild, type BuildTrust } from '@core/release/publish/trusted-build';
import { startMoto, type MotoServer } from '../../support/moto-server';
import { stageDist } from '@core/release/publish/stage';
import { closeReleaseWorld, makePackage, releaseWorld, SETTINGS, type ReleaseWorld } from './fixtures';
import type { BranchClass } from '@core/build-env';
import {
  addRun,
  BUILD_ACTION,
  DEVELOP_COMMIT,
  MAIN_COMMIT,
  OTHER_PROJECT,
  PIPELINE,
  INTEGRATION_PIPELINE,
  prefixOf,
  releasedKeys,
  RELEASE_PROJECT,
  INTEGRATION_PROJECT,
  stageAsBuild,
  startBuild,
  trustWorld,
  type TrustWorld,
} from './trusted-fixtures';

let moto: MotoServer;
let world: ReleaseWorld;
let tw: TrustWorld;

beforeAll(async () => {
  moto = await startMoto();
  world = await releaseWorld(moto);
  tw = await trustWorld(moto);
});
afterAll(async () => {
  await tw?.close();
  await closeReleaseWorld(world, moto);
});

const released = (): Promise<string[]> => releasedKeys(world);

/** Runs `attempt`, expects a one-line refusal and nothing released; returns the message. */
async function refused(attempt: () => Promise<unknown>): Promise<string> {
  const before = await released();
  const error = await attempt().then(
    () => undefined,
    (e: Error) => e,
  );
  expect(error).toBeInstanceOf(Error);
  expect(error!.message).not.toContain('\n');
  expect(await released()).toEqual(before);
  return error!.message;
}

/** Moto's builds with another status or initiator: what CodeBuild reports and moto cannot. */
function rewritingBuilds(trust: BuildTrust, patch: Partial<BuildInfo>): BuildTrust {
  return {
    ...trust,
    builds: {
      get: async (ids) => (await trust.builds.get(ids)).map((b) => ({ ...b, ...patch })),
    },
  };
}

const job = (pipelineExecutionId: string, pipeline: BranchClass = 'release') => ({
  pipelineExecutionId,
  buildAction: BUILD_ACTION,
  pipeline,
});

describe('pipeline Publish action (fake: CodePipeline run history, moto has no ListActionExecutions)', () => {
  test('the honest path: the run’s build action’s staging is published and promoted on the run’s branch', async () => {
    const buildId = await startBuild(tw, MAIN_COMMIT);
    const requestKey = await stageAsBuild(
      world,
      buildId,
      { version: '10.0.0', sourceRevision: MAIN_COMMIT },
      'main',
    );
    const run = addRun(tw, { branch: 'main', commit: MAIN_COMMIT, buildId, requestKey });
    const build = await trustedPipelineBuild(tw.trust, job(run));
    expect(build).toEqual({
      buildId,
      project: 'watchy-nuitka-x86_64',
      stagingPrefix: prefixOf(buildId),
      branchClass: 'release',
      branch: { from: 'pipeline', name: 'main' },
      sourceRevision: MAIN_COMMIT,
      requestKey,
    });
    const outcome = await publishBuild(world.deps, SETTINGS, build);
    expect(outcome.results).toEqual([
      expect.objectContaining({
        version: '10.0.0',
        branch: 'main',
        versioned: 'created',
        pointer: 'promoted',
      }),
    ]);
    const { history } = await readHistory(world.store, {
      app: 'slack',
      binaryType: 'nuitka',
      architecture: 'x86_64',
    });
    expect(history.entries.at(-1)).toMatchObject({
      version: '10.0.0',
      buildId,
      sourceRevision: MAIN_COMMIT,
    });
    // What the publisher asked CodePipeline: the actions of that one run of the release pipeline.
    expect(tw.pipeline.requests.at(-1)).toEqual({
      target: 'CodePipeline_20150709.ListActionExecutions',
      body: { pipelineName: PIPELINE, filter: { pipelineExecutionId: run } },
    });
  });

  test('build A naming build B’s request (a develop build’s staging, to publish as main) is refused', async () => {
    const developBuild = await startBuild(tw, DEVELOP_COMMIT, INTEGRATION_PROJECT);
    const developKey = await stageAsBuild(
      world,
      developBuild,
      { version: '10.1.0', sourceRevision: DEVELOP_COMMIT },
      'develop',
    );
    const mainBuild = await startBuild(tw, MAIN_COMMIT);
    // Build A's own output variable names B's request: the build controls that value.
    const run = addRun(tw, {
      branch: 'main',
      commit: MAIN_COMMIT,
      buildId: mainBuild,
      requestKey: developKey,
    });
    const message = await refused(async () =>
      publishBuild(world.deps, SETTINGS, await trustedPipelineBuild(tw.trust, job(run))),
    );
    expect(message).toBe(
      `${developKey} is outside the staging prefix of build ${mainBuild} (${prefixOf(mainBuild)}); nothing was published`,
    );
  });

  test('a key the build names with ".." segments, though it starts with its prefix, is refused', async () => {
    const buildId = await startBuild(tw, MAIN_COMMIT);
    const requestKey = `${prefixOf(buildId)}../AROAOTHERROLE0000001:AWSCodeBuild-x/slack-monitor/1.0.0/publish-request.json`;
    const run = addRun(tw, { branch: 'main', commit: MAIN_COMMIT, buildId, requestKey });
    const message = await refused(async () =>
      publishBuild(world.deps, SETTINGS, await trustedPipelineBuild(tw.trust, job(run))),
    );
    expect(message).toMatch(
      /^invalid publish request key: \(root\): expected a key under staging\/ without empty, "\." or "\.\." segments, got "/,
    );
  });

  test('a develop run’s build whose request says main is refused: the branch is the run’s', async () => {
    const buildId = await startBuild(tw, DEVELOP_COMMIT, INTEGRATION_PROJECT);
    const requestKey = await stageAsBuild(
      world,
      buildId,
      { version: '10.2.0', sourceRevision: DEVELOP_COMMIT },
      'main',
    );
    const run = addRun(tw, {
      branch: 'develop',
      commit: DEVELOP_COMMIT,
      buildId,
      requestKey,
      pipeline: 'integration',
    });
    const message = await refused(async () =>
      publishBuild(world.deps, SETTINGS, await trustedPipelineBuild(tw.trust, job(run, 'integration'))),
    );
    expect(message).toBe(`publish request says branch main, build ${buildId} is of develop`);
  });

  test('the integration pipeline’s build publishes its versioned artifact and never moves the pointer', async () => {
    const buildId = await startBuild(tw, DEVELOP_COMMIT, INTEGRATION_PROJECT);
    const requestKey = await stageAsBuild(
      world,
      buildId,
      { version: '10.2.1', sourceRevision: DEVELOP_COMMIT },
      'develop',
    );
    const run = addRun(tw, {
      branch: 'develop',
      commit: DEVELOP_COMMIT,
      buildId,
      requestKey,
      pipeline: 'integration',
    });
    const build = await trustedPipelineBuild(tw.trust, job(run, 'integration'));
    expect(build).toMatchObject({
      branchClass: 'integration',
      branch: { from: 'pipeline', name: 'develop' },
    });
    const outcome = await publishBuild(world.deps, SETTINGS, build);
    expect(outcome.results).toEqual([
      expect.objectContaining({ version: '10.2.1', branch: 'develop', pointer: 'not-promoted' }),
    ]);
  });

  test('a release pipeline run whose build action names an integration project’s build is refused', async () => {
    const buildId = await startBuild(tw, MAIN_COMMIT, INTEGRATION_PROJECT);
    const requestKey = await stageAsBuild(
      world,
      buildId,
      { version: '10.2.2', sourceRevision: MAIN_COMMIT },
      'main',
    );
    const run = addRun(tw, { branch: 'main', commit: MAIN_COMMIT, buildId, requestKey });
    const message = await refused(async () =>
      publishBuild(world.deps, SETTINGS, await trustedPipelineBuild(tw.trust, job(run))),
    );
    expect(message).toBe(
      `build ${buildId} is of the integration class, not of the release pipeline ${PIPELINE} that names it`,
    );
  });

  test('a Publish action that says the release pipeline, for a run of the integration pipeline, finds no such run', async () => {
    // The release pipeline has runs of its own; none of them is this one (CodePipeline answers
    // PipelineExecutionNotFoundException, as the fake does).
    addRun(tw, { branch: 'main', commit: MAIN_COMMIT, buildId: await startBuild(tw, MAIN_COMMIT) });
    const buildId = await startBuild(tw, DEVELOP_COMMIT, INTEGRATION_PROJECT);
    const run = addRun(tw, { branch: 'develop', commit: DEVELOP_COMMIT, buildId, pipeline: 'integration' });
    const message = await refused(() => trustedPipelineBuild(tw.trust, job(run)));
    expect(message).toBe(`no execution ${run}`);
  });

  test('a request recording another commit than the run’s is refused', async () => {
    const buildId = await startBuild(tw, MAIN_COMMIT);
    const requestKey = await stageAsBuild(
      world,
      buildId,
      { version: '10.3.0', sourceRevision: DEVELOP_COMMIT },
      'main',
    );
    const run = addRun(tw, { branch: 'main', commit: MAIN_COMMIT, buildId, requestKey });
    const message = await refused(async () =>
      publishBuild(world.deps, SETTINGS, await trustedPipelineBuild(tw.trust, job(run))),
    );
    expect(message).toBe(
      `publish request says commit ${DEVELOP_COMMIT}, build ${buildId} built ${MAIN_COMMIT}`,
    );
  });

  test('a failed build action’s staging is refused', async () => {
    const buildId = await startBuild(tw, MAIN_COMMIT);
    const requestKey = await stageAsBuild(
      world,
      buildId,
      { version: '10.4.0', sourceRevision: MAIN_COMMIT },
      'main',
    );
    const run = addRun(tw, { branch: 'main', commit: MAIN_COMMIT, buildId, requestKey, status: 'Failed' });
    const message = await refused(async () =>
      publishBuild(world.deps, SETTINGS, await trustedPipelineBuild(tw.trust, job(run))),
    );
    expect(message).toBe(
      `action ${BUILD_ACTION} of pipeline ${PIPELINE} run ${run} did not succeed (Failed): nothing of it is published`,
    );
  });

  test('a run that has no such build action is refused', async () => {
    const run = addRun(tw, { branch: 'main', commit: MAIN_COMMIT, buildId: 'x:y' });
    const message = await refused(() =>
      trustedPipelineBuild(tw.trust, {
        pipelineExecutionId: run,
        buildAction: 'rust-arm64',
        pipeline: 'release',
      }),
    );
    expect(message).toBe(`pipeline ${PIPELINE} run ${run} has no action rust-arm64`);
  });
});

describe('operator publish by build id (BatchGetBuilds on moto)', () => {
  test('the honest path: a successful build of refs/heads/main publishes its one staged request', async () => {
    const buildId = await startBuild(tw, 'refs/heads/main');
    await stageAsBuild(world, buildId, { version: '11.0.0' }, 'main');
    const build = await trustedBuild(tw.trust, buildId);
    expect(build).toEqual({
      buildId,
      project: 'watchy-nuitka-x86_64',
      stagingPrefix: prefixOf(buildId),
      branchClass: 'release',
      branch: { from: 'source-version', name: 'main' },
    });
    const outcome = await publishBuild(world.deps, SETTINGS, build);
    expect(outcome.results).toEqual([
      expect.objectContaining({ version: '11.0.0', branch: 'main', pointer: 'promoted' }),
    ]);
  });

  test('a failed build’s staging is refused (fake: CodeBuild outcome, moto’s builds always succeed)', async () => {
    const buildId = await startBuild(tw, 'refs/heads/main');
    await stageAsBuild(world, buildId, { version: '11.1.0' }, 'main');
    const failing = rewritingBuilds(tw.trust, { status: 'FAILED' });
    const message = await refused(async () =>
      publishBuild(world.deps, SETTINGS, await trustedBuild(failing, buildId)),
    );
    expect(message).toBe(`build ${buildId} did not succeed (FAILED): only a successful build is published`);
  });

  test('a build of a project that is not a release project is refused before CodeBuild is asked', async () => {
    const buildId = await startBuild(tw, 'refs/heads/main', OTHER_PROJECT);
    const asked: string[] = [];
    const recording: BuildTrust = {
      ...tw.trust,
      builds: { get: async (ids) => (asked.push(...ids), tw.trust.builds.get(ids)) },
    };
    const message = await refused(() => trustedBuild(recording, buildId));
    expect(message).toBe(
      `build ${buildId} is not of a release build project (watchy-integration-nuitka-x86_64, watchy-nuitka-x86_64)`,
    );
    expect(asked).toEqual([]);
  });

  test('a build that does not exist is refused', async () => {
    const buildId = 'watchy-nuitka-x86_64:00000000-0000-4000-8000-000000000000';
    expect(await refused(() => trustedBuild(tw.trust, buildId))).toBe(`build ${buildId} does not exist`);
  });

  test('build A naming build B’s request key is refused', async () => {
    const a = await startBuild(tw, 'refs/heads/main');
    const b = await startBuild(tw, 'refs/heads/develop', INTEGRATION_PROJECT);
    const bKey = await stageAsBuild(world, b, { version: '11.2.0' }, 'develop');
    const message = await refused(async () =>
      publishBuild(world.deps, SETTINGS, await trustedBuild(tw.trust, a), bKey),
    );
    expect(message).toBe(
      `${bKey} is outside the staging prefix of build ${a} (${prefixOf(a)}); nothing was published`,
    );
  });

  test('a request in a build’s own staging that records another build is refused', async () => {
    const buildId = await startBuild(tw, 'refs/heads/main');
    const other = await startBuild(tw, 'refs/heads/main');
    // Written under this build's prefix (its role could), claiming to be the other build's.
    const key = await stageAsBuild(world, other, { version: '11.3.0' }, 'main');
    const request = JSON.parse((await world.store.get(key, 1 << 20))!.body.toString()) as PublishRequest;
    const ownKey = `${prefixOf(buildId)}slack-monitor/11.3.0/${PUBLISH_REQUEST_FILE}`;
    const moved = JSON.parse(
      JSON.stringify(request).replaceAll(prefixOf(other), prefixOf(buildId)),
    ) as PublishRequest;
    for (const [from, to] of [
      [request.binary.key, moved.binary.key],
      [request.metadata.key, moved.metadata.key],
    ] as const) {
      const object = (await world.store.get(from, 1 << 26))!;
      await world.s3.send(new PutObjectCommand({ Bucket: world.store.bucket, Key: to, Body: object.body }));
    }
    await world.s3.send(
      new PutObjectCommand({ Bucket: world.store.bucket, Key: ownKey, Body: JSON.stringify(moved) }),
    );
    const message = await refused(async () =>
      publishBuild(world.deps, SETTINGS, await trustedBuild(tw.trust, buildId)),
    );
    expect(message).toBe(`publish request says build ${other}, but build ${buildId} staged it`);
  });

  test('a pipeline build gets its branch from the run that ran it (fake: CodeBuild initiator, moto reports "rootme")', async () => {
    const buildId = await startBuild(tw, DEVELOP_COMMIT, INTEGRATION_PROJECT);
    await stageAsBuild(world, buildId, { version: '11.4.0', sourceRevision: DEVELOP_COMMIT }, 'main');
    addRun(tw, {
      branch: 'develop',
      commit: DEVELOP_COMMIT,
      buildId,
      startTime: 1_700_000_000,
      pipeline: 'integration',
    });
    const fromPipeline = rewritingBuilds(tw.trust, { initiator: `codepipeline/${INTEGRATION_PIPELINE}` });
    const build = await trustedBuild(fromPipeline, buildId);
    expect(build.branch).toEqual({ from: 'pipeline', name: 'develop' });
    expect(build.sourceRevision).toBe(DEVELOP_COMMIT);
    // Its request says main, the run says develop.
    expect(await refused(() => publishBuild(world.deps, SETTINGS, build))).toBe(
      `publish request says branch main, build ${buildId} is of develop`,
    );
  });

  test('a build started by another pipeline is refused (fake: CodeBuild initiator)', async () => {
    const buildId = await startBuild(tw, 'refs/heads/main');
    const other = rewritingBuilds(tw.trust, { initiator: 'codepipeline/Watchy-Pipeline-PullRequests1A2B' });
    expect(await refused(() => trustedBuild(other, buildId))).toBe(
      `build ${buildId} was started by pipeline Watchy-Pipeline-PullRequests1A2B, not the release pipeline ${PIPELINE}`,
    );
  });

  test('a release project’s build started by the integration pipeline is refused (fake: CodeBuild initiator)', async () => {
    const buildId = await startBuild(tw, 'refs/heads/main');
    const crossed = rewritingBuilds(tw.trust, { initiator: `codepipeline/${INTEGRATION_PIPELINE}` });
    expect(await refused(() => trustedBuild(crossed, buildId))).toBe(
      `build ${buildId} was started by pipeline ${INTEGRATION_PIPELINE}, not the release pipeline ${PIPELINE}`,
    );
  });

  test('an integration project’s build of refs/heads/main is never promoted: it publishes develop only', async () => {
    const buildId = await startBuild(tw, 'refs/heads/main', INTEGRATION_PROJECT);
    await stageAsBuild(world, buildId, { version: '11.5.0' }, 'main');
    const build = await trustedBuild(tw.trust, buildId);
    expect(build).toMatchObject({
      branchClass: 'integration',
      branch: { from: 'source-version', name: 'main' },
    });
    expect(await refused(() => publishBuild(world.deps, SETTINGS, build))).toBe(
      `build ${buildId} is of the integration class, which publishes develop only, not main; nothing was published`,
    );
  });

  test('a build run as another role is refused (fake: CodeBuild service role)', async () => {
    const buildId = await startBuild(tw, 'refs/heads/main');
    const other = rewritingBuilds(tw.trust, { serviceRole: 'arn:aws:iam::123456789012:role/someone-else' });
    expect(await refused(() => trustedBuild(other, buildId))).toBe(
      `build ${buildId} ran as role someone-else, not its project's role watchy-nuitka-x86_64-role`,
    );
  });

  test('a rollback’s rebuild of a released commit publishes as the release branch; a build of any other commit is refused', async () => {
    // A pipeline-free build of main releases MAIN_COMMIT as 12.0.0; then its artifact is rebuilt.
    const first = await startBuild(tw, 'refs/heads/main');
    await stageAsBuild(world, first, { version: '12.0.0', sourceRevision: MAIN_COMMIT }, 'main');
    await publishBuild(world.deps, SETTINGS, await trustedBuild(tw.trust, first));

    // The rollback function's rebuilder starts it (moto keeps no environment overrides: the request
    // that went over the wire shows the branch it records).
    const sent: Record<string, unknown>[] = [];
    tw.codebuild.middlewareStack.add(
      (next) => async (args) => {
        const request = args.request as { body?: string };
        sent.push(JSON.parse(request.body ?? '{}') as Record<string, unknown>);
        return next(args);
      },
      { step: 'finalizeRequest', name: 'recordRebuild' },
    );
    const started = await new CodeBuildRebuilder(
      tw.codebuild,
      { 'nuitka-x86_64': RELEASE_PROJECT },
      () => new Date('2026-11-22T06:00:00Z'),
      'main',
    )
      .start({
        ref: { app: 'slack', binaryType: 'nuitka', architecture: 'x86_64' },
        version: '12.0.0',
        sourceRevision: MAIN_COMMIT,
      })
      .finally(() => tw.codebuild.middlewareStack.remove('recordRebuild'));
    expect(sent.at(-1)?.['environmentVariablesOverride']).toContainEqual({
      name: 'WATCHY_BRANCH',
      value: 'main',
      type: 'PLAINTEXT',
    });
    const rebuild = started.buildId;
    await stageAsBuild(world, rebuild, { version: started.version, sourceRevision: MAIN_COMMIT }, 'main');
    const build = await trustedBuild(tw.trust, rebuild);
    expect(build.branch).toEqual({ from: 'released-commit' });
    expect((await publishBuild(world.deps, SETTINGS, build)).results[0]).toMatchObject({
      version: '12.0.0-rebuild.20261122060000',
      branch: 'main',
      pointer: 'promoted',
    });

    const unreleased = await startBuild(tw, DEVELOP_COMMIT);
    await stageAsBuild(world, unreleased, { version: '12.1.0', sourceRevision: DEVELOP_COMMIT }, 'main');
    expect(
      await refused(async () => publishBuild(world.deps, SETTINGS, await trustedBuild(tw.trust, unreleased))),
    ).toBe(
      `build ${unreleased} built commit ${DEVELOP_COMMIT} outside the pipeline, and no release of slack-monitor came from it: only the pipeline publishes a new commit`,
    );
  });
});

describe('the operator path with --endpoint-url (in-process, the key and branch given)', () => {
  test('a develop build’s request published as main is refused: the request records its branch', async () => {
    const buildId = await startBuild(tw, 'refs/heads/develop', INTEGRATION_PROJECT);
    const key = await stageAsBuild(world, buildId, { version: '13.0.0' }, 'develop');
    expect(await refused(() => publish(world.deps, SETTINGS, { requestKey: key, branch: 'main' }))).toBe(
      'publish request says branch develop, the invocation says main',
    );
  });
});

describe('watchy stage records this build', () => {
  test('a package whose metadata names another build is refused, and nothing is staged', async () => {
    const packagedBy = 'watchy-nuitka-x86_64:11111111-1111-4111-8111-111111111111';
    const thisBuild = 'watchy-nuitka-x86_64:22222222-2222-4222-8222-222222222222';
    const dir = await makePackage({ version: '14.0.0', buildId: packagedBy });
    const session = 'AROATEST:AWSCodeBuild-22222222-2222-4222-8222-222222222222';
    await expect(
      stageDist(world.store, { dir, session, branch: 'main', buildId: thisBuild }),
    ).rejects.toThrow(
      `watchy-slack-monitor.json was packaged by build ${packagedBy}, not by this build ${thisBuild}`,
    );
    expect((await world.store.list(`staging/${session}/`)).keys).toEqual([]);
  });
});
