/* eslint-disable @typescript-eslint/no-explicit-any -- template JSON is untyped; each assertion checks the shape it reads */
import { execFileSync } from 'node:child_process';
import { chmodSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Template } from 'aws-cdk-lib/assertions';
import { parse } from 'yaml';
import { SEMVER_PATTERN } from '@core/artifacts';
import {
  DEFAULT_VERSION,
  WATCHY_APP,
  WATCHY_ARCH,
  WATCHY_BRANCH,
  WATCHY_ECR_REPOSITORY_URI,
  WATCHY_IMAGE_DIGEST,
  WATCHY_SOURCE_PATH,
  WATCHY_VERSION,
  devVersion,
  resolveBuildVersion,
} from '@core/build-env';
import { pipelineNames } from '@core/release/environment';
import { MIN_TOOLING_NODE_MAJOR_VERSION, NUITKA_PYTHON_VERSION } from '@core/versions';
import { BRANCH_CLASSES, classProjectKey, projectKeys } from '../../../lib/constructs/build/build-projects';
import { buildActionName } from '../../../lib/constructs/build/release-pipeline';
import {
  FORCE_BUILD_FILE,
  MAX_FILE_PATH_PATTERNS,
  globMatches,
  triggerFilePaths,
} from '../../../lib/constructs/build/trigger-paths';
import { normalisedTemplate } from '../../support/synth';
import { fixture, nagFindings, resourcesOf, type Fixture } from './build-fixture';

let f: Fixture;
let withPublish: Fixture;
beforeAll(() => {
  f = fixture();
  withPublish = fixture({ publishFunction: true });
});

const text = (value: unknown) => JSON.stringify(value);
function pipelines(json: any): any[] {
  return resourcesOf(json, 'AWS::CodePipeline::Pipeline').map(([, p]) => p.Properties);
}
/** The push-triggered pipeline of a branch: `main` (the release pipeline) or `develop` (the integration pipeline). */
function pushPipeline(json: any, branch: string): any {
  const found = pipelines(json).filter((p) =>
    p.Triggers[0].GitConfiguration.Push?.some((push: any) => push.Branches.Includes.includes(branch)),
  );
  expect(found).toHaveLength(1);
  return found[0];
}
function releasePipeline(json: any): any {
  return pushPipeline(json, 'main');
}
function integrationPipeline(json: any): any {
  return pushPipeline(json, 'develop');
}
function pullRequestPipeline(json: any): any {
  return pipelines(json).find((p) => p.Triggers[0].GitConfiguration.PullRequest)!;
}
const stage = (pipeline: any, name: string) => pipeline.Stages.find((s: any) => s.Name === name);
const envOf = (action: any): Record<string, string> =>
  Object.fromEntries(
    JSON.parse(action.Configuration.EnvironmentVariables).map((v: any) => [v.name, v.value]),
  );

const BUILD_ACTIONS = [
  'nuitka-slack-x86_64',
  'nuitka-slack-arm64',
  'nuitka-github-x86_64',
  'nuitka-github-arm64',
  'nuitka-zoom-x86_64',
  'nuitka-zoom-arm64',
  'rust-arm64',
  'image-status-api-x86_64',
  'image-webhook-relay-x86_64',
];
const BINARY_ACTIONS = BUILD_ACTIONS.filter((a) => !a.startsWith('image-'));

