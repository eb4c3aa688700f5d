/**
 * Argument parsing shared by the `watchy` subcommands: strict `util.parseArgs` with its errors as
 * UsageError, required options, and the options several commands take, each defined and checked once.
 */
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { z } from 'zod';
import { ARCHITECTURES, BINARY_TYPES, type Architecture, type BinaryType } from '@core/artifacts';
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

/** `--endpoint-url URL` (an AWS-compatible endpoint: moto, LocalStack) and `--region REGION`. */
export const ENDPOINT_OPTIONS = {
  'endpoint-url': { type: 'string' },
  region: { type: 'string' },
} as const;

/** `--arch x86_64|arm64`: checked with architectureOption. */
export const ARCH_OPTION = { arch: { type: 'string' } } as const;

/** `--arch x86_64|arm64` and `--type nuitka|rust`: one artifact of an app, checked with artifactOptions. */
export const ARTIFACT_OPTIONS = { ...ARCH_OPTION, type: { type: 'string' } } as const;

const ArchitectureOption = z.enum(ARCHITECTURES);
const BinaryTypeOption = z.enum(BINARY_TYPES);

/** The value as one of `schema`'s options, or a UsageError naming the flag and every option. */
function oneOf<T extends string>(
  schema: z.ZodType<T> & { readonly options: readonly T[] },
  flag: string,
  value: string,
): T {
  const parsed = schema.safeParse(value);
  if (!parsed.success) {
    throw new UsageError(
      `--${flag} must be one of ${schema.options.join(', ')}, got ${JSON.stringify(value)}`,
    );
  }
  return parsed.data;
}

/** An `--arch` value (one of ARCHITECTURES); undefined stays undefined. */
export function architectureOption(value: string): Architecture;
export function architectureOption(value: string | undefined): Architecture | undefined;
export function architectureOption(value: string | undefined): Architecture | undefined {
  return value === undefined ? undefined : oneOf(ArchitectureOption, 'arch', value);
}

/** A binary type value (one of BINARY_TYPES) given as `--<flag>`; undefined stays undefined. */
export function binaryTypeOption(value: string, flag?: string): BinaryType;
export function binaryTypeOption(value: string | undefined, flag?: string): BinaryType | undefined;
export function binaryTypeOption(value: string | undefined, flag = 'type'): BinaryType | undefined {
  return value === undefined ? undefined : oneOf(BinaryTypeOption, flag, value);
}

/** The artifact ARTIFACT_OPTIONS name: `--arch` default x86_64, `--type` default nuitka (the seed's). */
export function artifactOptions(values: { readonly arch?: string; readonly type?: string }): {
  architecture: Architecture;
  binaryType: BinaryType;
} {
  return {
    architecture: architectureOption(values.arch) ?? 'x86_64',
    binaryType: binaryTypeOption(values.type) ?? 'nuitka',
  };
}
