import type * as codebuild from 'aws-cdk-lib/aws-codebuild';
import * as codepipeline from 'aws-cdk-lib/aws-codepipeline';
import * as actions from 'aws-cdk-lib/aws-codepipeline-actions';
import type * as s3 from 'aws-cdk-lib/aws-s3';
import { Construct } from 'constructs';
import { acknowledgePipelineRoles } from './release-pipeline';
import type { SourceConnection } from './source-connection';

export interface PullRequestPipelineProps {
  readonly source: SourceConnection;
  /** Pull requests into these branches are tested. */
  readonly targetBranches: readonly string[];
  /** The project that runs buildspecs/test.yml for pull requests (no cache, no release access). */
  readonly testProject: codebuild.IProject;
  readonly artifactBucket: s3.IBucket;
}

/**
 * Tests for pull requests: a second, small V2 pipeline (Source → Test) with a pull-request
 * trigger, because a V2 trigger starts a whole pipeline and pull requests must never reach Build
 * or Publish. PARALLEL execution: pull requests do not wait for one another.
 */
export class PullRequestPipeline extends Construct {
  readonly pipeline: codepipeline.Pipeline;

  constructor(scope: Construct, id: string, props: PullRequestPipelineProps) {
    super(scope, id);
    const sourceOutput = new codepipeline.Artifact('Source');
    const sourceAction = new actions.CodeStarConnectionsSourceAction({
      actionName: 'Source',
      connectionArn: props.source.connectionArn,
      owner: props.source.owner,
      repo: props.source.repo,
      branch: props.targetBranches[0],
      output: sourceOutput,
      codeBuildCloneOutput: true,
      variablesNamespace: 'SourceVariables',
    });
    this.pipeline = new codepipeline.Pipeline(this, 'Pipeline', {
      pipelineType: codepipeline.PipelineType.V2,
      executionMode: codepipeline.ExecutionMode.PARALLEL,
      artifactBucket: props.artifactBucket,
      crossAccountKeys: false,
      triggers: [
        {
          providerType: codepipeline.ProviderType.CODE_STAR_SOURCE_CONNECTION,
          gitConfiguration: {
            sourceAction,
            pullRequestFilter: [
              {
                branchesIncludes: [...props.targetBranches],
                events: [codepipeline.GitPullRequestEvent.OPEN, codepipeline.GitPullRequestEvent.UPDATED],
              },
            ],
          },
        },
      ],
      stages: [
        { stageName: 'Source', actions: [sourceAction] },
        {
          stageName: 'Test',
          actions: [
            new actions.CodeBuildAction({
              actionName: 'tests',
              type: actions.CodeBuildActionType.TEST,
              project: props.testProject,
              input: sourceOutput,
            }),
          ],
        },
      ],
    });
    acknowledgePipelineRoles(this.pipeline, props.artifactBucket);
  }
}
