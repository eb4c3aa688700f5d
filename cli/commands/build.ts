/**
 * `watchy build <nuitka|rust>`: runs `buildspecs/nuitka.yml` or `buildspecs/rust-lambda.yml` on
 * this machine with the local buildspec runner (core/buildspec), once per catalog entry. Each
 * build gets the variables CodeBuild gives a build of the same target (core/build-env.ts
 * targetVariables), plus the run's mode and version and the local options.
 *
 * A run is an ordered list of steps (BUILD_STEPS), each with a name, a skip rule and a run.
 */
import { execFileSync } from 'node:child_process';
import { arch as hostArch } from 'node:os';
import { join, resolve } from 'node:path';
import { assertAppName, assertVersion, type Architecture } from '@core/artifacts';
import { loadBuildspec, runBuildspec, type Buildspec, type BuildResult } from '@core/buildspec';
import {
  BUILD_MODES,
  BUILDSPEC_FILES,
  RUST_APP,
  WATCHY_ALLOW_NATIVE_FALLBACK,
  WATCHY_CLEAN,
  WATCHY_MODE,
  WATCHY_VERSION,
  nuitkaTarget,
  rustTarget,
  targetVariables,
  type BuildMode,
  type CatalogTarget,
} from '@core/build-env';
import { loadConfig, type WatchyConfig } from '@core/config';
import { ARCH_OPTION, architectureOption, parseCommandArgs } from '../args';
import { CliError, UsageError } from '../errors';
import type { Command } from '../command';

/** The kinds of build `watchy build` runs. */
const LOCAL_KINDS = ['nuitka', 'rust'] as const;
type LocalKind = (typeof LOCAL_KINDS)[number];

const usage = `usage: watchy build <nuitka|rust> [--app NAME] [--arch x86_64|arm64] [--version SEMVER]
                    [--mode release|verify] [--clean] [--allow-native-fallback]
                    [--source-dir DIR] [--artifacts-dir DIR] [--env NAME=VALUE ...] [--config FILE]

Runs buildspecs/nuitka.yml or buildspecs/rust-lambda.yml on this machine, as CodeBuild runs it:
phases in order with on-failure and finally, env variables, exported variables, CODEBUILD_*
variables and the artifacts section. Without --app, builds every catalog entry of that kind.

  --app                    nuitka: one catalog app; rust: "rust" (the workspace)
  --arch                   default: this machine's (nuitka), the catalog's (rust)
  --version                default $WATCHY_VERSION, else a dev version from the commit
  --mode                   release (default; stages when WATCHY_RELEASE_BUCKET is set) or verify
  --clean                  rust: cargo clean before building
  --allow-native-fallback  rust: build this machine's architecture when it differs from --arch
  --source-dir             the checkout to build (CODEBUILD_SRC_DIR); default: current directory
  --artifacts-dir          where the artifacts section copies files; default <source>/.watchy-build/artifacts
  --env NAME=VALUE         start-build override of an environment variable (repeatable)
`;

/** What a `watchy build` run was asked for, checked. */
export interface BuildOptions {
  readonly kind: LocalKind;
  /** One catalog entry. @default every entry of the kind */
  readonly app?: string;
  /** @default this machine's (nuitka), the catalog's (rust) */
  readonly architecture?: Architecture;
  /** @default the buildspec's (a dev version from the commit) */
  readonly version?: string;
  readonly mode: BuildMode;
  readonly clean: boolean;
  readonly allowNativeFallback: boolean;
  readonly sourceDir: string;
  readonly artifactsDir: string;
  /** Start-build overrides (`--env`). */
  readonly overrides: Readonly<Record<string, string>>;
  readonly configFile?: string;
}

/** One build of a run: a catalog target and the project variables the runner gives it. */
export interface LocalBuild {
  readonly label: string;
  readonly target: CatalogTarget;
  readonly variables: Readonly<Record<string, string>>;
}

function localArchitecture(): Architecture {
  return hostArch() === 'arm64' ? 'arm64' : 'x86_64';
}

function gitHead(dir: string): string | undefined {
  try {
    const head = execFileSync('git', ['-C', dir, 'rev-parse', 'HEAD'], {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'ignore'],
    });
    return head.trim() || undefined;
  } catch {
    return undefined;
  }
}

