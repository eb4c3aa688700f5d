/** `watchy list [app]`: every released artifact and its published versions. */
import { UsageError } from '../errors';
import { parseCommandArgs } from '../args';
import type { Command } from '../command';
import { CONNECTION_OPTIONS, CONNECTION_USAGE, operate, printJson } from './release-shared';

const usage = `usage: watchy list [app] [connection options]

${CONNECTION_USAGE}
`;

export const command: Command = {
  name: 'list',
  summary: 'list released artifacts and their published versions',
  usage,
  async run(args) {
    const { values, positionals } = parseCommandArgs(args, CONNECTION_OPTIONS, true);
    if (positionals.length > 1) throw new UsageError('expected at most one <app>');
    printJson(await operate(values, { action: 'list', ...(positionals[0] ? { app: positionals[0] } : {}) }));
    return 0;
  },
};
