/**
 * `watchy build` as a user runs it (bin/watchy.ts in a child process), running the real
 * buildspecs in a throwaway checkout (test/examples/checkout.ts): a real Nuitka build of the slack
 * monitor and a real cargo build of the Rust workspace, whose outputs are checked by reading and
 * running them; and one test per bad input, each leaving nothing in `dist/`.
 *
 * The builds reuse this machine's caches (~/.cache/watchy: Nuitka, ccache, pip, installed
 * requirements, the Cargo target directory), as CodeBuild reuses its cache: a warm run takes well
 * under a minute per build, a cold one a few minutes (see test/bench/builds.bench.ts).
 *
 * Inside the builds the buildspecs call `npx watchy package` (and `npx watchy stage`) through the
 * npm shim, as on CodeBuild.
 */
import { execFile, execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import { distFileNames, type Architecture } from '@core/artifacts';
import { readElfHeader } from '@core/elf';
import { parseMetadataJson } from '@core/metadata';
import { makeCheckout, ROOT, type Checkout } from '../examples/checkout';
import { invokeBootstrap } from '../examples/lambda-runtime-api';
import { startMoto } from '../support/moto-server';
import { CreateBucketCommand, GetObjectCommand, ListObjectsV2Command, S3Client } from '@aws-sdk/client-s3';

/** The npm bin shim, as `npx watchy` runs it (it registers tsx with the project's tsconfig). */
const WATCHY = join(ROOT, 'bin', 'watchy.js');
const ARCH: Architecture = process.arch === 'arm64' ? 'arm64' : 'x86_64';
const BUILD_TIMEOUT = 20 * 60_000;
const sha256 = (data: Buffer) => createHash('sha256').update(data).digest('hex');

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

function watchy(checkout: Checkout, ...args: string[]): Promise<Run> {
  return watchyWithEnv(checkout, {}, ...args);
}

function watchyWithEnv(checkout: Checkout, env: NodeJS.ProcessEnv, ...args: string[]): Promise<Run> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [
        WATCHY,
        'build',
        ...args,
        '--source-dir',
        checkout.dir,
        '--artifacts-dir',
        checkout.path('.artifacts'),
      ],
      {
        cwd: checkout.dir,
        encoding: 'utf8',
        maxBuffer: 64 * 1024 * 1024,
        env: {
          ...process.env,
          TMPDIR: checkout.dir,
          WATCHY_RELEASE_BUCKET: '',
          ...env,
        },
      },
      (error, stdout, stderr) => resolve({ code: error ? Number(error.code ?? 1) : 0, stdout, stderr }),
    );
  });
}

function lastLine(text: string): string {
  return text.trimEnd().split('\n').at(-1) ?? '';
}

/** Shows the build log when an expectation about the run fails. */
function expectCode(run: Run, code: number): void {
  if (run.code !== code)
    throw new Error(`exit ${run.code}, expected ${code}\n${run.stdout.slice(-6000)}\n${run.stderr}`);
}

function emptyPathEnv(dir: string): NodeJS.ProcessEnv {
  return { PATH: dir, HOME: dir, TMPDIR: dir };
}

let checkout: Checkout;
beforeEach(() => {
  checkout = makeCheckout();
});
afterEach(() => checkout.remove());

