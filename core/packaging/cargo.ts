/**
 * The Lambda binaries of a Cargo workspace: every `bin` target of its members, as
 * `cargo metadata` reports them (the same rule buildspecs/rust-lambda.yml applies).
 */
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

export class CargoError extends Error {
  override readonly name = 'CargoError';
}

interface CargoMetadata {
  packages: { targets: { name: string; kind: string[] }[] }[];
}

/** Bin target names of the workspace at `workspaceDir`, sorted. */
export async function cargoBinaries(workspaceDir: string): Promise<string[]> {
  let stdout: string;
  try {
    ({ stdout } = await run(
      'cargo',
      ['metadata', '--no-deps', '--format-version', '1', '--manifest-path', join(workspaceDir, 'Cargo.toml')],
      { maxBuffer: 16 * 1024 * 1024 },
    ));
  } catch (error) {
    const stderr = (error as { stderr?: string }).stderr ?? (error as Error).message;
    const reason = stderr.split('\n').find((line) => line.startsWith('error')) ?? stderr.split('\n')[0];
    throw new CargoError(`cargo metadata failed for ${workspaceDir}: ${reason}`);
  }
  const metadata = JSON.parse(stdout) as CargoMetadata;
  return metadata.packages
    .flatMap((p) => p.targets.filter((t) => t.kind.includes('bin')).map((t) => t.name))
    .sort();
}
