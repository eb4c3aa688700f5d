/**
 * What the deployed publisher may publish, learnt from the services that ran the build and never
 * from its caller. A caller (the pipeline's Publish action, an operator's `watchy publish`) only
 * says WHICH build: the run and the static name of its build action, or a CodeBuild build id. From
 * there CodePipeline (`ListActionExecutions`, written by the pipeline service, not the build) and
 * CodeBuild (`BatchGetBuilds`) say:
 *
 *   - the build id, so the one staging prefix it could write: `staging/{role id}:AWSCodeBuild-{uuid}/`
 *     (the role id of its release project, from the deployment: WATCHY_RELEASE_PROJECTS);
 *   - that it succeeded, and that it is a build of a release project, run as that project's role;
 *   - its branch: the Source action of the pipeline run that ran it; outside the pipeline its
 *     `refs/heads/{branch}` source version, or for a bare commit (a rebuild) the release branch,
 *     but only if that commit was released before (checked per artifact by the publish core);
 *   - its commit, when the pipeline or CodeBuild reports one.
 *
 * `CodePipelineRuns` is the real pipeline reader; moto implements no ListActionExecutions, so tests
 * put a local CodePipeline endpoint behind it. Builds are read with the bisect's `CodeBuildRunner`.
 */
import {
  ListActionExecutionsCommand,
  ListPipelineExecutionsCommand,
  type ActionExecutionDetail,
  type CodePipelineClient,
} from '@aws-sdk/client-codepipeline';
import { z } from 'zod';
import type { BuildInfo, BuildRunner } from '../../bisect/build-runner';
import { BRANCH_CLASSES, WATCHY_PUBLISH_REQUEST, type BranchClass } from '../../build-env';
import { describeZodIssue } from '../../zod-issue';
import { ReleaseError } from '../errors';
import { buildStagingPrefix, parseBuildId, type PublishJobParameters } from './request';

/** Action name of the release pipeline's source action (its outputs: BranchName, CommitId). */
export const PIPELINE_SOURCE_ACTION = 'Source';
/** Pipeline runs looked at, newest first, to find the run that started a build. */
export const RUNS_SCANNED = 50;

/** The release build projects (those whose builds stage releases), by CodeBuild project name. */
export const ReleaseProjectsSchema = z.record(
  z.string().regex(/^[A-Za-z0-9][A-Za-z0-9_-]{1,254}$/),
  z.strictObject({
    /** Unique id of the project's service role (`AROA…`): the first half of its builds' `aws:userid`. */
    roleId: z.string().regex(/^AROA[0-9A-Z]{12,124}$/, { message: 'expected an IAM role id (AROA…)' }),
    /** ARN of that role: the role a build of the project must have run as. */
    roleArn: z.string().regex(/^arn:[a-z-]+:iam::\d{12}:role\/.+$/, { message: 'expected an IAM role ARN' }),
    /** Whose project it is: a build publishes only on its class's branch, and runs only in its class's pipeline. */
    branchClass: z.enum(BRANCH_CLASSES),
  }),
);
export type ReleaseProjects = z.output<typeof ReleaseProjectsSchema>;

/** Parses the JSON of WATCHY_RELEASE_PROJECTS; throws one line naming the problem. */
export function parseReleaseProjects(text: string, name = 'WATCHY_RELEASE_PROJECTS'): ReleaseProjects {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw new Error(`${name} is not JSON`);
  }
  const result = ReleaseProjectsSchema.safeParse(value);
  if (!result.success) throw new Error(`${name}: ${describeZodIssue(result.error.issues[0], value)}`);
  return result.data;
}

/** One action execution of a pipeline run, as CodePipeline records it. */
export interface ActionRun {
  readonly actionName: string;
  /** `InProgress`, `Succeeded`, `Failed`, `Abandoned`. */
  readonly status: string;
  readonly startTime?: Date;
  /** For a CodeBuild action: the build id. */
  readonly externalExecutionId?: string;
  readonly outputVariables: Readonly<Record<string, string>>;
}

