/* eslint-disable @typescript-eslint/no-explicit-any -- template JSON is untyped; each assertion checks the shape it reads */
import { copyFileSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse } from 'yaml';
import { STAGING_PREFIX } from '@core/artifacts';
import {
  DEFAULT_VERSION,
  WATCHY_APP,
  WATCHY_ARCH,
  WATCHY_BASE_URL,
  WATCHY_ECR_REPOSITORY_URI,
  WATCHY_IMAGE_BUILDER,
  WATCHY_MODE,
  WATCHY_RELEASE_BUCKET,
  WATCHY_RUST_WORKSPACE,
  WATCHY_SOURCE_PATH,
  WATCHY_VERSION,
} from '@core/build-env';
import { loadBuildSpec } from '../../../lib/constructs/build/build-project';
import {
  BRANCH_CLASSES,
  BUILDSPEC_FILES,
  cachePrefix,
  classProjectKey,
  projectKeys,
  type BranchClass,
} from '../../../lib/constructs/build/build-projects';
import { BUILDSPEC_DIR } from '../../../lib/repo-paths';
import { normalisedTemplate } from '../../support/synth';
import { asList, fixture, nagFindings, resourcesOf, type Fixture } from './build-fixture';

const X86_IMAGE = 'aws/codebuild/amazonlinux-x86_64-standard:5.0';
const ARM_IMAGE = 'aws/codebuild/amazonlinux-aarch64-standard:3.0';
/** Which buildspec each default project of a branch class runs (the class's own projects). */
const CLASS_KIND: Record<string, keyof typeof BUILDSPEC_FILES> = {
  'nuitka-x86_64': 'nuitka',
  'nuitka-arm64': 'nuitka',
  'rust-arm64': 'rust',
  'image-status-api-x86_64': 'image',
  'image-webhook-relay-x86_64': 'image',
  tests: 'tests',
};
/** The projects with an S3 cache, per class (image projects have a local Docker layer cache). */
const S3_CACHED = ['nuitka-x86_64', 'nuitka-arm64', 'rust-arm64', 'tests'];
/** Every project of the release class and of the integration class, with its class and plain key. */
const CLASS_PROJECTS = BRANCH_CLASSES.flatMap((branchClass) =>
  Object.keys(CLASS_KIND).map((base) => ({ key: classProjectKey(base, branchClass), base, branchClass })),
);
/** Which buildspec each default project runs. */
const KIND: Record<string, keyof typeof BUILDSPEC_FILES> = {
  ...Object.fromEntries(CLASS_PROJECTS.map(({ key, base }) => [key, CLASS_KIND[base]!])),
  'pull-request-tests': 'tests',
  scan: 'scan',
};
const KEYS = Object.keys(KIND);
const classOf = (key: string): BranchClass | undefined =>
  CLASS_PROJECTS.find((p) => p.key === key)?.branchClass;
const baseOf = (key: string): string => CLASS_PROJECTS.find((p) => p.key === key)?.base ?? key;
const S3_WRITE = /^s3:(Put|Delete|Abort|Restore|Replicate|\*)/;

let f: Fixture;
beforeAll(() => {
  f = fixture();
});

const project = (key: string): any => f.buildJson.Resources[f.projectId(key)].Properties;
const env = (key: string): Record<string, string> =>
  Object.fromEntries(project(key).Environment.EnvironmentVariables.map((v: any) => [v.Name, v.Value]));
const text = (value: unknown) => JSON.stringify(value);

