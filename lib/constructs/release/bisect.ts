import { join } from 'node:path';
import { ArnFormat, Duration, Stack, Validations } from 'aws-cdk-lib';
import * as codebuild from 'aws-cdk-lib/aws-codebuild';
import * as events from 'aws-cdk-lib/aws-events';
import * as targets from 'aws-cdk-lib/aws-events-targets';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import * as logs from 'aws-cdk-lib/aws-logs';
import type * as s3 from 'aws-cdk-lib/aws-s3';
import type * as sns from 'aws-cdk-lib/aws-sns';
import { Construct } from 'constructs';
import { BINARIES_PREFIX } from '@core/artifacts';
import { BUILD_END_STATES } from '@core/build-env';
import { BISECT_ENV, BISECT_PREFIX } from '@core/bisect/contract';
import { CLAIM_LEASE_MS } from '@core/bisect/engine';
import { BUILD_IMAGES, loadBuildSpec } from '../build/build-project';
import { acknowledgeCheckov } from '../common/checkov';
import { dependOnRolePolicyOnly } from '../consumers/monitor-function';
import { acknowledgeWildcardResource } from '../common/nag-wildcard';
import { WatchyFunction } from '../common/watchy-function';
import { REPO_ROOT } from '../../repo-paths';

/**
 * The checkov findings every event-driven release-control function has, each with its reason;
 * `what` names the function, `payload` says what its logs hold.
 */
export function acknowledgeEventFunctionChecks(fn: WatchyFunction, what: string, payload: string): void {
  dependOnRolePolicyOnly(fn);
  acknowledgeCheckov(
    fn.function,
    'CKV_AWS_117',
    `${what} calls only AWS APIs (S3, CodeBuild, SNS, Lambda) over TLS with IAM auth; a VPC would add NAT endpoints and no protection.`,
  );
  acknowledgeCheckov(
    fn.function,
    'CKV_AWS_115',
    `${what} runs once per build or pipeline event (a few an hour); reserving concurrency would take from the account pool and can fail the deployment.`,
  );
  acknowledgeCheckov(
    fn.function,
    'CKV_AWS_173',
    `The environment of ${what} holds names and ARNs only, no secrets; Lambda encrypts it at rest with its service key.`,
  );
  acknowledgeCheckov(
    fn.logGroup,
    'CKV_AWS_158',
    `Logs of ${what}: ${payload}; no secrets. CloudWatch encrypts them at rest with its service key.`,
  );
  if (fn.deadLetterQueue) {
    acknowledgeCheckov(
      fn.deadLetterQueue,
      'CKV_AWS_27',
      `Dead letters of ${what} (EventBridge events naming builds and pipelines) are encrypted at rest with SQS-managed SSE.`,
    );
  }
}

const ROOT = REPO_ROOT;

/** The repository, as the Build stack's SourceConnection exposes it. */
export interface BisectSource {
  /** CodeBuild source type (GITHUB, GITLAB, ...). */
  readonly codeBuildSourceType: string;
  /** HTTPS clone URL. */
  readonly cloneUrl: string;
  /** CodeConnections connection the clone goes through. */
  readonly connectionArn: string;
}

export interface BisectProps {
  /** The release bucket: sessions under `state/bisect/`, latest pointers read for the rollback guard. */
  readonly releaseBucket: s3.IBucket;
  /** End-of-bisect messages go here. */
  readonly topic: sns.ITopic;
  /** Projects whose failing release-branch builds are bisected (and whose verify builds bisect starts). */
  readonly buildProjects: readonly codebuild.IProject[];
  readonly source: BisectSource;
  /** Only builds of this branch are bisected (config source.releaseBranch). */
  readonly releaseBranch: string;
  /** Builds started by these pipelines count as release-branch builds. @default [] */
  readonly releasePipelineNames?: readonly string[];
  /**
   * Pipelines whose runs are asked for the branch of a build they started (the Source action's
   * BranchName), when the build does not carry WATCHY_BRANCH. @default none: such builds are not bisected
   */
  readonly pipelineNamePrefix?: string;
  /** Retries of a failing step before it counts as bad (config releaseControl.bisectRetries). */
  readonly retries: number;
  /** Emergency-rollback after a found bisect (config releaseControl.autoRollbackOnBisect). */
  readonly autoRollback: boolean;
  /** The rollback function (part of release control), invoked for the automatic emergency rollback. @default no rollback */
  readonly rollbackFunction?: lambda.IFunction;
  /** Nuitka apps that have release pointers (catalog names). @default any app: its latest pointer decides */
  readonly rollbackApps?: readonly string[];
  /** Physical name of the bisect function (`watchy bisect` invokes it by name). @default generated */
  readonly functionName?: string;
  /** Physical name of the bisect function's role (the release bucket policy names it). @default generated */
  readonly roleName?: string;
  /** Physical name of the list-commits project's role (the release bucket policy names it). @default generated */
  readonly listRoleName?: string;
  /** Retention of the bisect function's and the list-commits builds' logs. @default logs.RetentionDays.THREE_MONTHS */
  readonly logRetention?: logs.RetentionDays;
}