function parseOverrides(pairs: string[]): Record<string, string> {
  const overrides: Record<string, string> = {};
  for (const pair of pairs) {
    const match = /^([A-Za-z_][A-Za-z0-9_]*)=(.*)$/s.exec(pair);
    if (!match) throw new UsageError(`--env expects NAME=VALUE, got ${JSON.stringify(pair)}`);
    overrides[match[1] as string] = match[2] as string;
  }
  return overrides;
}

/** The command line, checked in order; nothing runs before every check passed. */
export function parseBuildOptions(args: string[], env: NodeJS.ProcessEnv = process.env): BuildOptions {
  const { values, positionals } = parseCommandArgs(
    args,
    {
      app: { type: 'string' },
      ...ARCH_OPTION,
      version: { type: 'string' },
      mode: { type: 'string', default: 'release' },
      clean: { type: 'boolean', default: false },
      'allow-native-fallback': { type: 'boolean', default: false },
      'source-dir': { type: 'string' },
      'artifacts-dir': { type: 'string' },
      env: { type: 'string', multiple: true, default: [] },
      config: { type: 'string' },
    },
    true,
  );
  const [kind, ...extra] = positionals;
  if (kind === undefined || !(LOCAL_KINDS as readonly string[]).includes(kind)) {
    throw new UsageError(`expected the kind of build, nuitka or rust, got ${JSON.stringify(kind ?? '')}`);
  }
  if (extra.length) throw new UsageError(`unexpected argument ${JSON.stringify(extra[0])}`);
  const architecture = architectureOption(values.arch);
  if (!(BUILD_MODES as readonly string[]).includes(values.mode)) {
    throw new UsageError(
      `--mode must be one of ${BUILD_MODES.join(', ')}, got ${JSON.stringify(values.mode)}`,
    );
  }
  const version = values.version ?? env[WATCHY_VERSION];
  if (version !== undefined && version !== '') assertVersion(version);
  const overrides = parseOverrides(values.env);
  // An override is what the buildspec sees, even empty: checked here as the buildspec checks it.
  const overriddenVersion = overrides[WATCHY_VERSION];
  if (overriddenVersion !== undefined) {
    try {
      assertVersion(overriddenVersion);
    } catch (error) {
      throw new CliError(`--env ${WATCHY_VERSION}: ${(error as Error).message}`);
    }
  }
  if (values.app !== undefined) assertAppName(values.app);
  const sourceDir = resolve(values['source-dir'] ?? process.cwd());
  return {
    kind: kind as LocalKind,
    ...(values.app !== undefined ? { app: values.app } : {}),
    ...(architecture !== undefined ? { architecture } : {}),
    ...(version ? { version } : {}),
    mode: values.mode as BuildMode,
    clean: values.clean,
    allowNativeFallback: values['allow-native-fallback'],
    sourceDir,
    artifactsDir: resolve(values['artifacts-dir'] ?? join(sourceDir, '.watchy-build', 'artifacts')),
    overrides,
    ...(values.config !== undefined ? { configFile: values.config } : {}),
  };
}

/** The catalog targets a run builds: the asked app (or every one) on the asked architecture(s). */
function localTargets(
  catalog: WatchyConfig['catalog'],
  options: Pick<BuildOptions, 'kind' | 'app' | 'architecture'>,
  hostArchitecture: Architecture,
): CatalogTarget[] {
  if (options.kind === 'nuitka') {
    const apps = catalog.nuitkaApps.filter((a) => options.app === undefined || a.name === options.app);
    if (apps.length === 0) {
      const known = catalog.nuitkaApps.map((a) => a.name).join(', ');
      throw new CliError(
        `unknown app ${JSON.stringify(options.app)}: the catalog's Nuitka apps are ${known}`,
      );
    }
    return apps.map((app) => nuitkaTarget(app, options.architecture ?? hostArchitecture));
  }
  const workspace = catalog.rustWorkspace;
  if (!workspace) throw new CliError('the catalog has no Rust workspace');
  if (options.app !== undefined && options.app !== RUST_APP) {
    throw new CliError(
      `unknown app ${JSON.stringify(options.app)}: the Rust workspace builds as --app ${RUST_APP}`,
    );
  }
  const architectures = options.architecture ? [options.architecture] : workspace.architectures;
  return architectures.map((architecture) => rustTarget(workspace, architecture));
}

/**
 * The builds of a run, each with its project variables: the run's mode and version, the
 * target's variables (what CodeBuild gives a build of it) and the local options of its kind.
 */
