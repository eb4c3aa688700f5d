/**
 * The Rust toolchain of buildspecs/rust-lambda.yml: exactly the version rust-toolchain.toml pins,
 * and on a host without it (a fresh CodeBuild image) rustup-init fetched by version from the
 * rustup archive and run only when it matches its pinned sha256. The download goes to the `curl`
 * shim (test/buildspecs/image-shims.ts), which serves a fake rustup-init that installs a fake
 * toolchain, so the install phase runs for real in bash without the network.
 */
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, writeFileSync, chmodSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { parse } from 'yaml';
import { WATCHY_ARCH } from '@core/build-env';
import { ROOT, runWithShims } from './image-shims';

const SPEC = parse(readFileSync(join(ROOT, 'buildspecs', 'rust-lambda.yml'), 'utf8')) as {
  env: { variables: Record<string, string> };
  phases: { install: { commands: string[] } };
};
const PINNED = /^channel = "(\d+\.\d+\.\d+)"$/m.exec(
  readFileSync(join(ROOT, 'rust-toolchain.toml'), 'utf8'),
)?.[1];
const RUSTUP_VERSION = SPEC.env.variables.RUSTUP_VERSION!;

/** This machine's PATH without any directory that has a rustc or rustup (e.g. ~/.cargo/bin). */
const PATH_WITHOUT_RUST = (process.env.PATH ?? '')
  .split(delimiter)
  .filter((dir) => dir && !existsSync(join(dir, 'rustc')) && !existsSync(join(dir, 'rustup')))
  .join(delimiter);

/** A fake rustup-init: records its arguments, installs rustc/cargo/rustup printing `version`. */
function fakeRustupInit(version: string): string {
  const dir = mkdtempSync(join(tmpdir(), 'watchy-rustup-init-'));
  const file = join(dir, 'rustup-init');
  writeFileSync(
    file,
    `#!/usr/bin/env bash
printf '%s\\n' "$@" > "$HOME/rustup-init-args"
mkdir -p "$HOME/.cargo/bin"
printf '#!/bin/sh\\necho "rustc ${version} (fake)"\\n' > "$HOME/.cargo/bin/rustc"
printf '#!/bin/sh\\n[ "$1" = --version ] && { echo "cargo ${version} (fake)"; exit 0; }; exit 101\\n' > "$HOME/.cargo/bin/cargo"
printf '#!/bin/sh\\nexit 0\\n' > "$HOME/.cargo/bin/rustup"
chmod +x "$HOME/.cargo/bin/rustc" "$HOME/.cargo/bin/cargo" "$HOME/.cargo/bin/rustup"
`,
  );
  chmodSync(file, 0o755);
  return file;
}

function install(options: {
  variables?: Record<string, string>;
  body?: string;
  uname?: string;
  home?: string;
}) {
  const home = options.home ?? mkdtempSync(join(tmpdir(), 'watchy-rust-home-'));
  return runWithShims({
    buildspec: 'rust-lambda.yml',
    variables: { [WATCHY_ARCH]: 'x86_64', ...options.variables },
    shims: ['curl', 'uname'],
    path: PATH_WITHOUT_RUST,
    shimEnv: {
      HOME: home,
      SHIM_UNAME_M: options.uname ?? 'x86_64',
      ...(options.body ? { SHIM_CURL_BODY: options.body } : {}),
    },
  }).then((run) => ({ ...run, home, install: run.result.phases.find((p) => p.phase === 'install') }));
}