describe('Build stack', () => {
  test('projects are keyed as the contract says (one per architecture, per service, tests, scan)', () => {
    expect([...f.build.projects.keys()].sort()).toEqual([...KEYS].sort());
    // The release class keeps the plain keys; the integration class has its own, prefixed.
    expect(KEYS).toEqual(
      expect.arrayContaining(['nuitka-x86_64', 'integration-nuitka-x86_64', 'integration-tests']),
    );
  });

  test('every project image is Amazon Linux 2023: x86 standard 5.0, ARM standard 3.0', () => {
    for (const key of KEYS) {
      const environment = project(key).Environment;
      const arch = env(key)[WATCHY_ARCH];
      expect([key, environment.Image]).toEqual([key, arch === 'arm64' ? ARM_IMAGE : X86_IMAGE]);
      expect([key, environment.Type]).toEqual([key, arch === 'arm64' ? 'ARM_CONTAINER' : 'LINUX_CONTAINER']);
    }
  });

  test('no project uses an Amazon Linux 2 image', () => {
    for (const [, p] of resourcesOf(f.buildJson, 'AWS::CodeBuild::Project')) {
      expect(p.Properties.Environment.Image).not.toMatch(/amazonlinux2/);
      expect(p.Properties.Environment.Image).toMatch(
        /^aws\/codebuild\/amazonlinux-(x86_64|aarch64)-standard:/,
      );
    }
  });

  test('a project per architecture the catalog builds: x86_64-only Nuitka apps give no ARM project', () => {
    const apps = f.config.catalog.nuitkaApps.map((a) => ({ ...a, architectures: ['x86_64'] }));
    const only = fixture({ overrides: { catalog: { nuitkaApps: apps } } });
    expect([...only.build.projects.keys()].filter((k) => k.includes('nuitka-')).sort()).toEqual([
      'integration-nuitka-x86_64',
      'nuitka-x86_64',
    ]);
  });

  test('buildspecs are inlined from buildspecs/*.yml (parsed YAML equal)', () => {
    for (const key of KEYS) {
      const inlined = parse(project(key).Source.BuildSpec);
      const file = parse(readFileSync(join(BUILDSPEC_DIR, BUILDSPEC_FILES[KIND[key]!]), 'utf8'));
      expect([key, inlined]).toEqual([key, file]);
    }
  });

  test('a YAML error in a buildspec fails synth, naming the file', () => {
    const dir = mkdtempSync(join(tmpdir(), 'watchy-buildspecs-'));
    for (const name of readdirSync(BUILDSPEC_DIR)) copyFileSync(join(BUILDSPEC_DIR, name), join(dir, name));
    writeFileSync(join(dir, 'image.yml'), 'version: 0.2\nphases:\n  build:\n    commands: [unclosed\n');
    expect(() => fixture({ buildspecDir: dir })).toThrow(/^buildspec .*image\.yml: invalid YAML: /);
  });

  test('a missing buildspec fails synth, naming the file', () => {
    const dir = mkdtempSync(join(tmpdir(), 'watchy-buildspecs-'));
    copyFileSync(join(BUILDSPEC_DIR, 'test.yml'), join(dir, 'test.yml'));
    expect(() => fixture({ buildspecDir: dir })).toThrow(
      /^buildspec .*nuitka\.yml: cannot read it \(ENOENT\)$/,
    );
  });

  test('a buildspec without phases fails synth', () => {
    const dir = mkdtempSync(join(tmpdir(), 'watchy-buildspecs-'));
    writeFileSync(join(dir, 'x.yml'), 'version: 0.2\nenv:\n  shell: bash\n');
    expect(() => loadBuildSpec(join(dir, 'x.yml'))).toThrow(/x\.yml: expected a non-empty phases mapping$/);
  });

  test('a project has its own Git source (full clone through the connection) for builds started at a commit', () => {
    for (const key of KEYS) {
      const source = project(key).Source;
      expect(source).toMatchObject({
        Type: 'GITHUB',
        Location: 'https://github.com/watchy-cloud/watchy-release-platform.git',
        GitCloneDepth: 0,
        Auth: { Type: 'CODECONNECTIONS' },
      });
    }
  });

  test('every buildspec cache path is covered: S3 cache under the class and project key, or the local custom cache', () => {
    for (const key of KEYS.filter((k) => k !== projectKeys.pullRequestTests)) {
      const paths =
        loadBuildSpec(join(BUILDSPEC_DIR, BUILDSPEC_FILES[KIND[key]!])).document.cache?.paths ?? [];
      const cache = project(key).Cache;
      if (paths.length === 0) {
        expect([key, cache?.Type ?? 'NO_CACHE']).toEqual([key, 'NO_CACHE']);
      } else if (KIND[key] === 'image') {
        expect([key, cache]).toEqual([
          key,
          { Type: 'LOCAL', Modes: ['LOCAL_DOCKER_LAYER_CACHE', 'LOCAL_CUSTOM_CACHE'] },
        ]);
      } else {
        expect([key, cache.Type]).toEqual([key, 'S3']);
        expect(text(cache.Location)).toContain(`"/${cachePrefix(baseOf(key), classOf(key)!)}"`);
      }
      for (const path of paths) expect(path).toMatch(/^\/root\/\.(cache|cargo|npm)\//);
    }
  });

  test('a project can read and write only its own cache prefix', () => {
    for (const key of CLASS_PROJECTS.filter((p) => S3_CACHED.includes(p.base)).map((p) => p.key)) {
      const cacheStatements = f
        .projectStatements(key)
        .filter((s) => text(s.Resource).includes('StorageCache'));
      const objectResources = cacheStatements
        .filter((s) =>
          asList(s.Action).some((a: string) => a.startsWith('s3:') && !a.startsWith('s3:GetBucket')),
        )
        .map((s) => text(s.Resource));
      expect(objectResources.length).toBeGreaterThan(0);
      for (const resource of objectResources)
        expect([key, resource]).toEqual([
          key,
          expect.stringContaining(`/${cachePrefix(baseOf(key), classOf(key)!)}/*`),
        ]);
    }
  });

  test('release and integration builds never share a cache: separate projects, roles and cache locations, and each role writes only its own class prefix', () => {
    const cached = resourcesOf(f.buildJson, 'AWS::CodeBuild::Project').filter(
      ([, p]) => (p.Properties.Cache?.Type ?? 'NO_CACHE') !== 'NO_CACHE',
    );
    // No project shares its cache with another project (no cache namespace, no common location).
    expect(cached.filter(([, p]) => p.Properties.Cache.CacheNamespace !== undefined)).toEqual([]);
    const locations = cached
      .filter(([, p]) => p.Properties.Cache.Type === 'S3')
      .map(([, p]) => text(p.Properties.Cache.Location));
    expect(new Set(locations).size).toBe(locations.length);
    for (const branchClass of BRANCH_CLASSES) {
      const other = BRANCH_CLASSES.find((c) => c !== branchClass)!;
      for (const base of Object.keys(CLASS_KIND)) {
        const key = classProjectKey(base, branchClass);
        const twin = classProjectKey(base, other);
        // Its own project and its own role, not the other class's.
        expect(f.projectId(key)).not.toBe(f.projectId(twin));
        expect(text(project(key).ServiceRole)).not.toBe(text(project(twin).ServiceRole));
        // Every cache write of its role is under its own class's prefix; none under the other's.
        const writes = f
          .projectStatements(key)
          .filter(
            (s) =>
              text(s.Resource).includes('StorageCache') &&
              asList(s.Action).some((a: string) => S3_WRITE.test(a)),
          );
        expect(writes.length).toBe(S3_CACHED.includes(base) ? 1 : 0);
        for (const w of writes) {
          expect(text(w.Resource)).toContain(`/${branchClass}/`);
          expect(text(w.Resource)).not.toContain(`/${other}/`);
        }
      }
    }
    // The bucket refuses writes under release/ from any principal but the release projects' roles.
    const [cacheBucketId] = resourcesOf(f.buildJson, 'AWS::S3::Bucket').find(([id]) =>
      id.startsWith('StorageCache'),
    )!;
    const policy = resourcesOf(f.buildJson, 'AWS::S3::BucketPolicy').find(
      ([, p]) => text(p.Properties.Bucket) === text({ Ref: cacheBucketId }),
    )![1];
    const deny = policy.Properties.PolicyDocument.Statement.find(
      (s: any) => s.Sid === 'OnlyReleaseBuildsWriteTheReleaseCache',
    );
    expect(deny).toMatchObject({ Effect: 'Deny', Principal: { AWS: '*' }, Action: 's3:PutObject' });
    expect(text(deny.Resource)).toContain('/release/*');
    const allowed = text(deny.Condition.ArnNotEquals['aws:PrincipalArn']);
    for (const base of S3_CACHED) {
      expect(allowed).toContain(project(classProjectKey(base, 'release')).ServiceRole['Fn::GetAtt'][0]);
      expect(allowed).not.toContain(
        project(classProjectKey(base, 'integration')).ServiceRole['Fn::GetAtt'][0],
      );
    }
  });

  test('the pull-request tests project has no cache: untrusted code has nothing to poison', () => {
    expect(project(projectKeys.pullRequestTests).Cache?.Type ?? 'NO_CACHE').toBe('NO_CACHE');
    expect(text(f.projectStatements(projectKeys.pullRequestTests))).not.toContain('StorageCache');
  });

  test('timeouts per project from config.build.timeouts, and a queued timeout', () => {
    const expected: Record<string, number> = {
      'nuitka-x86_64': 30,
      'nuitka-arm64': 30,
      'rust-arm64': 30,
      'image-status-api-x86_64': 20,
      'image-webhook-relay-x86_64': 20,
      tests: 10,
      'pull-request-tests': 10,
      scan: 10,
    };
    for (const key of KEYS) {
      expect([key, project(key).TimeoutInMinutes]).toEqual([key, expected[baseOf(key)]]);
      expect([key, project(key).QueuedTimeoutInMinutes]).toEqual([key, 60]);
    }
    const custom = fixture({
      overrides: { build: { timeouts: { tests: 15, images: 25, scans: 7, binaries: 45 } } },
    });
    const timeout = (key: string) =>
      custom.buildJson.Resources[custom.projectId(key)].Properties.TimeoutInMinutes;
    expect([
      timeout('tests'),
      timeout('image-status-api-x86_64'),
      timeout('scan'),
      timeout('rust-arm64'),
    ]).toEqual([15, 25, 7, 45]);
  });

  test('build output, logs, cache and artifacts are encrypted with one rotated customer-managed key', () => {
    const keys = resourcesOf(f.buildJson, 'AWS::KMS::Key');
    expect(keys).toHaveLength(1);
    const [keyId, key] = keys[0]!;
    expect(key.Properties.EnableKeyRotation).toBe(true);
    const keyArn = { 'Fn::GetAtt': [keyId, 'Arn'] };
    for (const key of KEYS) expect([key, project(key).EncryptionKey]).toEqual([key, keyArn]);
    for (const [id, group] of resourcesOf(f.buildJson, 'AWS::Logs::LogGroup')) {
      expect([id, group.Properties.KmsKeyId]).toEqual([id, keyArn]);
    }
    for (const id of ['StorageCache', 'StoragePipelineArtifacts']) {
      const [, bucket] = resourcesOf(f.buildJson, 'AWS::S3::Bucket').find(([k]) => k.startsWith(id))!;
      expect(
        bucket.Properties.BucketEncryption.ServerSideEncryptionConfiguration[0].ServerSideEncryptionByDefault,
      ).toEqual({
        SSEAlgorithm: 'aws:kms',
        KMSMasterKeyID: keyArn,
      });
    }
  });

  test('the key lets CloudWatch Logs use it only for the build log groups', () => {
    const [, key] = resourcesOf(f.buildJson, 'AWS::KMS::Key')[0]!;
    const logs = key.Properties.KeyPolicy.Statement.find((s: any) => s.Sid === 'BuildLogGroups');
    expect(text(logs.Principal)).toContain('logs.');
    expect(text(logs.Condition.ArnLike['kms:EncryptionContext:aws:logs:arn'])).toContain(
      ':log-group:/Watchy-Build/*',
    );
    expect(logs.Action).not.toContain('kms:*');
  });

  test('each project logs to its own encrypted log group kept config.build.logRetentionDays', () => {
    const groups = resourcesOf(f.buildJson, 'AWS::Logs::LogGroup');
    expect(groups).toHaveLength(KEYS.length);
    for (const [, group] of groups) {
      expect(group.Properties.RetentionInDays).toBe(90);
      expect(group.Properties.LogGroupName).toMatch(/^\/Watchy-Build\//);
    }
    for (const key of KEYS) expect(project(key).LogsConfig.CloudWatchLogs.Status).toBe('ENABLED');
    const short = fixture({ overrides: { build: { logRetentionDays: 14 } } });
    for (const [, group] of resourcesOf(short.buildJson, 'AWS::Logs::LogGroup')) {
      expect(group.Properties.RetentionInDays).toBe(14);
    }
  });

  test(`release build roles can write to the release bucket only under ${STAGING_PREFIX}/\${aws:userid}/*`, () => {
    for (const key of [
      'nuitka-x86_64',
      'nuitka-arm64',
      'rust-arm64',
      'integration-nuitka-x86_64',
      'integration-rust-arm64',
    ]) {
      const release = f
        .projectStatements(key)
        .filter(
          (s) =>
            text(s.Resource).includes('Releases') && asList(s.Action).some((a: string) => S3_WRITE.test(a)),
        );
      expect(release).toHaveLength(1);
      expect(release[0].Action.sort()).toEqual(['s3:AbortMultipartUpload', 's3:GetObject', 's3:PutObject']);
      expect(release[0].Resource['Fn::Join'][1].slice(-1)[0]).toBe('/staging/${aws:userid}/*');
    }
  });

  test('no build role can write binaries/* or state/* (nor the whole release bucket)', () => {
    for (const key of KEYS) {
      for (const s of f.projectStatements(key)) {
        if (!asList(s.Action).some((a: string) => S3_WRITE.test(a))) continue;
        const resource = text(s.Resource);
        expect([key, resource]).not.toEqual([
          key,
          expect.stringMatching(/binaries|state\/|"\*"|Releases[^"]*Arn[^/]*"\]\}$/),
        ]);
        if (resource.includes('Releases')) expect(resource).toContain('/staging/${aws:userid}/*');
      }
    }
  });

  test('no build role can sign (kms:Sign) or invoke a Lambda', () => {
    for (const [, policy] of resourcesOf(f.buildJson, 'AWS::IAM::Policy')) {
      for (const s of policy.Properties.PolicyDocument.Statement) {
        for (const action of asList(s.Action) as string[]) {
          expect(action).not.toMatch(/^kms:(Sign|\*)|^lambda:|^\*$/);
        }
      }
    }
  });

  test('tests, pull-request tests and scan cannot touch the release bucket', () => {
    for (const key of ['tests', 'integration-tests', 'pull-request-tests', 'scan']) {
      expect(text(f.projectStatements(key))).not.toContain('Releases');
      expect(env(key)[WATCHY_RELEASE_BUCKET]).toBeUndefined();
    }
  });

  test('an image project pushes only to its own repository', () => {
    for (const [key, service, other] of [
      ['image-status-api-x86_64', 'status-api', 'webhook-relay'],
      ['image-webhook-relay-x86_64', 'webhook-relay', 'status-api'],
      ['integration-image-status-api-x86_64', 'status-api', 'webhook-relay'],
    ] as const) {
      const push = f.projectStatements(key).filter((s) => asList(s.Action).includes('ecr:PutImage'));
      expect(push).toHaveLength(1);
      expect(text(push[0].Resource)).toContain(`Repo${service.replace('-', '')}`);
      expect(text(push[0].Resource)).not.toContain(`Repo${other.replace('-', '')}`);
      const wildcard = f.projectStatements(key).filter((s) => text(s.Resource) === '"*"');
      expect(wildcard.map((s) => s.Action)).toEqual(['ecr:GetAuthorizationToken']);
      expect(env(key)[WATCHY_ECR_REPOSITORY_URI]).toBeDefined();
    }
    for (const key of ['nuitka-x86_64', 'rust-arm64', 'tests', 'scan']) {
      expect(text(f.projectStatements(key))).not.toContain('ecr:PutImage');
    }
  });

  test('the scan project only reads scan results of the service repositories', () => {
    const ecr = f
      .projectStatements('scan')
      .filter((s) => asList(s.Action).some((a: string) => a.startsWith('ecr:')));
    expect(ecr).toHaveLength(1);
    expect(ecr[0].Action.sort()).toEqual(['ecr:DescribeImageScanFindings', 'ecr:DescribeImages']);
  });

  test('only image projects run privileged (docker), each acknowledged with its reason', () => {
    for (const key of KEYS) {
      const privileged = project(key).Environment.PrivilegedMode === true;
      expect([key, privileged]).toEqual([key, KIND[key] === 'image']);
    }
    const [, imageProject] = resourcesOf(f.buildJson, 'AWS::CodeBuild::Project').find(
      ([id]) => id === f.projectId('image-status-api-x86_64'),
    )!;
    expect(imageProject.Metadata.checkov.skip).toEqual([
      { id: 'CKV_AWS_316', comment: expect.stringContaining('Docker daemon') },
    ]);
  });

  test('projects carry the build environment contract', () => {
    expect(env('nuitka-arm64')).toMatchObject({
      [WATCHY_ARCH]: 'arm64',
      [WATCHY_MODE]: 'release',
      [WATCHY_VERSION]: DEFAULT_VERSION,
      [WATCHY_BASE_URL]: 'https://d111111abcdef8.cloudfront.net/binaries',
      PYTHON_VERSION: '3.11',
    });
    expect(env('nuitka-arm64')[WATCHY_RELEASE_BUCKET]).toBeDefined();
    expect(env('rust-arm64')[WATCHY_APP]).toBe('rust');
    expect(env('rust-arm64')[WATCHY_RUST_WORKSPACE]).toBe('examples/rust-lambdas');
    // A Nuitka project builds every app of its architecture: each build action names app and directory.
    expect(env('nuitka-arm64')[WATCHY_APP]).toBeUndefined();
    expect(env('nuitka-arm64')[WATCHY_SOURCE_PATH]).toBeUndefined();
    expect(env('image-webhook-relay-x86_64')).toMatchObject({
      [WATCHY_APP]: 'webhook-relay',
      [WATCHY_SOURCE_PATH]: 'examples/services/webhook-relay',
      [WATCHY_IMAGE_BUILDER]: 'buildpacks',
    });
  });

  test('the project groups are the projects made for them: rebuilds, publishing and bisect', () => {
    const keyOf = new Map([...f.build.projects].map(([key, project]) => [project, key]));
    expect([...f.build.rebuildProjects].map(([key, p]) => [key, keyOf.get(p)])).toEqual([
      ['nuitka-x86_64', 'nuitka-x86_64'],
      ['nuitka-arm64', 'nuitka-arm64'],
      ['rust-arm64', 'rust-arm64'],
    ]);
    expect(f.build.publishingProjects.map((p) => [keyOf.get(p.project), p.branchClass])).toEqual([
      ['nuitka-x86_64', 'release'],
      ['nuitka-arm64', 'release'],
      ['rust-arm64', 'release'],
      ['integration-nuitka-x86_64', 'integration'],
      ['integration-nuitka-arm64', 'integration'],
      ['integration-rust-arm64', 'integration'],
    ]);
    expect(f.build.bisectProjects.map((p) => keyOf.get(p))).toEqual([
      'nuitka-x86_64',
      'nuitka-arm64',
      'rust-arm64',
      'tests',
    ]);
  });

  test('build buckets are TLS-only, versioned, access-logged and block public access', () => {
    for (const id of ['StorageCache', 'StoragePipelineArtifacts']) {
      const [logicalId, bucket] = resourcesOf(f.buildJson, 'AWS::S3::Bucket').find(([k]) =>
        k.startsWith(id),
      )!;
      expect(bucket.Properties.VersioningConfiguration).toEqual({ Status: 'Enabled' });
      expect(bucket.Properties.LoggingConfiguration.DestinationBucketName).toBeDefined();
      expect(bucket.Properties.PublicAccessBlockConfiguration).toEqual({
        BlockPublicAcls: true,
        BlockPublicPolicy: true,
        IgnorePublicAcls: true,
        RestrictPublicBuckets: true,
      });
      const policy = resourcesOf(f.buildJson, 'AWS::S3::BucketPolicy').find(
        ([, p]) => text(p.Properties.Bucket) === text({ Ref: logicalId }),
      )!;
      expect(text(policy[1].Properties.PolicyDocument)).toContain('"aws:SecureTransport":"false"');
    }
  });
});

describe('Build stack: cdk-nag and snapshot', () => {
  test('zero unacknowledged cdk-nag findings (Build and Pipeline stacks, with and without a publish function)', () => {
    expect(nagFindings()).toEqual([]);
    expect(nagFindings({ publishFunction: true })).toEqual([]);
  });

  test('snapshot (asset hashes normalised)', () => {
    expect(normalisedTemplate(f.buildJson)).toMatchSnapshot();
  });
});
