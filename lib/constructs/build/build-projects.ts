import { join } from 'node:path';
import { Duration } from 'aws-cdk-lib';
import * as codebuild from 'aws-cdk-lib/aws-codebuild';
import type * as ecr from 'aws-cdk-lib/aws-ecr';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as logs from 'aws-cdk-lib/aws-logs';
import type * as s3 from 'aws-cdk-lib/aws-s3';
import { Construct } from 'constructs';
import type { Architecture } from '@core/artifacts';
import {
  DEFAULT_VERSION,
  PYTHON_VERSION,
  WATCHY_APP,
  WATCHY_ARCH,
  WATCHY_BASE_URL,
  WATCHY_ECR_REPOSITORY_URI,
  WATCHY_IMAGE_BUILDER,
  WATCHY_MODE,
  WATCHY_RELEASE_BUCKET,
  WATCHY_SOURCE_PATH,
  WATCHY_SOURCE_URL,
  WATCHY_VERSION,
} from '@core/build-env';
import { NUITKA_PYTHON_VERSION } from '@core/versions';
import type { WatchyConfig } from '@core/config';
import { BuildProject, loadBuildSpec, type BuildCache, type LoadedBuildSpec } from './build-project';
import type { BuildStorage } from './build-storage';
import type { SourceConnection } from './source-connection';

/** The buildspec file of each kind of project, in `buildspecs/`. */
export const BUILDSPEC_FILES = {
  nuitka: 'nuitka.yml',
  rust: 'rust-lambda.yml',
  image: 'image.yml',
  tests: 'test.yml',
  scan: 'scan.yml',
} as const;
export type ProjectKind = keyof typeof BUILDSPEC_FILES;

/** The repository's buildspecs/ folder. */
/** WATCHY_APP of the Rust workspace build (it builds every `[[bin]]` of the workspace). */
export const RUST_APP = 'rust';

/** One thing the pipeline builds: an app (or service, or the Rust workspace) on one architecture. */
export interface BuildTarget {
  readonly kind: 'nuitka' | 'rust' | 'image';
  /** WATCHY_APP of the build. */
  readonly app: string;
  readonly architecture: Architecture;
  /** Key of the project that builds it (`nuitka-x86_64`, `rust-arm64`, `image-status-api-x86_64`). */
  readonly projectKey: string;
}

/**
 * The classes of branches whose builds never share a project: `release` (the release branch, whose
 * builds are promoted) and `integration` (the integration branch). Each class has its own binary,
 * image and tests projects, so its own roles and its own cache, and a role can write only its own
 * class's cache prefix: code on the integration branch runs with the integration roles and cannot
 * poison a cache a release build reuses (docs/decisions/011-branch-caches.md). Pull requests have a
 * project of their own without any cache; the scan project has no cache and is shared.
 */
export { BRANCH_CLASSES, type BranchClass } from '@core/build-env';
import { BRANCH_CLASSES, type BranchClass } from '@core/build-env';
import { BUILDSPEC_DIR } from '../../repo-paths';

/** The key of a class's own project: the release class keeps the plain key (`nuitka-x86_64`), the others are prefixed (`integration-nuitka-x86_64`). */
export function classProjectKey(key: string, branchClass: BranchClass): string {
  return branchClass === 'release' ? key : `${branchClass}-${key}`;
}

/** The S3 cache prefix of a class's project: `release/nuitka-x86_64`, `integration/nuitka-x86_64`. */
export function cachePrefix(key: string, branchClass: BranchClass): string {
  return `${branchClass}/${key}`;
}

export const projectKeys = {
  nuitka: (arch: Architecture) => `nuitka-${arch}`,
  rust: (arch: Architecture) => `rust-${arch}`,
  /** One image project per service and architecture: each may push only to its own repository. */
  image: (service: string, arch: Architecture) => `image-${service}-${arch}`,
  tests: 'tests',
  /** Tests of pull requests: untrusted code, so no cache (nothing it could poison) and no release access. */
  pullRequestTests: 'pull-request-tests',
  scan: 'scan',
} as const;

/** Every build of the catalog, in pipeline order: Nuitka apps, the Rust workspace, images. */
export function buildTargets(catalog: WatchyConfig['catalog']): BuildTarget[] {
  const targets: BuildTarget[] = [];
  for (const app of catalog.nuitkaApps) {
    for (const architecture of app.architectures) {
      targets.push({
        kind: 'nuitka',
        app: app.name,
        architecture,
        projectKey: projectKeys.nuitka(architecture),
      });
    }
  }
  for (const architecture of catalog.rustWorkspace?.architectures ?? []) {
    targets.push({ kind: 'rust', app: RUST_APP, architecture, projectKey: projectKeys.rust(architecture) });
  }
  for (const service of catalog.containerServices) {
    for (const architecture of service.architectures) {
      targets.push({
        kind: 'image',
        app: service.name,
        architecture,
        projectKey: projectKeys.image(service.name, architecture),
      });
    }
  }
  return targets;
}

