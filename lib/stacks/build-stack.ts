import { CfnOutput, Stack, type StackProps } from 'aws-cdk-lib';
import type * as codebuild from 'aws-cdk-lib/aws-codebuild';
import type * as ecr from 'aws-cdk-lib/aws-ecr';
import type * as kms from 'aws-cdk-lib/aws-kms';
import type * as s3 from 'aws-cdk-lib/aws-s3';
import type { Construct } from 'constructs';
import type { WatchyConfig } from '@core/config';
import type { BinaryProjectKey } from '@core/build-env';
import { BuildProjects, type BuildTarget, type ClassProject } from '../constructs/build/build-projects';
import { BuildStorage } from '../constructs/build/build-storage';
import { importedRepositories } from '../constructs/common/cross-stack';
import { SourceConnection } from '../constructs/build/source-connection';

export interface BuildStackProps extends StackProps {
  readonly catalog: WatchyConfig['catalog'];
  readonly build: WatchyConfig['build'];
  readonly source: WatchyConfig['source'];
  /** Access logs of the build buckets expire after this many days. @default 365 */
  readonly accessLogRetentionDays?: number;
  /** The release bucket (Distribution stack): builds write only under `staging/${aws:userid}/`. */
  readonly releaseBucket: s3.IBucket;
  /** BinaryDistributionUrl (Distribution stack). */
  readonly binaryDistributionUrl: string;
  /** ECR repository per container service (Registry stack). */
  readonly repositories: ReadonlyMap<string, ecr.IRepository>;
  /** Where the buildspec YAML files are. @default the repository's buildspecs/ */
  readonly buildspecDir?: string;
}

/**
 * The CodeBuild projects (Nuitka, Rust, images, tests, scan) on Amazon Linux 2023, with the
 * repository connection, the build key, the cache bucket and the pipeline artifact bucket.
 */
export class BuildStack extends Stack {
  /**
   * Keyed `nuitka-<arch>`, `rust-<arch>`, `image-<service>-<arch>`, `tests` (release branch; the
   * integration branch's are the same keys prefixed `integration-`), `pull-request-tests`, `scan`.
   */
  readonly projects: ReadonlyMap<string, codebuild.Project>;
  /** The release branch's binary projects by `{binaryType}-{architecture}`: rollbacks rebuild there. */
  readonly rebuildProjects: ReadonlyMap<BinaryProjectKey, codebuild.Project>;
  /** The binary projects of both branch classes, with their class: the builds that stage releases. */
  readonly publishingProjects: readonly ClassProject[];
  /** The release branch's binary and tests projects: their failing builds are bisected. */
  readonly bisectProjects: readonly codebuild.Project[];
  /** What the pipeline builds, app by app and architecture by architecture. */
  readonly targets: readonly BuildTarget[];
  readonly source: SourceConnection;
  readonly key: kms.IKey;
  /** The pipelines' artifact store (here, not in the Pipeline stack: see BuildStorage). */
  readonly artifactBucket: s3.IBucket;

  constructor(scope: Construct, id: string, props: BuildStackProps) {
    super(scope, id, props);
    this.source = new SourceConnection(this, 'Source', { source: props.source });
    const storage = new BuildStorage(this, 'Storage', {
      logGroupPrefix: `/${this.stackName}/`,
      accessLogRetentionDays: props.accessLogRetentionDays,
    });
    const built = new BuildProjects(this, 'Projects', {
      catalog: props.catalog,
      build: props.build,
      releaseBucket: props.releaseBucket,
      binaryDistributionUrl: props.binaryDistributionUrl,
      repositories: importedRepositories(this, props.repositories),
      source: this.source,
      storage,
      logGroupPrefix: `/${this.stackName}/`,
      buildspecDir: props.buildspecDir,
    });
    for (const project of built.buildProjects.values())
      project.grantPipelineArtifacts(storage.artifactBucket);
    this.projects = built.projects;
    this.rebuildProjects = built.rebuildProjects;
    this.publishingProjects = built.publishingProjects;
    this.bisectProjects = built.bisectProjects;
    this.targets = built.targets;
    this.key = storage.key;
    this.artifactBucket = storage.artifactBucket;

    new CfnOutput(this, 'SourceConnectionArn', {
      description: 'Repository connection (authorise it once in the console when it was created here)',
      value: this.source.connectionArn,
    });
    for (const [key, project] of this.projects) {
      new CfnOutput(this, `Project${key.replace(/[^A-Za-z0-9]/g, '')}`, {
        description: `CodeBuild project ${key}`,
        value: project.projectName,
      });
    }
  }
}
