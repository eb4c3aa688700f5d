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
  BUILDSPEC_FILES,
  DEFAULT_VERSION,
  WATCHY_ARCH,
  WATCHY_BASE_URL,
  WATCHY_ECR_REPOSITORY_URI,
  WATCHY_MODE,
  WATCHY_RELEASE_BUCKET,
  WATCHY_SOURCE_URL,
  WATCHY_VERSION,
  binaryProjectKey,
  catalogTargets,
  kindVariables,
  projectVariables,
  type BinaryProjectKey,
  type BuildKind,
  type CatalogTarget,
} from '@core/build-env';
import type { WatchyConfig } from '@core/config';
import { BuildProject, loadBuildSpec, type BuildCache, type LoadedBuildSpec } from './build-project';
import type { BuildStorage } from './build-storage';
import type { SourceConnection } from './source-connection';

export { BUILDSPEC_FILES, RUST_APP } from '@core/build-env';

/** One thing the pipeline builds (core/build-env.ts CatalogTarget), with the project that builds it. */
export type BuildTarget = CatalogTarget & {
  /** Key of the project that builds it (`nuitka-x86_64`, `rust-arm64`, `image-status-api-x86_64`). */
  readonly projectKey: string;
};

/** A project of a branch class. */
export interface ClassProject {
  readonly project: codebuild.Project;
  readonly branchClass: BranchClass;
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
  /** One binary project per type and architecture: it builds every app of that type on it. */
  nuitka: (arch: Architecture): BinaryProjectKey => binaryProjectKey('nuitka', arch),
  rust: (arch: Architecture): BinaryProjectKey => binaryProjectKey('rust', arch),
  /** One image project per service and architecture: each may push only to its own repository. */
  image: (service: string, arch: Architecture) => `image-${service}-${arch}`,
  tests: 'tests',
  /** Tests of pull requests: untrusted code, so no cache (nothing it could poison) and no release access. */
  pullRequestTests: 'pull-request-tests',
  scan: 'scan',
} as const;

/** The project that builds a target. */
export function targetProjectKey(target: CatalogTarget): string {
  switch (target.kind) {
    case 'nuitka':
      return projectKeys.nuitka(target.architecture);
    case 'rust':
      return projectKeys.rust(target.architecture);
    case 'image':
      return projectKeys.image(target.app, target.architecture);
  }
}

