/**
 * The services the deployed publisher learns its facts from, for tests: moto's CodeBuild (a release
 * project and a project that is not one, real builds started over HTTP) and the local CodePipeline
 * endpoint (moto has no ListActionExecutions), plus staging "as a build": under the prefix its
 * project's role could write, `staging/{role id}:AWSCodeBuild-{uuid}/`, recording its id and branch.
 */
import { randomUUID } from 'node:crypto';
import { CodeBuildClient, CreateProjectCommand, StartBuildCommand } from '@aws-sdk/client-codebuild';
import { ListObjectsV2Command } from '@aws-sdk/client-s3';
import { CodeBuildRunner } from '@core/bisect/build-runner';
import { stageDist } from '@core/release/publish/stage';
import { buildStagingPrefix, parseBuildId } from '@core/release/publish/request';
import { CodePipelineRuns, type BuildTrust, type ReleaseProjects } from '@core/release/publish/trusted-build';
import type { BranchClass } from '@core/build-env';
import type { MotoServer } from '../../support/moto-server';
import { FakeCodePipeline, type FakeAction } from './fake-codepipeline';
import { makePackage, type PackageSpec, type ReleaseWorld } from './fixtures';

export const PIPELINE = 'Watchy-Pipeline-Release';
export const INTEGRATION_PIPELINE = 'Watchy-Pipeline-Integration';
export const PIPELINES: Record<BranchClass, string> = {
  release: PIPELINE,
  integration: INTEGRATION_PIPELINE,
};
export const RELEASE_PROJECT = 'watchy-nuitka-x86_64';
/** The integration branch's own project of the same build (its own role). */
export const INTEGRATION_PROJECT = 'watchy-integration-nuitka-x86_64';
/** A project moto knows that is not a release project (the tests project). */
export const OTHER_PROJECT = 'watchy-tests';
export const ACCOUNT = '123456789012';
export const RELEASE_PROJECTS: ReleaseProjects = {
  [RELEASE_PROJECT]: {
    roleId: 'AROA5NUITKAX8664ROLE1',
    roleArn: `arn:aws:iam::${ACCOUNT}:role/watchy-nuitka-x86_64-role`,
    branchClass: 'release',
  },
  [INTEGRATION_PROJECT]: {
    roleId: 'AROA5INTEGRATIONNUITKA1',
    roleArn: `arn:aws:iam::${ACCOUNT}:role/watchy-integration-nuitka-x86_64-role`,
    branchClass: 'integration',
  },
};
export const BUILD_ACTION = 'nuitka-slack-x86_64';
export const MAIN_COMMIT = 'a1'.repeat(20);
export const DEVELOP_COMMIT = 'd2'.repeat(20);

export interface TrustWorld {
  readonly codebuild: CodeBuildClient;
  readonly pipeline: FakeCodePipeline;
  readonly trust: BuildTrust;
  close(): Promise<void>;
}

export async function trustWorld(moto: MotoServer): Promise<TrustWorld> {
  const codebuild = new CodeBuildClient(moto.clientConfig);
  for (const [name, role] of [
    [RELEASE_PROJECT, RELEASE_PROJECTS[RELEASE_PROJECT]!.roleArn],
    [INTEGRATION_PROJECT, RELEASE_PROJECTS[INTEGRATION_PROJECT]!.roleArn],
    [OTHER_PROJECT, `arn:aws:iam::${ACCOUNT}:role/watchy-tests-role`],
  ] as const) {
    await codebuild.send(
      new CreateProjectCommand({
        name,
        source: { type: 'GITHUB', location: 'https://github.com/watchy-cloud/watchy-release-platform.git' },
        artifacts: { type: 'NO_ARTIFACTS' },
        environment: {
          type: 'LINUX_CONTAINER',
          image: 'aws/codebuild/amazonlinux-x86_64-standard:5.0',
          computeType: 'BUILD_GENERAL1_LARGE',
        },
        serviceRole: role,
      }),
    );
  }
  const pipeline = new FakeCodePipeline();
  await pipeline.start();
  const client = pipeline.client();
  return {
    codebuild,
    pipeline,
    trust: {
      builds: new CodeBuildRunner(codebuild),
      pipelines: new CodePipelineRuns(client),
      releaseProjects: RELEASE_PROJECTS,
      pipelineNames: PIPELINES,
    },
    async close() {
      client.destroy();
      codebuild.destroy();
      await pipeline.stop();
    },
  };
}

/** A real (moto) CodeBuild build; moto reports every build SUCCEEDED. */
export async function startBuild(
  tw: TrustWorld,
  sourceVersion: string,
  project: string = RELEASE_PROJECT,
): Promise<string> {
  const out = await tw.codebuild.send(new StartBuildCommand({ projectName: project, sourceVersion }));
  return out.build!.id!;
}

/** `staging/{role id}:AWSCodeBuild-{uuid}/` of a build of the release project. */
export function prefixOf(buildId: string): string {
  const id = parseBuildId(buildId)!;
  return buildStagingPrefix(RELEASE_PROJECTS[id.project]?.roleId ?? 'AROAUNKNOWNPROJECT00', id.uuid);
}

/** What `watchy stage` does in that build: stages under its prefix, recording its id and `branch`. */
export async function stageAsBuild(
  world: ReleaseWorld,
  buildId: string,
  spec: PackageSpec,
  branch: string,
): Promise<string> {
  const dir = await makePackage({ ...spec, buildId });
  const session = prefixOf(buildId).split('/')[1]!;
  return (await stageDist(world.store, { dir, session, branch, buildId })).key;
}

/** A run of a pipeline (the release one unless said): Source (branch, commit) then the build action, as CodePipeline records it. */
export function addRun(
  tw: TrustWorld,
  run: {
    branch: string;
    commit: string;
    buildId: string;
    /** The build's WATCHY_PUBLISH_REQUEST output. */
    requestKey?: string;
    /** @default 'Succeeded' */
    status?: string;
    /** @default now */
    startTime?: number;
    extra?: FakeAction[];
    /** @default 'release' */
    pipeline?: BranchClass;
  },
): string {
  const id = randomUUID();
  tw.pipeline.addRun(PIPELINES[run.pipeline ?? 'release'], {
    id,
    startTime: run.startTime ?? Math.floor(Date.now() / 1000) - 60,
    branch: run.branch,
    commit: run.commit,
    actions: [
      { name: 'tests', outputVariables: { WATCHY_VERSION: '0.0.0-dev' } },
      {
        name: BUILD_ACTION,
        status: run.status ?? 'Succeeded',
        externalExecutionId: run.buildId,
        outputVariables: run.requestKey ? { WATCHY_PUBLISH_REQUEST: run.requestKey } : {},
      },
      ...(run.extra ?? []),
    ],
  });
  return id;
}

/** Every key under binaries/ and state/: what a refused publish must leave as it was. */
export async function releasedKeys(world: ReleaseWorld): Promise<string[]> {
  const out = await world.s3.send(new ListObjectsV2Command({ Bucket: world.store.bucket }));
  return (out.Contents ?? [])
    .map((o) => o.Key!)
    .filter((k) => k.startsWith('binaries/') || k.startsWith('state/'))
    .sort();
}
