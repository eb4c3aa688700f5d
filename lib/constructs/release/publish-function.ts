import { Duration, Stack, Validations } from 'aws-cdk-lib';
import type * as cloudfront from 'aws-cdk-lib/aws-cloudfront';
import type * as codebuild from 'aws-cdk-lib/aws-codebuild';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import type * as s3 from 'aws-cdk-lib/aws-s3';
import { Construct } from 'constructs';
import { BINARIES_PREFIX, STAGING_PREFIX } from '@core/artifacts';
import { HISTORY_PREFIX } from '@core/release/history/history';
import type { BranchClass } from '@core/build-env';
import { RELEASE_ENV, RELEASE_METRICS_NAMESPACE } from '@core/release/environment';
import type { SigningKey } from './signing-key';
import { acknowledgeCheckov } from '../common/checkov';
import { dependOnRolePolicyOnly } from '../consumers/monitor-function';
import { acknowledgeWildcardResource } from '../common/nag-wildcard';
import { WatchyFunction } from '../common/watchy-function';
import { adapterEntry } from '../../repo-paths';

/** A build project whose builds the publisher publishes, and the branch class it builds. */
export interface PublishingProject {
  readonly project: codebuild.IProject;
  readonly branchClass: BranchClass;
}

export interface PublishFunctionProps {
  /** The release bucket (`staging/`, `binaries/`, `state/history/`). */
  readonly releaseBucket: s3.IBucket;
  /** The signing key; this function's role becomes its only signer. */
  readonly signingKey: SigningKey;
  /** CloudFront in front of `binaries/`; pointer paths are invalidated on every move. */
  readonly distribution: cloudfront.IDistribution;
  /** BinaryDistributionUrl (`https://…/binaries`), the base of `download_url`. */
  readonly binaryDistributionUrl: string;
  /** Branch whose builds are promoted. */
  readonly releaseBranch: string;
  /** Branch whose builds publish versioned artifacts only. */
  readonly integrationBranch: string;
  /** Physical function name (the CLI invokes it by name). */
  readonly functionName: string;
  /** Physical name of its role (the release bucket policy names it). @default generated */
  readonly roleName?: string;
  /**
   * The build projects that stage releases, with their branch class: the only builds published,
   * each only from the staging prefix of its project's role, and only on its class's branch.
   * @default [] (nothing can be published)
   */
  readonly releaseProjects?: readonly PublishingProject[];
  /** Each branch class's pipeline name (fixed at synth): their runs say which build a Publish action publishes. */
  readonly pipelineNames: Readonly<Record<BranchClass, string>>;
  /** @default Duration.minutes(5) */
  readonly timeout?: Duration;
  /** Enough for one `.gz` in memory plus the SDK. @default 2048 */
  readonly memorySize?: number;
}

/**
 * The publish function and its role: read `staging/`, `binaries/` and `state/history/`; write
 * `binaries/` and `state/history/` (never `staging/`); sign with the signing key (the only role that can); invalidate the
 * distribution; report CodePipeline job results; read the release projects' builds and the release
 * pipeline's runs, which say what it may publish (core/release/publish/trusted-build.ts).
 */
export class PublishFunction extends Construct {
  readonly function: lambda.IFunction;
  readonly role: iam.Role;