describe('release pipeline', () => {
  test('is CodePipeline V2 in QUEUED execution mode', () => {
    const pipeline = releasePipeline(f.pipelineJson);
    expect(pipeline.PipelineType).toBe('V2');
    expect(pipeline.ExecutionMode).toBe('QUEUED');
  });

  test('one push-triggered pipeline per branch: main runs the release pipeline, develop the integration pipeline', () => {
    const push = pipelines(f.pipelineJson).filter((p) => p.Triggers[0].GitConfiguration.Push);
    expect(push).toHaveLength(2);
    for (const [pipeline, branch] of [
      [releasePipeline(f.pipelineJson), 'main'],
      [integrationPipeline(f.pipelineJson), 'develop'],
    ] as const) {
      const [trigger] = pipeline.Triggers;
      expect(trigger.ProviderType).toBe('CodeStarSourceConnection');
      expect(trigger.GitConfiguration.SourceActionName).toBe('Source');
      expect(trigger.GitConfiguration.Push).toHaveLength(1);
      expect(trigger.GitConfiguration.Push[0].Branches).toEqual({ Includes: [branch] });
      expect(trigger.GitConfiguration.PullRequest).toBeUndefined();
      // A manual run builds the pipeline's own branch.
      expect(stage(pipeline, 'Source').Actions[0].Configuration.BranchName).toBe(branch);
      expect(pipeline.ExecutionMode).toBe('QUEUED');
    }
  });

  test("each pipeline's Test and Build stages run only its own branch class's projects (release never shares a project, role or cache with develop)", () => {
    for (const [pipeline, branchClass] of [
      [releasePipeline(withPublish.pipelineJson), 'release'],
      [integrationPipeline(withPublish.pipelineJson), 'integration'],
    ] as const) {
      const other = BRANCH_CLASSES.find((c) => c !== branchClass)!;
      const [test] = stage(pipeline, 'Test').Actions;
      expect(text(test.Configuration.ProjectName)).toContain(
        withPublish.projectId(classProjectKey(projectKeys.tests, branchClass)),
      );
      const actions = stage(pipeline, 'Build').Actions;
      expect(actions.map((a: any) => a.Name).sort()).toEqual([...BUILD_ACTIONS].sort());
      for (const target of withPublish.build.targets) {
        const action = actions.find((a: any) => a.Name === buildActionName(target));
        expect(text(action.Configuration.ProjectName)).toContain(
          withPublish.projectId(classProjectKey(target.projectKey, branchClass)),
        );
      }
      // None of the other class's projects appears anywhere in its Test and Build stages.
      const used = text([stage(pipeline, 'Test'), stage(pipeline, 'Build')]);
      const bases = new Set([...withPublish.build.targets.map((t) => t.projectKey), projectKeys.tests]);
      for (const key of [...bases].map((base) => classProjectKey(base, other))) {
        expect([key, used.includes(withPublish.projectId(key))]).toEqual([key, false]);
      }
      // Both publish through the same Lambda; it decides from the branch what may be promoted.
      expect(stage(pipeline, 'Publish').Actions.length).toBe(BINARY_ACTIONS.length);
    }
  });

  test('push trigger file-path filters cover every catalog source path, FORCE_BUILD and buildspecs/', () => {
    const includes: string[] = releasePipeline(f.pipelineJson).Triggers[0].GitConfiguration.Push[0].FilePaths
      .Includes;
    expect(includes.length).toBeLessThanOrEqual(MAX_FILE_PATH_PATTERNS);
    const { catalog } = f.config;
    const sourcePaths = [
      ...catalog.nuitkaApps.map((a) => a.sourcePath),
      catalog.rustWorkspace!.sourcePath,
      ...catalog.containerServices.map((s) => s.sourcePath),
    ];
    for (const path of sourcePaths) {
      expect([path, includes.some((p) => globMatches(p, `${path}/src/main.file`))]).toEqual([path, true]);
    }
    expect(includes).toContain(FORCE_BUILD_FILE);
    expect(includes.some((p) => globMatches(p, 'buildspecs/nuitka.yml'))).toBe(true);
    // Shared monitor code (examples/monitors/common) is inside the grouped pattern.
    expect(includes.some((p) => globMatches(p, 'examples/monitors/common/watchy_monitor_common.py'))).toBe(
      true,
    );
    expect(includes.some((p) => globMatches(p, 'README.md'))).toBe(false);
  });

  test('has the VERSION variable, default 0.0.0-dev, passed to the test action', () => {
    const pipeline = releasePipeline(f.pipelineJson);
    expect(pipeline.Variables).toEqual([
      { Name: 'VERSION', DefaultValue: DEFAULT_VERSION, Description: expect.stringContaining('manual run') },
    ]);
    const test = stage(pipeline, 'Test').Actions[0];
    expect(envOf(test)[WATCHY_VERSION]).toBe('#{variables.VERSION}');
    expect(test.Namespace).toBe('TestVariables');
  });

  test('the source is the connection, cloned by CodeBuild (CODEBUILD_CLONE_REF) so builds know the commit', () => {
    const [source] = stage(releasePipeline(f.pipelineJson), 'Source').Actions;
    expect(source.ActionTypeId).toMatchObject({ Category: 'Source', Provider: 'CodeStarSourceConnection' });
    expect(source.Configuration).toMatchObject({
      FullRepositoryId: 'watchy-cloud/watchy-release-platform',
      BranchName: 'main',
      OutputArtifactFormat: 'CODEBUILD_CLONE_REF',
    });
    expect(source.Namespace).toBe('SourceVariables');
  });

  test('stages are Source, Test, Build, Scan, and no Publish stage without a publish function', () => {
    expect(releasePipeline(f.pipelineJson).Stages.map((s: any) => s.Name)).toEqual([
      'Source',
      'Test',
      'Build',
      'Scan',
    ]);
  });

  test('the Test stage runs the tests project', () => {
    const [test] = stage(releasePipeline(f.pipelineJson), 'Test').Actions;
    expect(test.ActionTypeId).toMatchObject({ Category: 'Test', Provider: 'CodeBuild' });
    expect(text(test.Configuration.ProjectName)).toContain(f.projectId(projectKeys.tests));
  });

  test('the Build stage has one action per app and architecture, all in parallel, each on its architecture project', () => {
    const actions = stage(releasePipeline(f.pipelineJson), 'Build').Actions;
    expect(actions.map((a: any) => a.Name).sort()).toEqual([...BUILD_ACTIONS].sort());
    for (const target of f.build.targets) {
      const name =
        target.kind === 'rust'
          ? `rust-${target.architecture}`
          : `${target.kind}-${target.app}-${target.architecture}`;
      const action = actions.find((a: any) => a.Name === name);
      expect(action.RunOrder).toBe(1);
      expect(action.Namespace).toBe(name);
      expect(text(action.Configuration.ProjectName)).toContain(f.projectId(target.projectKey));
      expect(envOf(action)).toEqual({
        [WATCHY_APP]: target.app,
        [WATCHY_ARCH]: target.architecture,
        // A Nuitka project builds every app of its architecture: each build names its directory.
        ...(target.kind === 'nuitka' ? { [WATCHY_SOURCE_PATH]: `examples/monitors/${target.app}` } : {}),
        [WATCHY_VERSION]: '#{TestVariables.WATCHY_VERSION}',
        // Recorded in the staged request; the publisher compares it with the run's own branch.
        [WATCHY_BRANCH]: '#{SourceVariables.BranchName}',
      });
    }
  });

  test('the Scan stage scans each pushed image by the digest its build exported', () => {
    const actions = stage(releasePipeline(f.pipelineJson), 'Scan').Actions;
    expect(actions.map((a: any) => a.Name).sort()).toEqual([
      'scan-status-api-x86_64',
      'scan-webhook-relay-x86_64',
    ]);
    for (const action of actions) {
      expect(text(action.Configuration.ProjectName)).toContain(f.projectId(projectKeys.scan));
      const service = action.Name.replace(/^scan-/, '').replace(/-x86_64$/, '');
      // The repository URI is a cross-stack value, so the variables are a Fn::Join: read them as text.
      const variables = text(action.Configuration.EnvironmentVariables);
      expect(variables).toContain(`\\"name\\":\\"${WATCHY_IMAGE_DIGEST}\\"`);
      expect(variables).toContain(`#{image-${service}-x86_64.${WATCHY_IMAGE_DIGEST}}`);
      expect(variables).toContain(`\\"name\\":\\"${WATCHY_ECR_REPOSITORY_URI}\\"`);
      expect(variables).toContain(`Repo${service.replace('-', '')}`);
    }
  });

  test.each([
    ['release', 'Watchy-Pipeline-Release'],
    ['integration', 'Watchy-Pipeline-Integration'],
  ])(
    'with a publish function: the %s pipeline (%s) has a Publish stage that invokes it once per binary build, naming the run, the build action and its class, nothing the build outputs',
    (branchClass, name) => {
      const pipeline = pipelines(withPublish.pipelineJson).find((p: any) => p.Name === name);
      expect(pipeline.Stages.map((s: any) => s.Name)).toEqual(['Source', 'Test', 'Build', 'Scan', 'Publish']);
      const actions = stage(pipeline, 'Publish').Actions;
      expect(actions.map((a: any) => a.Name).sort()).toEqual(
        BINARY_ACTIONS.map((a) => `publish-${a}`).sort(),
      );
      for (const action of actions) {
        expect(action.ActionTypeId).toMatchObject({ Category: 'Invoke', Provider: 'Lambda' });
        const build = action.Name.replace(/^publish-/, '');
        // The run id is resolved by the pipeline service, the action name and class written at synth:
        // the publisher reads that action's build, branch and commit from that class's pipeline.
        expect(JSON.parse(action.Configuration.UserParameters)).toEqual({
          pipelineExecutionId: '#{codepipeline.PipelineExecutionId}',
          buildAction: build,
          pipeline: branchClass,
        });
      }
    },
  );

  test('the release pipeline has the fixed name release control trusts (it cannot reference this stack)', () => {
    expect(releasePipeline(withPublish.pipelineJson).Name).toBe(pipelineNames('Watchy').release);
    expect(pipelineNames('Watchy')).toEqual({
      release: 'Watchy-Pipeline-Release',
      integration: 'Watchy-Pipeline-Integration',
    });
    expect(() =>
      fixture({
        publishFunction: true,
        pipelineNames: { release: '', integration: 'Watchy-Pipeline-Integration' },
      }),
    ).toThrow('ReleasePipeline: a Publish stage needs the pipeline name the publish function trusts');
  });

  test("the pipeline adds nothing to the publish function's role (its job-result grant is PublishFunction's own policy)", () => {
    const policies = resourcesOf(Template.fromStack(withPublish.deps).toJSON(), 'AWS::IAM::Policy');
    const actions = policies.flatMap(([, p]) =>
      p.Properties.PolicyDocument.Statement.flatMap((s: any) => [s.Action].flat()),
    );
    expect(actions.filter((a: string) => a.startsWith('codepipeline:'))).toEqual([]);
  });

  test('every Publish action runs under one role that may invoke the publish function itself and list functions, nothing else', () => {
    const json = withPublish.pipelineJson;
    const roleIds = new Set(
      stage(releasePipeline(json), 'Publish').Actions.map((a: any) => a.RoleArn['Fn::GetAtt'][0]),
    );
    expect(roleIds.size).toBe(1);
    const roleId = [...roleIds][0] as string;
    const pipelineRoleId = releasePipeline(json).RoleArn['Fn::GetAtt'][0];
    expect(json.Resources[roleId].Properties.AssumeRolePolicyDocument.Statement).toEqual([
      {
        Action: 'sts:AssumeRole',
        Effect: 'Allow',
        Principal: { AWS: { 'Fn::GetAtt': [pipelineRoleId, 'Arn'] } },
      },
    ]);
    const policies = resourcesOf(json, 'AWS::IAM::Policy').filter(([, p]) =>
      p.Properties.Roles.some((r: any) => r.Ref === roleId),
    );
    const statements = policies.map(([id, p]) => ({ id, statements: p.Properties.PolicyDocument.Statement }));
    // The function itself (its ARN, exported by its stack): no version or alias wildcard.
    const publishArn = {
      'Fn::ImportValue': expect.stringMatching(/^Deps:ExportsOutputFnGetAttPublish\w*Arn\w*$/),
    };
    expect(statements.map((p) => p.statements).sort((a, b) => text(a).localeCompare(text(b)))).toEqual([
      [{ Sid: 'InvokePublish', Action: 'lambda:InvokeFunction', Effect: 'Allow', Resource: publishArn }],
      [{ Sid: 'ListFunctions', Action: 'lambda:ListFunctions', Effect: 'Allow', Resource: '*' }],
    ]);
    // The wildcard sits in its own policy, not the role's default one.
    const listing = statements.find((p) => text(p.statements).includes('ListFunctions'))!;
    expect(listing.id).not.toMatch(/DefaultPolicy/);
  });

  test('the artifact store is the Build stack bucket, encrypted with the build key', () => {
    for (const pipeline of pipelines(f.pipelineJson)) {
      expect(pipeline.ArtifactStore.Type).toBe('S3');
      expect(text(pipeline.ArtifactStore.Location)).toContain('StoragePipelineArtifacts');
      expect(pipeline.ArtifactStore.EncryptionKey).toMatchObject({ Type: 'KMS' });
      expect(text(pipeline.ArtifactStore.EncryptionKey.Id)).toContain('StorageKey');
    }
  });
});

