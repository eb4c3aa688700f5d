/**
 * `watchy bisect` as a process, against moto over HTTP (S3 sessions, CodeBuild StartBuild and
 * BatchGetBuilds) with a real git repository for the commit list. Moto's builds always succeed and
 * keep no environment overrides, so `deliver --session` routes the build to its session.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BatchGetBuildsCommand, ListBuildsForProjectCommand } from '@aws-sdk/client-codebuild';
import { BISECT_BUCKET as BUCKET, useBisectMoto } from '../core/bisect/bisect-moto';
import { runWatchy } from './bisect-cli-process';

const PROJECT = 'watchy-nuitka-x86_64';

const aws = useBisectMoto({ project: PROJECT });
let repo: string;
let commits: string[];

function watchy(...args: string[]) {
  return runWatchy(args, { AWS_ENDPOINT_URL: aws.moto.endpoint });
}

const local = () => ['--endpoint-url', aws.moto.endpoint, '--bucket', BUCKET];

async function buildsInMoto() {
  const ids = (await aws.codebuild.send(new ListBuildsForProjectCommand({ projectName: PROJECT }))).ids ?? [];
  if (ids.length === 0) return [];
  return (await aws.codebuild.send(new BatchGetBuildsCommand({ ids }))).builds ?? [];
}

beforeAll(() => {
  repo = mkdtempSync(join(tmpdir(), 'watchy-bisect-'));
  const git = (...args: string[]) =>
    execFileSync('git', ['-C', repo, ...args], {
      encoding: 'utf8',
      env: {
        ...process.env,
        GIT_AUTHOR_NAME: 'Dev',
        GIT_AUTHOR_EMAIL: 'dev@example.com',
        GIT_COMMITTER_NAME: 'Dev',
        GIT_COMMITTER_EMAIL: 'dev@example.com',
      },
    }).trim();
  git('init', '-q', '-b', 'main');
  for (let i = 0; i < 9; i++) {
    writeFileSync(join(repo, 'file.txt'), `${i}\n`);
    git('add', 'file.txt');
    git('commit', '-q', '-m', `change ${i}`);
  }
  commits = git('rev-list', '--reverse', 'HEAD').split('\n');
});
afterAll(() => {
  rmSync(repo, { recursive: true, force: true });
});

describe('watchy bisect (moto over HTTP, git repository on disk)', () => {
  test('start with --repo lists the range with git and starts the middle commit as a verify build', async () => {
    const run = await watchy(
      'bisect',
      PROJECT,
      '--good',
      commits[0]!,
      '--bad',
      'HEAD',
      '--repo',
      repo,
      '--app',
      'slack',
      '--arch',
      'x86_64',
      ...local(),
    );
    expect(run).toMatchObject({ code: 0, stderr: '' });
    expect(run.stdout).toMatch(/^session {2}m-[0-9a-f]{24} {2}running$/m);
    expect(run.stdout).toContain('(8 commits)');
    expect(run.stdout).toContain('left     8 candidates');
    const builds = await buildsInMoto();
    expect(builds.map((b) => b.sourceVersion)).toEqual([commits[4]]);
  });

  test('status lists sessions; status ID --json shows the range; deliver moves to the next step', async () => {
    const started = await watchy(
      'bisect',
      PROJECT,
      '--good',
      commits[0]!,
      '--bad',
      commits[8]!,
      '--repo',
      repo,
      ...local(),
    );
    const id = /session {2}(m-[0-9a-f]{24})/.exec(started.stdout)![1]!;
    const table = await watchy('bisect', 'status', ...local());
    expect(table.code).toBe(0);
    expect(table.stdout).toMatch(new RegExp(`^${id} {2}running {3}${PROJECT} .* 8 candidates left$`, 'm'));
    const json = JSON.parse((await watchy('bisect', 'status', id, '--json', ...local())).stdout);
    expect(json).toMatchObject({
      id,
      status: 'running',
      commits: 8,
      remaining: { count: 8 },
      current: { kind: 'verify', commit: commits[4] },
    });
    const [first] = await buildsInMoto();
    const delivered = await watchy('bisect', 'deliver', first!.id!, '--session', id, ...local());
    expect(delivered.code).toBe(0);
    expect(delivered.stdout).toMatch(/^advanced$/m);
    // moto's build succeeded, so commit 4 is good and the search moves up to commit 6.
    expect((await buildsInMoto()).map((b) => b.sourceVersion).sort()).toEqual(
      [commits[4], commits[6]].sort(),
    );
    const again = await watchy('bisect', 'deliver', first!.id!, '--session', id, ...local());
    expect(again.stdout).toMatch(/^duplicate$/m);
    expect(await buildsInMoto()).toHaveLength(2);
  });

  test('bad input, a short commit id without --repo: exit 2, one line, no session', async () => {
    const run = await watchy('bisect', PROJECT, '--good', 'abc123', '--bad', commits[8]!, ...local());
    expect(run).toMatchObject({ code: 2, stdout: '' });
    expect(run.stderr).toBe('watchy bisect: --good must be a full commit id (40 hex digits), got "abc123"\n');
    expect((await watchy('bisect', 'status', ...local())).stdout).toBe('no bisect sessions\n');
  });

  test('bad input, good is not an ancestor of bad: exit 2, one line', async () => {
    const run = await watchy(
      'bisect',
      PROJECT,
      '--good',
      commits[5]!,
      '--bad',
      commits[2]!,
      '--repo',
      repo,
      ...local(),
    );
    expect(run.code).toBe(2);
    expect(run.stderr).toBe(
      `watchy bisect: --good ${commits[5]!.slice(0, 12)} is not an ancestor of --bad ${commits[2]!.slice(0, 12)}\n`,
    );
  });

  test('bad input, a revision git does not know: exit 2, one line', async () => {
    const run = await watchy(
      'bisect',
      PROJECT,
      '--good',
      'no-such-branch',
      '--bad',
      'HEAD',
      '--repo',
      repo,
      ...local(),
    );
    expect(run).toMatchObject({
      code: 2,
      stderr: `watchy bisect: --good "no-such-branch" is not a commit in ${repo}\n`,
    });
  });

  test.each([
    ['missing --good', ['--bad', 'f'.repeat(40)], 'watchy bisect: missing required option --good\n'],
    [
      'retries out of range',
      ['--good', 'e'.repeat(40), '--bad', 'f'.repeat(40), '--retries', '9'],
      'watchy bisect: --retries must be 0-5, got "9"\n',
    ],
    [
      'an --arch that is no architecture',
      ['--good', 'e'.repeat(40), '--bad', 'f'.repeat(40), '--arch', 'mips'],
      'watchy bisect: --arch must be one of x86_64, arm64, got "mips"\n',
    ],
    [
      'an unknown option',
      ['--force'],
      "watchy bisect: Unknown option '--force'. To specify a positional argument starting with a '-', place it at the end of the command after '--', as in '-- \"--force\"\n",
    ],
  ])('bad input, %s: exit 2, one line', async (_name, args, stderr) => {
    const run = await watchy('bisect', PROJECT, ...args, ...local());
    expect(run).toMatchObject({ code: 2, stderr });
  });

  test('status of an unknown session: exit 1, one line', async () => {
    const run = await watchy('bisect', 'status', 'm-000000000000000000000000', ...local());
    expect(run).toMatchObject({
      code: 1,
      stderr: 'watchy bisect: no bisect session m-000000000000000000000000\n',
    });
  });

  test('without --endpoint-url it invokes the deployed bisect function (here: not deployed, one line)', async () => {
    const run = await watchy('bisect', 'status');
    expect(run.code).toBe(1);
    expect(run.stderr.trimEnd().split('\n')).toHaveLength(1);
    expect(run.stderr).toMatch(/^watchy bisect: .*Watchy-bisect/);
  });
});