  constructor(scope: Construct, id: string, props: PublishFunctionProps) {
    super(scope, id);
    const releaseProjects = props.releaseProjects ?? [];
    const fn = new WatchyFunction(this, 'Publish', {
      entry: adapterEntry('publish'),
      description:
        'Verifies staged builds, writes signed versioned metadata, promotes and rolls back latest pointers',
      timeout: props.timeout ?? Duration.minutes(5),
      memorySize: props.memorySize ?? 2048,
      invocation: { kind: 'async' },
      roleName: props.roleName,
      environment: {
        [RELEASE_ENV.bucket]: props.releaseBucket.bucketName,
        [RELEASE_ENV.signingKeyArn]: props.signingKey.key.keyArn,
        [RELEASE_ENV.distributionId]: props.distribution.distributionId,
        [RELEASE_ENV.binaryDistributionUrl]: props.binaryDistributionUrl,
        [RELEASE_ENV.releaseBranch]: props.releaseBranch,
        [RELEASE_ENV.integrationBranch]: props.integrationBranch,
        [RELEASE_ENV.metricsNamespace]: RELEASE_METRICS_NAMESPACE,
        [RELEASE_ENV.releaseProjects]: Stack.of(this).toJsonString(
          Object.fromEntries(
            releaseProjects.map(({ project, branchClass }) => [
              project.projectName,
              { ...projectRole(project), branchClass },
            ]),
          ),
        ),
        [RELEASE_ENV.pipelines]: JSON.stringify(props.pipelineNames),
      },
    });
    (fn.function.node.defaultChild as lambda.CfnFunction).functionName = props.functionName;
    this.function = fn.function;
    this.role = fn.role;

    const bucket = props.releaseBucket;
    const keys = (prefix: string) => bucket.arnForObjects(`${prefix}/*`);
    this.role.addToPolicy(
      new iam.PolicyStatement({
        sid: 'ReadReleaseObjects',
        actions: ['s3:GetObject'],
        resources: [keys(STAGING_PREFIX), keys(BINARIES_PREFIX), keys(HISTORY_PREFIX)],
      }),
    );
    this.role.addToPolicy(
      new iam.PolicyStatement({
        sid: 'WriteReleasesAndState',
        actions: ['s3:PutObject'],
        resources: [keys(BINARIES_PREFIX), keys(HISTORY_PREFIX)],
      }),
    );
    // Without ListBucket, S3 answers 403 instead of 404 for a missing key, and create-only writes
    // could not tell "absent" from "forbidden".
    this.role.addToPolicy(
      new iam.PolicyStatement({
        sid: 'ListReleaseBucket',
        actions: ['s3:ListBucket'],
        resources: [bucket.bucketArn],
      }),
    );
    bucket.encryptionKey?.grantEncryptDecrypt(this.role);
    props.signingKey.grantSign(this.role);
    this.role.addToPolicy(
      new iam.PolicyStatement({
        sid: 'InvalidatePointers',
        actions: ['cloudfront:CreateInvalidation'],
        resources: [
          Stack.of(this).formatArn({
            service: 'cloudfront',
            region: '',
            resource: 'distribution',
            resourceName: props.distribution.distributionId,
          }),
        ],
      }),
    );
    // What it may publish comes from these two services, never from its caller.
    if (releaseProjects.length > 0) {
      this.role.addToPolicy(
        new iam.PolicyStatement({
          sid: 'ReadReleaseBuilds',
          actions: ['codebuild:BatchGetBuilds'],
          resources: releaseProjects.map(({ project }) => project.projectArn),
        }),
      );
    }
    this.role.addToPolicy(
      new iam.PolicyStatement({
        sid: 'ReadReleasePipelineRuns',
        actions: ['codepipeline:ListActionExecutions', 'codepipeline:ListPipelineExecutions'],
        // By name, not by reference: the pipeline's stack is deployed after this one.
        resources: Object.values(props.pipelineNames).map((name) =>
          Stack.of(this).formatArn({ service: 'codepipeline', resource: name }),
        ),
      }),
    );
    // A policy of its own (not the role's default one), so its wildcard is acknowledged for this
    // statement alone.
    const jobs = new iam.Policy(this, 'PipelineJobResults', {
      statements: [
        new iam.PolicyStatement({
          sid: 'ReportPipelineJobs',
          actions: ['codepipeline:PutJobSuccessResult', 'codepipeline:PutJobFailureResult'],
          resources: ['*'],
        }),
      ],
    });
    jobs.attachToRole(this.role);
    Validations.of(jobs).acknowledge({
      id: 'AwsSolutions-IAM5[Resource::*]',
      reason:
        'CodePipeline PutJobSuccessResult/PutJobFailureResult support no resource-level permissions; a job id is only known to the invoked function.',
    });
    acknowledgeWildcardResource(
      this.role,
      keys(STAGING_PREFIX),
      'Reads (never writes) what builds staged: staging/{build session}/ keys are created per build at run time.',
    );
    acknowledgeWildcardResource(
      this.role,
      keys(BINARIES_PREFIX),
      'The publisher writes every released artifact: versioned and latest keys of all apps live under binaries/.',
    );
    acknowledgeWildcardResource(
      this.role,
      keys(HISTORY_PREFIX),
      'Release histories (state/history/{artifact}.json) are created per artifact at run time; nothing else under state/.',
    );
    dependOnRolePolicyOnly(fn, jobs);
    acknowledgeCheckov(
      fn.function,
      'CKV_AWS_117',
      'Talks only to S3, KMS, CloudFront, CodeBuild and CodePipeline APIs; a VPC would need five endpoints or a NAT and protects nothing here.',
    );
    acknowledgeCheckov(
      fn.function,
      'CKV_AWS_115',
      'Concurrent publishes are safe (create-only and compare-and-swap writes); reserving concurrency would only take from the account pool.',
    );
    acknowledgeCheckov(
      fn.function,
      'CKV_AWS_173',
      'The environment holds the bucket name, key ARN, distribution id, URL, branch and pipeline names, project names and role ids: no secrets; Lambda encrypts it at rest.',
    );
    acknowledgeCheckov(
      fn.logGroup,
      'CKV_AWS_158',
      'Publish logs hold object keys, versions, hashes and one-line errors, no secrets; CloudWatch encrypts them at rest.',
    );
    acknowledgeCheckov(
      fn.deadLetterQueue!,
      'CKV_AWS_27',
      'Dead letters are publish invocations (a build id, a pipeline run id, a staging key), no secrets; SQS-managed SSE encrypts them.',
    );
  }
}

/** The role of a release project: its unique id (the first half of its builds' `aws:userid`) and ARN. */
function projectRole(project: codebuild.IProject): { roleId: string; roleArn: string } {
  const role = project.role;
  if (!(role instanceof iam.Role)) {
    throw new Error(`PublishFunction: release project ${project.node.path} has no role of its own`);
  }
  return { roleId: role.roleId, roleArn: role.roleArn };
}
