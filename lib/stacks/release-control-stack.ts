import { CfnOutput, Stack, type StackProps } from 'aws-cdk-lib';
import type * as cloudfront from 'aws-cdk-lib/aws-cloudfront';
import type * as codebuild from 'aws-cdk-lib/aws-codebuild';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import type * as s3 from 'aws-cdk-lib/aws-s3';
import type * as sns from 'aws-cdk-lib/aws-sns';
import type { Construct } from 'constructs';
import type { BinaryProjectKey, BranchClass } from '@core/build-env';
import { pipelineNames, releaseFunctionNames } from '@core/release/environment';
import type { WatchyConfig } from '@core/config';
import { Bisect, type BisectSource } from '../constructs/release/bisect';
import { BuildNotifications } from '../constructs/operations/notifications';
import { PublishFunction, type PublishingProject } from '../constructs/release/publish-function';
import { releaseWriterRoleNames } from '../constructs/distribution/release-bucket';
import { ReleaseDashboard } from '../constructs/operations/release-dashboard';
import { ReleaseTopic } from '../constructs/operations/release-topic';
import { RollbackFunction } from '../constructs/release/rollback-function';
import { SigningKey } from '../constructs/release/signing-key';

export interface ReleaseControlStackProps extends StackProps {
  /** Prefix of stack and function names (`Watchy`, `Watchy-Prod`). */
  readonly stackPrefix: string;
  readonly source: WatchyConfig['source'];
  readonly releaseControl: WatchyConfig['releaseControl'];
  /** The release bucket (Distribution stack). */
  readonly releaseBucket: s3.IBucket;
  /** CloudFront in front of `binaries/` (Distribution stack). */
  readonly distribution: cloudfront.IDistribution;
  /** BinaryDistributionUrl (`https://…/binaries`), the base of every `download_url`. */
  readonly binaryDistributionUrl: string;
  /** Every build project (Build stack); bisect watches and starts them. @default [] */
  readonly buildProjects?: readonly codebuild.IProject[];
  /** The release branch's binary projects by `{binaryType}-{architecture}` (rollback rebuilds run there). @default none */
  readonly rebuildProjects?: ReadonlyMap<BinaryProjectKey, codebuild.IProject>;
  /** The binary projects of both branch classes: the builds the publisher publishes. @default [] (nothing is published) */
  readonly publishingProjects?: readonly PublishingProject[];
  /** The repository connection (Build stack): bisect lists commits in its own project through it. @default no bisect */
  readonly repository?: BisectSource;
  /** Projects whose failing release-branch builds are bisected. @default the rebuild projects */
  readonly bisectProjects?: readonly codebuild.IProject[];
}

/**
 * Release control: the signing key, publish and rollback functions, the notifications topic, and
 * (added by their constructs below) bisect, the notifier and the dashboard.
 */
export class ReleaseControlStack extends Stack {
  readonly releaseBucket: s3.IBucket;
  readonly topic: sns.ITopic;
  readonly buildProjects: readonly codebuild.IProject[];
  readonly signingKey: SigningKey;
  readonly publishFunction: lambda.IFunction;
  /** Invoke with `{"action": "emergency-rollback", "app": ..., "from": <the live version>, "requestId": ...}` (core/release/rollback/operations.ts). */
  readonly rollbackFunction: lambda.IFunction;
  /** The names each branch class's pipeline must have: the publish function reads their runs. */
  readonly pipelineNames: Readonly<Record<BranchClass, string>>;

  constructor(scope: Construct, id: string, props: ReleaseControlStackProps) {
    super(scope, id, props);
    this.releaseBucket = props.releaseBucket;
    this.buildProjects = props.buildProjects ?? [];
    const names = releaseFunctionNames(props.stackPrefix);
    // The release bucket policy names these roles (Distribution stack): they must be exactly these.
    const writers = releaseWriterRoleNames(props.stackPrefix, this.region);
    this.pipelineNames = pipelineNames(props.stackPrefix);

    this.topic = new ReleaseTopic(this, 'Notifications', {
      emails: props.releaseControl.notificationEmails,
    }).topic;
    this.signingKey = new SigningKey(this, 'SigningKey', {
      alias: `alias/${props.stackPrefix}-release-signing`,
    });
    const publish = new PublishFunction(this, 'Publish', {
      releaseBucket: props.releaseBucket,
      signingKey: this.signingKey,
      distribution: props.distribution,
      binaryDistributionUrl: props.binaryDistributionUrl,
      releaseBranch: props.source.releaseBranch,
      integrationBranch: props.source.integrationBranch,
      functionName: names.publish,
      roleName: writers.publish,
      // The binary projects of both classes stage releases; the publisher trusts their builds and nothing else.
      releaseProjects: props.publishingProjects ?? [],
      pipelineNames: this.pipelineNames,
    });
    this.publishFunction = publish.function;
    this.rollbackFunction = new RollbackFunction(this, 'Rollback', {
      releaseBucket: props.releaseBucket,
      publishFunction: publish.function,
      signingKey: this.signingKey,
      rebuildProjects: Object.fromEntries(props.rebuildProjects ?? []),
      releaseBranch: props.source.releaseBranch,
      functionName: names.rollback,
    }).function;

    const functions = new Map<string, lambda.IFunction>([
      ['publish', this.publishFunction],
      ['rollback', this.rollbackFunction],
    ]);
    // The Pipeline stack's pipelines start with this: the release pipeline is named so
    // (pipelineNames), CloudFormation names the others `<stack>-<logical id>-<suffix>`.
    const pipelineNamePrefix = `${props.stackPrefix}-Pipeline-`;
    if (props.repository) {
      const bisect = new Bisect(this, 'Bisect', {
        releaseBucket: props.releaseBucket,
        topic: this.topic,
        buildProjects: props.bisectProjects ?? [...(props.rebuildProjects?.values() ?? [])],
        source: props.repository,
        releaseBranch: props.source.releaseBranch,
        retries: props.releaseControl.bisectRetries,
        autoRollback: props.releaseControl.autoRollbackOnBisect,
        rollbackFunction: this.rollbackFunction,
        pipelineNamePrefix,
        functionName: `${props.stackPrefix}-bisect`,
        roleName: writers.bisect,
        listRoleName: writers.bisectList,
      });
      functions.set('bisect', bisect.function.function);
      new CfnOutput(this, 'BisectFunctionName', { value: bisect.function.function.functionName });
    }
    const notifications = new BuildNotifications(this, 'BuildNotifications', {
      topic: this.topic,
      buildProjects: this.buildProjects,
      pipelineNamePrefix,
    });
    functions.set('notifier', notifications.function.function);
    const dashboard = new ReleaseDashboard(this, 'Dashboard', {
      dashboardName: `${props.stackPrefix}-Releases`,
      buildProjects: new Map(this.buildProjects.map((p) => [p.node.scope?.node.id ?? p.node.id, p])),
      functions,
    });
    new CfnOutput(this, 'DashboardName', { value: dashboard.dashboard.dashboardName });

    new CfnOutput(this, 'PublishFunctionName', { value: this.publishFunction.functionName });
    new CfnOutput(this, 'RollbackFunctionName', { value: this.rollbackFunction.functionName });
    new CfnOutput(this, 'SigningKeyArn', {
      description: 'Verify release metadata with this key (kms get-public-key)',
      value: this.signingKey.key.keyArn,
    });
    new CfnOutput(this, 'NotificationsTopicArn', { value: this.topic.topicArn });
  }
}
