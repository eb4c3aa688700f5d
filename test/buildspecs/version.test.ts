/**
 * WATCHY_VERSION inside the buildspecs: each one that reads it (nuitka.yml, rust-lambda.yml,
 * image.yml, test.yml) refuses anything but semver before the version reaches generated source,
 * file names or labels, with exactly the language of SEMVER_PATTERN (spelled as SEMVER_ERE).
 *
 * The table tests run each buildspec's own check in bash against SEMVER_PATTERN; the build tests
 * run the real buildspecs with the local CodeBuild runner in a throwaway checkout, without the
 * CLI's own check in front (as CodeBuild runs them when a pipeline variable or a start-build
 * override sets the version).
 */
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { parse } from 'yaml';
import { MAX_VERSION_LENGTH, SEMVER_PATTERN } from '@core/artifacts';
import { DEFAULT_VERSION, devVersion, SEMVER_ERE, WATCHY_VERSION } from '@core/build-env';
import { loadBuildspec, runBuildspec, type BuildResult } from '@core/buildspec';
import { makeCheckout, ROOT, type Checkout } from '../examples/checkout';
import { runWithShims } from './image-shims';

const BUILDSPECS = ['nuitka.yml', 'rust-lambda.yml', 'image.yml', 'test.yml'] as const;
const COMMIT = '0123456789abcdef0123456789abcdef01234567';
const ARCH = process.arch === 'arm64' ? 'arm64' : 'x86_64';

/** A version that is Python code once written into `VERSION = "%s"` (gen/watchy_build_info.py). */
function pythonInjection(marker: string): string {
  return `1.0.0"; import os; os.system("touch ${marker}")#`;
}

/** The version check of one buildspec: its `semver='…'` line and the `if` block that applies it. */
function versionCheck(name: string): { ere: string; script: string } {
  const spec = parse(readFileSync(join(ROOT, 'buildspecs', name), 'utf8')) as {
    phases: { pre_build: { commands: string[] } };
  };
  const commands = spec.phases.pre_build.commands.filter((c) => c.includes('=~ $semver'));
  expect(commands).toHaveLength(1);
  const command = commands[0] as string;
  const assignment = /^[ \t]*semver='([^'\n]*)'$/m.exec(command);
  const check = /^[ \t]*if .*=~ \$semver.*\n(?:.*\n)*?[ \t]*fi$/m.exec(command);
  if (!assignment || !check) throw new Error(`${name}: no semver='…' check of WATCHY_VERSION in pre_build`);
  return { ere: assignment[1] as string, script: `${assignment[0].trim()}\n${check[0]}` };
}

/** Runs `script` once per version in bash under `locale`; true where it let the version through. */
function acceptedInShell(script: string, versions: readonly string[], locale: string): boolean[] {
  const loop = `while IFS= read -r -d '' WATCHY_VERSION; do
  if ( set -euo pipefail; ${script}
  ) >/dev/null 2>&1; then printf 'ok\\n'; else printf 'refused\\n'; fi
done`;
  const out = execFileSync('bash', ['-c', loop], {
    input: versions.map((v) => `${v}\0`).join(''),
    env: { PATH: process.env['PATH'], LC_ALL: locale },
    encoding: 'utf8',
  });
  return out
    .trimEnd()
    .split('\n')
    .map((line) => line === 'ok');
}

const at = new Date('2026-11-22T05:02:12Z');
const VALID = [
  '0.0.0',
  '1.2.3',
  '10.20.30',
  '1.2.3-rc.1',
  '1.2.3-0',
  '1.2.3-0a',
  '1.2.3-alpha.beta.1',
  '1.0.0-x-y-z.--',
  '1.2.3+build.5',
  '1.2.3-rc.1+build.5.x-y',
  '1.2.3+001',
  DEFAULT_VERSION,
  devVersion(COMMIT, at),
  devVersion('0000000', at),
  `1.0.0-${'a'.repeat(MAX_VERSION_LENGTH - 6)}`,
];
const INVALID = [
  '',
  'v1.2.3',
  '1.2',
  '1.2.3.4',
  '01.2.3',
  '1.02.3',
  '1.2.03',
  '1.2.3-01',
  '1.2.3-',
  '1.2.3+',
  '1.2.3-rc..1',
  '1.2.3+b..1',
  '1.2.3-rc.1+',
  ' 1.2.3',
  '1.2.3 ',
  '1.2.3\n',
  '1.0.0\nprint(1)',
  '\n1.0.0',
  '1.2.3-rc\t1',
  '1.2.3_x',
  '1.2.3-é',
  '1.2.3-ｒｃ',
  '१.2.3',
  '1.0.0$(touch x)',
  '1.0.0`id`',
  "1.0.0'",
  pythonInjection('/tmp/x'),
  `1.0.0-${'a'.repeat(MAX_VERSION_LENGTH - 5)}`,
];