/** Every build of the catalog, in pipeline order (catalogTargets), with its project. */
export function buildTargets(catalog: WatchyConfig['catalog']): BuildTarget[] {
  return catalogTargets(catalog).map((target) => ({ ...target, projectKey: targetProjectKey(target) }));
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
  /** The release class's binary projects by BinaryProjectKey: a rollback rebuilds a release there. */
  readonly rebuildProjects: ReadonlyMap<BinaryProjectKey, codebuild.Project>;
  /** The binary projects of every branch class, with their class: the builds that stage releases. */
  readonly publishingProjects: readonly ClassProject[];
  /**
   * The release class's projects whose failing builds are bisected: the binary projects and the
   * tests (an image build has no verify-only mode: a bisect step would push an image).
   */
  readonly bisectProjects: readonly codebuild.Project[];

  constructor(scope: Construct, id: string, props: BuildProjectsProps) {
    super(scope, id);
    const dir = props.buildspecDir ?? BUILDSPEC_DIR;
    const specs = new Map<BuildKind, LoadedBuildSpec>();
    const spec = (kind: BuildKind): LoadedBuildSpec => {
      let loaded = specs.get(kind);
      if (!loaded) specs.set(kind, (loaded = loadBuildSpec(join(dir, BUILDSPEC_FILES[kind]))));
      return loaded;
    };
    const { timeouts } = props.build;
    const retention = logRetention(props.build.logRetentionDays);
    const projects = new Map<string, BuildProject>();
    const add = (
      key: string,
      kind: BuildKind,
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
    const rebuildProjects = new Map<BinaryProjectKey, codebuild.Project>();
    const publishingProjects: ClassProject[] = [];
    const bisectProjects: codebuild.Project[] = [];
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
      /** One binary project per type and architecture, building every target of both. */
      const addBinary = (kind: 'nuitka' | 'rust', architecture: Architecture, description: string) => {
        const key = projectKeys[kind](architecture);
        const built = addCached(classProjectKey(key, branchClass), kind, architecture, {
          description: `${description}, ${architecture}, ${label} (buildspecs/${BUILDSPEC_FILES[kind]})`,
          timeoutMinutes: timeouts.binaries,
          computeType: codebuild.ComputeType.LARGE,
          environment: {
            ...binaryEnvironment,
            ...projectVariables(targets.filter((t) => t.projectKey === key)),
          },
          cache: s3Cache(key),
        });
        built.grantStaging(props.releaseBucket);
        publishingProjects.push({ project: built.project, branchClass });
        if (branchClass === 'release') {
          rebuildProjects.set(key, built.project);
          bisectProjects.push(built.project);
        }
      };
      for (const architecture of architecturesOf(targets, 'nuitka')) {
        addBinary('nuitka', architecture, 'Nuitka monitor binaries');
      }
      for (const architecture of architecturesOf(targets, 'rust')) {
        addBinary('rust', architecture, 'Rust Lambda binaries');
      }
      for (const target of targets) {
        if (target.kind !== 'image') continue;
        const service = target.app;
        const repository = props.repositories.get(service);
        if (!repository) throw new Error(`BuildProjects: no ECR repository for container service ${service}`);
        // A local Docker layer cache: on the build host, of this project only.
        add(classProjectKey(target.projectKey, branchClass), 'image', target.architecture, {
          description: `Container image of ${service}, ${target.architecture}, ${label} (buildspecs/${BUILDSPEC_FILES.image})`,
          timeoutMinutes: timeouts.images,
          computeType: codebuild.ComputeType.MEDIUM,
          environment: {
            ...projectVariables([target]),
            [WATCHY_ECR_REPOSITORY_URI]: repository.repositoryUri,
          },
          cache: { kind: 'local-docker' },
          privileged: {
            reason: `Builds the ${service} image with the Docker daemon of the build container (docker build / pack build), which needs privileged mode; the role can push only to the ${service} repository.`,
          },
        }).grantPush(repository);
      }
      const tests = addCached(classProjectKey(projectKeys.tests, branchClass), 'tests', 'x86_64', {
        description: `Type-check, lint and tests, ${label} (buildspecs/${BUILDSPEC_FILES.tests})`,
        timeoutMinutes: timeouts.tests,
        computeType: codebuild.ComputeType.MEDIUM,
        environment: kindVariables('tests'),
        cache: s3Cache(projectKeys.tests),
      });
      if (branchClass === 'release') bisectProjects.push(tests.project);
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
      environment: kindVariables('tests'),
      cache: { kind: 'none' },
    });
    if (props.catalog.containerServices.length > 0) {
      const scan = add(projectKeys.scan, 'scan', 'x86_64', {
        description: `Waits for the ECR scan of a pushed image; fails on CRITICAL/HIGH (buildspecs/${BUILDSPEC_FILES.scan})`,
        timeoutMinutes: timeouts.scans,
        computeType: codebuild.ComputeType.SMALL,
        environment: kindVariables('scan'),
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
    this.rebuildProjects = rebuildProjects;
    this.publishingProjects = publishingProjects;
    this.bisectProjects = bisectProjects;
  }
}

/** The architectures the targets of a kind are built on, in target order. */
function architecturesOf(targets: readonly BuildTarget[], kind: BuildTarget['kind']): Architecture[] {
  return [...new Set(targets.filter((t) => t.kind === kind).map((t) => t.architecture))];
}

/** `image-status-api-x86_64` -> `ImageStatusApiX8664` (construct ids). */
function pascal(key: string): string {
  return key
    .split(/[-_]/)
    .map((part) => part.charAt(0).toUpperCase() + part.slice(1))
    .join('');
}