export interface PipelineRun {
  readonly id: string;
  readonly startTime?: Date;
  /** Source revisions (commits) of the run. */
  readonly revisions: readonly string[];
}

/** The two CodePipeline reads the publisher needs. */
export interface PipelineRuns {
  /** Every action execution of one run (`ListActionExecutions` filtered by the run). */
  actions(pipelineName: string, pipelineExecutionId: string): Promise<ActionRun[]>;
  /** The newest runs of the pipeline, newest first, at most `limit`. */
  recent(pipelineName: string, limit: number): Promise<PipelineRun[]>;
}

export class CodePipelineRuns implements PipelineRuns {
  constructor(private readonly client: CodePipelineClient) {}

  async actions(pipelineName: string, pipelineExecutionId: string): Promise<ActionRun[]> {
    const runs: ActionRun[] = [];
    let nextToken: string | undefined;
    do {
      const page = await this.client.send(
        new ListActionExecutionsCommand({ pipelineName, filter: { pipelineExecutionId }, nextToken }),
      );
      for (const detail of page.actionExecutionDetails ?? []) runs.push(toActionRun(detail));
      nextToken = page.nextToken;
    } while (nextToken);
    return runs;
  }

  async recent(pipelineName: string, limit: number): Promise<PipelineRun[]> {
    const page = await this.client.send(
      new ListPipelineExecutionsCommand({ pipelineName, maxResults: Math.min(limit, 100) }),
    );
    return (page.pipelineExecutionSummaries ?? []).flatMap((run) =>
      run.pipelineExecutionId
        ? [
            {
              id: run.pipelineExecutionId,
              startTime: run.startTime,
              revisions: (run.sourceRevisions ?? []).flatMap((r) => (r.revisionId ? [r.revisionId] : [])),
            },
          ]
        : [],
    );
  }
}

function toActionRun(detail: ActionExecutionDetail): ActionRun {
  return {
    actionName: detail.actionName ?? '',
    status: detail.status ?? '',
    startTime: detail.startTime,
    externalExecutionId: detail.output?.executionResult?.externalExecutionId,
    outputVariables: detail.output?.outputVariables ?? {},
  };
}

/** What the publisher reads the facts from, and what it trusts of the deployment. */
export interface BuildTrust {
  readonly builds: Pick<BuildRunner, 'get'>;
  readonly pipelines: PipelineRuns;
  readonly releaseProjects: ReleaseProjects;
  /** Each branch class's pipeline name (fixed at synth; environment.ts pipelineNames). */
  readonly pipelineNames: Readonly<Record<BranchClass, string>>;
}

/** The pipeline names of WATCHY_PIPELINES; throws one line naming the problem. */
export function parsePipelineNames(text: string, name = 'WATCHY_PIPELINES'): Record<BranchClass, string> {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw new Error(`${name} is not JSON`);
  }
  const result = PipelineNamesSchema.safeParse(value);
  if (!result.success) throw new Error(`${name}: ${describeZodIssue(result.error.issues[0], value)}`);
  return result.data;
}

const pipelineName = z.string().regex(/^[A-Za-z0-9.@_-]{1,100}$/, { message: 'expected a pipeline name' });
const PipelineNamesSchema = z.strictObject({ release: pipelineName, integration: pipelineName });

/** How the publisher knows a build's branch. */
export type TrustedBranch =
  /** From the Source action of the pipeline run that ran the build, or its `refs/heads/` source version. */
  | { readonly from: 'pipeline' | 'source-version'; readonly name: string }
  /** A build of a bare commit outside the pipeline (a rollback's rebuild): the release branch, only if that commit was released. */
  | { readonly from: 'released-commit' };