describe('the pinned Rust toolchain', () => {
  test('rust-toolchain.toml pins an exact Rust version, and it is the rustc cargo runs in this repository', () => {
    expect(PINNED).toMatch(/^\d+\.\d+\.\d+$/);
    const version = execFileSync('rustc', ['--version'], { cwd: ROOT, encoding: 'utf8' });
    expect(version.startsWith(`rustc ${PINNED} `)).toBe(true);
  });

  test('rust-lambda.yml never pipes a download into a shell; rustup-init comes from the versioned rustup archive', () => {
    const install = SPEC.phases.install.commands.join('\n');
    expect(install).not.toMatch(/\|\s*(ba)?sh\b/);
    expect(install).not.toContain('sh.rustup.rs');
    expect(install).toContain(
      'https://static.rust-lang.org/rustup/archive/${RUSTUP_VERSION}/${rustup_target}/rustup-init',
    );
    expect(RUSTUP_VERSION).toMatch(/^\d+\.\d+\.\d+$/);
    expect(SPEC.env.variables.RUSTUP_SHA256_X86_64).toMatch(/^[0-9a-f]{64}$/);
    expect(SPEC.env.variables.RUSTUP_SHA256_AARCH64).toMatch(/^[0-9a-f]{64}$/);
  });

  test('without Rust: rustup-init of the pinned version is downloaded, checked against its pin, and run with the pinned toolchain', async () => {
    const body = fakeRustupInit(PINNED!);
    const sum = createHash('sha256').update(readFileSync(body)).digest('hex');
    // A project variable overrides the buildspec's pin: here, the pin of this test's fake.
    const run = await install({ variables: { RUSTUP_SHA256_X86_64: sum }, body });
    expect(run.install?.status).toBe('SUCCEEDED');
    expect(run.callsOf('curl')).toHaveLength(1);
    expect(run.callsOf('curl')[0]).toContain(
      `https://static.rust-lang.org/rustup/archive/${RUSTUP_VERSION}/x86_64-unknown-linux-gnu/rustup-init`,
    );
    expect(run.callsOf('curl')[0]).toEqual(expect.arrayContaining(['--proto', '=https']));
    expect(readFileSync(join(run.home, 'rustup-init-args'), 'utf8').trim().split('\n')).toEqual([
      '-y',
      '--no-modify-path',
      '--profile',
      'minimal',
      '--default-toolchain',
      PINNED,
    ]);
    expect(run.output).toContain(`cargo ${PINNED} (fake)`);
  });

  test('a rustup-init whose sha256 does not match the pin is never run and fails the install phase', async () => {
    const run = await install({ body: fakeRustupInit(PINNED!) });
    expect(run.install?.status).toBe('FAILED');
    expect(run.output).toContain(
      `install: rustup-init ${RUSTUP_VERSION} (x86_64-unknown-linux-gnu) does not match its pinned sha256 ${SPEC.env.variables.RUSTUP_SHA256_X86_64}; refusing to run it`,
    );
    expect(existsSync(join(run.home, 'rustup-init-args'))).toBe(false);
    expect(run.result.phases.find((p) => p.phase === 'build')?.status).toBe('SKIPPED');
  });

  test('an aarch64 host downloads the aarch64-unknown-linux-gnu rustup-init and checks it against its own pin', async () => {
    const run = await install({ uname: 'aarch64', body: fakeRustupInit(PINNED!) });
    expect(run.callsOf('curl')[0]).toContain(
      `https://static.rust-lang.org/rustup/archive/${RUSTUP_VERSION}/aarch64-unknown-linux-gnu/rustup-init`,
    );
    expect(run.output).toContain(
      `install: rustup-init ${RUSTUP_VERSION} (aarch64-unknown-linux-gnu) does not match its pinned sha256 ${SPEC.env.variables.RUSTUP_SHA256_AARCH64}; refusing to run it`,
    );
    expect(existsSync(join(run.home, 'rustup-init-args'))).toBe(false);
  });

  test('a rustc that is not the pinned version is refused with one line, and nothing is downloaded', async () => {
    const home = mkdtempSync(join(tmpdir(), 'watchy-rust-home-'));
    execFileSync('bash', ['-c', `bash "${fakeRustupInit('1.80.0')}"`], {
      env: { ...process.env, HOME: home },
    });
    const run = await install({ home });
    expect(run.install?.status).toBe('FAILED');
    expect(run.output).toContain(
      `install: Rust ${PINNED} is pinned in rust-toolchain.toml, but rustc is 1.80.0: rustup toolchain install ${PINNED} --profile minimal`,
    );
    expect(run.callsOf('curl')).toEqual([]);
  });
});
