import type * as codebuild from 'aws-cdk-lib/aws-codebuild';
import * as codepipeline from 'aws-cdk-lib/aws-codepipeline';
import * as actions from 'aws-cdk-lib/aws-codepipeline-actions';
import type * as ecr from 'aws-cdk-lib/aws-ecr';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import { Stack, Validations, type CfnElement } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as s3 from 'aws-cdk-lib/aws-s3';
import { Construct } from 'constructs';
import { nagReference } from './build-project';
import {
  DEFAULT_VERSION,
  WATCHY_APP,
  WATCHY_ARCH,
  WATCHY_ECR_REPOSITORY_URI,
  WATCHY_IMAGE_DIGEST,
  WATCHY_PUBLISH_REQUEST,
  WATCHY_VERSION,
} from '../../lambda/core/build-env';
import { classProjectKey, projectKeys, type BranchClass, type BuildTarget } from './build-projects';
import type { SourceConnection } from './source-connection';

/** The pipeline variable a manual run sets to release a given version. */
export const VERSION_VARIABLE = 'VERSION';
/** Variable namespaces of the source and test actions. */
export const SOURCE_NAMESPACE = 'SourceVariables';
export const TEST_NAMESPACE = 'TestVariables';

/** Action name (and variable namespace) of a build: `nuitka-slack-x86_64`, `rust-arm64`, `image-status-api-x86_64`. */
export function buildActionName(target: BuildTarget): string {
  return target.kind === 'rust'
    ? `rust-${target.architecture}`
    : `${target.kind}-${target.app}-${target.architecture}`;
}

/** The Publish stage's user parameters for one build action (the publish Lambda's CodePipeline contract). */
export function publishUserParameters(buildNamespace: string): { requestKey: string; branch: string } {
  return {
    requestKey: `#{${buildNamespace}.${WATCHY_PUBLISH_REQUEST}}`,
    branch: `#{${SOURCE_NAMESPACE}.BranchName}`,
  };
}

export interface ReleasePipelineProps {
  readonly source: SourceConnection;
  /**
   * The one branch this pipeline builds: pushes to it start it, and manual runs build it. The
   * release branch's builds are promoted to the latest pointers; the integration branch's publish
   * versioned artifacts only.
   */
  readonly branch: string;
  /**
   * Whose projects the Test and Build stages run (BuildProjects keys through classProjectKey):
   * a pipeline of one class never runs a project, role or cache of the other.
   */
  readonly branchClass: BranchClass;
  /** File-path include patterns of the push trigger (see triggerFilePaths). */
  readonly triggerFilePaths: readonly string[];
  /** The build projects, keyed as in BuildProjects. */
  readonly projects: ReadonlyMap<string, codebuild.IProject>;
  /** What to build, one action each. */
  readonly targets: readonly BuildTarget[];
  /** ECR repository per container service (the scan reads its result). */
  readonly repositories: ReadonlyMap<string, ecr.IRepository>;
  /** Artifact store (KMS-encrypted, TLS only, access-logged; in the Build stack). */
  readonly artifactBucket: s3.IBucket;
  /**
   * The publish Lambda. When given, a Publish stage invokes it once per binary build with that
   * build's staged publish request; when absent the pipeline has no Publish stage at all.
   * @default no Publish stage
   */
  readonly publishFunction?: lambda.IFunction;
}

/**
 * A release pipeline (CodePipeline V2, QUEUED) of one branch: Source (CodeConnections, full clone)
 * → Test (fixes the run's version) → Build (every app × architecture in parallel) → Scan (each
 * pushed image) → Publish (each binary build's publish request). Started by pushes to its branch
 * that touch the catalog, `FORCE_BUILD` or `buildspecs/`, and by hand with the VERSION variable.
 * The release and the integration branch each have one, on their own class's projects.
 */
export class ReleasePipeline extends Construct {
  readonly pipeline: codepipeline.Pipeline;

