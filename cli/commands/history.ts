/** `watchy history <app>`: promotions and rollbacks of one latest pointer, newest first. */
import { UsageError } from '../errors';
import { ARTIFACT_OPTIONS, artifactOptions, parseCommandArgs } from '../args';
import type { Command } from '../command';
import { CONNECTION_OPTIONS, CONNECTION_USAGE, operate, printJson } from './release-shared';

const usage = `usage: watchy history <app> [--arch x86_64|arm64] [--type nuitka|rust] [--limit N] [connection options]

${CONNECTION_USAGE}
`;

export const command: Command = {
  name: 'history',
  summary: 'show the release history of an app (promotions, rollbacks, bad versions)',
  usage,
  async run(args) {
    const { values, positionals } = parseCommandArgs(
      args,
      {
        ...CONNECTION_OPTIONS,
        ...ARTIFACT_OPTIONS,
        limit: { type: 'string' },
      },
      true,
    );
    const [app, extra] = positionals;
    if (!app || extra !== undefined) throw new UsageError('expected <app>');
    if (values.limit !== undefined && !/^\d{1,4}$/.test(values.limit)) {
      throw new UsageError(`--limit must be a whole number, got ${JSON.stringify(values.limit)}`);
    }
    printJson(
      await operate(values, {
        action: 'history',
        app,
        ...artifactOptions(values),
        ...(values.limit ? { limit: Number(values.limit) } : {}),
      }),
    );
    return 0;
  },
};