describe('WATCHY_VERSION is checked inside the buildspecs, with SEMVER_PATTERN itself', () => {
  test('SEMVER_ERE is SEMVER_PATTERN in POSIX ERE, and every buildspec that reads WATCHY_VERSION checks it with that string', () => {
    expect(SEMVER_ERE).not.toContain('(?:');
    expect(SEMVER_ERE).not.toContain('\\d');
    for (const name of BUILDSPECS) {
      expect(readFileSync(join(ROOT, 'buildspecs', name), 'utf8')).toContain(WATCHY_VERSION);
      expect({ name, ere: versionCheck(name).ere }).toEqual({ name, ere: SEMVER_ERE });
    }
  });

  test('the table agrees with SEMVER_PATTERN and the length limit (so the shell is compared with the real thing)', () => {
    for (const v of VALID)
      expect({ v, ok: v.length <= MAX_VERSION_LENGTH && SEMVER_PATTERN.test(v) }).toEqual({ v, ok: true });
    for (const v of INVALID)
      expect({ v, ok: v.length <= MAX_VERSION_LENGTH && SEMVER_PATTERN.test(v) }).toEqual({ v, ok: false });
  });

  test.each(BUILDSPECS)(
    "%s's check accepts exactly the versions SEMVER_PATTERN accepts, in the C and a UTF-8 locale",
    (name) => {
      const { script } = versionCheck(name);
      const versions = [...VALID, ...INVALID];
      const expected = versions.map((v) => v.length <= MAX_VERSION_LENGTH && SEMVER_PATTERN.test(v));
      for (const locale of ['C', 'C.UTF-8']) {
        const got = acceptedInShell(script, versions, locale);
        expect(versions.map((v, i) => ({ v, accepted: got[i] }))).toEqual(
          versions.map((v, i) => ({ v, accepted: expected[i] })),
        );
      }
    },
  );
});

interface Run {
  readonly result: BuildResult;
  readonly log: string;
}

/** Runs a real buildspec in `checkout` with the local runner, TMPDIR inside the checkout. */
async function runReal(
  checkout: Checkout,
  buildspec: 'nuitka.yml' | 'rust-lambda.yml',
  variables: Record<string, string>,
): Promise<Run> {
  let log = '';
  const output = new Writable({
    write(chunk: Buffer, _encoding, done) {
      log += chunk.toString('utf8');
      done();
    },
  });
  const result = await runBuildspec({
    spec: await loadBuildspec(join(checkout.dir, 'buildspecs', buildspec)),
    sourceDir: checkout.dir,
    projectName: 'watchy-version-test',
    projectVariables: { WATCHY_ARCH: ARCH, ...variables },
    baseEnv: { ...process.env, TMPDIR: checkout.dir, WATCHY_RELEASE_BUCKET: '' },
    output,
    sourceVersion: COMMIT,
  });
  return { result, log };
}

function phase(run: Run, name: string): string | undefined {
  return run.result.phases.find((p) => p.phase === name)?.status;
}

/** What a build leaves in its checkout: dist/, target/lambda/, Nuitka work directories (gen/ lives there). */
function produced(checkout: Checkout): string[] {
  const found = readdirSync(checkout.dir).filter((n) => n === 'dist' || n.startsWith('watchy-nuitka-'));
  if (existsSync(checkout.path('examples', 'rust-lambdas', 'target'))) found.push('target');
  return found;
}

