/** `watchy status [app]`: what every latest pointer shows, and whether it agrees with its history. */
import { UsageError } from '../errors';
import { parseCommandArgs } from '../args';
import type { Command } from '../command';
import { CONNECTION_OPTIONS, CONNECTION_USAGE, operate, printJson } from './release-shared';

const usage = `usage: watchy status [app] [connection options]

${CONNECTION_USAGE}
`;

export const command: Command = {
  name: 'status',
  summary: 'show the latest release of every artifact (version, metadata_version, history agreement)',
  usage,
  async run(args) {
    const { values, positionals } = parseCommandArgs(args, CONNECTION_OPTIONS, true);
    if (positionals.length > 1) throw new UsageError('expected at most one <app>');
    printJson(
      await operate(values, { action: 'status', ...(positionals[0] ? { app: positionals[0] } : {}) }),
    );
    return 0;
  },
};
