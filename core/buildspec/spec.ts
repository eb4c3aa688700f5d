/**
 * The part of the CodeBuild buildspec format (version 0.2) that the local runner executes, parsed
 * and checked with zod so a malformed buildspec fails with one line naming the field.
 *
 * Supported: env.shell (bash or sh), env.variables, env.exported-variables, the four phases with
 * commands, on-failure (ABORT, CONTINUE) and finally, artifacts (files, base-directory,
 * discard-paths, name) and cache.paths. Parameter Store, Secrets Manager, run-as, reports and
 * batch are AWS-side features: a buildspec that uses them is refused locally rather than run
 * differently from CodeBuild.
 */
import { readFile } from 'node:fs/promises';
import { parse } from 'yaml';
import { z } from 'zod';

export const PHASES = ['install', 'pre_build', 'build', 'post_build'] as const;
export type PhaseName = (typeof PHASES)[number];

const commands = z.array(z.string().min(1));

const PhaseSchema = z.strictObject({
  'on-failure': z.enum(['ABORT', 'CONTINUE']).default('ABORT'),
  'runtime-versions': z.record(z.string(), z.union([z.string(), z.number()])).optional(),
  commands: commands.default([]),
  finally: commands.optional(),
});

/** Values are strings in CodeBuild; YAML numbers and booleans are turned into their text. */
const variableValue = z.union([z.string(), z.number(), z.boolean()]).transform(String);

export const BuildspecSchema = z.strictObject({
  version: z.union([z.literal(0.2), z.literal('0.2')], { message: 'expected version 0.2' }),
  env: z
    .strictObject({
      shell: z.enum(['bash', 'sh']).default('bash'),
      variables: z.record(z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/), variableValue).default({}),
      'exported-variables': z.array(z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/)).default([]),
      'git-credential-helper': z.enum(['yes', 'no']).optional(),
    })
    .prefault({}),
  phases: z.strictObject({
    install: PhaseSchema.optional(),
    pre_build: PhaseSchema.optional(),
    build: PhaseSchema.optional(),
    post_build: PhaseSchema.optional(),
  }),
  artifacts: z
    .strictObject({
      files: z.array(z.string().min(1)).min(1),
      name: z.string().min(1).optional(),
      'base-directory': z.string().min(1).optional(),
      'discard-paths': z.union([z.enum(['yes', 'no']), z.boolean()]).optional(),
    })
    .optional(),
  cache: z.strictObject({ paths: z.array(z.string().min(1)).min(1) }).optional(),
});

export type Buildspec = z.output<typeof BuildspecSchema>;
export type Phase = z.output<typeof PhaseSchema>;

export class BuildspecError extends Error {
  override readonly name = 'BuildspecError';
}

/** Parses buildspec YAML text; throws BuildspecError with one line naming the problem. */
export function parseBuildspec(text: string, source = 'buildspec'): Buildspec {
  let raw: unknown;
  try {
    raw = parse(text);
  } catch (error) {
    throw new BuildspecError(`${source}: not valid YAML: ${(error as Error).message.split('\n')[0]}`);
  }
  const result = BuildspecSchema.safeParse(raw);
  if (!result.success) {
    const issue = result.error.issues[0];
    const path = issue?.path.length ? issue.path.map(String).join('.') : '(root)';
    const detail =
      issue?.code === 'unrecognized_keys'
        ? `${issue.keys.join(', ')}: not supported by the local runner`
        : (issue?.message ?? 'invalid');
    throw new BuildspecError(`${source}: ${path}: ${detail}`);
  }
  return result.data;
}

export async function loadBuildspec(path: string): Promise<Buildspec> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    throw new BuildspecError(`cannot read buildspec ${path}: ${(error as NodeJS.ErrnoException).code}`);
  }
  return parseBuildspec(text, path);
}