export function localBuilds(
  catalog: WatchyConfig['catalog'],
  options: Pick<
    BuildOptions,
    'kind' | 'app' | 'architecture' | 'version' | 'mode' | 'clean' | 'allowNativeFallback'
  >,
  hostArchitecture: Architecture = localArchitecture(),
): LocalBuild[] {
  return localTargets(catalog, options, hostArchitecture).map((target) => ({
    label: `${target.kind} ${target.kind === 'rust' ? target.sourcePath : target.app} ${target.architecture}`,
    target,
    variables: {
      [WATCHY_MODE]: options.mode,
      ...(options.version ? { [WATCHY_VERSION]: options.version } : {}),
      ...targetVariables(target),
      ...(target.kind === 'rust'
        ? {
            [WATCHY_ALLOW_NATIVE_FALLBACK]: options.allowNativeFallback ? '1' : '0',
            [WATCHY_CLEAN]: options.clean ? '1' : '0',
          }
        : {}),
    },
  }));
}

/** One `watchy build` run, filled in step by step. */
export interface BuildRun {
  readonly options: BuildOptions;
  builds: readonly LocalBuild[];
  spec?: Buildspec;
  sourceVersion?: string;
  readonly results: [LocalBuild, BuildResult][];
}

/** One step of a run (GoReleaser's pipeline model): a name, a skip rule and a run. */
export interface BuildStep {
  readonly name: string;
  /** The step does not run when this says so. @default never skipped */
  skip?(run: BuildRun): boolean;
  run(run: BuildRun): Promise<void> | void;
}

const failedResults = (run: BuildRun) => run.results.filter(([, r]) => r.status !== 'SUCCEEDED');

/** A run's steps, in order. A step that throws ends the run with its error. */
export const BUILD_STEPS: readonly BuildStep[] = [
  {
    name: 'targets',
    run(run) {
      const { configFile } = run.options;
      const config = loadConfig(configFile === undefined ? {} : { file: configFile });
      run.builds = localBuilds(config.catalog, run.options);
    },
  },
  {
    name: 'buildspec',
    async run(run) {
      const { sourceDir, kind } = run.options;
      run.spec = await loadBuildspec(join(sourceDir, 'buildspecs', BUILDSPEC_FILES[kind]));
      const sourceVersion = gitHead(sourceDir);
      if (sourceVersion) run.sourceVersion = sourceVersion;
    },
  },
  {
    name: 'builds',
    async run(run) {
      const { spec, options } = run;
      if (!spec) throw new Error('watchy build: the builds step runs after the buildspec step');
      // One after the other, going on after a failure: the summary names every result.
      for (const build of run.builds) {
        process.stdout.write(`[watchy build] ${build.label}\n`);
        const result = await runBuildspec({
          spec,
          sourceDir: options.sourceDir,
          projectName: `watchy-local-${options.kind}`,
          projectVariables: build.variables,
          overrides: options.overrides,
          artifactsDir: options.artifactsDir,
          ...(run.sourceVersion ? { sourceVersion: run.sourceVersion } : {}),
        });
        run.results.push([build, result]);
      }
    },
  },
  {
    name: 'summary',
    run(run) {
      process.stdout.write('[watchy build] summary\n');
      for (const [build, result] of run.results) {
        const seconds = result.phases.reduce((sum, p) => sum + p.durationMs, 0) / 1000;
        process.stdout.write(`  ${result.status.padEnd(9)} ${build.label} (${seconds.toFixed(1)} s)\n`);
      }
    },
  },
  {
    name: 'failures',
    skip: (run) => failedResults(run).length === 0,
    run(run) {
      const failed = failedResults(run);
      const [build, result] = failed[0] as [LocalBuild, BuildResult];
      const more = failed.length > 1 ? ` (and ${failed.length - 1} more failed build(s))` : '';
      throw new CliError(`${build.label}: ${result.failure ?? 'failed'}${more}`);
    },
  },
];

export const command: Command = {
  name: 'build',
  summary: 'run a buildspec (nuitka or rust) on this machine, as CodeBuild does',
  usage,
  async run(args) {
    // bin/watchy.ts sets the real code when run() settles; work that never settles must not exit 0.
    process.exitCode = 1;
    const run: BuildRun = { options: parseBuildOptions(args), builds: [], results: [] };
    for (const step of BUILD_STEPS) {
      if (!step.skip?.(run)) await step.run(run);
    }
    return 0;
  },
};