describe('pull-request pipeline', () => {
  test('a pull-request trigger (opened, updated) into the release and integration branches', () => {
    const [trigger] = pullRequestPipeline(f.pipelineJson).Triggers;
    expect(trigger.GitConfiguration.Push).toBeUndefined();
    expect(trigger.GitConfiguration.PullRequest).toEqual([
      { Branches: { Includes: ['main', 'develop'] }, Events: ['OPEN', 'UPDATED'] },
    ]);
  });

  test('runs only the tests, on the cache-less pull-request tests project, in parallel', () => {
    const pipeline = pullRequestPipeline(withPublish.pipelineJson);
    expect(pipeline.PipelineType).toBe('V2');
    expect(pipeline.ExecutionMode).toBe('PARALLEL');
    expect(pipeline.Stages.map((s: any) => s.Name)).toEqual(['Source', 'Test']);
    const [test] = stage(pipeline, 'Test').Actions;
    expect(text(test.Configuration.ProjectName)).toContain(
      withPublish.projectId(projectKeys.pullRequestTests),
    );
    expect(text(pipeline)).not.toContain('Lambda');
  });
});

describe('trigger file paths', () => {
  test('siblings share their parent pattern; lone entries keep their own', () => {
    expect(triggerFilePaths(['apps/a', 'apps/b', 'tools/x'])).toEqual([
      'apps/**',
      'tools/x/**',
      FORCE_BUILD_FILE,
      'buildspecs/**',
    ]);
  });

  test('too many patterns are merged by deepest common directory until they fit', () => {
    const paths = ['a/1/x', 'a/2/y', 'a/3/z', 'b/1/x', 'b/2/y', 'b/3/z'];
    const patterns = triggerFilePaths(paths, 4);
    expect(patterns).toEqual(['a/**', 'b/**', FORCE_BUILD_FILE, 'buildspecs/**']);
    for (const path of paths) expect(patterns.some((p) => globMatches(p, `${path}/file`))).toBe(true);
  });

  test('source paths that cannot fit and share no directory fail synth with a clear message', () => {
    expect(() => triggerFilePaths(['a', 'b', 'c', 'd', 'e', 'f', 'g'])).toThrow(
      /need more than 6 trigger patterns and share no directory/,
    );
  });
});

