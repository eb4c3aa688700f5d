/**
 * The notifier Lambda: EventBridge CodeBuild and CodePipeline state changes in, one SNS message
 * each out, plus a `PipelineExecutions` metric per ended pipeline run (the dashboard's pipeline
 * widget). Bisect builds are left to the bisect's own message.
 */
import { MetricUnit, Metrics } from '@aws-lambda-powertools/metrics';
import { BatchGetBuildsCommand, CodeBuildClient } from '@aws-sdk/client-codebuild';
import { CodePipelineClient, GetPipelineExecutionCommand } from '@aws-sdk/client-codepipeline';
import { SNSClient } from '@aws-sdk/client-sns';
import {
  commitOfBuildEvent,
  formatBuildEvent,
  formatPipelineEvent,
  isBisectBuild,
  parseNotifierEvent,
  type Message,
  type PipelineRevision,
} from '@core/notifications/format';
import {
  NOTIFIER_ENV,
  NOTIFIER_METRICS_NAMESPACE,
  PIPELINE_EXECUTIONS_METRIC,
} from '@core/notifications/contract';
import { publishMessage } from '@core/notifications/publish';

export { NOTIFIER_ENV, NOTIFIER_METRICS_NAMESPACE } from '@core/notifications/contract';

export interface NotifierDeps {
  readonly publish: (message: Message) => Promise<string>;
  /** The commit a build checked out (BatchGetBuilds resolvedSourceVersion). @default none */
  readonly buildCommit?: (buildId: string) => Promise<string | undefined>;
  /** The source revision of a pipeline execution (GetPipelineExecution). @default none */
  readonly pipelineRevision?: (
    pipeline: string,
    executionId: string,
  ) => Promise<PipelineRevision | undefined>;
  /** Counts an ended pipeline execution. @default none */
  readonly pipelineEnded?: (pipeline: string, state: string) => void;
}

export type NotifyResult =
  { readonly published: string; readonly subject: string } | { readonly skipped: string };

/** The pure core: a raw event in, at most one message published. */
export async function notifyEvent(deps: NotifierDeps, raw: unknown): Promise<NotifyResult> {
  const event = parseNotifierEvent(raw);
  let message: Message;
  if (event.source === 'aws.codebuild') {
    if (isBisectBuild(event)) return { skipped: 'a bisect build: the bisect reports when it ends' };
    const id = event.detail['build-id'];
    const commit = commitOfBuildEvent(event) ?? (await lookup(() => deps.buildCommit?.(id)));
    message = formatBuildEvent(event, commit);
  } else {
    const { pipeline, state } = event.detail;
    const revision = await lookup(() => deps.pipelineRevision?.(pipeline, event.detail['execution-id']));
    deps.pipelineEnded?.(pipeline, state);
    message = formatPipelineEvent(event, revision);
  }
  return { published: await deps.publish(message), subject: message.subject };
}

/** Enrichment is best effort: a message without the commit beats no message. */
async function lookup<T>(fn: () => Promise<T | undefined> | undefined): Promise<T | undefined> {
  try {
    return await fn();
  } catch {
    return undefined;
  }
}

const sns = new SNSClient({});
const codebuild = new CodeBuildClient({});
const codepipeline = new CodePipelineClient({});
const metrics = new Metrics({ namespace: NOTIFIER_METRICS_NAMESPACE, serviceName: 'notifier' });

export function awsNotifierDeps(topicArn: string): NotifierDeps {
  return {
    publish: (message) => publishMessage(sns, topicArn, message),
    buildCommit: async (id) => {
      const response = await codebuild.send(new BatchGetBuildsCommand({ ids: [id] }));
      return response.builds?.[0]?.resolvedSourceVersion;
    },
    pipelineRevision: async (pipeline, executionId) => {
      const response = await codepipeline.send(
        new GetPipelineExecutionCommand({ pipelineName: pipeline, pipelineExecutionId: executionId }),
      );
      const revision = response.pipelineExecution?.artifactRevisions?.[0];
      return revision && { revisionId: revision.revisionId, summary: revision.revisionSummary };
    },
    pipelineEnded: (pipeline, state) => {
      const metric = metrics.singleMetric();
      metric.addDimension('pipeline', pipeline);
      metric.addDimension('state', state);
      metric.addMetric(PIPELINE_EXECUTIONS_METRIC, MetricUnit.Count, 1);
    },
  };
}

let deps: NotifierDeps | undefined;

export async function handler(event: unknown): Promise<NotifyResult> {
  const topicArn = process.env[NOTIFIER_ENV.topicArn];
  if (!topicArn) throw new Error(`environment variable ${NOTIFIER_ENV.topicArn} is not set`);
  deps ??= awsNotifierDeps(topicArn);
  return notifyEvent(deps, event);
}
