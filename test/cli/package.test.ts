/**
 * `watchy package` as a user runs it (bin/watchy.ts in a child process, under `node --import tsx`)
 * on a real ELF executable of this machine: the written set, and one test per bad input, each a
 * one-line error with nothing written.
 */
import { execFile } from 'node:child_process';
import {
  copyFileSync,
  existsSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseMetadataJson } from '@core/metadata';
import { brokenElfs, refusalLine } from '../support/elf-files';

const ROOT = join(__dirname, '..', '..');
/** The npm bin shim, as `npx watchy` runs it (it registers tsx with the project's tsconfig). */
const WATCHY = join(ROOT, 'bin', 'watchy.js');
const ARCH = process.arch === 'arm64' ? 'arm64' : 'x86_64';
const OTHER_ARCH = ARCH === 'arm64' ? 'x86_64' : 'arm64';
const SUFFIX = ARCH === 'x86_64' ? '' : '-arm64';

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

let work: string;
let binary: string;
let out: string;

beforeEach(() => {
  work = mkdtempSync(join(tmpdir(), 'watchy-package-cli-'));
  binary = join(work, 'binary');
  out = join(work, 'dist');
  copyFileSync('/bin/true', binary);
});
afterEach(() => rmSync(work, { recursive: true, force: true }));

function watchyPackage(...args: string[]): Promise<Run> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [WATCHY, 'package', ...args],
      { cwd: ROOT, encoding: 'utf8', env: { ...process.env, WATCHY_BASE_URL: '' } },
      (error, stdout, stderr) => resolve({ code: error ? Number(error.code ?? 1) : 0, stdout, stderr }),
    );
  });
}

function args(overrides: Record<string, string> = {}): string[] {
  const values = { app: 'slack', version: '1.2.3', arch: ARCH, binary, out, ...overrides };
  return Object.entries(values).flatMap(([key, value]) => [`--${key}`, value]);
}

function expectRefused(run: Run, message: string | RegExp): void {
  expect(run.code).not.toBe(0);
  expect(run.stdout).toBe('');
  const lines = run.stderr.trimEnd().split('\n');
  expect(lines).toHaveLength(1);
  if (typeof message === 'string') expect(lines[0]).toBe(message);
  else expect(lines[0]).toMatch(message);
  expect(existsSync(out)).toBe(false);
  expect(readdirSync(work)).toEqual(['binary']);
}

describe('watchy package', () => {
  test('writes the set with saas_app from the catalog and the download URL from --base-url', async () => {
    const run = await watchyPackage(
      ...args({ 'base-url': 'https://d111111abcdef8.cloudfront.net/binaries' }),
    );
    expect(run.code).toBe(0);
    expect(run.stdout).toContain(`packaged slack 1.2.3 (nuitka, ${ARCH}) into ${out}`);
    expect(readdirSync(out).sort()).toEqual(
      [
        `watchy-slack-lambda${SUFFIX}-1.2.3.zip`,
        `watchy-slack-monitor${SUFFIX}-1.2.3`,
        `watchy-slack-monitor${SUFFIX}-1.2.3.gz`,
        `watchy-slack-monitor${SUFFIX}-1.2.3.json`,
        `watchy-slack-monitor${SUFFIX}.json`,
      ].sort(),
    );
    const metadata = parseMetadataJson(readFileSync(join(out, `watchy-slack-monitor${SUFFIX}.json`)));
    expect(metadata.saas_app).toBe('Slack');
    expect(metadata.download_url).toBe(
      `https://d111111abcdef8.cloudfront.net/binaries/slack-monitor${SUFFIX}/watchy-slack-monitor${SUFFIX}-1.2.3.gz`,
    );
    expect(metadata.python_version).toBe('3.11');
    expect(metadata.source_revision).toMatch(/^[0-9a-f]{40}$/);
  });

  test('uses the seed distribution URL when no base URL is given', async () => {
    const run = await watchyPackage(...args({ app: 'github' }));
    expect(run.code).toBe(0);
    const metadata = parseMetadataJson(readFileSync(join(out, `watchy-github-monitor${SUFFIX}.json`)));
    expect(metadata.download_url).toBe(
      `https://releases.watchy.cloud/binaries/github-monitor${SUFFIX}/watchy-github-monitor${SUFFIX}-1.2.3.gz`,
    );
    expect(metadata.saas_app).toBe('GitHub');
  });

  test('packages a Rust Lambda of the catalog workspace, found with cargo metadata', async () => {
    const run = await watchyPackage(...args({ app: 'ws-connect', 'binary-type': 'rust' }));
    expect(run.code).toBe(0);
    expect(existsSync(join(out, `watchy-ws-connect-lambda${SUFFIX}-1.2.3.zip`))).toBe(true);
  });

  test('refuses a binary whose ELF machine does not match --arch', async () => {
    expectRefused(
      await watchyPackage(...args({ arch: OTHER_ARCH })),
      /^watchy package: binary \S+ is a 64-bit \S+ ELF binary, not \S+ \(ELF machine \d+, expected \d+\): it would fail on Lambda with "Exec format error"$/,
    );
  });

  for (const architecture of ['x86_64', 'arm64'] as const) {
    test.each(brokenElfs(architecture).map((b) => [b.name, b] as const))(
      `refuses an ${architecture} ELF that the kernel could not load: %s`,
      async (_name, broken) => {
        writeFileSync(binary, broken.bytes);
        expectRefused(
          await watchyPackage(...args({ arch: architecture })),
          refusalLine(broken, `binary ${binary}`, 'watchy package: '),
        );
      },
    );
  }

  test('refuses an unknown app', async () => {
    expectRefused(
      await watchyPackage(...args({ app: 'teams' })),
      'watchy package: unknown app "teams": the catalog\'s Nuitka apps are slack, github, zoom',
    );
  });

  test('refuses a Rust binary name the workspace does not declare', async () => {
    expectRefused(
      await watchyPackage(...args({ app: 'ws-nope', 'binary-type': 'rust' })),
      'watchy package: unknown app "ws-nope": the Rust workspace examples/rust-lambdas has the binaries backend, ws-broadcast, ws-connect, ws-default, ws-disconnect',
    );
  });

  test('refuses a version that is not semver', async () => {
    expectRefused(
      await watchyPackage(...args({ version: 'v1.2.3' })),
      'watchy package: invalid version "v1.2.3": expected semantic version like 1.2.3',
    );
  });

  test('refuses an app name with path characters', async () => {
    expectRefused(
      await watchyPackage(...args({ app: 'slack/../../etc' })),
      'watchy package: invalid app name "slack/../../etc": expected 1-40 lowercase letters, digits or inner hyphens',
    );
  });

  test('refuses an unknown architecture and a missing option with usage errors (exit 2)', async () => {
    const badArch = await watchyPackage(...args({ arch: 'riscv64' }));
    expectRefused(badArch, 'watchy package: --arch must be one of x86_64, arm64, got "riscv64"');
    expect(badArch.code).toBe(2);
    const missing = await watchyPackage('--app', 'slack');
    expectRefused(missing, 'watchy package: missing required option --version');
    expect(missing.code).toBe(2);
  });
});
