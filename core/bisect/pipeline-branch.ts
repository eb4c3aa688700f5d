/**
 * The branch of a build the pipeline started, when the build itself does not say (no
 * `WATCHY_BRANCH`): only a pipeline's Source action knows which branch a run was for (its
 * `BranchName` output variable; each release pipeline builds one branch, docs/decisions/010). The build's initiator names the pipeline
 * (`codepipeline/<name>`); the run is the newest one of that pipeline, started no later than the
 * build, whose source revision is the build's commit.
 */
import {
  ListActionExecutionsCommand,
  ListPipelineExecutionsCommand,
  type CodePipelineClient,
} from '@aws-sdk/client-codepipeline';
import type { BuildInfo } from './build-runner';

/** Pipeline runs looked at, newest first: a failing build is reported within minutes of its run. */
export const EXECUTIONS_SCANNED = 50;

export class PipelineBranchResolver {
  constructor(
    private readonly client: CodePipelineClient,
    /** Only pipelines whose names start with this are asked (the platform's own). */
    private readonly pipelineNamePrefix: string,
  ) {}

  async branchOf(build: BuildInfo): Promise<string | undefined> {
    const pipeline = /^codepipeline\/([A-Za-z0-9.@_-]{1,100})$/.exec(build.initiator ?? '')?.[1];
    const commit = build.resolvedSourceVersion;
    if (!pipeline || !pipeline.startsWith(this.pipelineNamePrefix) || !commit) return undefined;
    const listed = await this.client.send(
      new ListPipelineExecutionsCommand({ pipelineName: pipeline, maxResults: EXECUTIONS_SCANNED }),
    );
    const startedBy = build.startTime?.getTime() ?? Number.POSITIVE_INFINITY;
    for (const execution of listed.pipelineExecutionSummaries ?? []) {
      if (!execution.pipelineExecutionId) continue;
      if ((execution.startTime?.getTime() ?? 0) > startedBy) continue;
      if (!execution.sourceRevisions?.some((r) => r.revisionId === commit)) continue;
      const actions = await this.client.send(
        new ListActionExecutionsCommand({
          pipelineName: pipeline,
          filter: { pipelineExecutionId: execution.pipelineExecutionId },
        }),
      );
      for (const action of actions.actionExecutionDetails ?? []) {
        const branch = action.output?.outputVariables?.['BranchName'];
        if (branch) return branch;
      }
      return undefined;
    }
    return undefined;
  }
}
