/**
 * The `watchy` CLI entry: finds the subcommand, runs it, and turns every failure into one line
 * on stderr and a non-zero exit code. Subcommands are loaded lazily so `--help` stays fast.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { CliError } from '../cli/errors';
import type { Command } from '../cli/command';

// The AWS SDK prints a multi-line notice on Node < 22; the CLI supports Node 20 (package.json engines)
// and keeps every failure to one line, so the notice is switched off unless the caller set it.
process.env['AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED'] ??= 'true';

/** name -> [summary, loader]. Summaries live here so `--help` loads no command module. */
const COMMANDS: Record<string, [string, () => Promise<{ command: Command }>]> = {};

function register(name: string, summary: string, load: () => Promise<{ command: Command }>): void {
  COMMANDS[name] = [summary, load];
}

// Subcommands: one module each under cli/commands/, registered here in help order.
register(
  'package',
  'package a built binary: raw, .gz, metadata JSON and Lambda zip',
  () => import('../cli/commands/package'),
);
register(
  'build',
  'run a buildspec (nuitka or rust) on this machine, as CodeBuild does',
  () => import('../cli/commands/build'),
);
register(
  'fetch',
  'fetch, verify and install the binary a metadata URL offers',
  () => import('../cli/commands/fetch'),
);
register(
  'bisect',
  'find the first bad commit of a failing build (start, status, deliver)',
  () => import('../cli/commands/bisect'),
);
register('cancel', 'stop a CodeBuild build or a pipeline execution', () => import('../cli/commands/cancel'));
register(
  'test-notification',
  'publish a test message to the notification topic',
  () => import('../cli/commands/test-notification'),
);
register(
  'stage',
  'upload packaged binaries to staging and print the publish request key',
  () => import('../cli/commands/stage'),
);
register(
  'publish',
  'verify, sign and publish a staged build (promote it on the release branch)',
  () => import('../cli/commands/publish'),
);
register(
  'rollback',
  'roll the latest pointer back to a given version',
  () => import('../cli/commands/rollback'),
);
register(
  'emergency-rollback',
  'roll the latest pointer back to the previous good release',
  () => import('../cli/commands/emergency-rollback'),
);
register(
  'history',
  'show the release history of an app (promotions, rollbacks, bad versions)',
  () => import('../cli/commands/history'),
);
register(
  'status',
  'show the latest release of every artifact and whether it agrees with its history',
  () => import('../cli/commands/status'),
);
register(
  'list',
  'list released artifacts and their published versions',
  () => import('../cli/commands/list'),
);
void register;

function version(): string {
  const pkg = JSON.parse(readFileSync(join(__dirname, '..', 'package.json'), 'utf8')) as { version: string };
  return pkg.version;
}

function help(): string {
  const width = Math.max(0, ...Object.keys(COMMANDS).map((n) => n.length));
  const lines = Object.entries(COMMANDS).map(([name, [summary]]) => `  ${name.padEnd(width)}  ${summary}`);
  return [
    'usage: watchy <command> [options]',
    '',
    'Build, package, publish, fetch and roll back Watchy binaries.',
    '',
    'commands:',
    ...lines,
    '',
    'options:',
    '  -h, --help     show help (also: watchy <command> --help)',
    '  -V, --version  print the version',
    '',
  ].join('\n');
}

export async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined || name === '-h' || name === '--help' || name === 'help') {
    process.stdout.write(help());
    return name === undefined ? 2 : 0;
  }
  if (name === '-V' || name === '--version') {
    process.stdout.write(`${version()}\n`);
    return 0;
  }
  const entry = COMMANDS[name];
  if (!entry) {
    process.stderr.write(`watchy: unknown command ${JSON.stringify(name)} (see watchy --help)\n`);
    return 2;
  }
  const { command } = await entry[1]();
  if (rest.includes('-h') || rest.includes('--help')) {
    process.stdout.write(`${command.usage.trimEnd()}\n`);
    return 0;
  }
  try {
    return await command.run(rest);
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    process.stderr.write(`watchy ${name}: ${message.split('\n')[0]}\n`);
    return error instanceof CliError ? error.exitCode : 1;
  }
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    process.stderr.write(`watchy: ${error instanceof Error ? error.message : String(error)}\n`);
    process.exitCode = 1;
  },
);