describe('watchy build nuitka', () => {
  test(
    'builds, verifies and packages the slack monitor into a binary that runs with no Python',
    async () => {
      const run = await watchy(checkout, 'nuitka', '--app', 'slack', '--version', '1.2.3');
      expectCode(run, 0);
      for (const phase of ['INSTALL', 'PRE_BUILD', 'BUILD', 'POST_BUILD']) {
        expect(run.stdout).toContain(`== ${phase} succeeded`);
      }
      expect(run.stdout).toContain('stage: skipped (WATCHY_RELEASE_BUCKET is not set: local build)');
      const names = distFileNames({ app: 'slack', binaryType: 'nuitka', architecture: ARCH }, '1.2.3');
      const dist = checkout.path('dist', `slack-${ARCH}`);
      expect(readdirSync(dist).sort()).toEqual(
        [names.raw, names.gz, names.metadata, names.versionedMetadata, names.lambdaZip].sort(),
      );

      const binary = join(dist, names.raw);
      expect((await readElfHeader(binary)).architecture).toBe(ARCH);
      expect(statSync(binary).mode & 0o111).toBe(0o111);
      const bare = mkdtempSync(join(checkout.dir, 'bare-'));
      expect(execFileSync(binary, ['--version'], { env: emptyPathEnv(bare), encoding: 'utf8' })).toBe(
        'watchy-slack-monitor 1.2.3\n',
      );
      const event = readFileSync(join(ROOT, 'examples', 'monitors', 'sample-event.json'), 'utf8');
      const report = JSON.parse(execFileSync(binary, [event], { env: emptyPathEnv(bare), encoding: 'utf8' }));
      expect(report).toMatchObject({
        app: 'slack',
        saas_app: 'Slack',
        status: 'degraded',
        monitor_version: '1.2.3',
      });

      const metadata = parseMetadataJson(readFileSync(join(dist, names.metadata)));
      const raw = readFileSync(binary);
      const gz = readFileSync(join(dist, names.gz));
      expect(metadata).toMatchObject({
        version: '1.2.3',
        saas_app: 'Slack',
        binary_type: 'nuitka',
        target_architecture: ARCH,
        python_version: '3.11',
        binary_size: raw.length,
        sha256: sha256(raw),
        compressed_size: gz.length,
        compressed_sha256: sha256(gz),
      });
      // The commit checked out when the build ran (others may have committed since).
      expect(
        execFileSync('git', ['-C', ROOT, 'cat-file', '-t', metadata.source_revision ?? ''], {
          encoding: 'utf8',
        }),
      ).toBe('commit\n');
      expect(metadata.build_id).toMatch(/^watchy-local-nuitka:[0-9a-f-]{36}$/);
      expect(readFileSync(join(dist, names.versionedMetadata), 'utf8')).toBe(
        readFileSync(join(dist, names.metadata), 'utf8'),
      );

      const zip = join(dist, names.lambdaZip);
      expect(execFileSync('unzip', ['-Z', zip], { encoding: 'utf8' })).toMatch(
        /^-rwxr-xr-x .* watchy-slack-monitor\S*$/m,
      );
      expect(execFileSync('unzip', ['-p', zip], { maxBuffer: 1 << 30 }).equals(raw)).toBe(true);

      const artifacts = checkout.path('.artifacts', 'watchy-local-nuitka', `slack-${ARCH}`);
      expect(readFileSync(join(artifacts, names.gz)).equals(gz)).toBe(true);
    },
    BUILD_TIMEOUT,
  );

  test(
    'a binary that fails verification fails the build and packages nothing',
    async () => {
      // Compiles and prints the right version, but crashes on the sample event.
      writeFileSync(
        checkout.path('examples', 'monitors', 'slack', 'watchy_slack_monitor.py'),
        [
          'import sys',
          'from watchy_monitor_common import BUILD_VERSION',
          'if sys.argv[1:] == ["--version"]:',
          '    print(f"watchy-slack-monitor {BUILD_VERSION}")',
          '    sys.exit(0)',
          'sys.exit("simulated crash on every event")',
          '',
        ].join('\n'),
      );
      const run = await watchy(checkout, 'nuitka', '--app', 'slack', '--version', '1.2.4');
      expectCode(run, 1);
      expect(lastLine(run.stderr)).toMatch(
        /^watchy build: nuitka slack \S+: COMMAND_EXECUTION_ERROR in BUILD: .* exited with status 1: verify: the sample event failed/,
      );
      expect(run.stdout).toContain('stage: skipped (the build failed)');
      expect(existsSync(checkout.path('dist'))).toBe(false);
    },
    BUILD_TIMEOUT,
  );

  test('a missing source directory fails before compiling, naming the directory', async () => {
    rmSync(checkout.path('examples', 'monitors', 'slack'), { recursive: true });
    const run = await watchy(checkout, 'nuitka', '--app', 'slack', '--version', '1.2.3');
    expectCode(run, 1);
    expect(lastLine(run.stderr)).toMatch(
      /COMMAND_EXECUTION_ERROR in PRE_BUILD: .*: pre_build: source directory examples\/monitors\/slack does not exist$/,
    );
    expect(run.stdout).toContain('== BUILD: skipped');
    expect(existsSync(checkout.path('dist'))).toBe(false);
  });

  test('a monitor requirements.txt without sha256 values fails pre_build with one line, before compiling, and installs nothing', async () => {
    writeFileSync(
      checkout.path('examples', 'monitors', 'slack', 'requirements.txt'),
      'python-dateutil==2.9.0.post0\n',
    );
    const cache = checkout.path('.cache');
    const run = await watchyWithEnv(
      checkout,
      { WATCHY_CACHE_DIR: cache },
      'nuitka',
      '--app',
      'slack',
      '--version',
      '1.2.3',
    );
    expectCode(run, 1);
    expect(lastLine(run.stderr)).toMatch(
      /COMMAND_EXECUTION_ERROR in PRE_BUILD: .*: pre_build: cannot install examples\/monitors\/slack\/requirements\.txt: every requirement needs its pinned version and sha256 \(tools\/setup\.sh --relock\)$/,
    );
    expect(run.stdout).toContain('== BUILD: skipped');
    const deps = join(cache, 'deps');
    expect(existsSync(deps) ? readdirSync(deps) : []).toEqual([]);
    expect(existsSync(checkout.path('dist'))).toBe(false);
  });

  test('an app name with a path trick is refused before anything runs', async () => {
    const run = await watchy(checkout, 'nuitka', '--app', '../slack');
    expectCode(run, 1);
    expect(lastLine(run.stderr)).toBe(
      'watchy build: invalid app name "../slack": expected 1-40 lowercase letters, digits or inner hyphens',
    );
    expect(run.stdout).toBe('');
    expect(existsSync(checkout.path('dist'))).toBe(false);
  });

  (ARCH === 'x86_64' ? test : test.skip)(
    'without --app builds every catalog monitor in turn, going on after a failure, and names the first',
    async () => {
      // arm64 cannot be built natively here, so each build stops in pre_build within a second.
      const run = await watchy(checkout, 'nuitka', '--arch', 'arm64', '--version', '1.2.3');
      expectCode(run, 1);
      for (const app of ['slack', 'github', 'zoom']) {
        expect(run.stdout).toMatch(new RegExp(`^  FAILED +nuitka ${app} arm64 `, 'm'));
      }
      expect(lastLine(run.stderr)).toBe(
        'watchy build: nuitka slack arm64: COMMAND_EXECUTION_ERROR in PRE_BUILD: case "$WATCHY_ARCH" in … exited with status 1: ' +
          'pre_build: Nuitka builds natively: cannot build arm64 on this x86_64 host (and 2 more failed build(s))',
      );
    },
  );

  test('--env WATCHY_VERSION with Python code or a newline is refused with one line before anything runs', async () => {
    const marker = checkout.path('pwned');
    for (const [version, shown] of [
      [
        `1.0.0"; import os; os.system("touch ${marker}")#`,
        `"1.0.0\\"; import os; os.system(\\"touch ${marker}\\")#"`,
      ],
      ['1.0.0\nprint(1)', '"1.0.0\\nprint(1)"'],
      ['', '""'],
    ]) {
      for (const kind of ['nuitka', 'rust']) {
        const run = await watchy(checkout, kind, '--arch', ARCH, '--env', `WATCHY_VERSION=${version}`);
        expectCode(run, 1);
        expect(run.stderr.trimEnd().split('\n')).toEqual([
          `watchy build: --env WATCHY_VERSION: invalid version ${shown}: expected semantic version like 1.2.3`,
        ]);
        expect(run.stdout).toBe('');
        expect(existsSync(checkout.path('dist'))).toBe(false);
        expect(existsSync(marker)).toBe(false);
      }
    }
  });

  test('--env WATCHY_VERSION takes semver with prerelease and build metadata, and the default (the build stops at the next check)', async () => {
    rmSync(checkout.path('examples', 'monitors', 'slack'), { recursive: true });
    for (const version of ['1.2.3-rc.1+build.5', '0.0.0-dev']) {
      const run = await watchy(checkout, 'nuitka', '--app', 'slack', '--env', `WATCHY_VERSION=${version}`);
      expectCode(run, 1);
      expect(lastLine(run.stderr)).toMatch(
        /: pre_build: source directory examples\/monitors\/slack does not exist$/,
      );
      expect(run.stdout).not.toContain('invalid WATCHY_VERSION');
    }
  });

  test('a missing or unknown kind of build is a usage error', async () => {
    const none = await watchy(checkout);
    expectCode(none, 2);
    expect(lastLine(none.stderr)).toBe('watchy build: expected the kind of build, nuitka or rust, got ""');
    const other = await watchy(checkout, 'docker');
    expectCode(other, 2);
    expect(lastLine(other.stderr)).toBe(
      'watchy build: expected the kind of build, nuitka or rust, got "docker"',
    );
  });

  test('an app that is not in the catalog is refused', async () => {
    const run = await watchy(checkout, 'nuitka', '--app', 'teams');
    expectCode(run, 1);
    expect(lastLine(run.stderr)).toBe(
      'watchy build: unknown app "teams": the catalog\'s Nuitka apps are slack, github, zoom',
    );
  });
});

