/**
 * The publish Lambda: the one writer of `binaries/` and `state/` and the one holder of kms:Sign.
 *
 *   CodePipeline job (Publish stage): UserParameters `{"pipelineExecutionId": "#{codepipeline.PipelineExecutionId}",
 *     "buildAction": "<static build action name>"}`; publishes what that run's build action staged, on
 *     that run's branch (both read from CodePipeline and CodeBuild, trusted-build.ts); reports
 *     PutJobSuccessResult, or PutJobFailureResult with a one-line message.
 *   Direct (`watchy publish --build-id`): `{"buildId": "<project>:<uuid>", "requestKey"?: "..."}`:
 *     publishes what that build staged, on its branch; returns the outcome or fails with one line.
 *   Pointer operations forwarded by the rollback function: `{"action": "rollback" | "emergency-rollback", ...}`.
 *
 * A caller only ever says which build; never a branch, a commit or whose staging prefix.
 */
import { CloudFrontClient } from '@aws-sdk/client-cloudfront';
import { CodeBuildClient } from '@aws-sdk/client-codebuild';
import {
  CodePipelineClient,
  PutJobFailureResultCommand,
  PutJobSuccessResultCommand,
} from '@aws-sdk/client-codepipeline';
import { KMSClient } from '@aws-sdk/client-kms';
import { S3Client } from '@aws-sdk/client-s3';
import { Logger } from '@aws-lambda-powertools/logger';
import { Metrics } from '@aws-lambda-powertools/metrics';
import type { Context } from 'aws-lambda';
import { CodeBuildRunner } from '@core/bisect/build-runner';
import { CloudFrontInvalidator } from '@core/release/cloudfront-invalidator';
import type { ReleaseDeps } from '@core/release/deps';
import { RELEASE_ENV, RELEASE_METRICS_NAMESPACE, requiredEnv } from '@core/release/environment';
import { oneLine } from '@core/one-line';
import { KmsSigner } from '@core/release/kms-signer';
import { publishBuild, type PublishOutcome, type PublishSettings } from '@core/release/publish/publish';
import { parsePublishBuildInvocation, parsePublishJobParameters } from '@core/release/publish/request';
import { runPointerOperation, type RollbackResult } from '@core/release/rollback/rollback';
import { S3ReleaseStore } from '@core/release/store/store';
import { PowertoolsReleaseTelemetry } from '@core/release/telemetry';
import {
  CodePipelineRuns,
  parsePipelineNames,
  parseReleaseProjects,
  trustedBuild,
  trustedPipelineBuild,
  type BuildTrust,
} from '@core/release/publish/trusted-build';

/** Reports the outcome of a CodePipeline job. */
export interface JobReporter {
  succeed(jobId: string, summary: string): Promise<void>;
  fail(jobId: string, message: string): Promise<void>;
}

export class CodePipelineJobReporter implements JobReporter {
  constructor(private readonly codepipeline: CodePipelineClient) {}

  async succeed(jobId: string, summary: string): Promise<void> {
    await this.codepipeline.send(
      new PutJobSuccessResultCommand({ jobId, executionDetails: { summary: summary.slice(0, 2048) } }),
    );
  }

  async fail(jobId: string, message: string): Promise<void> {
    await this.codepipeline.send(
      new PutJobFailureResultCommand({
        jobId,
        failureDetails: { type: 'JobFailed', message: message.slice(0, 5000) },
      }),
    );
  }
}

export interface CodePipelineJobEvent {
  readonly 'CodePipeline.job': {
    readonly id: string;
    readonly data?: {
      readonly actionConfiguration?: { readonly configuration?: { readonly UserParameters?: string } };
    };
  };
}

export interface PublishHandlerDeps {
  readonly release: ReleaseDeps;
  readonly settings: PublishSettings;
  /** Where the facts about a build come from: CodeBuild, the release pipeline, the release projects. */
  readonly trust: BuildTrust;
  readonly jobs: JobReporter;
  readonly logger?: Pick<Logger, 'info' | 'error'>;
}

export type PublishHandlerResult =
  PublishOutcome | RollbackResult | { readonly jobId: string; readonly failed?: string };

export function isCodePipelineJob(event: unknown): event is CodePipelineJobEvent {
  const job = (event as Record<string, unknown> | null)?.['CodePipeline.job'] as { id?: unknown } | undefined;
  return typeof job === 'object' && job !== null && typeof job.id === 'string';
}

