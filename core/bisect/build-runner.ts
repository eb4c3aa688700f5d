/**
 * How a bisect starts and reads builds. `CodeBuildRunner` is the real one (StartBuild with a
 * `sourceVersion` and environment overrides, BatchGetBuilds, ListBuildsForProject); tests of the
 * search use an in-process fake behind this same interface, because moto's builds always succeed.
 */
import {
  BatchGetBuildsCommand,
  ListBuildsForProjectCommand,
  StartBuildCommand,
  type Build,
  type CodeBuildClient,
  type SourceType,
} from '@aws-sdk/client-codebuild';

export type BuildStatus = 'IN_PROGRESS' | 'SUCCEEDED' | 'FAILED' | 'FAULT' | 'TIMED_OUT' | 'STOPPED';

/** Where a build that is not started by the pipeline gets its source from. */
export interface SourceOverride {
  /** CodeBuild source type: GITHUB, GITHUB_ENTERPRISE, GITLAB, BITBUCKET. */
  readonly type: string;
  /** Clone URL of the repository. */
  readonly location: string;
  /** CodeConnections connection used to clone. @default the project's own source credentials */
  readonly connectionArn?: string;
}

export interface BuildRequest {
  readonly project: string;
  /** Commit to build. */
  readonly sourceVersion: string;
  /** Environment variable overrides (plain text). */
  readonly environment: Readonly<Record<string, string>>;
  /** Same token, same build: CodeBuild returns the earlier build instead of starting another. */
  readonly idempotencyToken: string;
  /** @default the project's source */
  readonly source?: SourceOverride;
  /** Clone the whole history (commit lists need it). @default the project's clone depth */
  readonly fullClone?: boolean;
}

export interface BuildInfo {
  readonly id: string;
  readonly project: string;
  readonly status: BuildStatus;
  readonly complete: boolean;
  readonly sourceVersion?: string;
  /** The commit the build really checked out. */
  readonly resolvedSourceVersion?: string;
  readonly environment: Readonly<Record<string, string>>;
  readonly logsLink?: string;
  readonly startTime?: Date;
  readonly initiator?: string;
  /** The IAM role the build ran as (CodeBuild reports its ARN). */
  readonly serviceRole?: string;
}

export interface BuildRunner {
  /** Starts a build and returns its id. */
  start(request: BuildRequest): Promise<string>;
  /** The builds with these ids (unknown ids are left out). */
  get(ids: readonly string[]): Promise<BuildInfo[]>;
  /** The project's most recent builds, newest first, at most `limit`. */
  recent(project: string, limit: number): Promise<BuildInfo[]>;
}

const STATUSES: readonly BuildStatus[] = [
  'IN_PROGRESS',
  'SUCCEEDED',
  'FAILED',
  'FAULT',
  'TIMED_OUT',
  'STOPPED',
];

export class CodeBuildRunner implements BuildRunner {
  constructor(private readonly client: CodeBuildClient) {}

  async start(request: BuildRequest): Promise<string> {
    const { source } = request;
    const response = await this.client.send(
      new StartBuildCommand({
        projectName: request.project,
        sourceVersion: request.sourceVersion,
        idempotencyToken: request.idempotencyToken,
        environmentVariablesOverride: Object.entries(request.environment).map(([name, value]) => ({
          name,
          value,
          type: 'PLAINTEXT',
        })),
        ...(source && {
          sourceTypeOverride: source.type as SourceType,
          sourceLocationOverride: source.location,
          ...(source.connectionArn && {
            sourceAuthOverride: { type: 'CODECONNECTIONS', resource: source.connectionArn },
          }),
        }),
        ...(request.fullClone && { gitCloneDepthOverride: 0 }),
      }),
    );
    const id = response.build?.id;
    if (!id) throw new Error(`StartBuild of ${request.project} returned no build id`);
    return id;
  }

  async get(ids: readonly string[]): Promise<BuildInfo[]> {
    const builds: BuildInfo[] = [];
    for (let i = 0; i < ids.length; i += 100) {
      const response = await this.client.send(new BatchGetBuildsCommand({ ids: ids.slice(i, i + 100) }));
      for (const build of response.builds ?? []) builds.push(toBuildInfo(build));
    }
    return builds;
  }

  async recent(project: string, limit: number): Promise<BuildInfo[]> {
    const ids: string[] = [];
    let nextToken: string | undefined;
    do {
      const page = await this.client.send(
        new ListBuildsForProjectCommand({ projectName: project, sortOrder: 'DESCENDING', nextToken }),
      );
      ids.push(...(page.ids ?? []));
      nextToken = page.nextToken;
    } while (nextToken && ids.length < limit);
    const wanted = ids.slice(0, limit);
    const byId = new Map((await this.get(wanted)).map((b) => [b.id, b]));
    return wanted.flatMap((id) => byId.get(id) ?? []);
  }
}

export function toBuildInfo(build: Build): BuildInfo {
  const status = STATUSES.find((s) => s === build.buildStatus) ?? 'IN_PROGRESS';
  const environment: Record<string, string> = {};
  for (const variable of build.environment?.environmentVariables ?? []) {
    if (variable.name && variable.type !== 'SECRETS_MANAGER' && variable.type !== 'PARAMETER_STORE') {
      environment[variable.name] = variable.value ?? '';
    }
  }
  return {
    id: build.id ?? '',
    project: build.projectName ?? '',
    status,
    complete: status !== 'IN_PROGRESS',
    sourceVersion: build.sourceVersion,
    resolvedSourceVersion: build.resolvedSourceVersion,
    environment,
    logsLink: build.logs?.deepLink,
    startTime: build.startTime,
    initiator: build.initiator,
    serviceRole: build.serviceRole,
  };
}
