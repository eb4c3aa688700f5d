import { readFileSync } from 'node:fs';
import { Duration, Stack, Validations } from 'aws-cdk-lib';
import * as codebuild from 'aws-cdk-lib/aws-codebuild';
import type * as ecr from 'aws-cdk-lib/aws-ecr';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as kms from 'aws-cdk-lib/aws-kms';
import * as logs from 'aws-cdk-lib/aws-logs';
import type * as s3 from 'aws-cdk-lib/aws-s3';
import { Construct } from 'constructs';
import { parse } from 'yaml';
import type { Architecture } from '@core/artifacts';
import { STAGING_PREFIX } from '@core/artifacts';
import { acknowledgeCheckov } from '../common/checkov';
import type { SourceConnection } from './source-connection';

/** The only build images: Amazon Linux 2023 standard images, one per architecture (never AL2). */
export const BUILD_IMAGES: Readonly<Record<Architecture, codebuild.IBuildImage>> = {
  x86_64: codebuild.LinuxBuildImage.AMAZON_LINUX_2023_5,
  arm64: codebuild.LinuxArmBuildImage.AMAZON_LINUX_2023_STANDARD_3_0,
};

/** A buildspec read from its YAML file: what CodeBuild gets, and the parsed document (for checks). */
export interface LoadedBuildSpec {
  readonly path: string;
  readonly document: BuildSpecDocument;
  readonly buildSpec: codebuild.BuildSpec;
}

/** The parts of a buildspec the infra looks at. */
export interface BuildSpecDocument {
  readonly version: number | string;
  readonly phases: Record<string, unknown>;
  readonly env?: { readonly variables?: Record<string, unknown>; readonly 'exported-variables'?: string[] };
  readonly cache?: { readonly paths?: string[] };
  readonly [key: string]: unknown;
}

/**
 * Reads a buildspec YAML file for inlining into a project (`BuildSpec.fromObjectToYaml`), so the
 * buildspec shows in template diffs and a broken file fails synth with the file and the reason.
 */
export function loadBuildSpec(path: string): LoadedBuildSpec {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    throw new Error(`buildspec ${path}: cannot read it (${(error as NodeJS.ErrnoException).code})`);
  }
  let document: unknown;
  try {
    document = parse(text, { prettyErrors: true, strict: true, uniqueKeys: true });
  } catch (error) {
    throw new Error(`buildspec ${path}: invalid YAML: ${(error as Error).message.split('\n')[0]}`);
  }
  if (document === null || typeof document !== 'object' || Array.isArray(document)) {
    throw new Error(`buildspec ${path}: expected a mapping at the top level`);
  }
  const spec = document as Partial<BuildSpecDocument>;
  if (String(spec.version) !== '0.2') {
    throw new Error(`buildspec ${path}: expected version 0.2, got ${JSON.stringify(spec.version)}`);
  }
  if (spec.phases === null || typeof spec.phases !== 'object' || Object.keys(spec.phases).length === 0) {
    throw new Error(`buildspec ${path}: expected a non-empty phases mapping`);
  }
  const paths = spec.cache?.paths;
  if (paths !== undefined && (!Array.isArray(paths) || paths.some((p) => typeof p !== 'string'))) {
    throw new Error(`buildspec ${path}: cache.paths must be a list of paths`);
  }
  return {
    path,
    document: spec as BuildSpecDocument,
    buildSpec: codebuild.BuildSpec.fromObjectToYaml(spec as Record<string, unknown>),
  };
}

/** How a project caches between builds. */
export type BuildCache =
  | { readonly kind: 's3'; readonly bucket: s3.IBucket; readonly prefix: string }
  | { readonly kind: 'local-docker' }
  | { readonly kind: 'none' };

export interface BuildProjectProps {
  /** Console description. */
  readonly description: string;
  readonly buildSpec: LoadedBuildSpec;
  /** Picks the AL2023 image of that architecture (BUILD_IMAGES). */
  readonly architecture: Architecture;
  /** @default codebuild.ComputeType.MEDIUM */
  readonly computeType?: codebuild.ComputeType;
  readonly timeout: Duration;
  /** Time a build may wait in the queue before CodeBuild gives up on it. @default Duration.hours(1) */
  readonly queuedTimeout?: Duration;
  /** Plain-text environment of every build (overridable per build). @default {} */
  readonly environment?: Readonly<Record<string, string>>;
  /** Encrypts build output and the log group. */
  readonly encryptionKey: kms.IKey;
  /** Name of the project's log group (under the prefix the key allows). */
  readonly logGroupName: string;
  readonly logRetention: logs.RetentionDays;
  readonly cache: BuildCache;
  /** The repository: the project's own Git source (full clone), so builds can start at any commit. */
  readonly source: SourceConnection;
  /** Docker-in-docker (image builds only). @default false */
  readonly privileged?: { readonly reason: string };
}

