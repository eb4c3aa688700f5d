/**
 * The build environment contract: the variables every CodeBuild project sets, the buildspecs read
 * and the pipeline overrides per action, and the build targets (what the catalog builds, and the
 * variables each build of one gets, in CodeBuild and in `watchy build` alike). Infra (lib/),
 * buildspec tests, the bisect runner and the CLI import these names from here; a buildspec spells
 * them literally (it is YAML), and the buildspec tests check that it does.
 */
import { MAX_VERSION_LENGTH, SEMVER_PATTERN, type Architecture, type BinaryType } from './artifacts';
import type { ContainerService, NuitkaApp, RustWorkspace, WatchyConfig } from './config';
import * as versions from './versions';

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
/** Nuitka and image builds: the app's or service's directory in the repository (catalog `sourcePath`). */
export const WATCHY_SOURCE_PATH = 'WATCHY_SOURCE_PATH';
/** Rust builds: the Cargo workspace's directory in the repository (catalog `rustWorkspace.sourcePath`). */
export const WATCHY_RUST_WORKSPACE = 'WATCHY_RUST_WORKSPACE';
/** Local Rust builds (`watchy build rust --clean`): `1` removes cargo's release output first. */
export const WATCHY_CLEAN = 'WATCHY_CLEAN';
/**
 * Local Rust builds (`watchy build rust --allow-native-fallback`): `1` builds this machine's
 * architecture when it is not WATCHY_ARCH, loudly, and labels the binaries with what they are.
 */
export const WATCHY_ALLOW_NATIVE_FALLBACK = 'WATCHY_ALLOW_NATIVE_FALLBACK';
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

/**
 * Key of the projects that build binaries of one type on one architecture: `nuitka-x86_64`,
 * `rust-arm64`. Each branch class has such a project; the release class's is where a rollback
 * rebuilds a release whose artifact is gone (the keys of RELEASE_ENV.rebuildProjects).
 */
export type BinaryProjectKey = `${BinaryType}-${Architecture}`;

export function binaryProjectKey(binaryType: BinaryType, architecture: Architecture): BinaryProjectKey {
  return `${binaryType}-${architecture}`;
}

// ---------------------------------------------------------------------------------------------
// Build targets: what the catalog builds, and the variables a build of each one gets. CodeBuild
// (the project environments and the pipeline's build actions, lib/constructs/build) and the local
// runner (`watchy build`) both take them from here.

/** The buildspec of each kind of build, in `buildspecs/`: CodeBuild and `watchy build` run the same file. */
export const BUILDSPEC_FILES = {
  nuitka: 'nuitka.yml',
  rust: 'rust-lambda.yml',
  image: 'image.yml',
  tests: 'test.yml',
  scan: 'scan.yml',
} as const;
export type BuildKind = keyof typeof BUILDSPEC_FILES;

/** WATCHY_APP of the Rust workspace build (it builds every `[[bin]]` of the workspace). */
export const RUST_APP = 'rust';

/** The kinds of build that build a catalog entry (tests and scans build none). */
export type TargetKind = 'nuitka' | 'rust' | 'image';

interface TargetOf<K extends TargetKind> {
  readonly kind: K;
  /** WATCHY_APP: the Nuitka app, the service, or RUST_APP for the Rust workspace. */
  readonly app: string;
  readonly architecture: Architecture;
  /** The entry's directory in the repository (catalog `sourcePath`). */
  readonly sourcePath: string;
}

/** One build of the catalog: an app (or service, or the Rust workspace) on one architecture. */
export type CatalogTarget =
  TargetOf<'nuitka'> | TargetOf<'rust'> | (TargetOf<'image'> & { readonly builder: ImageBuilder });

export function nuitkaTarget(app: NuitkaApp, architecture: Architecture): CatalogTarget {
  return { kind: 'nuitka', app: app.name, architecture, sourcePath: app.sourcePath };
}

export function rustTarget(workspace: RustWorkspace, architecture: Architecture): CatalogTarget {
  return { kind: 'rust', app: RUST_APP, architecture, sourcePath: workspace.sourcePath };
}

export function imageTarget(service: ContainerService, architecture: Architecture): CatalogTarget {
  return {
    kind: 'image',
    app: service.name,
    architecture,
    sourcePath: service.sourcePath,
    builder: service.builder,
  };
}

/** Every build of the catalog, in pipeline order: Nuitka apps, the Rust workspace, images. */
export function catalogTargets(catalog: WatchyConfig['catalog']): CatalogTarget[] {
  const workspace = catalog.rustWorkspace;
  return [
    ...catalog.nuitkaApps.flatMap((app) => app.architectures.map((arch) => nuitkaTarget(app, arch))),
    ...(workspace ? workspace.architectures.map((arch) => rustTarget(workspace, arch)) : []),
    ...catalog.containerServices.flatMap((s) => s.architectures.map((arch) => imageTarget(s, arch))),
  ];
}

