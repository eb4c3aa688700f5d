/**
 * `watchy package`: turns one built binary into the distribution set (core/packaging).
 */
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { assertAppName, type BinaryType } from '@core/artifacts';
import { cargoBinaries } from '@core/packaging/cargo';
import { DEFAULT_BASE_URL, packageBinary } from '@core/packaging';
import { PYTHON_VERSION } from '@core/build-env';
import { NUITKA_PYTHON_VERSION } from '@core/versions';
import { loadConfig } from '@core/config';
import { CliError } from '../errors';
import { ARCH_OPTION, architectureOption, binaryTypeOption, parseCommandArgs, required } from '../args';
import type { Command } from '../command';

const usage = `usage: watchy package --app NAME --version SEMVER --arch x86_64|arm64 --binary FILE --out DIR
                      [--binary-type nuitka|rust] [--base-url URL] [--python-version X.Y]
                      [--source-revision SHA] [--build-id ID] [--config FILE]

Writes the distribution set of one binary into DIR: the raw binary, its .gz, the metadata JSON
(latest and versioned names) and the Lambda zip. The metadata is validated against
core/metadata/watchy-metadata.schema.json before anything is written; on any error
nothing is written.

  --app             catalog app (nuitka) or [[bin]] of the catalog's Rust workspace (rust)
  --binary-type     default nuitka
  --base-url        BinaryDistributionUrl; default $WATCHY_BASE_URL, else ${DEFAULT_BASE_URL}
  --python-version  nuitka only; default $PYTHON_VERSION, else ${NUITKA_PYTHON_VERSION}
  --source-revision default $CODEBUILD_RESOLVED_SOURCE_VERSION, else git rev-parse HEAD
  --build-id        default $CODEBUILD_BUILD_ID, else local-<time>
  --config          JSON config file merged over the embedded default catalog
`;

function gitHead(): string | undefined {
  try {
    const head = execFileSync('git', ['rev-parse', 'HEAD'], {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'ignore'],
    });
    return head.trim() || undefined;
  } catch {
    return undefined;
  }
}

/** The catalog's `saas_app` for a nuitka app, or the bin name for a Rust Lambda of the workspace. */
async function saasAppFor(
  app: string,
  binaryType: BinaryType,
  configFile: string | undefined,
): Promise<string> {
  const config = loadConfig(configFile === undefined ? {} : { file: configFile });
  if (binaryType === 'nuitka') {
    const entry = config.catalog.nuitkaApps.find((a) => a.name === app);
    if (!entry) {
      const known = config.catalog.nuitkaApps.map((a) => a.name).join(', ');
      throw new CliError(`unknown app ${JSON.stringify(app)}: the catalog's Nuitka apps are ${known}`);
    }
    return entry.displayName;
  }
  const workspace = config.catalog.rustWorkspace;
  if (!workspace) throw new CliError('the catalog has no Rust workspace');
  const bins = await cargoBinaries(join(process.cwd(), workspace.sourcePath));
  if (!bins.includes(app)) {
    throw new CliError(
      `unknown app ${JSON.stringify(app)}: the Rust workspace ${workspace.sourcePath} has the binaries ${bins.join(', ')}`,
    );
  }
  return app;
}

export const command: Command = {
  name: 'package',
  summary: 'package a built binary: raw, .gz, metadata JSON and Lambda zip',
  usage,
  async run(args) {
    // bin/watchy.ts sets the real code when run() settles; work that never settles must not exit 0.
    process.exitCode = 1;
    const { values } = parseCommandArgs(args, {
      app: { type: 'string' },
      version: { type: 'string' },
      ...ARCH_OPTION,
      binary: { type: 'string' },
      out: { type: 'string' },
      'binary-type': { type: 'string', default: 'nuitka' },
      'base-url': { type: 'string' },
      'python-version': { type: 'string' },
      'source-revision': { type: 'string' },
      'build-id': { type: 'string' },
      config: { type: 'string' },
    });
    const app = required(values.app, 'app');
    const version = required(values.version, 'version');
    const arch = required(values.arch, 'arch');
    const binary = required(values.binary, 'binary');
    const out = required(values.out, 'out');
    const binaryType = binaryTypeOption(values['binary-type'], 'binary-type');
    const architecture = architectureOption(arch);
    assertAppName(app);
    const saasApp = await saasAppFor(app, binaryType, values.config);
    const env = process.env;
    const result = await packageBinary({
      app,
      binaryType,
      architecture,
      version,
      binaryPath: binary,
      outDir: out,
      saasApp,
      baseUrl: values['base-url'] ?? (env['WATCHY_BASE_URL'] || DEFAULT_BASE_URL),
      pythonVersion: values['python-version'] ?? (env[PYTHON_VERSION] || NUITKA_PYTHON_VERSION),
      sourceRevision: values['source-revision'] ?? (env['CODEBUILD_RESOLVED_SOURCE_VERSION'] || gitHead()),
      buildId: values['build-id'] ?? (env['CODEBUILD_BUILD_ID'] || `local-${new Date().toISOString()}`),
    });
    const m = result.metadata;
    process.stdout.write(
      [
        `packaged ${app} ${version} (${binaryType}, ${arch}) into ${result.outDir}`,
        `  ${result.files.raw}  ${m.binary_size} bytes  sha256 ${m.sha256}`,
        `  ${result.files.gz}  ${m.compressed_size} bytes  sha256 ${m.compressed_sha256}`,
        `  ${result.files.lambdaZip}  ${result.zipSize} bytes`,
        `  ${result.files.metadata}, ${result.files.versionedMetadata}  download_url ${m.download_url}`,
        '',
      ].join('\n'),
    );
    return 0;
  },
};
