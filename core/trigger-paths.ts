/**
 * The file-path filters of the push trigger (the pipeline's, and the webhooks' check of a push). CodePipeline V2 allows at most 8 include patterns
 * per filter, so the catalog's source paths are grouped: entries that share a parent directory
 * become `parent/**` (which also covers what they share, e.g. examples/monitors/common), and
 * while there are still too many patterns the two with the deepest common parent are merged.
 */

/** A push that changes this file (at the repository root) rebuilds everything. */
export const FORCE_BUILD_FILE = 'FORCE_BUILD';
/** The buildspecs folder: a build change rebuilds everything. */
export const BUILDSPECS_PATTERN = 'buildspecs/**';
/** CodePipeline's limit on filePaths.includes. */
export const MAX_FILE_PATH_PATTERNS = 8;

export function triggerFilePaths(sourcePaths: readonly string[], max = MAX_FILE_PATH_PATTERNS): string[] {
  const fixed = [FORCE_BUILD_FILE, BUILDSPECS_PATTERN];
  const budget = max - fixed.length;
  if (budget < 1) throw new Error(`triggerFilePaths: at least ${fixed.length + 1} patterns are needed`);
  const dirs = [...new Set(sourcePaths.map((p) => p.replace(/\/+$/, '')))];
  const byParent = new Map<string, string[]>();
  for (const dir of dirs) {
    const parent = parentOf(dir);
    byParent.set(parent, [...(byParent.get(parent) ?? []), dir]);
  }
  let groups = dirs.map((dir) => {
    const parent = parentOf(dir);
    return parent !== '' && byParent.get(parent)!.length > 1 ? parent : dir;
  });
  groups = dropCovered([...new Set(groups)]);
  while (groups.length > budget) {
    let best: { i: number; j: number; common: string } | undefined;
    for (let i = 0; i < groups.length; i++) {
      for (let j = i + 1; j < groups.length; j++) {
        const common = commonDir(groups[i]!, groups[j]!);
        if (!best || depth(common) > depth(best.common)) best = { i, j, common };
      }
    }
    if (!best || best.common === '') {
      throw new Error(
        `the catalog's source paths need more than ${budget} trigger patterns and share no directory: ${groups.join(', ')}`,
      );
    }
    groups = dropCovered([...groups.filter((_, k) => k !== best!.i && k !== best!.j), best.common]);
  }
  return [...groups.sort().map((dir) => `${dir}/**`), ...fixed];
}

/** True when CodePipeline's glob `pattern` (`**` any path, `*` within a segment) matches `path`. */
export function globMatches(pattern: string, path: string): boolean {
  return globRegExp(pattern).test(path);
}

function globRegExp(pattern: string): RegExp {
  const regex = pattern
    .split('**')
    .map((part) =>
      part
        .split('*')
        .map((s) => s.replace(/[.+?^${}()|[\]\\]/g, '\\$&'))
        .join('[^/]*'),
    )
    .join('.*');
  return new RegExp(`^${regex}$`);
}

/** True when any of `paths` matches any of `patterns` (what CodePipeline's push filter asks). */
export function touchesTriggerPaths(paths: Iterable<string>, patterns: readonly string[]): boolean {
  const matchers = patterns.map((pattern) => globRegExp(pattern));
  for (const path of paths) if (matchers.some((m) => m.test(path))) return true;
  return false;
}

function parentOf(dir: string): string {
  const i = dir.lastIndexOf('/');
  return i < 0 ? '' : dir.slice(0, i);
}

function depth(dir: string): number {
  return dir === '' ? 0 : dir.split('/').length;
}

function commonDir(a: string, b: string): string {
  const x = a.split('/');
  const y = b.split('/');
  const out: string[] = [];
  for (let k = 0; k < Math.min(x.length, y.length) && x[k] === y[k]; k++) out.push(x[k]!);
  return out.join('/');
}

/** Drops directories inside another one of the list. */
function dropCovered(dirs: string[]): string[] {
  return dirs.filter((d) => !dirs.some((o) => o !== d && d.startsWith(`${o}/`)));
}