export interface TrustedBuild {
  /** `{project}:{uuid}`. */
  readonly buildId: string;
  readonly project: string;
  /** `staging/{role id}:AWSCodeBuild-{uuid}/`: the only prefix this build could write. */
  readonly stagingPrefix: string;
  /** The branch class of its project: it publishes only on that class's branch. */
  readonly branchClass: BranchClass;
  readonly branch: TrustedBranch;
  /** The commit the build compiled, when the pipeline or CodeBuild says. */
  readonly sourceRevision?: string;
  /** The key the build itself named (its WATCHY_PUBLISH_REQUEST output): a hint, checked against the prefix. */
  readonly requestKey?: string;
}

/** The build a Publish action publishes: that run's execution of the named build action. */
export async function trustedPipelineBuild(
  trust: BuildTrust,
  job: PublishJobParameters,
): Promise<TrustedBuild> {
  const pipeline = trust.pipelineNames[job.pipeline];
  const run = `pipeline ${pipeline} run ${job.pipelineExecutionId}`;
  const actions = await trust.pipelines.actions(pipeline, job.pipelineExecutionId);
  const action = latest(actions, job.buildAction);
  if (!action) throw new ReleaseError('not-found', `${run} has no action ${job.buildAction}`);
  if (action.status !== 'Succeeded') {
    throw new ReleaseError(
      'conflict',
      `action ${job.buildAction} of ${run} did not succeed (${action.status || 'no status'}): nothing of it is published`,
    );
  }
  if (!action.externalExecutionId) {
    throw new ReleaseError('not-found', `action ${job.buildAction} of ${run} names no CodeBuild build`);
  }
  const source = sourceOf(actions, run);
  const build = await releaseBuild(trust, action.externalExecutionId);
  if (build.branchClass !== job.pipeline) {
    throw new ReleaseError(
      'conflict',
      `build ${build.buildId} is of the ${build.branchClass} class, not of the ${job.pipeline} pipeline ${pipeline} that names it`,
    );
  }
  if (
    source.commit &&
    build.info.resolvedSourceVersion &&
    build.info.resolvedSourceVersion !== source.commit
  ) {
    throw new ReleaseError(
      'conflict',
      `build ${build.buildId} built ${build.info.resolvedSourceVersion}, not the commit of ${run} (${source.commit})`,
    );
  }
  const requestKey = action.outputVariables[WATCHY_PUBLISH_REQUEST];
  const sourceRevision = source.commit ?? build.info.resolvedSourceVersion;
  return {
    buildId: build.buildId,
    project: build.project,
    stagingPrefix: build.stagingPrefix,
    branchClass: build.branchClass,
    branch: { from: 'pipeline', name: source.branch },
    ...(sourceRevision ? { sourceRevision } : {}),
    ...(requestKey ? { requestKey } : {}),
  };
}

/** The build an operator names (`watchy publish --build-id`). */
export async function trustedBuild(trust: BuildTrust, buildId: string): Promise<TrustedBuild> {
  const build = await releaseBuild(trust, buildId);
  const { info } = build;
  let branch: TrustedBranch;
  let sourceRevision = info.resolvedSourceVersion;
  const pipeline = /^codepipeline\/(.+)$/.exec(info.initiator ?? '')?.[1];
  const ref = /^refs\/heads\/(.+)$/.exec(info.sourceVersion ?? '')?.[1];
  if (pipeline !== undefined) {
    const own = trust.pipelineNames[build.branchClass];
    if (pipeline !== own) {
      throw new ReleaseError(
        'conflict',
        `build ${buildId} was started by pipeline ${pipeline}, not the ${build.branchClass} pipeline ${own}`,
      );
    }
    const source = await sourceOfRunThatRan(trust, own, info);
    branch = { from: 'pipeline', name: source.branch };
    sourceRevision = source.commit ?? sourceRevision;
  } else if (ref) {
    branch = { from: 'source-version', name: ref };
  } else if (/^[0-9a-f]{7,40}$/.test(info.sourceVersion ?? '')) {
    branch = { from: 'released-commit' };
    sourceRevision ??= info.sourceVersion;
  } else {
    throw new ReleaseError(
      'conflict',
      `build ${buildId} has no branch: its source version ${JSON.stringify(info.sourceVersion ?? '')} is neither refs/heads/{branch} nor a commit`,
    );
  }
  return {
    buildId: build.buildId,
    project: build.project,
    stagingPrefix: build.stagingPrefix,
    branchClass: build.branchClass,
    branch,
    ...(sourceRevision ? { sourceRevision } : {}),
  };
}

