/**
 * The buildspec `artifacts` section, done locally: select files under `base-directory` with the
 * `files` globs and copy them (keeping their paths unless `discard-paths`) into a directory named
 * after the artifact. CodeBuild fails UPLOAD_ARTIFACTS when nothing matches; so does this.
 */
import { copyFile, chmod, mkdir, readdir, rm, stat } from 'node:fs/promises';
import { basename, dirname, join, relative, resolve, sep } from 'node:path';
import type { Buildspec } from './spec';

/** A CodeBuild-style glob (`**` any depth, `*` and `?` within one segment) as a RegExp. */
export function globToRegExp(glob: string): RegExp {
  let pattern = '';
  const text = glob.replace(/^\.\//, '');
  for (let i = 0; i < text.length; i += 1) {
    const ch = text[i] as string;
    if (ch === '*' && text[i + 1] === '*') {
      const slash = text[i + 2] === '/';
      pattern += slash ? '(?:.*/)?' : '.*';
      i += slash ? 2 : 1;
    } else if (ch === '*') {
      pattern += '[^/]*';
    } else if (ch === '?') {
      pattern += '[^/]';
    } else {
      pattern += ch.replace(/[.+^${}()|[\]\\]/g, '\\$&');
    }
  }
  return new RegExp(`^${pattern}$`);
}

async function walk(dir: string, root: string, out: string[]): Promise<void> {
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    const full = join(dir, entry.name);
    if (entry.isDirectory()) await walk(full, root, out);
    else if (entry.isFile()) out.push(relative(root, full).split(sep).join('/'));
  }
}

export class ArtifactsError extends Error {
  override readonly name = 'ArtifactsError';
}

/** Expands `$VAR` and `${VAR}` from `env` (CodeBuild does this in the artifact name). */
export function expandVariables(text: string, env: Record<string, string | undefined>): string {
  return text.replace(
    /\$\{([A-Za-z_][A-Za-z0-9_]*)\}|\$([A-Za-z_][A-Za-z0-9_]*)/g,
    (_m, a?: string, b?: string) => {
      return env[(a ?? b) as string] ?? '';
    },
  );
}

export interface CollectedArtifacts {
  readonly name: string;
  readonly dir: string;
  readonly files: readonly string[];
}

/**
 * Copies the matching files into `<outRoot>/<artifact name>/` (replacing an earlier copy).
 * `defaultName` stands for the project name when the section has no `name`.
 */
export async function collectArtifacts(
  spec: NonNullable<Buildspec['artifacts']>,
  sourceDir: string,
  outRoot: string,
  defaultName: string,
  env: Record<string, string | undefined>,
): Promise<CollectedArtifacts> {
  const base = resolve(sourceDir, spec['base-directory'] ?? '.');
  if (relative(resolve(sourceDir), base).startsWith('..')) {
    throw new ArtifactsError(
      `artifacts base-directory ${spec['base-directory']} is outside the source directory`,
    );
  }
  const found: string[] = [];
  const baseExists = await stat(base).then(
    (s) => s.isDirectory(),
    () => false,
  );
  if (baseExists) await walk(base, base, found);
  const patterns = spec.files.map(globToRegExp);
  const selected = found.filter((file) => patterns.some((p) => p.test(file))).sort();
  if (selected.length === 0) {
    throw new ArtifactsError(
      `no matching artifact paths found (files ${spec.files.join(', ')} under ${base})`,
    );
  }
  const name = expandVariables(spec.name ?? defaultName, env).replace(/[^A-Za-z0-9._-]/g, '_') || defaultName;
  const dir = join(outRoot, name);
  await rm(dir, { recursive: true, force: true });
  const discard = spec['discard-paths'] === true || spec['discard-paths'] === 'yes';
  const copied: string[] = [];
  for (const file of selected) {
    const target = discard ? basename(file) : file;
    const dest = join(dir, target);
    await mkdir(dirname(dest), { recursive: true });
    await copyFile(join(base, file), dest);
    await chmod(dest, (await stat(join(base, file))).mode & 0o777);
    copied.push(target);
  }
  return { name, dir, files: copied };
}