describe('watchy build rust', () => {
  // The successful builds share one checkout: Cargo fingerprints a path crate by its location, so a
  // second checkout would rebuild the workspace crate from scratch.
  let shared: Checkout;
  beforeAll(() => {
    shared = makeCheckout();
  });
  afterAll(() => shared.remove());

  test(
    'builds every [[bin]] of the workspace to target/lambda/<bin>/bootstrap, packaged, and each one serves an invocation',
    async () => {
      const run = await watchy(shared, 'rust', '--arch', ARCH, '--version', '2.0.0');
      expectCode(run, 0);
      const bins = ['backend', 'ws-broadcast', 'ws-connect', 'ws-default', 'ws-disconnect'];
      expect(run.stdout).toContain(`pre_build: Lambda binaries: ${bins.join(' ')}`);
      expect(run.stdout).toContain(`exported WATCHY_LAMBDA_BINARIES=${bins.join(' ')}`);
      const lambdaDir = shared.path('examples', 'rust-lambdas', 'target', 'lambda');
      expect(readdirSync(lambdaDir).sort()).toEqual(bins);
      const dist = shared.path('dist', `rust-${ARCH}`);
      for (const bin of bins) {
        const bootstrap = join(lambdaDir, bin, 'bootstrap');
        expect(statSync(bootstrap).mode & 0o777).toBe(0o755);
        expect((await readElfHeader(bootstrap)).architecture).toBe(ARCH);
        expect(run.stdout).toMatch(new RegExp(`^  ${bin} +\\d+ bytes`, 'm'));
        const names = distFileNames({ app: bin, binaryType: 'rust', architecture: ARCH }, '2.0.0');
        const metadata = parseMetadataJson(readFileSync(join(dist, names.metadata)));
        expect(metadata).toMatchObject({
          app: bin,
          binary_type: 'rust',
          target_architecture: ARCH,
          sha256: sha256(readFileSync(bootstrap)),
        });
        const zip = join(dist, names.lambdaZip);
        expect(execFileSync('unzip', ['-Z', zip], { encoding: 'utf8' })).toMatch(
          /^-rwxr-xr-x .* bootstrap$/m,
        );
      }

      const health = await invokeBootstrap(join(lambdaDir, 'backend', 'bootstrap'), {
        rawPath: '/health',
        requestContext: { http: { method: 'GET' } },
      });
      expect(health.kind).toBe('response');
      expect(health.body).toMatchObject({ statusCode: 200 });
      expect(JSON.parse((health.body as { body: string }).body)).toEqual({
        status: 'ok',
        service: 'backend',
      });
      const broadcast = await invokeBootstrap(join(lambdaDir, 'ws-broadcast', 'bootstrap'), {
        sender: 'a',
        connections: ['b', 'a', 'c', 'b'],
        message: 'hi',
      });
      expect(broadcast.body).toEqual({ deliveries: 2, targets: ['b', 'c'], message: 'hi' });
      const pong = await invokeBootstrap(join(lambdaDir, 'ws-default', 'bootstrap'), {
        requestContext: { connectionId: 'abc' },
        body: '{"action":"ping"}',
      });
      expect(pong.body).toMatchObject({ statusCode: 200, body: '{"action":"pong"}' });
    },
    BUILD_TIMEOUT,
  );

  test("a broken Cargo.toml fails the build with cargo's message and writes nothing", async () => {
    writeFileSync(checkout.path('examples', 'rust-lambdas', 'Cargo.toml'), '[package\nname = "broken"\n');
    const run = await watchy(checkout, 'rust', '--arch', ARCH, '--version', '2.0.0');
    expectCode(run, 1);
    expect(lastLine(run.stderr)).toMatch(
      /COMMAND_EXECUTION_ERROR in PRE_BUILD: .* exited with status 1: pre_build: cargo metadata failed for examples\/rust-lambdas\/Cargo\.toml: error: unclosed table, expected `]`$/,
    );
    expect(existsSync(checkout.path('examples', 'rust-lambdas', 'target'))).toBe(false);
    expect(existsSync(checkout.path('dist'))).toBe(false);
  });

  (ARCH === 'x86_64' ? test : test.skip)(
    'building arm64 on an x86_64 host fails unless the native fallback is asked for',
    async () => {
      const run = await watchy(checkout, 'rust', '--version', '2.0.0');
      expectCode(run, 1);
      expect(lastLine(run.stderr)).toContain(
        'pre_build: cannot build arm64 (aarch64) Lambda binaries on this x86_64 host; build on the arm64 image, or ask for the host architecture with --allow-native-fallback',
      );
      expect(existsSync(checkout.path('dist'))).toBe(false);
    },
  );

  (ARCH === 'x86_64' ? test : test.skip)(
    '--allow-native-fallback builds x86_64 loudly and labels it x86_64',
    async () => {
      const run = await watchy(shared, 'rust', '--version', '2.0.1', '--allow-native-fallback');
      expectCode(run, 0);
      expect(run.stdout).toContain('!! NATIVE FALLBACK: building x86_64 binaries, NOT the requested arm64.');
      expect(readdirSync(shared.path('dist'))).toEqual(['rust-x86_64']);
      const metadata = parseMetadataJson(
        readFileSync(shared.path('dist', 'rust-x86_64', 'watchy-backend-lambda.json')),
      );
      expect(metadata.version).toBe('2.0.1');
      expect(metadata.target_architecture).toBe('x86_64');
    },
    BUILD_TIMEOUT,
  );

  test(
    'a bootstrap whose ELF machine is not the declared architecture fails the build and replaces nothing',
    async () => {
      // A `uname` that claims aarch64 gets the arm64 build past pre_build on this x86_64 machine;
      // cargo still produces x86_64 binaries, which is exactly the mistake the ELF check exists for.
      const shim = shared.path('fake-uname');
      mkdirSync(shim, { recursive: true });
      writeFileSync(
        join(shim, 'uname'),
        '#!/bin/sh\n[ "$1" = -m ] && echo aarch64 && exit 0\nexec /bin/uname "$@"\n',
        {
          mode: 0o755,
        },
      );
      const lambdaDir = shared.path('examples', 'rust-lambdas', 'target', 'lambda');
      const before = existsSync(lambdaDir) ? readdirSync(lambdaDir).sort() : undefined;
      const run = await watchy(
        shared,
        'rust',
        '--arch',
        'arm64',
        '--version',
        '2.0.9',
        '--env',
        `PATH=${shim}:${process.env['PATH']}`,
      );
      expectCode(run, 1);
      expect(lastLine(run.stderr)).toMatch(
        /COMMAND_EXECUTION_ERROR in BUILD: .*: build: \S+\/bootstrap is not an arm64 ELF binary \(ELF machine 62, expected 183\): it would fail on Lambda with 'Exec format error'$/,
      );
      expect(existsSync(shared.path('dist', 'rust-arm64'))).toBe(false);
      const after = existsSync(lambdaDir) ? readdirSync(lambdaDir).sort() : undefined;
      expect(after).toEqual(before);
      expect(
        readdirSync(shared.path('examples', 'rust-lambdas', 'target')).filter((n) => n.includes('partial')),
      ).toEqual([]);
    },
    BUILD_TIMEOUT,
  );

  test(
    'with a release bucket the guarded post_build step stages every package and exports WATCHY_PUBLISH_REQUEST',
    async () => {
      // moto stands in for S3 and STS; the stage step reaches it through AWS_ENDPOINT_URL.
      const moto = await startMoto();
      try {
        const s3 = new S3Client(moto.clientConfig);
        await s3.send(new CreateBucketCommand({ Bucket: 'watchy-releases' }));
        const credentials = {
          AWS_ENDPOINT_URL: moto.endpoint,
          AWS_ACCESS_KEY_ID: 'testing',
          AWS_SECRET_ACCESS_KEY: 'testing',
          AWS_REGION: 'us-east-1',
        };
        // WATCHY_BRANCH: what the pipeline sets on its build actions, recorded in every request.
        const run = await watchyWithEnv(
          shared,
          { WATCHY_RELEASE_BUCKET: 'watchy-releases', WATCHY_BRANCH: 'main', ...credentials },
          'rust',
          '--arch',
          ARCH,
          '--version',
          '2.0.2',
        );
        expectCode(run, 0);
        const exported = /^\[watchy build\] exported WATCHY_PUBLISH_REQUEST=(\S+)$/m.exec(run.stdout)?.[1];
        expect(exported).toMatch(/^staging\//);
        const batch = await s3.send(new GetObjectCommand({ Bucket: 'watchy-releases', Key: exported }));
        const [first] = (JSON.parse(await batch.Body!.transformToString()) as { requests: string[] })
          .requests;
        const request = await s3.send(new GetObjectCommand({ Bucket: 'watchy-releases', Key: first }));
        expect(JSON.parse(await request.Body!.transformToString())).toMatchObject({
          branch: 'main',
          buildId: expect.stringMatching(/^watchy-local-rust:[0-9a-f-]{36}$/),
        });
        const listed = await s3.send(new ListObjectsV2Command({ Bucket: 'watchy-releases' }));
        const keys = (listed.Contents ?? []).map((o) => o.Key ?? '');
        expect(keys).toContain(exported);
        expect(keys.every((k) => k.startsWith('staging/'))).toBe(true);
        for (const bin of ['backend', 'ws-broadcast', 'ws-connect', 'ws-default', 'ws-disconnect']) {
          const name = `${bin}-lambda${ARCH === 'x86_64' ? '' : '-arm64'}`;
          expect(keys.some((k) => k.endsWith(`/watchy-${name}-2.0.2.gz`))).toBe(true);
        }

        const verify = await watchyWithEnv(
          shared,
          { WATCHY_RELEASE_BUCKET: 'watchy-releases', ...credentials },
          'rust',
          '--arch',
          ARCH,
          '--version',
          '2.0.3',
          '--mode',
          'verify',
        );
        expectCode(verify, 0);
        expect(verify.stdout).toContain('stage: skipped (WATCHY_MODE=verify)');
        expect(verify.stdout).not.toContain('exported WATCHY_PUBLISH_REQUEST');
      } finally {
        await moto.stop();
      }
    },
    BUILD_TIMEOUT,
  );
});
