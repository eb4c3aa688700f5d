/** `watchy emergency-rollback <app>`: back to the previous good release in the history, now. */
import { parseCommandArgs, UsageError } from '../cli-error';
import type { Command } from '../command';
import { architectureOption, binaryTypeOption, CONNECTION_USAGE, operate, printJson } from './release-shared';
import { ROLLBACK_OPTIONS } from './rollback';

const usage = `usage: watchy emergency-rollback <app> [--arch x86_64|arm64] [--type nuitka|rust] [--reason TEXT]
                                 [--request-id ID] [--rebuild] [connection options]

Moves the latest pointer to the newest release before the current one that is not marked bad and
whose artifact still verifies, with a new, higher metadata_version (signed); the current version is
marked bad. The same --request-id again changes nothing.

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
    const result = await operate(values, {
      action: 'emergency-rollback',
      app,
      architecture: architectureOption(values.arch),
      binaryType: binaryTypeOption(values.type),
      rebuild: values.rebuild ?? false,
      ...(values.reason ? { reason: values.reason } : {}),
      ...(values['request-id'] ? { requestId: values['request-id'] } : {}),
    });
    printJson(result);
    return 0;
  },
};