describe('release version (buildspecs/test.yml, run once per pipeline run)', () => {
  const commit = 'f00dbabe00112233445566778899aabbccddeeff';

  /** Runs test.yml's pre_build (the version step) in bash, with `date` pinned by a shim. */
  function resolveInShell(version: string | undefined): { code: number; out: string } {
    const spec = parse(readFileSync(join(__dirname, '..', '..', '..', 'buildspecs', 'test.yml'), 'utf8'));
    const command: string = spec.phases.pre_build.commands[0];
    const bin = mkdtempSync(join(tmpdir(), 'watchy-date-'));
    writeFileSync(join(bin, 'date'), '#!/bin/sh\necho 20261122050212\n');
    chmodSync(join(bin, 'date'), 0o755);
    const env: Record<string, string> = {
      PATH: `${bin}:${process.env.PATH}`,
      CODEBUILD_RESOLVED_SOURCE_VERSION: commit,
    };
    if (version !== undefined) env.WATCHY_VERSION = version;
    try {
      const out = execFileSync('bash', ['-c', `${command}\necho "resolved=$WATCHY_VERSION"`], {
        env,
        encoding: 'utf8',
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      return { code: 0, out };
    } catch (error) {
      const e = error as { status: number; stderr: string; stdout: string };
      return { code: e.status, out: `${e.stdout}${e.stderr}` };
    }
  }

  test('the default VERSION derives the same dev version in shell as devVersion()', () => {
    const expected = devVersion(commit, new Date('2026-11-22T05:02:12Z'));
    expect(expected).toBe('0.0.0-dev.20261122050212.gf00dbab');
    expect(SEMVER_PATTERN.test(expected)).toBe(true);
    expect(resolveInShell(DEFAULT_VERSION).out).toContain(`resolved=${expected}`);
    expect(resolveInShell(undefined).out).toContain(`resolved=${expected}`);
  });

  test('a manual run keeps its semver VERSION', () => {
    expect(resolveInShell('2.4.0-rc.1').out).toContain('resolved=2.4.0-rc.1');
    expect(resolveBuildVersion('2.4.0-rc.1', commit, new Date())).toBe('2.4.0-rc.1');
  });

  test('a VERSION that is not semver fails the run before anything is built', () => {
    const run = resolveInShell('v1.2');
    expect(run.code).not.toBe(0);
    expect(run.out).toContain("test: VERSION 'v1.2' is not a semantic version like 1.2.3");
    expect(() => resolveBuildVersion('v1.2', commit, new Date())).toThrow('invalid version "v1.2"');
  });

  test('test.yml runs the Node and Python versions the project pins (no drift between CI and tooling)', () => {
    const spec = parse(readFileSync(join(__dirname, '..', '..', '..', 'buildspecs', 'test.yml'), 'utf8'));
    expect(spec.phases.install['runtime-versions']).toEqual({
      nodejs: MIN_TOOLING_NODE_MAJOR_VERSION,
      python: Number(NUITKA_PYTHON_VERSION),
    });
  });

  test('an all-digit commit prefix still gives valid semver (g-prefixed)', () => {
    expect(SEMVER_PATTERN.test(devVersion('0123456aaaa', new Date('2026-01-01T00:00:00Z')))).toBe(true);
  });
});

describe('Pipeline stack: cdk-nag and snapshot', () => {
  test('zero unacknowledged cdk-nag findings (Build and Pipeline stacks, with and without a publish function)', () => {
    expect(nagFindings()).toEqual([]);
    expect(nagFindings({ publishFunction: true })).toEqual([]);
  });

  test('snapshot (asset hashes normalised)', () => {
    expect(normalisedTemplate(f.pipelineJson)).toMatchSnapshot();
  });
});
