/** `watchy emergency-rollback <app>`: back to the previous good release in the history, now. */
import { UsageError } from '../errors';
import { artifactOptions, parseCommandArgs } from '../args';
import type { Command } from '../command';
import { CONNECTION_USAGE, operate, printRollback, rollbackFrom } from './release-shared';
import { ROLLBACK_OPTIONS } from './rollback';

const usage = `usage: watchy emergency-rollback <app> [--from VERSION] [--arch x86_64|arm64] [--type nuitka|rust]
                                 [--reason TEXT] [--request-id ID] [--rebuild] [connection options]

Moves the latest pointer to the newest release before the current one that is not marked bad and
whose artifact still verifies, with a new, higher metadata_version (signed); the current version is
marked bad. The same --request-id again changes nothing.

It rolls back from --from (default: what \`watchy status\` shows when the command starts) and only
while the pointer still shows it, so two operators never go two steps back: when someone else's
rollback already left that release this is a no-op, "already rolled back from 1.2.0 to 1.1.0 by
<request>" (exit 0); when anything else moved it first (a promotion) it is refused with one line and
nothing changes. The one-line account goes to stderr, the JSON result to stdout.

${CONNECTION_USAGE}
`;

export const command: Command = {
  name: 'emergency-rollback',
  summary: 'roll the latest pointer back to the previous good release',
  usage,
  async run(args) {
    const { values, positionals } = parseCommandArgs(args, ROLLBACK_OPTIONS, true);
    const [app, extra] = positionals;
    if (!app || extra !== undefined) throw new UsageError('expected <app>');
    const ref = { app, ...artifactOptions(values) };
    const result = await operate(values, {
      action: 'emergency-rollback',
      ...ref,
      from: await rollbackFrom(values, ref, values.from),
      rebuild: values.rebuild ?? false,
      ...(values.reason ? { reason: values.reason } : {}),
      ...(values['request-id'] ? { requestId: values['request-id'] } : {}),
    });
    printRollback(result);
    return 0;
  },
};
