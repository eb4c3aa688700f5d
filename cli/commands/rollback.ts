/** `watchy rollback <app> <version>`: point the latest pointer at an earlier, verified release. */
import { parseCommandArgs, UsageError } from '../cli-error';
import type { Command } from '../command';
import {
  architectureOption,
  binaryTypeOption,
  CONNECTION_OPTIONS,
  CONNECTION_USAGE,
  operate,
  printJson,
} from './release-shared';

const usage = `usage: watchy rollback <app> <version> [--arch x86_64|arm64] [--type nuitka|rust] [--reason TEXT]
                       [--request-id ID] [--rebuild] [connection options]

Publishes a new, higher metadata_version (signed) that points at VERSION's artifact, after checking
its sizes and hashes; the version the pointer held is marked bad. With --rebuild, a missing or
damaged artifact starts a CodeBuild rebuild of its commit instead of failing.

${CONNECTION_USAGE}
`;

export const ROLLBACK_OPTIONS = {
  ...CONNECTION_OPTIONS,
  arch: { type: 'string' },
  type: { type: 'string' },
  reason: { type: 'string' },
  'request-id': { type: 'string' },
  rebuild: { type: 'boolean' },
} as const;

export const command: Command = {
  name: 'rollback',
  summary: 'roll the latest pointer back to a given version',
  usage,
  async run(args) {
    const { values, positionals } = parseCommandArgs(args, ROLLBACK_OPTIONS, true);
    const [app, version, extra] = positionals;
    if (!app || !version || extra !== undefined) throw new UsageError('expected <app> <version>');
    const result = await operate(values, {
      action: 'rollback',
      app,
      version,
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
