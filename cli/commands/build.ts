/**
 * `watchy build <nuitka|rust>`: runs `buildspecs/nuitka.yml` or `buildspecs/rust-lambda.yml` on
 * this machine with the local buildspec runner (core/buildspec), once per catalog entry.
 */
import { execFileSync } from 'node:child_process';
import { arch as hostArch } from 'node:os';
import { join, resolve } from 'node:path';
import {
  ARCHITECTURES,
  assertAppName,
  assertVersion,
  isArchitecture,
  type Architecture,
} from '@core/artifacts';
import { loadBuildspec, runBuildspec, type BuildResult } from '@core/buildspec';
import { BUILD_MODES, WATCHY_VERSION } from '@core/build-env';
import { PYTHON_VERSION } from '@core/versions';
import { loadConfig } from '@core/config';
import { CliError, UsageError } from '../errors';
import { parseCommandArgs } from '../args';
import type { Command } from '../command';

const KINDS = { nuitka: 'nuitka.yml', rust: 'rust-lambda.yml' } as const;
type Kind = keyof typeof KINDS;

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

interface Target {
  readonly label: string;
  readonly variables: Record<string, string>;
}

export const command: Command = {
  name: 'build',
  summary: 'run a buildspec (nuitka or rust) on this machine, as CodeBuild does',
  usage,
  async run(args) {
    // bin/watchy.ts sets the real code when run() settles; work that never settles must not exit 0.
    process.exitCode = 1;
    const { values, positionals } = parseCommandArgs(
      args,
      {
        app: { type: 'string' },
        arch: { type: 'string' },
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
    if (kind === undefined || !(kind in KINDS)) {
      throw new UsageError(`expected the kind of build, nuitka or rust, got ${JSON.stringify(kind ?? '')}`);
    }
    if (extra.length) throw new UsageError(`unexpected argument ${JSON.stringify(extra[0])}`);
    if (values.arch !== undefined && !isArchitecture(values.arch)) {
      throw new UsageError(
        `--arch must be one of ${ARCHITECTURES.join(', ')}, got ${JSON.stringify(values.arch)}`,
      );
    }
    if (!(BUILD_MODES as readonly string[]).includes(values.mode)) {
      throw new UsageError(
        `--mode must be one of ${BUILD_MODES.join(', ')}, got ${JSON.stringify(values.mode)}`,
      );
    }
    const version = values.version ?? process.env[WATCHY_VERSION];
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

    const config = loadConfig(values.config === undefined ? {} : { file: values.config });
    const sourceDir = resolve(values['source-dir'] ?? process.cwd());
    const common: Record<string, string> = {
      WATCHY_MODE: values.mode,
      ...(version ? { [WATCHY_VERSION]: version } : {}),
    };
    const targets: Target[] = [];
    if ((kind as Kind) === 'nuitka') {
      const apps = config.catalog.nuitkaApps.filter((a) => values.app === undefined || a.name === values.app);
      if (apps.length === 0) {
        const known = config.catalog.nuitkaApps.map((a) => a.name).join(', ');
        throw new CliError(
          `unknown app ${JSON.stringify(values.app)}: the catalog's Nuitka apps are ${known}`,
        );
      }
      const arch = (values.arch as Architecture | undefined) ?? localArchitecture();
      for (const app of apps) {
        targets.push({
          label: `nuitka ${app.name} ${arch}`,
          variables: {
            ...common,
            WATCHY_APP: app.name,
            WATCHY_ARCH: arch,
            WATCHY_SOURCE_PATH: app.sourcePath,
            PYTHON_VERSION,
          },
        });
      }
    } else {
      const workspace = config.catalog.rustWorkspace;
      if (!workspace) throw new CliError('the catalog has no Rust workspace');
      if (values.app !== undefined && values.app !== 'rust') {
        throw new CliError(
          `unknown app ${JSON.stringify(values.app)}: the Rust workspace builds as --app rust`,
        );
      }
      const arches = values.arch ? [values.arch as Architecture] : workspace.architectures;
      for (const arch of arches) {
        targets.push({
          label: `rust ${workspace.sourcePath} ${arch}`,
          variables: {
            ...common,
            WATCHY_APP: 'rust',
            WATCHY_ARCH: arch,
            WATCHY_RUST_WORKSPACE: workspace.sourcePath,
            WATCHY_ALLOW_NATIVE_FALLBACK: values['allow-native-fallback'] ? '1' : '0',
            WATCHY_CLEAN: values.clean ? '1' : '0',
          },
        });
      }
    }

    const spec = await loadBuildspec(join(sourceDir, 'buildspecs', KINDS[kind as Kind]));
    const sourceVersion = gitHead(sourceDir);
    const results: [Target, BuildResult][] = [];
    for (const target of targets) {
      process.stdout.write(`[watchy build] ${target.label}\n`);
      const result = await runBuildspec({
        spec,
        sourceDir,
        projectName: `watchy-local-${kind}`,
        projectVariables: target.variables,
        overrides,
        artifactsDir: resolve(values['artifacts-dir'] ?? join(sourceDir, '.watchy-build', 'artifacts')),
        ...(sourceVersion ? { sourceVersion } : {}),
      });
      results.push([target, result]);
    }
    process.stdout.write('[watchy build] summary\n');
    for (const [target, result] of results) {
      const seconds = result.phases.reduce((sum, p) => sum + p.durationMs, 0) / 1000;
      process.stdout.write(`  ${result.status.padEnd(9)} ${target.label} (${seconds.toFixed(1)} s)\n`);
    }
    const failed = results.filter(([, r]) => r.status !== 'SUCCEEDED');
    if (failed.length) {
      const [target, result] = failed[0] as [Target, BuildResult];
      const more = failed.length > 1 ? ` (and ${failed.length - 1} more failed build(s))` : '';
      throw new CliError(`${target.label}: ${result.failure ?? 'failed'}${more}`);
    }
    return 0;
  },
};
