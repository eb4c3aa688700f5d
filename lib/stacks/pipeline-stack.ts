import { CfnOutput, Stack, type StackProps } from 'aws-cdk-lib';
import * as codebuild from 'aws-cdk-lib/aws-codebuild';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as s3 from 'aws-cdk-lib/aws-s3';
import type * as ecr from 'aws-cdk-lib/aws-ecr';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import type { Construct } from 'constructs';
import type { WatchyConfig } from '@core/config';
import { projectKeys, type BranchClass, type BuildTarget } from '../constructs/build/build-projects';
import { importedRepositories } from '../constructs/common/cross-stack';
import { PullRequestPipeline } from '../constructs/build/pull-request-pipeline';
import { ReleasePipeline } from '../constructs/build/release-pipeline';
import type { SourceConnection } from '../constructs/build/source-connection';
import { triggerFilePaths } from '../constructs/build/trigger-paths';

export interface PipelineStackProps extends StackProps {
  readonly catalog: WatchyConfig['catalog'];
  readonly source: WatchyConfig['source'];
  /** The repository connection (Build stack). */
  readonly connection: SourceConnection;
  /** Build projects (Build stack), keyed as BuildStack.projects. */
  readonly projects: ReadonlyMap<string, codebuild.Project>;
  readonly targets: readonly BuildTarget[];
  /** ECR repository per container service (Registry stack). */
  readonly repositories: ReadonlyMap<string, ecr.IRepository>;
  /** Artifact store (Build stack). */
  readonly artifactBucket: s3.IBucket;
  /** The publish Lambda (ReleaseControl stack): adds the Publish stage. @default no Publish stage */
  readonly publishFunction?: lambda.IFunction;
  /** Physical name of each branch class's pipeline; with a publish function, the ones it trusts. @default generated */
  readonly pipelineNames?: Readonly<Record<BranchClass, string>>;
}

/**
 * The release pipelines (pushes and manual runs), one per branch class: the release branch's on
 * the release projects, the integration branch's on the integration projects, so the two never
 * share a build project, role or cache; and the pull-request test pipeline.
 */
export class PipelineStack extends Stack {
  readonly releasePipeline: ReleasePipeline;
  readonly integrationPipeline: ReleasePipeline;
  readonly pullRequestPipeline: PullRequestPipeline;

  constructor(scope: Construct, id: string, props: PipelineStackProps) {
    super(scope, id, props);
    const { catalog, source } = props;
    // The Build stack's projects and artifact store, referenced through explicit exports: the
    // pipelines see imported projects (CodePipeline then adds no grants to the project roles,
    // which the Build stack gives itself) and the finding ids of the artifact grants are known.
    const projects = new Map(
      [...props.projects].map(([key, project]) => [
        key,
        codebuild.Project.fromProjectName(
          this,
          `Project-${key}`,
          Stack.of(project).exportValue(project.projectName),
        ),
      ]),
    );
    // The publish function likewise. An imported function has no role here, so the Lambda invoke
    // action adds nothing to the publish role: its job-result permissions are PublishFunction's
    // own policy (PipelineJobResults), the one place they are granted and acknowledged.
    let publishFunction: lambda.IFunction | undefined;
    if (props.publishFunction) {
      publishFunction = lambda.Function.fromFunctionAttributes(this, 'PublishFunction', {
        functionArn: Stack.of(props.publishFunction).exportValue(props.publishFunction.functionArn),
        sameEnvironment: true,
      });
    }
    const buildStack = Stack.of(props.artifactBucket);
    const artifactBucket = s3.Bucket.fromBucketAttributes(this, 'ArtifactStore', {
      bucketArn: buildStack.exportValue(props.artifactBucket.bucketArn),
      encryptionKey: props.artifactBucket.encryptionKey
        ? kms.Key.fromKeyArn(
            this,
            'ArtifactKey',
            buildStack.exportValue(props.artifactBucket.encryptionKey.keyArn),
          )
        : undefined,
    });
    const sourcePaths = [
      ...catalog.nuitkaApps.map((a) => a.sourcePath),
      ...(catalog.rustWorkspace ? [catalog.rustWorkspace.sourcePath] : []),
      ...catalog.containerServices.map((s) => s.sourcePath),
    ];
    const repositories = importedRepositories(this, props.repositories);
    const releasePipeline = (id: string, branch: string, branchClass: BranchClass) =>
      new ReleasePipeline(this, id, {
        source: props.connection,
        ...(props.pipelineNames ? { pipelineName: props.pipelineNames[branchClass] } : {}),
        branch,
        branchClass,
        triggerFilePaths: triggerFilePaths(sourcePaths),
        projects,
        targets: props.targets,
        repositories,
        artifactBucket,
        publishFunction,
      });
    this.releasePipeline = releasePipeline('Release', source.releaseBranch, 'release');
    this.integrationPipeline = releasePipeline('Integration', source.integrationBranch, 'integration');
    const prTests = projects.get(projectKeys.pullRequestTests);
    if (!prTests) throw new Error(`PipelineStack: no build project ${projectKeys.pullRequestTests}`);
    this.pullRequestPipeline = new PullRequestPipeline(this, 'PullRequests', {
      source: props.connection,
      targetBranches: [source.releaseBranch, source.integrationBranch],
      testProject: prTests,
      artifactBucket,
    });
    new CfnOutput(this, 'ReleasePipelineName', { value: this.releasePipeline.pipeline.pipelineName });
    new CfnOutput(this, 'IntegrationPipelineName', {
      value: this.integrationPipeline.pipeline.pipelineName,
    });
    new CfnOutput(this, 'PullRequestPipelineName', { value: this.pullRequestPipeline.pipeline.pipelineName });
  }
}