/**
 * Bisect: the Lambda that finds the first bad commit of a failing release-branch build (binary
 * search over verify-only CodeBuild builds, sessions in S3 with compare-and-swap), its own small
 * CodeBuild project that lists the commits of a range with git, and the EventBridge rule that
 * delivers every ended build of those projects to the Lambda.
 */
export class Bisect extends Construct {
  readonly function: WatchyFunction;
  readonly listProject: codebuild.Project;
  readonly rule: events.Rule;

  constructor(scope: Construct, id: string, props: BisectProps) {
    super(scope, id);
    const bucket = props.releaseBucket;
    const logRetention = props.logRetention ?? logs.RetentionDays.THREE_MONTHS;

    // The list-commits project: a full clone at the bad commit, `git log`, one object written.
    const key = new kms.Key(this, 'ListKey', {
      description: 'Encrypts the bisect list-commits build output',
      enableKeyRotation: true,
    });
    const listLogs = new logs.LogGroup(this, 'ListLogs', { retention: logRetention });
    acknowledgeCheckov(
      listLogs,
      'CKV_AWS_158',
      'Logs of the list-commits builds: git output of public commit ids and counts, no secrets; CloudWatch encrypts them at rest with its service key.',
    );
    this.listProject = new codebuild.Project(this, 'ListCommits', {
      description: 'Lists the commits of a bisect range (git log --first-parent) for the bisect function',
      buildSpec: loadBuildSpec(join(ROOT, 'buildspecs', 'bisect-commits.yml')).buildSpec,
      environment: { buildImage: BUILD_IMAGES.arm64, computeType: codebuild.ComputeType.SMALL },
      encryptionKey: key,
      logging: { cloudWatch: { logGroup: listLogs } },
      timeout: Duration.minutes(15),
      queuedTimeout: Duration.hours(1),
    });
    const cfn = this.listProject.node.defaultChild as codebuild.CfnProject;
    cfn.addPropertyOverride('Source.Type', props.source.codeBuildSourceType);
    cfn.addPropertyOverride('Source.Location', props.source.cloneUrl);
    cfn.addPropertyOverride('Source.GitCloneDepth', 0);
    cfn.addPropertyOverride('Source.ReportBuildStatus', false);
    cfn.addPropertyOverride('Source.Auth', { Type: 'CODECONNECTIONS', Resource: props.source.connectionArn });
    this.listProject.addToRolePolicy(
      new iam.PolicyStatement({
        sid: 'CloneThroughTheConnection',
        actions: [
          'codeconnections:GetConnectionToken',
          'codeconnections:GetConnection',
          'codeconnections:UseConnection',
        ],
        resources: [props.source.connectionArn],
      }),
    );
    const commitLists = bucket.arnForObjects(`${BISECT_PREFIX}/commits/*`);
    this.listProject.addToRolePolicy(
      new iam.PolicyStatement({
        sid: 'WriteCommitLists',
        actions: ['s3:PutObject'],
        resources: [commitLists],
      }),
    );
    const listRole = this.listProject.role!;
    if (props.listRoleName) (listRole.node.defaultChild as iam.CfnRole).roleName = props.listRoleName;
    acknowledgeWildcardResource(
      listRole,
      commitLists,
      'Commit lists are written per bisect session under state/bisect/commits/ (the key is the session id); nothing else in the bucket.',
    );
    const stack = Stack.of(this);
    acknowledgeWildcardResource(
      listRole,
      stack.formatArn({
        service: 'codebuild',
        resource: 'report-group',
        resourceName: `${this.listProject.projectName}-*`,
      }),
      "CodeBuild's built-in grant for report groups named after this project (it creates none).",
    );
    acknowledgeWildcardResource(
      listRole,
      `${stack.formatArn({
        service: 'logs',
        resource: 'log-group',
        resourceName: `/aws/codebuild/${this.listProject.projectName}`,
        arnFormat: ArnFormat.COLON_RESOURCE_NAME,
      })}:*`,
      "CodeBuild's built-in grant for log streams of the project's default log group, named per build.",
    );
    Validations.of(listRole).acknowledge({
      id: `AwsSolutions-IAM5[Resource::<${Stack.of(this).getLogicalId(listLogs.node.defaultChild as logs.CfnLogGroup)}.Arn>:*]`,
      reason:
        'Log streams of this project are created per build with generated names inside its own log group.',
    });
    Validations.of(listRole).acknowledge({
      id: 'AwsSolutions-IAM5[Action::kms:GenerateDataKey*]',
      reason: "Encrypting this project's build output with its own key only (GenerateDataKey variants).",
    });
    Validations.of(listRole).acknowledge({
      id: 'AwsSolutions-IAM5[Action::kms:ReEncrypt*]',
      reason: "Re-encryption under this project's own key only.",
    });

    const buildProjectNames = props.buildProjects.map((p) => p.projectName);
    this.function = new WatchyFunction(this, 'Function', {
      entry: join(ROOT, 'lambda', 'bisect', 'index.ts'),
      description: 'Bisects failing release builds: verify-only CodeBuild builds, sessions in S3',
      invocation: { kind: 'async' },
      roleName: props.roleName,
      // Shorter than the claim lease: a claim older than the lease is from an invocation that has ended.
      timeout: Duration.seconds(CLAIM_LEASE_MS / 1000 - 30),
      logRetention,
      environment: {
        [BISECT_ENV.bucket]: bucket.bucketName,
        [BISECT_ENV.listProject]: this.listProject.projectName,
        [BISECT_ENV.projects]: Stack.of(this).toJsonString(buildProjectNames),
        [BISECT_ENV.retries]: String(props.retries),
        [BISECT_ENV.autoRollback]: String(props.autoRollback),
        [BISECT_ENV.topicArn]: props.topic.topicArn,
        [BISECT_ENV.releaseBranch]: props.releaseBranch,
        [BISECT_ENV.releasePipelines]: JSON.stringify(props.releasePipelineNames ?? []),
        ...(props.rollbackApps && { [BISECT_ENV.rollbackApps]: JSON.stringify(props.rollbackApps) }),
        ...(props.pipelineNamePrefix && { [BISECT_ENV.pipelinePrefix]: props.pipelineNamePrefix }),
        ...(props.rollbackFunction && { [BISECT_ENV.rollbackFunction]: props.rollbackFunction.functionName }),
      },
    });
    acknowledgeEventFunctionChecks(
      this.function,
      'the bisect function',
      'build ids, commit ids and session states',
    );
    const fn = this.function.function;
    if (props.functionName) (fn.node.defaultChild as lambda.CfnFunction).functionName = props.functionName;
    const role = this.function.role;

    const sessions = bucket.arnForObjects(`${BISECT_PREFIX}/*`);
    role.addToPolicy(
      new iam.PolicyStatement({
        sid: 'BisectSessions',
        actions: ['s3:GetObject', 's3:PutObject'],
        resources: [sessions],
      }),
    );
    role.addToPolicy(
      new iam.PolicyStatement({
        sid: 'ListBisectSessions',
        actions: ['s3:ListBucket'],
        resources: [bucket.bucketArn],
        conditions: { StringLike: { 's3:prefix': [`${BISECT_PREFIX}/*`] } },
      }),
    );
    acknowledgeWildcardResource(
      role,
      sessions,
      'Bisect sessions and commit lists are documents named by session id under state/bisect/ only.',
    );
    if (props.rollbackFunction && props.autoRollback) {
      const pointers = bucket.arnForObjects(`${BINARIES_PREFIX}/*/watchy-*.json`);
      role.addToPolicy(
        new iam.PolicyStatement({
          sid: 'ReadLatestMetadata',
          actions: ['s3:GetObject'],
          resources: [pointers],
        }),
      );
      acknowledgeWildcardResource(
        role,
        pointers,
        "Read-only: the latest metadata of the failing build's app, to roll back only a release built from a bad commit.",
      );
      props.rollbackFunction.grantInvoke(role);
      acknowledgeWildcardResource(
        role,
        `${props.rollbackFunction.functionArn}:*`,
        'Invoking any version or alias of the rollback function (the Lambda invoke grant), for the automatic emergency rollback.',
      );
    }
    if (props.pipelineNamePrefix) {
      const pipelines = Stack.of(this).formatArn({
        service: 'codepipeline',
        resource: `${props.pipelineNamePrefix}*`,
      });
      role.addToPolicy(
        new iam.PolicyStatement({
          sid: 'BranchOfPipelineBuilds',
          actions: ['codepipeline:ListPipelineExecutions', 'codepipeline:ListActionExecutions'],
          resources: [pipelines],
        }),
      );
      acknowledgeWildcardResource(
        role,
        pipelines,
        `Read-only run history of this platform's pipelines (names start with ${props.pipelineNamePrefix}, deployed after this stack): the branch of a failing build.`,
      );
    }
    props.topic.grantPublish(role);
    // An encrypted topic grants its key's GenerateDataKey* with the publish permission.
    Validations.of(role).acknowledge({
      id: 'AwsSolutions-IAM5[Action::kms:GenerateDataKey*]',
      reason: "Publishing to the encrypted notifications topic: data keys of that topic's own key only.",
    });
    const projectArns = [...props.buildProjects.map((p) => p.projectArn), this.listProject.projectArn];
    role.addToPolicy(
      new iam.PolicyStatement({
        sid: 'VerifyBuilds',
        actions: ['codebuild:StartBuild', 'codebuild:BatchGetBuilds', 'codebuild:ListBuildsForProject'],
        resources: projectArns,
      }),
    );

    this.rule = new events.Rule(this, 'BuildEnded', {
      description: 'Every ended build of the bisected projects and of the list-commits project',
      eventPattern: {
        source: ['aws.codebuild'],
        detailType: ['CodeBuild Build State Change'],
        detail: {
          'build-status': [...BUILD_END_STATES],
          'project-name': [...buildProjectNames, this.listProject.projectName],
        },
      },
    });
    this.rule.addTarget(
      new targets.LambdaFunction(fn, {
        deadLetterQueue: this.function.deadLetterQueue,
        retryAttempts: 4,
        maxEventAge: Duration.hours(2),
      }),
    );
  }
}
