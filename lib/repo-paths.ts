/** Where the infra finds the repository's other parts at synth: Lambda adapters and buildspecs. */
import { join } from 'node:path';

export const REPO_ROOT = join(__dirname, '..');

/** The buildspec YAML files, loaded at synth (`buildspecs/`). */
export const BUILDSPEC_DIR = join(REPO_ROOT, 'buildspecs');

/** The entry file of one Lambda adapter, e.g. `adapterEntry('publish')` or `adapterEntry('monitor', 'public-key')`. */
export function adapterEntry(...adapterPath: string[]): string {
  return join(REPO_ROOT, 'lambda', ...adapterPath, 'index.ts');
}