/** What every build of a kind gets, whatever it builds: the Python of the Nuitka builds and the tests. */
export function kindVariables(kind: BuildKind): Record<string, string> {
  return kind === 'nuitka' || kind === 'tests' ? { [PYTHON_VERSION]: versions.NUITKA_PYTHON_VERSION } : {};
}

/**
 * The variables a build of a target gets from the catalog: which entry, on which architecture,
 * from which directory, and what its kind needs. A CodeBuild build of the target gets each of
 * them (from its project's environment or from the start of the build), and so does
 * `watchy build`.
 */
export function targetVariables(target: CatalogTarget): Record<string, string> {
  const entry = { [WATCHY_APP]: target.app, [WATCHY_ARCH]: target.architecture };
  switch (target.kind) {
    case 'nuitka':
      return { ...entry, [WATCHY_SOURCE_PATH]: target.sourcePath, ...kindVariables('nuitka') };
    case 'rust':
      return { ...entry, [WATCHY_RUST_WORKSPACE]: target.sourcePath, ...kindVariables('rust') };
    case 'image':
      return {
        ...entry,
        [WATCHY_SOURCE_PATH]: target.sourcePath,
        [WATCHY_IMAGE_BUILDER]: target.builder,
        ...kindVariables('image'),
      };
  }
}

/**
 * The target variables that differ between the targets one project builds: a Nuitka project
 * builds every app of its architecture; a Rust project builds the one workspace, an image project
 * one service.
 */
const VARYING_IN_PROJECT: Readonly<Record<TargetKind, readonly string[]>> = {
  nuitka: [WATCHY_APP, WATCHY_SOURCE_PATH],
  rust: [],
  image: [],
};

/**
 * What every start of a build of the target sets (the pipeline's build action; `watchy build`
 * sets all of targetVariables): the entry and architecture it builds, and the variables in which
 * its project's targets differ.
 */
export function startVariables(target: CatalogTarget): Record<string, string> {
  const named = new Set([WATCHY_APP, WATCHY_ARCH, ...VARYING_IN_PROJECT[target.kind]]);
  return Object.fromEntries(Object.entries(targetVariables(target)).filter(([name]) => named.has(name)));
}

/**
 * The target variables every build of a project shares, from the targets it builds (all of one
 * kind and architecture): its environment. Refuses targets that do not share them.
 */
export function projectVariables(targets: readonly CatalogTarget[]): Record<string, string> {
  const [first, ...rest] = targets;
  if (!first) throw new Error('projectVariables: a project builds at least one target');
  const shared = (target: CatalogTarget) => {
    const varying = new Set(VARYING_IN_PROJECT[target.kind]);
    return Object.entries(targetVariables(target)).filter(([name]) => !varying.has(name));
  };
  const variables = Object.fromEntries(shared(first));
  for (const target of rest) {
    const differs = shared(target).find(([name, value]) => variables[name] !== value);
    if (target.kind !== first.kind || differs) {
      throw new Error(
        `projectVariables: ${target.kind} ${target.app} ${target.architecture} cannot share a project with ${first.kind} ${first.app} ${first.architecture}`,
      );
    }
  }
  return variables;
}

/**
 * Set per run over the project's defaults (`release`, DEFAULT_VERSION): the pipeline sets the
 * run's version, a bisect step the mode, `watchy build` the mode and (when given) the version.
 */
export const RUN_VARIABLES = [WATCHY_MODE, WATCHY_VERSION] as const;

/**
 * Given by the place a build runs, not by the catalog: the CodeBuild project (release bucket,
 * distribution URL, repository) or the pipeline's build action (branch) sets them; a local build
 * takes them from its own environment, and stages nothing without a release bucket.
 */
export const HOST_VARIABLES: Readonly<Record<TargetKind, readonly string[]>> = {
  nuitka: [WATCHY_SOURCE_URL, WATCHY_RELEASE_BUCKET, WATCHY_BASE_URL, WATCHY_BRANCH],
  rust: [WATCHY_SOURCE_URL, WATCHY_RELEASE_BUCKET, WATCHY_BASE_URL, WATCHY_BRANCH],
  image: [WATCHY_SOURCE_URL, WATCHY_ECR_REPOSITORY_URI, WATCHY_BRANCH],
};

/** Options of a local build alone (`watchy build` flags): CodeBuild builds keep the buildspec's `0`. */
export const LOCAL_OPTION_VARIABLES: Readonly<Record<TargetKind, readonly string[]>> = {
  nuitka: [],
  rust: [WATCHY_CLEAN, WATCHY_ALLOW_NATIVE_FALLBACK],
  image: [],
};