/** The core of the handler: dispatch on the event's shape, run the same cores the CLI runs. */
export async function handlePublishEvent(
  deps: PublishHandlerDeps,
  event: unknown,
): Promise<PublishHandlerResult> {
  if (isCodePipelineJob(event)) return runJob(deps, event);
  if (typeof event === 'object' && event !== null && 'action' in event) {
    const result = await runPointerOperation(deps.release, event);
    deps.logger?.info('pointer operation', { result });
    return result;
  }
  const invocation = parsePublishBuildInvocation(event);
  const build = await trustedBuild(deps.trust, invocation.buildId);
  const outcome = await publishBuild(deps.release, deps.settings, build, invocation.requestKey);
  deps.logger?.info('published', { buildId: build.buildId, results: outcome.results });
  return outcome;
}

async function runJob(deps: PublishHandlerDeps, event: CodePipelineJobEvent): Promise<PublishHandlerResult> {
  const job = event['CodePipeline.job'];
  let outcome: PublishOutcome;
  try {
    const text = job.data?.actionConfiguration?.configuration?.UserParameters;
    if (!text) throw new Error('the Publish action has no UserParameters');
    let parameters: unknown;
    try {
      parameters = JSON.parse(text);
    } catch {
      throw new Error(`UserParameters are not JSON: ${text.slice(0, 200)}`);
    }
    const build = await trustedPipelineBuild(deps.trust, parsePublishJobParameters(parameters));
    outcome = await publishBuild(deps.release, deps.settings, build);
  } catch (error) {
    const message = oneLine(error instanceof Error ? error.message : String(error));
    deps.logger?.error('publish failed', { jobId: job.id, message });
    await deps.jobs.fail(job.id, message);
    return { jobId: job.id, failed: message };
  }
  const summary = outcome.results
    .map(
      (r) =>
        `${r.artifact} ${r.version}: ${r.versioned}, ${r.pointer}${r.metadataVersion ? ` (metadata_version ${r.metadataVersion})` : ''}`,
    )
    .join('; ');
  deps.logger?.info('published', { jobId: job.id, results: outcome.results });
  await deps.jobs.succeed(job.id, summary);
  return { jobId: job.id };
}

const logger = new Logger();
const metrics = new Metrics({
  namespace: process.env[RELEASE_ENV.metricsNamespace] ?? RELEASE_METRICS_NAMESPACE,
});
const s3 = new S3Client({});
const kms = new KMSClient({});
const cloudfront = new CloudFrontClient({});
const codepipeline = new CodePipelineClient({});
const codebuild = new CodeBuildClient({});
let handlerDeps: PublishHandlerDeps | undefined;

function depsFromEnvironment(env: NodeJS.ProcessEnv): PublishHandlerDeps {
  return {
    release: {
      store: new S3ReleaseStore(s3, requiredEnv(env, RELEASE_ENV.bucket)),
      signer: new KmsSigner(kms, requiredEnv(env, RELEASE_ENV.signingKeyArn)),
      invalidator: new CloudFrontInvalidator(cloudfront, requiredEnv(env, RELEASE_ENV.distributionId)),
      telemetry: new PowertoolsReleaseTelemetry(metrics),
    },
    settings: {
      releaseBranch: requiredEnv(env, RELEASE_ENV.releaseBranch),
      integrationBranch: requiredEnv(env, RELEASE_ENV.integrationBranch),
      binaryDistributionUrl: requiredEnv(env, RELEASE_ENV.binaryDistributionUrl),
    },
    trust: {
      builds: new CodeBuildRunner(codebuild),
      pipelines: new CodePipelineRuns(codepipeline),
      releaseProjects: parseReleaseProjects(
        requiredEnv(env, RELEASE_ENV.releaseProjects),
        RELEASE_ENV.releaseProjects,
      ),
      pipelineNames: parsePipelineNames(requiredEnv(env, RELEASE_ENV.pipelines), RELEASE_ENV.pipelines),
    },
    jobs: new CodePipelineJobReporter(codepipeline),
    logger,
  };
}

export async function handler(event: unknown, context: Context): Promise<PublishHandlerResult> {
  logger.addContext(context);
  handlerDeps ??= depsFromEnvironment(process.env);
  // Telemetry writes each metric as its own EMF document at once (singleMetric): nothing to flush here.
  return handlePublishEvent(handlerDeps, event);
}
