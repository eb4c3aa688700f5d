/**
 * The environment of the publish and rollback Lambdas: names set by the constructs in lib/ and read
 * by the handlers, defined once here.
 */
import { WATCHY_RELEASE_BUCKET, type BranchClass } from '../build-env';

export const RELEASE_ENV = {
  /** Release bucket name. */
  bucket: WATCHY_RELEASE_BUCKET,
  /** ARN of the KMS signing key (ECC_NIST_P256, SIGN_VERIFY): publish signs with it, rollback reads its public key. */
  signingKeyArn: 'WATCHY_SIGNING_KEY_ARN',
  /** CloudFront distribution whose pointer paths are invalidated; publish only. */
  distributionId: 'WATCHY_DISTRIBUTION_ID',
  /** BinaryDistributionUrl (`https://…/binaries`), base of every `download_url`; publish only. */
  binaryDistributionUrl: 'WATCHY_BINARY_DISTRIBUTION_URL',
  /** Branch whose builds are promoted (config source.releaseBranch). */
  releaseBranch: 'WATCHY_RELEASE_BRANCH',
  /** Branch whose builds publish versioned artifacts only (config source.integrationBranch). */
  integrationBranch: 'WATCHY_INTEGRATION_BRANCH',
  /** Name of the publish function, which the rollback function asks to move pointers; rollback only. */
  publishFunction: 'WATCHY_PUBLISH_FUNCTION',
  /** JSON object `{"nuitka-x86_64": "<CodeBuild project>", ...}`: where rebuilds run; rollback only. */
  rebuildProjects: 'WATCHY_REBUILD_PROJECTS',
  /**
   * JSON object `{"<CodeBuild project>": {"roleId": "AROA…", "roleArn": "arn:…"}, ...}`: the release
   * build projects and their roles, whose builds publish may publish (trusted-build.ts); publish only.
   */
  releaseProjects: 'WATCHY_RELEASE_PROJECTS',
  /**
   * JSON object `{"release": "<pipeline>", "integration": "<pipeline>"}`: the pipeline of each branch
   * class (pipelineNames), whose runs publish reads; publish only.
   */
  pipelines: 'WATCHY_PIPELINES',
  /** Powertools Metrics namespace. */
  metricsNamespace: 'POWERTOOLS_METRICS_NAMESPACE',
} as const;

/** CloudWatch namespace of release metrics. */
export const RELEASE_METRICS_NAMESPACE = 'Watchy/Releases';

/** Physical function names (the CLI finds them without CloudFormation): `{stack prefix}-publish`. */
export function releaseFunctionNames(stackPrefix: string): { publish: string; rollback: string } {
  return { publish: `${stackPrefix}-publish`, rollback: `${stackPrefix}-rollback` };
}

/**
 * The physical name of each branch class's pipeline, `{stack prefix}-Pipeline-Release` and
 * `{stack prefix}-Pipeline-Integration`: fixed at synth so that release control (deployed before
 * the pipelines) can trust and read their runs without referencing the Pipeline stack.
 */
export function pipelineNames(stackPrefix: string): Readonly<Record<BranchClass, string>> {
  return {
    release: `${stackPrefix}-Pipeline-Release`,
    integration: `${stackPrefix}-Pipeline-Integration`,
  };
}

/** The release branch's pipeline name (pipelineNames). */
export function releasePipelineName(stackPrefix: string): string {
  return pipelineNames(stackPrefix).release;
}

/** Reads a required variable or throws naming it. */
export function requiredEnv(env: NodeJS.ProcessEnv, name: string): string {
  const value = env[name];
  if (!value) throw new Error(`environment variable ${name} is not set`);
  return value;
}