/**
 * One CodeBuild project on an Amazon Linux 2023 image: an inlined buildspec, a Git source through
 * the repository connection (bisect and rebuilds start builds at a commit; the pipeline overrides
 * the source with its own clone), a KMS-encrypted log group with retention, a cache, timeouts.
 * Its role can do nothing beyond logs, cache and clone until granted more (grantStaging, grantPush).
 */
export class BuildProject extends Construct {
  readonly project: codebuild.Project;
  readonly logGroup: logs.LogGroup;
  readonly role: iam.IRole;

  constructor(scope: Construct, id: string, props: BuildProjectProps) {
    super(scope, id);
    this.logGroup = new logs.LogGroup(this, 'Logs', {
      logGroupName: props.logGroupName,
      retention: props.logRetention,
      encryptionKey: props.encryptionKey,
    });
    // An S3 cache is declared below, not with Cache.bucket(): that grants read-write on the whole
    // cache bucket, and a project must not be able to poison another project's cache.
    const cache =
      props.cache.kind === 'local-docker'
        ? codebuild.Cache.local(codebuild.LocalCacheMode.DOCKER_LAYER, codebuild.LocalCacheMode.CUSTOM)
        : codebuild.Cache.none();
    this.project = new codebuild.Project(this, 'Project', {
      description: props.description,
      buildSpec: props.buildSpec.buildSpec,
      environment: {
        buildImage: BUILD_IMAGES[props.architecture],
        computeType: props.computeType ?? codebuild.ComputeType.MEDIUM,
        privileged: props.privileged !== undefined,
      },
      environmentVariables: Object.fromEntries(
        Object.entries(props.environment ?? {}).map(([name, value]) => [
          name,
          { type: codebuild.BuildEnvironmentVariableType.PLAINTEXT, value },
        ]),
      ),
      encryptionKey: props.encryptionKey,
      logging: { cloudWatch: { logGroup: this.logGroup } },
      cache,
      timeout: props.timeout,
      queuedTimeout: props.queuedTimeout ?? Duration.hours(1),
    });
    this.role = this.project.role!;
    // The project's own source: a full clone of the repository through the connection.
    const cfn = this.project.node.defaultChild as codebuild.CfnProject;
    cfn.addPropertyOverride('Source.Type', props.source.codeBuildSourceType);
    cfn.addPropertyOverride('Source.Location', props.source.cloneUrl);
    cfn.addPropertyOverride('Source.GitCloneDepth', 0);
    cfn.addPropertyOverride('Source.ReportBuildStatus', false);
    cfn.addPropertyOverride('Source.Auth', { Type: 'CODECONNECTIONS', Resource: props.source.connectionArn });
    props.source.grantClone(this.project);
    if (props.cache.kind === 's3') {
      const { bucket, prefix } = props.cache;
      cfn.addPropertyOverride('Cache', { Type: 'S3', Location: `${bucket.bucketName}/${prefix}` });
      this.role.addToPrincipalPolicy(
        new iam.PolicyStatement({
          sid: 'OwnCachePrefix',
          actions: ['s3:GetObject', 's3:GetObjectVersion', 's3:PutObject'],
          resources: [bucket.arnForObjects(`${prefix}/*`)],
        }),
      );
      this.role.addToPrincipalPolicy(
        new iam.PolicyStatement({
          sid: 'CacheBucketLocation',
          actions: ['s3:GetBucketAcl', 's3:GetBucketLocation'],
          resources: [bucket.bucketArn],
        }),
      );
      Validations.of(this.role).acknowledge({
        id: `AwsSolutions-IAM5[Resource::${nagReference(this, bucket.bucketArn)}/${prefix}/*]`,
        reason: `The S3 build cache of this project: objects under its own prefix ${prefix}/ of the cache bucket only.`,
      });
    }

    const stack = Stack.of(this);
    const projectRef = stack.resolve(cfn.ref) as { Ref: string };
    Validations.of(this.role).acknowledge({
      id: `AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:codebuild:<AWS::Region>:<AWS::AccountId>:report-group/<${projectRef.Ref}>-*]`,
      reason:
        "CodeBuild creates this project's test report groups at run time with generated names under the project's own name.",
    });
    Validations.of(this.role).acknowledge({
      id: `AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:logs:<AWS::Region>:<AWS::AccountId>:log-group:/aws/codebuild/<${projectRef.Ref}>:*]`,
      reason:
        "Log streams of the project's default log group are created per build with generated names (CodeBuild's built-in grant).",
    });
    Validations.of(this.role).acknowledge({
      id: 'AwsSolutions-IAM5[Action::kms:GenerateDataKey*]',
      reason: 'Encrypting build output, logs and cache with the build key only (GenerateDataKey variants).',
    });
    Validations.of(this.role).acknowledge({
      id: 'AwsSolutions-IAM5[Action::kms:ReEncrypt*]',
      reason: 'Re-encryption under the build key only, as S3 does for bucket-key encrypted objects.',
    });
    if (props.privileged) {
      Validations.of(this.project).acknowledge({ id: 'AwsSolutions-CB3', reason: props.privileged.reason });
      acknowledgeCheckov(this.project, 'CKV_AWS_316', props.privileged.reason);
    }
  }

