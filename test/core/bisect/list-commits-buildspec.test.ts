/**
 * buildspecs/bisect-commits.yml, run as CodeBuild would (bash, in a clone checked out at the bad
 * commit) on a real git repository, uploading with the AWS CLI to moto's S3 over HTTP; the list it
 * writes is what parseCommitList, and so the bisect engine, reads.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { GetObjectCommand } from '@aws-sdk/client-s3';
import { parse } from 'yaml';
import { commitsKey } from '@core/bisect/contract';
import { SAME_COMMIT_MESSAGE } from '@core/bisect/engine';
import { parseCommitList } from '@core/bisect/session';
import { BISECT_BUCKET as BUCKET, useBisectMoto } from './bisect-moto';

const BUILDSPEC = join(__dirname, '..', '..', '..', 'buildspecs', 'bisect-commits.yml');
const SESSION = 'b-0123456789abcdef01234567';

const aws = useBisectMoto();
let repo: string;
const main: string[] = [];
let sideCommit: string;

function git(...args: string[]): string {
  return execFileSync('git', ['-C', repo, ...args], {
    encoding: 'utf8',
    env: {
      ...process.env,
      GIT_AUTHOR_NAME: 'Ada Dev',
      GIT_AUTHOR_EMAIL: 'ada@example.com',
      GIT_COMMITTER_NAME: 'Ada Dev',
      GIT_COMMITTER_EMAIL: 'ada@example.com',
    },
  }).trim();
}

function commit(message: string, file = 'file.txt'): string {
  writeFileSync(join(repo, file), `${message}\n`);
  git('add', file);
  git('commit', '-q', '-m', message);
  return git('rev-parse', 'HEAD');
}

/** Runs the buildspec's build commands in the repository checked out at `bad`. */
function runBuildspec(env: Record<string, string>) {
  const spec = parse(readFileSync(BUILDSPEC, 'utf8')) as { phases: { build: { commands: string[] } } };
  git('checkout', '-q', '--detach', env['WATCHY_BISECT_BAD'] ?? 'HEAD');
  return spawnSync('bash', ['-c', spec.phases.build.commands.join('\n')], {
    cwd: repo,
    encoding: 'utf8',
    env: {
      PATH: process.env['PATH'],
      HOME: process.env['HOME'],
      AWS_ENDPOINT_URL: aws.moto.endpoint,
      AWS_ACCESS_KEY_ID: 'testing',
      AWS_SECRET_ACCESS_KEY: 'testing',
      AWS_DEFAULT_REGION: 'us-east-1',
      ...env,
    },
  });
}

async function uploaded(): Promise<string> {
  const response = await aws.s3.send(new GetObjectCommand({ Bucket: BUCKET, Key: commitsKey(SESSION) }));
  return response.Body!.transformToString('utf8');
}

beforeAll(() => {
  repo = mkdtempSync(join(tmpdir(), 'watchy-list-commits-'));
  git('init', '-q', '-b', 'main');
  for (let i = 0; i < 4; i++) main.push(commit(`main ${i}`));
  git('checkout', '-q', '-b', 'side');
  sideCommit = commit('side work', 'side.txt');
  git('checkout', '-q', 'main');
  main.push(commit('main 4'));
  git('merge', '-q', '--no-ff', '-m', 'Merge side', 'side');
  main.push(git('rev-parse', 'HEAD'));
  main.push(commit('main 6'));
});
afterAll(() => {
  rmSync(repo, { recursive: true, force: true });
});

const range = (good: string, bad: string) => ({
  WATCHY_BISECT_GOOD: good,
  WATCHY_BISECT_BAD: bad,
  WATCHY_BISECT_BUCKET: BUCKET,
  WATCHY_BISECT_COMMITS_KEY: commitsKey(SESSION),
});

describe('buildspecs/bisect-commits.yml (git repository, AWS CLI to moto S3)', () => {
  test('writes the first-parent range after good up to bad, oldest first, with author and subject', async () => {
    const run = runBuildspec(range(main[1]!, main[6]!));
    expect(run.status).toBe(0);
    expect(run.stdout).toContain(`list-commits: 5 commits in ${main[1]}..${main[6]}`);
    const commits = parseCommitList(await uploaded(), main[6]!);
    expect(commits.map((c) => c.sha)).toEqual(main.slice(2, 7));
    expect(commits.map((c) => c.sha)).not.toContain(sideCommit);
    expect(commits[0]).toEqual({ sha: main[2], author: 'Ada Dev <ada@example.com>', subject: 'main 2' });
    expect(commits[4]!.subject).toBe('main 6');
  });

  test('refuses a good commit that is not an ancestor of bad, and writes nothing', async () => {
    const run = runBuildspec(range(sideCommit, main[3]!));
    expect(run.status).not.toBe(0);
    expect(run.stdout).toContain(`list-commits: ${sideCommit} is not an ancestor of ${main[3]}`);
    await expect(uploaded()).rejects.toThrow();
  });

  test("refuses good == bad with the engine's own message, and uploads no empty list", async () => {
    const run = runBuildspec(range(main[3]!, main[3]!));
    expect(run.status).not.toBe(0);
    // The engine's constant (engine.test.ts checks the engine throws exactly it).
    expect(run.stdout.trim()).toBe(`list-commits: ${SAME_COMMIT_MESSAGE}`);
    await expect(uploaded()).rejects.toThrow();
  });

  test('refuses a key outside state/bisect/commits/', async () => {
    const run = runBuildspec({ ...range(main[1]!, main[6]!), WATCHY_BISECT_COMMITS_KEY: 'binaries/x.json' });
    expect(run.status).not.toBe(0);
    expect(run.stdout).toContain('list-commits: unexpected key binaries/x.json');
  });

  test('refuses a short commit id', () => {
    const run = runBuildspec(range('abc123', main[6]!));
    expect(run.status).not.toBe(0);
    expect(run.stdout).toContain('list-commits: good and bad must be full commit ids');
  });

  test('refuses a missing variable', () => {
    const env: Record<string, string> = range(main[1]!, main[6]!);
    delete env['WATCHY_BISECT_BUCKET'];
    const run = runBuildspec(env);
    expect(run.status).not.toBe(0);
    expect(run.stdout).toContain('list-commits: WATCHY_BISECT_BUCKET is not set');
  });
});
