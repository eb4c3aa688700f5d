/**
 * Starting the release builds of a pushed commit of a repository that is not connected through
 * CodeConnections: CodeBuild StartBuild of each release project of the branch class, at the
 * commit (`sourceVersion`), from the configured clone URL (never one from the payload), in release
 * mode, with the version every build of the push shares (docs/decisions/013-webhooks.md).
 */
import { createHash } from 'node:crypto';
import {
  StartBuildCommand,
  type CodeBuildClient,
  type StartBuildCommandInput,
} from '@aws-sdk/client-codebuild';
import {
  WATCHY_APP,
  WATCHY_ARCH,
  WATCHY_BRANCH,
  WATCHY_MODE,
  WATCHY_SOURCE_URL,
  WATCHY_VERSION,
} from '../build-env';
import type { WebhookBuild, WebhookSource } from './contract';

export interface ReleaseBuildRequest {
  /** The delivery that asked: the idempotency token of each build derives from it. */
  readonly deliveryId: string;
  readonly commit: string;
  readonly branch: string;
  readonly version: string;
  readonly source: Extract<WebhookSource['start'], { kind: 'codebuild' }>;
  readonly builds: readonly WebhookBuild[];
}

export interface StartedReleaseBuild {
  readonly project: string;
  readonly app: string;
  readonly architecture: string;
  readonly buildId: string;
}

export interface ReleaseBuildStarter {
  start(request: ReleaseBuildRequest): Promise<StartedReleaseBuild[]>;
}

/** Some builds did not start; `started` are those that did. */
export class ReleaseStartError extends Error {
  override readonly name = 'ReleaseStartError';
  constructor(
    message: string,
    readonly started: readonly StartedReleaseBuild[],
  ) {
    super(message);
  }
}

/** The StartBuild request of each build (pure). */
export function startBuildInputs(request: ReleaseBuildRequest): StartBuildCommandInput[] {
  return request.builds.map((build) => ({
    projectName: build.project,
    sourceVersion: request.commit,
    sourceTypeOverride: request.source.sourceType,
    sourceLocationOverride: request.source.cloneUrl,
    // Same delivery, same build: a retried StartBuild returns the build it already started.
    idempotencyToken: createHash('sha256')
      .update(`${request.deliveryId}\n${build.project}\n${build.app}`)
      .digest('hex')
      .slice(0, 32),
    environmentVariablesOverride: Object.entries({
      [WATCHY_MODE]: 'release',
      [WATCHY_APP]: build.app,
      [WATCHY_ARCH]: build.architecture,
      [WATCHY_VERSION]: request.version,
      [WATCHY_BRANCH]: request.branch,
      [WATCHY_SOURCE_URL]: request.source.cloneUrl.replace(/\.git$/, ''),
    }).map(([name, value]) => ({ name, value, type: 'PLAINTEXT' as const })),
  }));
}

export class CodeBuildReleaseStarter implements ReleaseBuildStarter {
  constructor(private readonly client: CodeBuildClient) {}

  async start(request: ReleaseBuildRequest): Promise<StartedReleaseBuild[]> {
    const started: StartedReleaseBuild[] = [];
    const inputs = startBuildInputs(request);
    for (const [i, input] of inputs.entries()) {
      const build = request.builds[i]!;
      let buildId: string | undefined;
      try {
        buildId = (await this.client.send(new StartBuildCommand(input))).build?.id;
      } catch (error) {
        throw new ReleaseStartError(
          `StartBuild of ${build.project} (${build.app}, ${build.architecture}) failed: ${(error as Error).message}`,
          started,
        );
      }
      if (!buildId)
        throw new ReleaseStartError(`StartBuild of ${build.project} returned no build id`, started);
      started.push({ project: build.project, app: build.app, architecture: build.architecture, buildId });
    }
    return started;
  }
}