describe('the real buildspecs refuse a crafted WATCHY_VERSION in pre_build, before anything is generated', () => {
  let checkout: Checkout;
  beforeEach(() => {
    checkout = makeCheckout('watchy-version-');
  });
  afterEach(() => checkout.remove());

  const crafted = (marker: string) => [
    [
      'Python code in a version',
      pythonInjection(marker),
      `'1.0.0"; import os; os.system("touch ${marker}")#'`,
    ],
    [
      'a version with a newline',
      `1.0.0\nimport os; os.system("touch ${marker}")`,
      '$\'1.0.0\\nimport os; os.system("touch ' + marker + '")\'',
    ],
  ];

  test.each(['nuitka.yml', 'rust-lambda.yml'] as const)(
    '%s: Python code in a version, or a newline, fails pre_build with one line; nothing is built, generated or run',
    async (buildspec) => {
      const marker = checkout.path('pwned');
      for (const [, version, quoted] of crafted(marker)) {
        const run = await runReal(checkout, buildspec, { [WATCHY_VERSION]: version as string });
        expect(run.result.status).toBe('FAILED');
        expect(phase(run, 'install')).toBe('SUCCEEDED');
        expect(phase(run, 'pre_build')).toBe('FAILED');
        expect(phase(run, 'build')).toBe('SKIPPED');
        expect(run.result.failure).not.toContain('\n');
        expect(run.result.failure).toMatch(
          /^COMMAND_EXECUTION_ERROR in PRE_BUILD: .* exited with status 1: pre_build: invalid WATCHY_VERSION /,
        );
        expect(run.result.failure).toContain(
          `pre_build: invalid WATCHY_VERSION ${quoted}: expected a semantic version like 1.2.3 (at most 128 characters)`,
        );
        expect(produced(checkout)).toEqual([]);
        expect(existsSync(marker)).toBe(false);
      }
    },
    120_000,
  );

  test.each([
    [
      'nuitka.yml',
      { WATCHY_SOURCE_PATH: 'examples/monitors/missing' },
      'pre_build: source directory examples/monitors/missing does not exist',
    ],
    [
      'rust-lambda.yml',
      { WATCHY_RUST_WORKSPACE: 'missing' },
      'pre_build: no Cargo workspace at missing (missing missing/Cargo.toml)',
    ],
  ] as const)(
    '%s: semver with prerelease and build metadata, and the derived dev version, pass the check (the build stops at the next pre_build check)',
    async (buildspec, stop, next) => {
      for (const version of ['1.2.3-rc.1+build.5', DEFAULT_VERSION]) {
        const run = await runReal(checkout, buildspec, { [WATCHY_VERSION]: version, ...stop });
        expect(phase(run, 'pre_build')).toBe('FAILED');
        expect(run.result.failure).toMatch(new RegExp(`: ${next.replace(/[().]/g, '\\$&')}$`));
        expect(run.log).not.toContain('invalid WATCHY_VERSION');
        if (version === DEFAULT_VERSION) {
          const derived = /pre_build: no version requested; building (\S+)/.exec(run.log)?.[1] ?? '';
          expect(derived).toMatch(/^0\.0\.0-dev\.\d{14}\.g0123456$/);
          expect(SEMVER_PATTERN.test(derived)).toBe(true);
        }
        expect(produced(checkout)).toEqual([]);
      }
    },
    120_000,
  );

  test('image.yml: a crafted version fails pre_build before any label, build argument or engine call', async () => {
    const marker = checkout.path('pwned');
    for (const [, version, quoted] of crafted(marker)) {
      const run = await runWithShims({
        buildspec: 'image.yml',
        variables: {
          WATCHY_APP: 'status-api',
          WATCHY_ARCH: ARCH,
          WATCHY_SOURCE_PATH: 'examples/services/status-api',
          WATCHY_IMAGE_BUILDER: 'dockerfile',
          WATCHY_ECR_REPOSITORY_URI: '123456789012.dkr.ecr.eu-west-1.amazonaws.com/watchy/status-api',
          [WATCHY_VERSION]: version as string,
        },
      });
      expect(run.result.status).toBe('FAILED');
      expect(run.result.failure).not.toContain('\n');
      expect(run.result.failure).toMatch(
        new RegExp(
          `^COMMAND_EXECUTION_ERROR in PRE_BUILD: .* exited with status 1: image: invalid WATCHY_VERSION `,
        ),
      );
      expect(run.result.failure).toContain(
        `image: invalid WATCHY_VERSION ${quoted}: expected a semantic version like 1.2.3 (at most 128 characters)`,
      );
      expect(run.calls).toEqual([]);
      expect(existsSync(marker)).toBe(false);
    }
  });
});