  /**
   * Lets a build write (abort its multipart uploads, and read back what it wrote, for an
   * idempotent retry of `watchy stage`) only under `staging/${aws:userid}/` of the
   * release bucket. CodeBuild's role session is `AWSCodeBuild-<build uuid>`, so `aws:userid` is
   * `<role id>:AWSCodeBuild-<build uuid>`: each build has a prefix of its own and can neither
   * overwrite another build's staged files nor touch `binaries/` or `state/`.
   */
  grantStaging(bucket: s3.IBucket): void {
    // An explicit export when the bucket is in another stack, so the finding id below is known now.
    const bucketStack = Stack.of(bucket);
    const bucketArn =
      bucketStack === Stack.of(this) ? bucket.bucketArn : bucketStack.exportValue(bucket.bucketArn);
    this.role.addToPrincipalPolicy(
      new iam.PolicyStatement({
        sid: 'StageOwnBuildOutput',
        actions: ['s3:PutObject', 's3:AbortMultipartUpload', 's3:GetObject'],
        resources: [`${bucketArn}/${STAGING_PREFIX}/\${aws:userid}/*`],
      }),
    );
    Validations.of(this.role).acknowledge({
      id: `AwsSolutions-IAM5[Resource::${nagReference(this, bucketArn)}/${STAGING_PREFIX}/<aws:userid>/*]`,
      reason:
        'Release builds write only under their own build session prefix staging/${aws:userid}/ (one per build); never binaries/ or state/.',
    });
  }

  /**
   * Lets pipeline runs of this project read their input artifact (the source clone reference) from
   * the pipeline artifact store. The pipelines use imported projects, so this is the only grant.
   */
  grantPipelineArtifacts(bucket: s3.IBucket): void {
    this.role.addToPrincipalPolicy(
      new iam.PolicyStatement({
        sid: 'ReadPipelineArtifacts',
        actions: ['s3:GetObject', 's3:GetObjectVersion'],
        resources: [bucket.arnForObjects('*')],
      }),
    );
    bucket.encryptionKey?.grantDecrypt(this.role);
    Validations.of(this.role).acknowledge({
      id: `AwsSolutions-IAM5[Resource::${nagReference(this, bucket.bucketArn)}/*]`,
      reason:
        'Input artifacts of pipeline runs have generated keys in the pipeline artifact store; read only (they hold source references, no secrets).',
    });
  }

  /** Lets the build push to this one repository (and log in to ECR). */
  grantPush(repository: ecr.IRepository): void {
    this.role.addToPrincipalPolicy(
      new iam.PolicyStatement({
        sid: 'PushToOwnRepository',
        actions: [
          'ecr:BatchCheckLayerAvailability',
          'ecr:BatchGetImage',
          'ecr:GetDownloadUrlForLayer',
          'ecr:InitiateLayerUpload',
          'ecr:UploadLayerPart',
          'ecr:CompleteLayerUpload',
          'ecr:PutImage',
          'ecr:DescribeImages',
        ],
        resources: [repository.repositoryArn],
      }),
    );
    // A policy of its own, so the wildcard is acknowledged for this statement alone (a wildcard
    // added later to the role's default policy is still reported).
    if (this.node.tryFindChild('EcrLogin')) return;
    const login = new iam.Policy(this, 'EcrLogin', {
      statements: [
        new iam.PolicyStatement({
          sid: 'EcrLogin',
          actions: ['ecr:GetAuthorizationToken'],
          resources: ['*'],
        }),
      ],
    });
    login.attachToRole(this.role);
    this.project.node.defaultChild!.node.addDependency(login);
    Validations.of(login).acknowledge({
      id: 'AwsSolutions-IAM5[Resource::*]',
      reason:
        'ecr:GetAuthorizationToken has no resource-level permissions; pushes are limited to the one repository in PushToOwnRepository.',
    });
  }
}

/**
 * How cdk-nag prints a reference inside a finding id: `<LogicalId.Attr>` for Fn::GetAtt,
 * `<LogicalId>` for Ref, the export name for Fn::ImportValue.
 */
export function nagReference(scope: Construct, token: string): string {
  const resolved = Stack.of(scope).resolve(token) as unknown;
  if (typeof resolved === 'string') return resolved;
  const value = resolved as Record<string, unknown>;
  const getAtt = value['Fn::GetAtt'] as [string, string] | undefined;
  if (getAtt) return `<${getAtt[0]}.${getAtt[1]}>`;
  if (typeof value.Ref === 'string') return `<${value.Ref}>`;
  if (typeof value['Fn::ImportValue'] === 'string') return value['Fn::ImportValue'];
  throw new Error(`nagReference: cannot name ${JSON.stringify(resolved)}`);
}
