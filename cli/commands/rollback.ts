/** `watchy rollback <app> <version>`: point the latest pointer at an earlier, verified release. */
import { UsageError } from '../errors';
import { ARTIFACT_OPTIONS, artifactOptions, parseCommandArgs } from '../args';
import type { Command } from '../command';
import { CONNECTION_OPTIONS, CONNECTION_USAGE, operate, printRollback, rollbackFrom } from './release-shared';

const usage = `usage: watchy rollback <app> <version> [--from VERSION] [--arch x86_64|arm64] [--type nuitka|rust]
                       [--reason TEXT] [--request-id ID] [--rebuild] [connection options]

Publishes a new, higher metadata_version (signed) that points at VERSION's artifact, after checking
its sizes and hashes; the version the pointer held is marked bad. With --rebuild, a missing or
damaged artifact starts a CodeBuild rebuild of its commit instead of failing.

It rolls back from --from (default: what \`watchy status\` shows when the command starts) and only
while the pointer still shows it: when another operator's rollback already took it to VERSION this is
a no-op that names them (exit 0); when anything else moved it first (a promotion, a rollback
elsewhere) it is refused with one line and nothing changes. The one-line account goes to stderr, the
JSON result to stdout.

${CONNECTION_USAGE}
`;

export const ROLLBACK_OPTIONS = {
  ...CONNECTION_OPTIONS,
  ...ARTIFACT_OPTIONS,
  reason: { type: 'string' },
  'request-id': { type: 'string' },
  rebuild: { type: 'boolean' },
  from: { type: 'string' },
} as const;

export const command: Command = {
  name: 'rollback',
  summary: 'roll the latest pointer back to a given version',
  usage,
  async run(args) {
    const { values, positionals } = parseCommandArgs(args, ROLLBACK_OPTIONS, true);
    const [app, version, extra] = positionals;
    if (!app || !version || extra !== undefined) throw new UsageError('expected <app> <version>');
    const ref = { app, ...artifactOptions(values) };
    const result = await operate(values, {
      action: 'rollback',
      ...ref,
      version,
      from: await rollbackFrom(values, ref, values.from),
      rebuild: values.rebuild ?? false,
      ...(values.reason ? { reason: values.reason } : {}),
      ...(values['request-id'] ? { requestId: values['request-id'] } : {}),
    });
    printRollback(result);
    return 0;
  },
};