/** CloudWatch Logs accepts only these retention periods (days). */
export function logRetention(days: number): logs.RetentionDays {
  const allowed = Object.values(logs.RetentionDays).filter((v): v is number => typeof v === 'number');
  if (!allowed.includes(days)) {
    throw new Error(`log retention ${days} days is not one CloudWatch Logs offers: ${allowed.join(', ')}`);
  }
  return days as logs.RetentionDays;
}

export interface BuildProjectsProps {
  readonly catalog: WatchyConfig['catalog'];
  readonly build: WatchyConfig['build'];
  /** Release builds stage their output under `staging/${aws:userid}/` of this bucket. */
  readonly releaseBucket: s3.IBucket;
  /** BinaryDistributionUrl (WATCHY_BASE_URL of binary builds). */
  readonly binaryDistributionUrl: string;
  /** ECR repository of each container service, keyed by service name. */
  readonly repositories: ReadonlyMap<string, ecr.IRepository>;
  readonly source: SourceConnection;
  readonly storage: BuildStorage;
  /** Prefix of the log group names (the build key allows CloudWatch Logs under it). */
  readonly logGroupPrefix: string;
  /** Where the buildspec YAML files are. @default BUILDSPEC_DIR (lib/repo-paths.ts) */
  readonly buildspecDir?: string;
}

/**
 * Every CodeBuild project of the platform, keyed: `nuitka-<arch>` and `rust-<arch>` (one per
 * architecture the catalog builds, since a project has one image and a build matrix cannot mix
 * x86 and ARM), `image-<service>-<arch>` and `tests`, each once per branch class (the
 * integration class's keys prefixed `integration-`), and `pull-request-tests` and `scan`.
 */
export class BuildProjects extends Construct {
  readonly projects: ReadonlyMap<string, codebuild.Project>;
  readonly buildProjects: ReadonlyMap<string, BuildProject>;
  readonly targets: readonly BuildTarget[];

