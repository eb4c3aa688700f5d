/**
 * Argument parsing shared by the `watchy` subcommands: strict `util.parseArgs` with its errors as
 * UsageError, required options, and the options several commands take, each defined and checked once.
 */
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { UsageError } from './errors';

type Options = NonNullable<ParseArgsConfig['options']>;

/** `util.parseArgs` in strict mode, with its errors turned into UsageError. */
export function parseCommandArgs<O extends Options>(args: string[], options: O, allowPositionals = false) {
  try {
    return parseArgs({ args, options, allowPositionals, strict: true });
  } catch (error) {
    throw new UsageError((error as Error).message.split('\n')[0] ?? 'bad arguments');
  }
}

/** Returns the option's value or throws a UsageError naming it. */
export function required<T>(value: T | undefined, flag: string): T {
  if (value === undefined || value === '') throw new UsageError(`missing required option --${flag}`);
  return value;
}