  constructor(scope: Construct, id: string, props: ReleasePipelineProps) {
    super(scope, id);
    const project = (key: string): codebuild.IProject => {
      const found = props.projects.get(key);
      if (!found) throw new Error(`ReleasePipeline: no build project ${key}`);
      return found;
    };
    /** This pipeline's class's own project of a key. */
    const own = (key: string) => project(classProjectKey(key, props.branchClass));
    const sourceOutput = new codepipeline.Artifact('Source');
    const sourceAction = new actions.CodeStarConnectionsSourceAction({
      actionName: 'Source',
      connectionArn: props.source.connectionArn,
      owner: props.source.owner,
      repo: props.source.repo,
      branch: props.branch,
      output: sourceOutput,
      // Builds get a git clone of the commit (history included), not a zip of the tree.
      codeBuildCloneOutput: true,
      variablesNamespace: SOURCE_NAMESPACE,
    });
    const testAction = new actions.CodeBuildAction({
      actionName: 'tests',
      type: actions.CodeBuildActionType.TEST,
      project: own(projectKeys.tests),
      input: sourceOutput,
      variablesNamespace: TEST_NAMESPACE,
      environmentVariables: {
        [WATCHY_VERSION]: { value: `#{variables.${VERSION_VARIABLE}}` },
      },
    });
    const buildActions = props.targets.map(
      (target) =>
        [
          target,
          new actions.CodeBuildAction({
            actionName: buildActionName(target),
            project: own(target.projectKey),
            input: sourceOutput,
            runOrder: 1,
            variablesNamespace: buildActionName(target),
            environmentVariables: {
              [WATCHY_APP]: { value: target.app },
              [WATCHY_ARCH]: { value: target.architecture },
              [WATCHY_VERSION]: { value: `#{${TEST_NAMESPACE}.${WATCHY_VERSION}}` },
            },
          }),
        ] as const,
    );
    const stages: codepipeline.StageProps[] = [
      { stageName: 'Source', actions: [sourceAction] },
      { stageName: 'Test', actions: [testAction] },
      { stageName: 'Build', actions: buildActions.map(([, action]) => action) },
    ];
    const images = props.targets.filter((t) => t.kind === 'image');
    if (images.length > 0) {
      stages.push({
        stageName: 'Scan',
        actions: images.map((target) => {
          const repository = props.repositories.get(target.app);
          if (!repository) throw new Error(`ReleasePipeline: no ECR repository for ${target.app}`);
          return new actions.CodeBuildAction({
            actionName: `scan-${target.app}-${target.architecture}`,
            project: project(projectKeys.scan),
            input: sourceOutput,
            environmentVariables: {
              [WATCHY_APP]: { value: target.app },
              [WATCHY_ECR_REPOSITORY_URI]: { value: repository.repositoryUri },
              [WATCHY_IMAGE_DIGEST]: { value: `#{${buildActionName(target)}.${WATCHY_IMAGE_DIGEST}}` },
            },
          });
        }),
      });
    }
    if (props.publishFunction) {
      const publishFunction = props.publishFunction;
      stages.push({
        stageName: 'Publish',
        actions: props.targets
          .filter((t) => t.kind !== 'image')
          .map(
            (target) =>
              new actions.LambdaInvokeAction({
                actionName: `publish-${buildActionName(target)}`,
                lambda: publishFunction,
                userParameters: publishUserParameters(buildActionName(target)),
              }),
          ),
      });
    }
    this.pipeline = new codepipeline.Pipeline(this, 'Pipeline', {
      pipelineType: codepipeline.PipelineType.V2,
      executionMode: codepipeline.ExecutionMode.QUEUED,
      artifactBucket: props.artifactBucket,
      crossAccountKeys: false,
      variables: [
        new codepipeline.Variable({
          variableName: VERSION_VARIABLE,
          defaultValue: DEFAULT_VERSION,
          description: `Release version (semver) of a manual run; ${DEFAULT_VERSION} derives 0.0.0-dev.<time>.g<commit>`,
        }),
      ],
      triggers: [
        {
          providerType: codepipeline.ProviderType.CODE_STAR_SOURCE_CONNECTION,
          gitConfiguration: {
            sourceAction,
            pushFilter: [
              {
                branchesIncludes: [props.branch],
                filePathsIncludes: [...props.triggerFilePaths],
              },
            ],
          },
        },
      ],
      stages,
    });
    acknowledgePipelineRoles(this.pipeline, props.artifactBucket);
    if (props.publishFunction) {
      const fn = nagReference(this, props.publishFunction.functionArn);
      for (const role of this.pipeline.node.findAll().filter((c): c is iam.Role => c instanceof iam.Role)) {
        if (!role.node.path.includes('/Publish/')) continue;
        Validations.of(role).acknowledge({
          id: `AwsSolutions-IAM5[Resource::${fn}:*]`,
          reason: 'Invoking any version or alias of the publish function (the Lambda invoke action grant).',
        });
      }
    }
  }
}

/**
 * The acknowledgements of CodePipeline's built-in grants, on the roles that get them: the pipeline
 * role and the source action role read and write the artifact store (object wildcards by nature),
 * and a Lambda invoke action's role may list functions (no resource-level permission exists).
 */
export function acknowledgePipelineRoles(pipeline: codepipeline.Pipeline, artifactBucket: s3.IBucket): void {
  // The pipeline already references its role (RoleArn); depending on the role's policy is enough,
  // and a DependsOn on the role too is what cfn-lint's W3005 reports as redundant.
  const policy = pipeline.role.node.tryFindChild('DefaultPolicy')?.node.defaultChild as
    CfnElement | undefined;
  if (policy) {
    (pipeline.node.defaultChild as codepipeline.CfnPipeline).addOverride('DependsOn', [
      Stack.of(pipeline).getLogicalId(policy),
    ]);
  }
  const artifacts = nagReference(pipeline, artifactBucket.bucketArn);
  for (const role of pipeline.node.findAll().filter((c): c is iam.Role => c instanceof iam.Role)) {
    const path = role.node.path;
    if (role === pipeline.role || path.includes('/Source/Source/')) {
      const reason = (what: string) =>
        `CodePipeline's artifact-store grant (${what}) on the pipeline artifact bucket and its key only; artifact keys are generated per execution.`;
      const acks: [string, string][] = [
        [`Resource::${artifacts}/*`, 'objects'],
        ['Action::s3:GetObject*', 'read'],
        ['Action::s3:GetBucket*', 'bucket location'],
        ['Action::s3:List*', 'list'],
        ['Action::s3:DeleteObject*', 'replace'],
        ['Action::s3:Abort*', 'abort multipart upload'],
        ['Action::kms:GenerateDataKey*', 'encrypt'],
        ['Action::kms:ReEncrypt*', 're-encrypt'],
      ];
      for (const [finding, what] of acks) {
        Validations.of(role).acknowledge({ id: `AwsSolutions-IAM5[${finding}]`, reason: reason(what) });
      }
    } else if (path.includes('/Publish/')) {
      Validations.of(role).acknowledge({
        id: 'AwsSolutions-IAM5[Resource::*]',
        reason:
          'lambda:ListFunctions (added by the CodePipeline Lambda invoke action) has no resource-level permissions; invoke is limited to the publish function.',
      });
    }
  }
}
