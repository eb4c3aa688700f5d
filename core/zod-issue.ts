/**
 * One line for the first problem zod found: `field.path: what was expected, got <value>`.
 * Shared by the config loader and the release request parser so both read the same way.
 */
import type { z } from 'zod';

export function describeZodIssue(issue: z.core.$ZodIssue | undefined, raw: unknown): string {
  if (!issue) return 'unknown problem';
  const path = issue.path.length ? issue.path.map(String).join('.') : '(root)';
  if (issue.code === 'unrecognized_keys') {
    return `${path === '(root)' ? '' : `${path}.`}${issue.keys[0]}: unknown field`;
  }
  const got = valueAt(raw, issue.path);
  if (got === undefined && issue.code === 'invalid_type') return `${path}: required field is missing`;
  // A type error's message already names what was received; other values are quoted (shortened).
  if (got === undefined || got === null || typeof got === 'object' || issue.code === 'invalid_type') {
    return `${path}: ${issue.message}`;
  }
  const shown = typeof got === 'string' ? JSON.stringify(got.slice(0, 80)) : JSON.stringify(got);
  return `${path}: ${issue.message}, got ${shown}`;
}

function valueAt(raw: unknown, path: readonly PropertyKey[]): unknown {
  let value = raw;
  for (const key of path) {
    if (value === null || typeof value !== 'object') return undefined;
    value = (value as Record<PropertyKey, unknown>)[key];
  }
  return value;
}
