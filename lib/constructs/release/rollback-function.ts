import { Duration } from 'aws-cdk-lib';
import type * as codebuild from 'aws-cdk-lib/aws-codebuild';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import type * as s3 from 'aws-cdk-lib/aws-s3';
import { Construct } from 'constructs';
import { BINARIES_PREFIX } from '@core/artifacts';
import { HISTORY_PREFIX } from '@core/release/history/history';
import { RELEASE_ENV } from '@core/release/environment';
import { acknowledgeCheckov } from '../common/checkov';
import { dependOnRolePolicyOnly } from '../consumers/monitor-function';
import { acknowledgeWildcardResource } from '../common/nag-wildcard';
import type { SigningKey } from './signing-key';
import { WatchyFunction } from '../common/watchy-function';
import { adapterEntry } from '../../repo-paths';

export interface RollbackFunctionProps {
  /** The release bucket; this function only reads `binaries/` and `state/history/`. */
  readonly releaseBucket: s3.IBucket;
  /** The publish function, which moves pointers (it alone holds the signing key). */
  readonly publishFunction: lambda.IFunction;
  /** The release branch: a rebuild is of it (its WATCHY_BRANCH). @default unset */
  readonly releaseBranch?: string;
  /** Projects that rebuild a release whose artifact is gone, by `{binaryType}-{architecture}`. @default {} */
  readonly rebuildProjects?: Readonly<Record<string, codebuild.IProject>>;
  /** The signing key: `status` verifies pointer signatures with its public key. @default none (unchecked) */
  readonly signingKey?: SigningKey;
  /** Physical function name (the CLI and bisect invoke it by name). */
  readonly functionName: string;
  /** @default Duration.minutes(5) */
  readonly timeout?: Duration;
}

/**
 * The rollback function: operator entry point for rollbacks, history, status and list. It reads the
 * release bucket, invokes the publish function for pointer writes and starts rebuilds; it cannot
 * write releases or sign.
 */
export class RollbackFunction extends Construct {
  readonly function: lambda.IFunction;
  readonly role: iam.Role;

  constructor(scope: Construct, id: string, props: RollbackFunctionProps) {
    super(scope, id);
    const projects = props.rebuildProjects ?? {};
    const fn = new WatchyFunction(this, 'Rollback', {
      entry: adapterEntry('rollback'),
      description: 'Emergency rollback, rollback to a version, history, status and list of Watchy releases',
      timeout: props.timeout ?? Duration.minutes(5),
      invocation: { kind: 'async' },
      environment: {
        [RELEASE_ENV.bucket]: props.releaseBucket.bucketName,
        [RELEASE_ENV.publishFunction]: props.publishFunction.functionName,
        ...(props.signingKey ? { [RELEASE_ENV.signingKeyArn]: props.signingKey.key.keyArn } : {}),
        ...(props.releaseBranch ? { [RELEASE_ENV.releaseBranch]: props.releaseBranch } : {}),
        [RELEASE_ENV.rebuildProjects]: JSON.stringify(
          Object.fromEntries(Object.entries(projects).map(([key, project]) => [key, project.projectName])),
        ),
      },
    });
    (fn.function.node.defaultChild as lambda.CfnFunction).functionName = props.functionName;
    this.function = fn.function;
    this.role = fn.role;

    const bucket = props.releaseBucket;
    this.role.addToPolicy(
      new iam.PolicyStatement({
        sid: 'ReadReleasesAndState',
        actions: ['s3:GetObject'],
        resources: [
          bucket.arnForObjects(`${BINARIES_PREFIX}/*`),
          bucket.arnForObjects(`${HISTORY_PREFIX}/*`),
        ],
      }),
    );
    acknowledgeWildcardResource(
      this.role,
      bucket.arnForObjects(`${BINARIES_PREFIX}/*`),
      'Read only: rollbacks verify released artifacts of any app and version under binaries/.',
    );
    acknowledgeWildcardResource(
      this.role,
      bucket.arnForObjects(`${HISTORY_PREFIX}/*`),
      'Read only: release histories (state/history/{artifact}.json) of any artifact.',
    );
    this.role.addToPolicy(
      new iam.PolicyStatement({
        sid: 'ListReleaseBucket',
        actions: ['s3:ListBucket'],
        resources: [bucket.bucketArn],
      }),
    );
    bucket.encryptionKey?.grantDecrypt(this.role);
    if (props.signingKey) {
      this.role.addToPolicy(
        new iam.PolicyStatement({
          sid: 'ReadSigningPublicKey',
          actions: ['kms:GetPublicKey'],
          resources: [props.signingKey.key.keyArn],
        }),
      );
    }
    this.role.addToPolicy(
      new iam.PolicyStatement({
        sid: 'MovePointersThroughPublish',
        actions: ['lambda:InvokeFunction'],
        resources: [props.publishFunction.functionArn],
      }),
    );
    const projectArns = [...new Set(Object.values(projects).map((p) => p.projectArn))];
    if (projectArns.length > 0) {
      this.role.addToPolicy(
        new iam.PolicyStatement({
          sid: 'StartRebuilds',
          actions: ['codebuild:StartBuild'],
          resources: projectArns,
        }),
      );
    }
    dependOnRolePolicyOnly(fn);
    acknowledgeCheckov(
      fn.function,
      'CKV_AWS_117',
      'Talks only to S3, Lambda and CodeBuild APIs; a VPC would need endpoints or a NAT and protects nothing here.',
    );
    acknowledgeCheckov(
      fn.function,
      'CKV_AWS_115',
      'Operator and bisect requests are rare and safe concurrently (pointer moves are compare-and-swap in the publish function).',
    );
    acknowledgeCheckov(
      fn.function,
      'CKV_AWS_173',
      'The environment holds the bucket name, the publish function name and project names: no secrets; Lambda encrypts it at rest.',
    );
    acknowledgeCheckov(
      fn.logGroup,
      'CKV_AWS_158',
      'Rollback logs hold app names, versions and one-line errors, no secrets; CloudWatch encrypts them at rest.',
    );
    acknowledgeCheckov(
      fn.deadLetterQueue!,
      'CKV_AWS_27',
      'Dead letters are operator requests (app, version, reason), no secrets; SQS-managed SSE encrypts them.',
    );
  }
}
