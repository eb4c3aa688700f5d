/**
 * The bisect contract shared by the bisect Lambda, the CLI, the CDK construct and the tests:
 * build environment variables, session keys in the release bucket, the Lambda's environment and
 * its manual-start event.
 */
import { STATE_PREFIX } from '../artifacts';
import {
  WATCHY_APP,
  WATCHY_ARCH,
  WATCHY_BRANCH,
  WATCHY_MODE,
  WATCHY_RELEASE_BUCKET,
  type BuildMode,
} from '../build-env';

/** Build mode variable: a bisect step runs with `verify` (build and verify; never stage or publish). */
export const MODE_VARIABLE = WATCHY_MODE;
export const VERIFY_MODE: BuildMode = 'verify';
/** App and architecture of the failing build, copied onto each bisect step. */
export const APP_VARIABLE = WATCHY_APP;
export const ARCH_VARIABLE = WATCHY_ARCH;
/**
 * Branch of a build, when the pipeline passes it (`#{SourceVariables.BranchName}`); builds whose
 * source version is `refs/heads/<branch>` need not set it.
 */
export const BRANCH_VARIABLE = WATCHY_BRANCH;
/** Variables copied from the failing build onto every bisect step. */
export const COPIED_VARIABLES = [APP_VARIABLE, ARCH_VARIABLE] as const;

/** Set on every build a bisect starts: the session it belongs to. */
export const SESSION_VARIABLE = 'WATCHY_BISECT_SESSION';
/** Commit-list builds (the bisect construct's own project): range and output key. */
export const LIST_GOOD_VARIABLE = 'WATCHY_BISECT_GOOD';
export const LIST_BAD_VARIABLE = 'WATCHY_BISECT_BAD';
export const LIST_BUCKET_VARIABLE = 'WATCHY_BISECT_BUCKET';
export const LIST_KEY_VARIABLE = 'WATCHY_BISECT_COMMITS_KEY';

/** Sessions live at `state/bisect/sessions/{id}.json`; commit lists at `state/bisect/commits/{id}.tsv`. */
export const BISECT_PREFIX = `${STATE_PREFIX}/bisect`;
export const sessionKey = (id: string): string => `${BISECT_PREFIX}/sessions/${id}.json`;
export const commitsKey = (id: string): string => `${BISECT_PREFIX}/commits/${id}.tsv`;

/** The bisect Lambda's environment. */
export const BISECT_ENV = {
  bucket: WATCHY_RELEASE_BUCKET,
  listProject: 'WATCHY_BISECT_LIST_PROJECT',
  projects: 'WATCHY_BISECT_PROJECTS',
  retries: 'WATCHY_BISECT_RETRIES',
  autoRollback: 'WATCHY_BISECT_AUTO_ROLLBACK',
  topicArn: 'WATCHY_NOTIFICATION_TOPIC_ARN',
  releaseBranch: 'WATCHY_RELEASE_BRANCH',
  /** Pipelines (name prefix) asked for the branch of a build they started (ListActionExecutions). */
  pipelinePrefix: 'WATCHY_BISECT_PIPELINE_PREFIX',
  /** JSON array of pipeline names whose builds are release-branch builds. */
  releasePipelines: 'WATCHY_BISECT_RELEASE_PIPELINES',
  /** Name of the rollback function (automatic emergency rollback). */
  rollbackFunction: 'WATCHY_ROLLBACK_FUNCTION',
  /** JSON array of the Nuitka apps that have release pointers. */
  rollbackApps: 'WATCHY_BISECT_ROLLBACK_APPS',
  sourceType: 'WATCHY_SOURCE_TYPE',
  sourceLocation: 'WATCHY_SOURCE_LOCATION',
  connectionArn: 'WATCHY_SOURCE_CONNECTION_ARN',
} as const;

/** A full git commit id (SHA-1, or SHA-256 object format). */
export const COMMIT_PATTERN = /^(?:[0-9a-f]{40}|[0-9a-f]{64})$/;
/** Session ids are derived from their trigger; they are path segments. */
export const SESSION_ID_PATTERN = /^[a-z0-9-]{8,80}$/;
/** Ranges longer than this are refused: ceil(log2 10000) = 14 builds is already a long bisect. */
export const MAX_COMMITS = 10_000;

/** The Lambda's manual-start event (`watchy bisect` without `--endpoint-url` invokes it). */
export interface StartBisectRequest {
  readonly action: 'start';
  /** CodeBuild project name whose build is bisected. */
  readonly project: string;
  readonly good: string;
  readonly bad: string;
  /** Variables copied onto each step (WATCHY_APP, WATCHY_ARCH). @default {} */
  readonly environment?: Readonly<Record<string, string>>;
  /** Who started it (shown in status). */
  readonly initiator?: string;
}

/** `arn:aws:codebuild:<region>:<account>:build/<project>:<uuid>` -> `<project>:<uuid>`. */
export function buildIdOf(value: string): string {
  const marker = ':build/';
  const at = value.indexOf(marker);
  return at >= 0 && value.startsWith('arn:') ? value.slice(at + marker.length) : value;
}
