import { Duration, Stack, Validations } from 'aws-cdk-lib';
import type * as codebuild from 'aws-cdk-lib/aws-codebuild';
import * as events from 'aws-cdk-lib/aws-events';
import * as targets from 'aws-cdk-lib/aws-events-targets';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as logs from 'aws-cdk-lib/aws-logs';
import type * as sns from 'aws-cdk-lib/aws-sns';
import { Construct } from 'constructs';
import { NOTIFIER_ENV, NOTIFIER_METRICS_NAMESPACE } from '@core/notifications/contract';
import { BUILD_END_STATES } from '@core/build-env';
import { PIPELINE_END_STATES } from '@core/notifications/format';
import { acknowledgeEventFunctionChecks } from '../release/bisect';
import { acknowledgeWildcardResource } from '../common/nag-wildcard';
import { WatchyFunction } from '../common/watchy-function';
import { adapterEntry } from '../../repo-paths';

export interface BuildNotificationsProps {
  /** Messages are published here (the release control topic). */
  readonly topic: sns.ITopic;
  /** Projects whose ended builds are announced. */
  readonly buildProjects: readonly codebuild.IProject[];
  /**
   * Pipelines whose ended executions are announced: names starting with this prefix (the pipeline
   * stack is deployed after release control, so names are matched, not referenced).
   */
  readonly pipelineNamePrefix: string;
  /** @default logs.RetentionDays.THREE_MONTHS */
  readonly logRetention?: logs.RetentionDays;
}

/**
 * Build and pipeline notifications: EventBridge rules on ended CodeBuild builds and CodePipeline
 * executions, and the notifier Lambda that turns each event into one SNS message.
 */
export class BuildNotifications extends Construct {
  readonly function: WatchyFunction;
  readonly buildRule: events.Rule;
  readonly pipelineRule: events.Rule;

  constructor(scope: Construct, id: string, props: BuildNotificationsProps) {
    super(scope, id);
    this.function = new WatchyFunction(this, 'Function', {
      entry: adapterEntry('notifier'),
      description: 'Announces ended builds and pipeline executions on the notifications topic',
      invocation: { kind: 'async' },
      ...(props.logRetention && { logRetention: props.logRetention }),
      environment: {
        [NOTIFIER_ENV.topicArn]: props.topic.topicArn,
        [NOTIFIER_ENV.metricsNamespace]: NOTIFIER_METRICS_NAMESPACE,
      },
    });
    acknowledgeEventFunctionChecks(this.function, 'the notifier', 'event summaries and message ids');
    const fn = this.function.function;
    const role = this.function.role;
    props.topic.grantPublish(role);
    // An encrypted topic grants its key's GenerateDataKey* with the publish permission.
    Validations.of(role).acknowledge({
      id: 'AwsSolutions-IAM5[Action::kms:GenerateDataKey*]',
      reason: "Publishing to the encrypted notifications topic: data keys of that topic's own key only.",
    });
    if (props.buildProjects.length > 0) {
      role.addToPolicy(
        new iam.PolicyStatement({
          sid: 'ReadBuildCommit',
          actions: ['codebuild:BatchGetBuilds'],
          resources: props.buildProjects.map((p) => p.projectArn),
        }),
      );
    }
    const stack = Stack.of(this);
    const pipelines = stack.formatArn({ service: 'codepipeline', resource: `${props.pipelineNamePrefix}*` });
    role.addToPolicy(
      new iam.PolicyStatement({
        sid: 'ReadExecutionRevision',
        actions: ['codepipeline:GetPipelineExecution'],
        resources: [pipelines],
      }),
    );
    acknowledgeWildcardResource(
      role,
      pipelines,
      `Read-only GetPipelineExecution on this platform's pipelines (names start with ${props.pipelineNamePrefix}); they are deployed after this stack.`,
    );

    const target = new targets.LambdaFunction(fn, {
      deadLetterQueue: this.function.deadLetterQueue,
      retryAttempts: 4,
      maxEventAge: Duration.hours(2),
    });
    this.buildRule = new events.Rule(this, 'BuildEnded', {
      description: 'Ended builds of the platform projects',
      eventPattern: {
        source: ['aws.codebuild'],
        detailType: ['CodeBuild Build State Change'],
        detail: {
          'build-status': [...BUILD_END_STATES],
          'project-name': props.buildProjects.map((p) => p.projectName),
        },
      },
      targets: [target],
    });
    this.pipelineRule = new events.Rule(this, 'PipelineEnded', {
      description: 'Ended executions of the platform pipelines',
      eventPattern: {
        source: ['aws.codepipeline'],
        detailType: ['CodePipeline Pipeline Execution State Change'],
        detail: {
          state: [...PIPELINE_END_STATES],
          pipeline: [{ prefix: props.pipelineNamePrefix }],
        },
      },
      targets: [target],
    });
  }
}
