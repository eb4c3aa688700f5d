/**
 * cargoBinaries: the Lambda binaries of a workspace as `cargo metadata` reports them (the rule
 * buildspecs/rust-lambda.yml applies too), against the real example workspace and a broken one.
 */
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { cargoBinaries } from '@core/packaging/cargo';

const WORKSPACE = join(__dirname, '..', '..', 'examples', 'rust-lambdas');

describe('cargoBinaries', () => {
  test('lists every [[bin]] of the example workspace, sorted, and not its library', async () => {
    expect(await cargoBinaries(WORKSPACE)).toEqual([
      'backend',
      'ws-broadcast',
      'ws-connect',
      'ws-default',
      'ws-disconnect',
    ]);
  });

  test('a new [[bin]] entry is found without any list to update', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'watchy-cargo-'));
    try {
      for (const name of ['Cargo.toml', 'Cargo.lock', 'src'])
        cpSync(join(WORKSPACE, name), join(dir, name), { recursive: true });
      writeFileSync(join(dir, 'src', 'bin', 'ws_ping.rs'), 'fn main() {}\n');
      writeFileSync(
        join(dir, 'Cargo.toml'),
        `${readFileSync(join(WORKSPACE, 'Cargo.toml'), 'utf8')}\n[[bin]]\nname = "ws-ping"\npath = "src/bin/ws_ping.rs"\n`,
      );
      expect(await cargoBinaries(dir)).toContain('ws-ping');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test("a broken Cargo.toml gives one line with cargo's error", async () => {
    const dir = mkdtempSync(join(tmpdir(), 'watchy-cargo-'));
    try {
      writeFileSync(join(dir, 'Cargo.toml'), '[package\n');
      await expect(cargoBinaries(dir)).rejects.toThrow(
        /^cargo metadata failed for .*: error: unclosed table, expected `]`$/,
      );
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
