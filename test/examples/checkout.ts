/**
 * A throwaway checkout of this repository for build tests: the buildspecs run in it exactly as
 * CodeBuild runs them in its source directory, with their own `dist/` and `target/lambda/`, so a
 * test can break a source without touching the real tree and can see everything a build wrote.
 *
 * The code and tools (node_modules, .venv, bin, cli, lambda, lib, tools, buildspecs, .git, the
 * pinned rust-toolchain.toml) are symlinks to this repository; the example sources are copies the
 * test may modify.
 */
import { cpSync, mkdirSync, mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export const ROOT = join(__dirname, '..', '..');

const LINKED = [
  'node_modules',
  '.venv',
  '.git',
  'bin',
  'cli',
  'lambda',
  'lib',
  'tools',
  'buildspecs',
  'package.json',
  'tsconfig.json',
  'rust-toolchain.toml',
];

export interface Checkout {
  readonly dir: string;
  /** A path inside the checkout. */
  path(...parts: string[]): string;
  remove(): void;
}

export function makeCheckout(prefix = 'watchy-checkout-'): Checkout {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  for (const name of LINKED) symlinkSync(join(ROOT, name), join(dir, name));
  mkdirSync(join(dir, 'examples', 'rust-lambdas'), { recursive: true });
  cpSync(join(ROOT, 'examples', 'monitors'), join(dir, 'examples', 'monitors'), { recursive: true });
  for (const name of ['Cargo.toml', 'Cargo.lock', 'src']) {
    cpSync(join(ROOT, 'examples', 'rust-lambdas', name), join(dir, 'examples', 'rust-lambdas', name), {
      recursive: true,
    });
  }
  return {
    dir,
    path: (...parts) => join(dir, ...parts),
    remove: () => rmSync(dir, { recursive: true, force: true }),
  };
}