  constructor(scope: Construct, id: string, props: BuildProjectsProps) {
    super(scope, id);
    const dir = props.buildspecDir ?? BUILDSPEC_DIR;
    const specs = new Map<ProjectKind, LoadedBuildSpec>();
    const spec = (kind: ProjectKind): LoadedBuildSpec => {
      let loaded = specs.get(kind);
      if (!loaded) specs.set(kind, (loaded = loadBuildSpec(join(dir, BUILDSPEC_FILES[kind]))));
      return loaded;
    };
    const { timeouts } = props.build;
    const retention = logRetention(props.build.logRetentionDays);
    const projects = new Map<string, BuildProject>();
    const add = (
      key: string,
      kind: ProjectKind,
      architecture: Architecture,
      options: {
        description: string;
        timeoutMinutes: number;
        computeType: codebuild.ComputeType;
        environment: Record<string, string>;
        cache: BuildCache;
        privileged?: { reason: string };
      },
    ): BuildProject => {
      const project = new BuildProject(this, pascal(key), {
        description: options.description,
        buildSpec: spec(kind),
        architecture,
        computeType: options.computeType,
        timeout: Duration.minutes(options.timeoutMinutes),
        environment: {
          [WATCHY_ARCH]: architecture,
          [WATCHY_MODE]: 'release',
          [WATCHY_VERSION]: DEFAULT_VERSION,
          [WATCHY_SOURCE_URL]: props.source.repositoryUrl,
          ...options.environment,
        },
        encryptionKey: props.storage.key,
        logGroupName: `${props.logGroupPrefix}${key}`,
        logRetention: retention,
        cache: options.cache,
        source: props.source,
        privileged: options.privileged,
      });
      projects.set(key, project);
      return project;
    };
    const binaryEnvironment = {
      [WATCHY_RELEASE_BUCKET]: props.releaseBucket.bucketName,
      [WATCHY_BASE_URL]: props.binaryDistributionUrl,
    };
    const classLabel: Record<BranchClass, string> = {
      release: 'release branch',
      integration: 'integration branch',
    };
    /** Roles of the release class's S3-cached projects: the only writers of the release cache. */
    const releaseCacheWriters: iam.IRole[] = [];

    const targets = buildTargets(props.catalog);
    for (const branchClass of BRANCH_CLASSES) {
      const label = classLabel[branchClass];
      const s3Cache = (key: string): BuildCache => ({
        kind: 's3',
        bucket: props.storage.cacheBucket,
        prefix: cachePrefix(key, branchClass),
      });
      const addCached = (...args: Parameters<typeof add>): BuildProject => {
        const built = add(...args);
        if (branchClass === 'release') releaseCacheWriters.push(built.role);
        return built;
      };
      for (const architecture of unique(
        targets.filter((t) => t.kind === 'nuitka').map((t) => t.architecture),
      )) {
        const key = projectKeys.nuitka(architecture);
        addCached(classProjectKey(key, branchClass), 'nuitka', architecture, {
          description: `Nuitka monitor binaries, ${architecture}, ${label} (buildspecs/${BUILDSPEC_FILES.nuitka})`,
          timeoutMinutes: timeouts.binaries,
          computeType: codebuild.ComputeType.LARGE,
          environment: { ...binaryEnvironment, [PYTHON_VERSION]: NUITKA_PYTHON_VERSION },
          cache: s3Cache(key),
        }).grantStaging(props.releaseBucket);
      }
      for (const architecture of unique(
        targets.filter((t) => t.kind === 'rust').map((t) => t.architecture),
      )) {
        const key = projectKeys.rust(architecture);
        addCached(classProjectKey(key, branchClass), 'rust', architecture, {
          description: `Rust Lambda binaries, ${architecture}, ${label} (buildspecs/${BUILDSPEC_FILES.rust})`,
          timeoutMinutes: timeouts.binaries,
          computeType: codebuild.ComputeType.LARGE,
          environment: { ...binaryEnvironment, [WATCHY_APP]: RUST_APP },
          cache: s3Cache(key),
        }).grantStaging(props.releaseBucket);
      }
      for (const service of props.catalog.containerServices) {
        const repository = props.repositories.get(service.name);
        if (!repository)
          throw new Error(`BuildProjects: no ECR repository for container service ${service.name}`);
        for (const architecture of service.architectures) {
          const key = projectKeys.image(service.name, architecture);
          // A local Docker layer cache: on the build host, of this project only.
          add(classProjectKey(key, branchClass), 'image', architecture, {
            description: `Container image of ${service.name}, ${architecture}, ${label} (buildspecs/${BUILDSPEC_FILES.image})`,
            timeoutMinutes: timeouts.images,
            computeType: codebuild.ComputeType.MEDIUM,
            environment: {
              [WATCHY_APP]: service.name,
              [WATCHY_SOURCE_PATH]: service.sourcePath,
              [WATCHY_IMAGE_BUILDER]: service.builder,
              [WATCHY_ECR_REPOSITORY_URI]: repository.repositoryUri,
            },
            cache: { kind: 'local-docker' },
            privileged: {
              reason: `Builds the ${service.name} image with the Docker daemon of the build container (docker build / pack build), which needs privileged mode; the role can push only to the ${service.name} repository.`,
            },
          }).grantPush(repository);
        }
      }
      addCached(classProjectKey(projectKeys.tests, branchClass), 'tests', 'x86_64', {
        description: `Type-check, lint and tests, ${label} (buildspecs/${BUILDSPEC_FILES.tests})`,
        timeoutMinutes: timeouts.tests,
        computeType: codebuild.ComputeType.MEDIUM,
        environment: { [PYTHON_VERSION]: NUITKA_PYTHON_VERSION },
        cache: s3Cache(projectKeys.tests),
      });
    }
    // Defence in depth beside the roles' own grants: the bucket itself refuses a write under
    // release/ from any principal but the release class's project roles.
    props.storage.cacheBucket.addToResourcePolicy(
      new iam.PolicyStatement({
        sid: 'OnlyReleaseBuildsWriteTheReleaseCache',
        effect: iam.Effect.DENY,
        principals: [new iam.AnyPrincipal()],
        actions: ['s3:PutObject'],
        resources: [props.storage.cacheBucket.arnForObjects('release/*')],
        conditions: { ArnNotEquals: { 'aws:PrincipalArn': releaseCacheWriters.map((r) => r.roleArn) } },
      }),
    );
    add(projectKeys.pullRequestTests, 'tests', 'x86_64', {
      description: `Type-check, lint and tests of pull requests (buildspecs/${BUILDSPEC_FILES.tests}); no cache`,
      timeoutMinutes: timeouts.tests,
      computeType: codebuild.ComputeType.MEDIUM,
      environment: { [PYTHON_VERSION]: NUITKA_PYTHON_VERSION },
      cache: { kind: 'none' },
    });
    if (props.catalog.containerServices.length > 0) {
      const scan = add(projectKeys.scan, 'scan', 'x86_64', {
        description: `Waits for the ECR scan of a pushed image; fails on CRITICAL/HIGH (buildspecs/${BUILDSPEC_FILES.scan})`,
        timeoutMinutes: timeouts.scans,
        computeType: codebuild.ComputeType.SMALL,
        environment: {},
        cache: { kind: 'none' },
      });
      scan.role.addToPrincipalPolicy(
        new iam.PolicyStatement({
          sid: 'ReadScanResults',
          actions: ['ecr:DescribeImageScanFindings', 'ecr:DescribeImages'],
          resources: props.catalog.containerServices.map(
            (s) => props.repositories.get(s.name)!.repositoryArn,
          ),
        }),
      );
    }
    this.buildProjects = projects;
    this.projects = new Map([...projects].map(([key, p]) => [key, p.project]));
    this.targets = targets;
  }
}

function unique<T>(items: readonly T[]): T[] {
  return [...new Set(items)];
}

/** `image-status-api-x86_64` -> `ImageStatusApiX8664` (construct ids). */
function pascal(key: string): string {
  return key
    .split(/[-_]/)
    .map((part) => part.charAt(0).toUpperCase() + part.slice(1))
    .join('');
}
