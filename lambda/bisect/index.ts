/**
 * The bisect Lambda. Invoked by EventBridge on every completed build of the bisected projects and
 * of its own list-commits project, and by `watchy bisect` (start, status). The event only names a
 * build: what the build was (project, commit, status, environment) is read back with BatchGetBuilds.
 */
import { CodeBuildClient } from '@aws-sdk/client-codebuild';
import { CodePipelineClient } from '@aws-sdk/client-codepipeline';
import { LambdaClient } from '@aws-sdk/client-lambda';
import { S3Client } from '@aws-sdk/client-s3';
import { SNSClient } from '@aws-sdk/client-sns';
import { z } from 'zod';
import { CodeBuildRunner, type SourceOverride } from '@core/bisect/build-runner';
import { BISECT_ENV, buildIdOf } from '@core/bisect/contract';
import { handleBuild, startBisect, type AutoStartPolicy, type BisectDeps } from '@core/bisect/engine';
import { PipelineBranchResolver } from '@core/bisect/pipeline-branch';
import { summarizeSession, type BisectResponse } from '@core/bisect/status';
import { SessionStore } from '@core/bisect/session-store';
import { invokeEmergencyRollback } from '@core/release/rollback/invoke';
import { publishMessage } from '@core/notifications/publish';
import { rollbackIfLive } from './rollback';

const BuildEventSchema = z.object({
  source: z.literal('aws.codebuild'),
  'detail-type': z.literal('CodeBuild Build State Change'),
  detail: z.object({
    'build-id': z.string().min(1).max(1000),
    'project-name': z.string().min(1).max(255),
    'build-status': z.string(),
  }),
});

const StartSchema = z.strictObject({
  action: z.literal('start'),
  project: z.string().min(1).max(255),
  good: z.string().min(1).max(100),
  bad: z.string().min(1).max(100),
  environment: z.record(z.string(), z.string().max(100)).optional(),
  initiator: z.string().max(200).optional(),
  /** @default the deployment's releaseControl.bisectRetries */
  retries: z.number().int().min(0).max(5).optional(),
});

const StatusSchema = z.strictObject({
  action: z.literal('status'),
  id: z.string().max(100).optional(),
});

export const BisectEventSchema = z.union([BuildEventSchema, StartSchema, StatusSchema]);
export type BisectEvent = z.input<typeof BisectEventSchema>;

export interface BisectConfig {
  readonly policy: AutoStartPolicy;
}

/** The pure core: a parsed event in, the outcome out. */
export async function processBisectEvent(
  deps: BisectDeps,
  config: BisectConfig,
  raw: unknown,
): Promise<BisectResponse> {
  const parsed = BisectEventSchema.safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new Error(
      `invalid bisect event: ${issue ? `${issue.path.join('.') || '(root)'}: ${issue.message}` : 'unknown'}`,
    );
  }
  const event = parsed.data;
  if ('detail' in event) {
    const id = buildIdOf(event.detail['build-id']);
    const [build] = await deps.runner.get([id]);
    if (!build) return { outcome: 'ignored', reason: `build ${id} not found` };
    const outcome = await handleBuild(deps, build, config.policy);
    return outcome.kind === 'ignored'
      ? { outcome: 'ignored', reason: outcome.reason }
      : { outcome: outcome.kind, session: summarizeSession(outcome.session) };
  }
  if (event.action === 'status') {
    const ids = event.id ? [event.id] : await deps.store.list();
    const sessions = (await Promise.all(ids.map((id) => deps.store.get(id)))).flatMap((s) =>
      s ? [s.value] : [],
    );
    if (event.id && sessions.length === 0) throw new Error(`no bisect session ${event.id}`);
    return { sessions: sessions.map(summarizeSession) };
  }
  const session = await startBisect(deps, {
    project: event.project,
    good: event.good,
    bad: event.bad,
    environment: event.environment,
    trigger: { kind: 'manual', initiator: event.initiator },
    retries: event.retries ?? config.policy.retries,
    autoRollback: config.policy.autoRollback,
  });
  return { outcome: 'started', session: summarizeSession(session) };
}

/** Reads the Lambda's configuration from its environment (set by lib/constructs/release/bisect.ts). */
export function configFromEnv(env: NodeJS.ProcessEnv): {
  bucket: string;
  listProject: string;
  topicArn: string;
  rollbackFunction?: string;
  rollbackApps?: string[];
  pipelinePrefix?: string;
  source?: SourceOverride;
  policy: AutoStartPolicy;
} {
  const need = (name: string) => {
    const value = env[name];
    if (!value) throw new Error(`environment variable ${name} is not set`);
    return value;
  };
  const list = (name: string) => JSON.parse(env[name] ?? '[]') as string[];
  const sourceType = env[BISECT_ENV.sourceType];
  const sourceLocation = env[BISECT_ENV.sourceLocation];
  return {
    bucket: need(BISECT_ENV.bucket),
    listProject: need(BISECT_ENV.listProject),
    topicArn: need(BISECT_ENV.topicArn),
    rollbackFunction: env[BISECT_ENV.rollbackFunction] || undefined,
    ...(env[BISECT_ENV.rollbackApps] && { rollbackApps: list(BISECT_ENV.rollbackApps) }),
    ...(env[BISECT_ENV.pipelinePrefix] && { pipelinePrefix: env[BISECT_ENV.pipelinePrefix] }),
    ...(sourceType &&
      sourceLocation && {
        source: {
          type: sourceType,
          location: sourceLocation,
          ...(env[BISECT_ENV.connectionArn] && { connectionArn: env[BISECT_ENV.connectionArn] }),
        },
      }),
    policy: {
      projects: list(BISECT_ENV.projects),
      releaseBranch: need(BISECT_ENV.releaseBranch),
      releasePipelines: list(BISECT_ENV.releasePipelines),
      retries: Number(need(BISECT_ENV.retries)),
      autoRollback: env[BISECT_ENV.autoRollback] === 'true',
    },
  };
}

const s3 = new S3Client({});
const sns = new SNSClient({});
const lambda = new LambdaClient({});
const codebuild = new CodeBuildClient({});
const codepipeline = new CodePipelineClient({});
let runtime: { deps: BisectDeps; config: BisectConfig } | undefined;

function init(): { deps: BisectDeps; config: BisectConfig } {
  const config = configFromEnv(process.env);
  const deps: BisectDeps = {
    store: new SessionStore(s3, config.bucket),
    runner: new CodeBuildRunner(codebuild),
    listProject: config.listProject,
    ...(config.source && { source: config.source }),
    notify: async (notification) => {
      await publishMessage(sns, config.topicArn, notification);
    },
    ...(config.rollbackFunction && {
      rollback: (session) =>
        rollbackIfLive(
          {
            s3,
            bucket: config.bucket,
            apps: config.rollbackApps,
            emergencyRollback: (request) =>
              invokeEmergencyRollback(lambda, config.rollbackFunction!, request),
          },
          session,
        ),
    }),
  };
  const resolver = config.pipelinePrefix && new PipelineBranchResolver(codepipeline, config.pipelinePrefix);
  const policy: AutoStartPolicy = resolver
    ? { ...config.policy, resolveBranch: (build) => resolver.branchOf(build) }
    : config.policy;
  return { deps, config: { policy } };
}

export async function handler(event: unknown): Promise<BisectResponse> {
  runtime ??= init();
  return processBisectEvent(runtime.deps, runtime.config, event);
}
