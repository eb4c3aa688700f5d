/**
 * Loads the config once: default, then the stage's overrides, then an optional JSON file,
 * validated with the schema. A bad config throws ConfigError with one line naming the field.
 */
import { readFileSync } from 'node:fs';
import { DEFAULT_CONFIG, STAGE_NAMES, STAGE_OVERRIDES, type StageName } from './default-config';
import { WatchyConfigSchema, type WatchyConfig } from './schema';
import { describeZodIssue } from '../zod-issue';

export class ConfigError extends Error {
  override readonly name = 'ConfigError';
}

export interface LoadConfigOptions {
  /** One of beta, gamma, prod. @default none (the embedded default alone) */
  readonly stage?: string;
  /** Path of a JSON file deep-merged over the default and stage. @default none */
  readonly file?: string;
  /** An object deep-merged last (tests, programmatic use). @default none */
  readonly overrides?: unknown;
}

export function loadConfig(options: LoadConfigOptions = {}): WatchyConfig {
  let raw: unknown = DEFAULT_CONFIG;
  if (options.stage !== undefined) {
    if (!(STAGE_NAMES as readonly string[]).includes(options.stage)) {
      throw new ConfigError(
        `Invalid watchy config: stage: expected one of ${STAGE_NAMES.join(', ')}, got ${JSON.stringify(options.stage)}`,
      );
    }
    raw = deepMerge(deepMerge(raw, STAGE_OVERRIDES[options.stage as StageName]), { stage: options.stage });
  }
  if (options.file !== undefined) raw = deepMerge(raw, readJsonFile(options.file));
  if (options.overrides !== undefined) raw = deepMerge(raw, options.overrides);
  return parseConfig(raw);
}

export function parseConfig(raw: unknown): WatchyConfig {
  const result = WatchyConfigSchema.safeParse(raw);
  if (result.success) return result.data;
  throw new ConfigError(`Invalid watchy config: ${describeZodIssue(result.error.issues[0], raw)}`);
}

function readJsonFile(file: string): unknown {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (error) {
    throw new ConfigError(
      `Invalid watchy config: cannot read ${file}: ${(error as NodeJS.ErrnoException).code}`,
    );
  }
  try {
    return JSON.parse(text);
  } catch (error) {
    throw new ConfigError(`Invalid watchy config: ${file} is not JSON: ${(error as Error).message}`);
  }
}

/** Objects merge key by key; arrays and scalars from `override` replace. */
export function deepMerge(base: unknown, override: unknown): unknown {
  if (!isPlainObject(base) || !isPlainObject(override)) return override === undefined ? base : override;
  const merged: Record<string, unknown> = { ...base };
  for (const [key, value] of Object.entries(override)) merged[key] = deepMerge(base[key], value);
  return merged;
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}
