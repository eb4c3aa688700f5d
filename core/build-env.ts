/**
 * The build environment contract: the variables every CodeBuild project sets, the buildspecs read
 * and the pipeline overrides per action. Infra (lib/), buildspec tests, the bisect runner and the
 * CLI import these names from here; a buildspec spells them literally (it is YAML), and the
 * buildspec tests check that it does.
 */
import { MAX_VERSION_LENGTH, SEMVER_PATTERN } from './artifacts';

/**
 * CodeBuild build states that end a build (the `build-status` values of a Build State Change event
 * worth acting on): each one advances a bisect or may start one, and each is worth a notification.
 */
export const BUILD_END_STATES = ['FAILED', 'SUCCEEDED', 'STOPPED', 'FAULT', 'TIMED_OUT'] as const;
export type BuildEndState = (typeof BUILD_END_STATES)[number];

/** Name of the release bucket. A build may write only under `staging/${aws:userid}/`. */
export const WATCHY_RELEASE_BUCKET = 'WATCHY_RELEASE_BUCKET';
/** BinaryDistributionUrl, e.g. `https://dxxxx.cloudfront.net/binaries` (the metadata `download_url` base). */
export const WATCHY_BASE_URL = 'WATCHY_BASE_URL';
/** `release` (build, verify, stage a publish request) or `verify` (build and verify only: bisect). */
export const WATCHY_MODE = 'WATCHY_MODE';
/** The catalog entry built: a Nuitka app, the Rust workspace (`rust`) or a container service. */
export const WATCHY_APP = 'WATCHY_APP';
/** `x86_64` or `arm64`: always the architecture of the project's build image. */
export const WATCHY_ARCH = 'WATCHY_ARCH';
/** The release version (semver). `DEFAULT_VERSION` means "derive one from the commit" (see `devVersion`). */
export const WATCHY_VERSION = 'WATCHY_VERSION';
/** Names the variable holding the Python of the Nuitka builds (value: core/versions.ts NUITKA_PYTHON_VERSION). */
export const PYTHON_VERSION = 'PYTHON_VERSION';
/** Image projects: the URI of the one ECR repository the project may push to. */
export const WATCHY_ECR_REPOSITORY_URI = 'WATCHY_ECR_REPOSITORY_URI';
/** Image projects: the service's directory in the repository (catalog `sourcePath`). */
export const WATCHY_SOURCE_PATH = 'WATCHY_SOURCE_PATH';
/** Browsable URL of the source repository (OCI `org.opencontainers.image.source`). */
export const WATCHY_SOURCE_URL = 'WATCHY_SOURCE_URL';
/** Image projects: `dockerfile` or `buildpacks` (catalog `builder`). */
export const WATCHY_IMAGE_BUILDER = 'WATCHY_IMAGE_BUILDER';
/**
 * The branch a build is of: the pipeline sets it on every build action (`#{SourceVariables.BranchName}`),
 * a rebuild to the release branch. `watchy stage` records it in the publish request; the publisher
 * compares it with the branch it learns from the pipeline or CodeBuild, never trusting it alone.
 */
export const WATCHY_BRANCH = 'WATCHY_BRANCH';

/** Exported by a successful release build of a binary: the S3 key (under `staging/`) of its publish request. */
export const WATCHY_PUBLISH_REQUEST = 'WATCHY_PUBLISH_REQUEST';
/** Exported by an image build: `<repository uri>:<tag>` of the pushed image. */
export const WATCHY_IMAGE_URI = 'WATCHY_IMAGE_URI';
/** Exported by an image build: the immutable tag (the full commit hash). */
export const WATCHY_IMAGE_TAG = 'WATCHY_IMAGE_TAG';
/** Exported by an image build (read by the scan): the pushed manifest's digest, `sha256:...`. */
export const WATCHY_IMAGE_DIGEST = 'WATCHY_IMAGE_DIGEST';

export const BUILD_MODES = ['release', 'verify'] as const;
export type BuildMode = (typeof BUILD_MODES)[number];
export const IMAGE_BUILDERS = ['dockerfile', 'buildpacks'] as const;
export type ImageBuilder = (typeof IMAGE_BUILDERS)[number];

/**
 * The pipeline variable VERSION's default. A run that keeps it (every push) gets a version derived
 * from the commit by `devVersion`; a manual run that sets VERSION releases exactly that version.
 */
export const DEFAULT_VERSION = '0.0.0-dev';

/**
 * The version of a build that was not given one: `0.0.0-dev.<UTC yyyymmddHHMMSS>.g<7-hex commit>`.
 * Valid semver (the `g` keeps an all-digit hash from being a numeric identifier with a leading
 * zero), ordered by time within `0.0.0-dev`, below every real release, naming its commit, and free
 * of `+` (which S3 keys and URLs would mangle). buildspecs/test.yml computes the same string in
 * shell, once per pipeline run; a test checks the two agree.
 */
export function devVersion(commit: string, at: Date): string {
  if (!/^[0-9a-f]{7,40}$/.test(commit)) {
    throw new Error(`invalid commit ${JSON.stringify(commit)}: expected 7-40 lowercase hex digits`);
  }
  const stamp = at
    .toISOString()
    .replace(/\.\d{3}Z$/, '')
    .replace(/[-:T]/g, '');
  return `${DEFAULT_VERSION}.${stamp}.g${commit.slice(0, 7)}`;
}

/** The requested version, or a derived one when the request is the default or empty; refuses non-semver. */
export function resolveBuildVersion(requested: string | undefined, commit: string, at: Date): string {
  const version = !requested || requested === DEFAULT_VERSION ? devVersion(commit, at) : requested;
  if (version.length > MAX_VERSION_LENGTH || !SEMVER_PATTERN.test(version)) {
    throw new Error(`invalid version ${JSON.stringify(version)}: expected semantic version like 1.2.3`);
  }
  return version;
}

/**
 * SEMVER_PATTERN as a POSIX extended regular expression, for bash's `[[ $v =~ $semver ]]`: every
 * buildspec that reads WATCHY_VERSION checks it with exactly this string (and the length limit)
 * before the version reaches generated source, file names or labels. Derived, not copied: the
 * JavaScript-only syntax in SEMVER_PATTERN (`(?:`, `\d`) has a direct ERE spelling, and anything
 * else fails here, at import, rather than meaning something different in the shell. The buildspec
 * tests check each buildspec spells this string and accepts exactly what SEMVER_PATTERN accepts.
 */
export const SEMVER_ERE = toPosixEre(SEMVER_PATTERN);

function toPosixEre(pattern: RegExp): string {
  const ere = pattern.source.replaceAll('(?:', '(').replaceAll('\\d', '[0-9]');
  // What is left must mean the same in ERE: no flags, no escape inside a bracket expression, no
  // escape but `\.` and `\+` (literal in both), no group modifier, no lazy quantifier.
  if (pattern.flags || /\[[^\]]*\\/.test(pattern.source) || /\\[^.+]|\(\?|[*+?}]\?/.test(ere)) {
    throw new Error(
      `cannot spell /${pattern.source}/${pattern.flags} as a POSIX extended regular expression`,
    );
  }
  return ere;
}

/**
 * The classes of branches whose builds never share a project, role or cache: `release` (the release
 * branch, whose builds are promoted) and `integration` (the integration branch, versioned only).
 * Each class has its own pipeline and projects (docs/decisions/011-branch-caches.md); the publisher
 * publishes a build only on its class's branch.
 */
export const BRANCH_CLASSES = ['release', 'integration'] as const;
export type BranchClass = (typeof BRANCH_CLASSES)[number];