interface ReleaseBuild {
  readonly buildId: string;
  readonly project: string;
  readonly stagingPrefix: string;
  readonly branchClass: BranchClass;
  readonly info: BuildInfo;
}

/** A successful build of a release project, run as that project's role. */
async function releaseBuild(trust: BuildTrust, buildId: string): Promise<ReleaseBuild> {
  const id = parseBuildId(buildId);
  if (!id) {
    throw new ReleaseError(
      'invalid-request',
      `invalid build id ${JSON.stringify(buildId.slice(0, 300))}: expected {project}:{uuid}`,
    );
  }
  const project = trust.releaseProjects[id.project];
  if (!project) {
    throw new ReleaseError(
      'conflict',
      `build ${buildId} is not of a release build project (${Object.keys(trust.releaseProjects).sort().join(', ') || 'none'})`,
    );
  }
  const info = (await trust.builds.get([buildId])).find((b) => b.id === buildId);
  if (!info) throw new ReleaseError('not-found', `build ${buildId} does not exist`);
  if (info.status !== 'SUCCEEDED') {
    throw new ReleaseError(
      'conflict',
      `build ${buildId} did not succeed (${info.status}): only a successful build is published`,
    );
  }
  if (info.serviceRole && roleName(info.serviceRole) !== roleName(project.roleArn)) {
    throw new ReleaseError(
      'conflict',
      `build ${buildId} ran as role ${roleName(info.serviceRole)}, not its project's role ${roleName(project.roleArn)}`,
    );
  }
  return {
    buildId,
    project: id.project,
    stagingPrefix: buildStagingPrefix(project.roleId, id.uuid),
    branchClass: project.branchClass,
    info,
  };
}

/** The Source action's branch and commit of a run. */
function sourceOf(actions: readonly ActionRun[], run: string): { branch: string; commit?: string } {
  const source = latest(actions, PIPELINE_SOURCE_ACTION);
  const branch = source?.outputVariables['BranchName'];
  if (!branch) {
    throw new ReleaseError(
      'not-found',
      `${run} has no branch (no BranchName output of its ${PIPELINE_SOURCE_ACTION} action)`,
    );
  }
  const commit = source.outputVariables['CommitId'];
  return commit ? { branch, commit } : { branch };
}

/** The run of the pipeline whose actions include this build. */
async function sourceOfRunThatRan(
  trust: BuildTrust,
  pipeline: string,
  build: BuildInfo,
): Promise<{ branch: string; commit?: string }> {
  const startedBy = build.startTime?.getTime() ?? Number.POSITIVE_INFINITY;
  for (const run of await trust.pipelines.recent(pipeline, RUNS_SCANNED)) {
    if ((run.startTime?.getTime() ?? 0) > startedBy) continue;
    const commit = build.resolvedSourceVersion;
    if (commit && run.revisions.length > 0 && !run.revisions.includes(commit)) continue;
    const actions = await trust.pipelines.actions(pipeline, run.id);
    if (actions.some((a) => a.externalExecutionId === build.id)) {
      return sourceOf(actions, `pipeline ${pipeline} run ${run.id}`);
    }
  }
  throw new ReleaseError(
    'not-found',
    `build ${build.id} was started by ${pipeline}, but none of its last ${RUNS_SCANNED} runs ran it`,
  );
}

/** The newest execution of an action in a run (a retried action has several). */
function latest(actions: readonly ActionRun[], name: string): ActionRun | undefined {
  return actions
    .filter((a) => a.actionName === name)
    .sort((a, b) => (b.startTime?.getTime() ?? 0) - (a.startTime?.getTime() ?? 0))[0];
}

function roleName(arnOrName: string): string {
  return arnOrName.split('/').pop() ?? arnOrName;
}
