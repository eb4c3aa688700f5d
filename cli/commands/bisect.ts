/**
 * `watchy bisect`: start a bisect by hand, show where sessions are, or hand a finished build to
 * its session (what the Lambda does for an EventBridge event). With `--endpoint-url` it runs the
 * bisect core in-process against an S3- and CodeBuild-compatible endpoint; without it, it invokes
 * the deployed bisect function.
 */
import { execFileSync } from 'node:child_process';
import { CodeBuildClient } from '@aws-sdk/client-codebuild';
import { LambdaClient } from '@aws-sdk/client-lambda';
import { S3Client } from '@aws-sdk/client-s3';
import { SNSClient } from '@aws-sdk/client-sns';
import { CodeBuildRunner } from '@core/bisect/build-runner';
import { APP_VARIABLE, ARCH_VARIABLE, buildIdOf, COMMIT_PATTERN } from '@core/bisect/contract';
import {
  BisectInputError,
  advanceOnBuild,
  handleBuild,
  startBisect,
  type BisectDeps,
} from '@core/bisect/engine';
import { CommitListError, parseCommitList, type CommitInfo } from '@core/bisect/session';
import { SessionStore } from '@core/bisect/session-store';
import {
  formatSession,
  formatSessionTable,
  summarizeSession,
  type BisectResponse,
  type SessionSummary,
} from '@core/bisect/status';
import { invokeReleaseFunction } from '@core/release/rollback/invoke';
import { publishMessage } from '@core/notifications/publish';
import { CliError, UsageError } from '../errors';
import { ARCH_OPTION, architectureOption, ENDPOINT_OPTIONS, parseCommandArgs, required } from '../args';
import type { Command } from '../command';

const usage = `usage: watchy bisect <project> --good SHA --bad SHA [--app NAME] [--arch ARCH] [--retries N]
                     [--repo DIR] [--list-project NAME] [connection options]
       watchy bisect status [SESSION] [--json] [connection options]
       watchy bisect deliver BUILD-ID [--session ID] [connection options]

Finds the first bad commit between a good and a bad one by binary search over verify-only
CodeBuild builds (WATCHY_MODE=verify: build and verify, never publish) of <project>.

  start     creates the session (the same project, good and bad again returns the same session)
            and starts its first build: the commit list build, or with --repo the first step
            (the list is computed here with git log --first-parent).
  status    every session, one line each; with SESSION its range, the candidates left, the
            build running now, every build so far and, once found, the commit, author and message.
  deliver   hands a finished build to its session, as the EventBridge rule does (after a lost event);
            --session names the session when the build's environment does not (WATCHY_BISECT_SESSION).

  --good, --bad     full commit ids (or anything git rev-parse understands, with --repo)
  --app, --arch     WATCHY_APP / WATCHY_ARCH copied onto each step (what the failing build had)
  --retries         times a failing step is retried before it counts as bad (default 1)
  --repo DIR        a clone of the repository: list the commits here instead of in CodeBuild

connection options:
  --endpoint-url URL  run in-process against this S3 and CodeBuild endpoint (needs --bucket)
  --bucket NAME       release bucket (with --endpoint-url)
  --list-project NAME CodeBuild project that lists commits (with --endpoint-url, without --repo)
  --topic-arn ARN     SNS topic for the end-of-bisect message (with --endpoint-url)
  --stack-prefix P    deployed bisect function {P}-bisect (default Watchy; Watchy-Prod for a stage)
  --function-name F   deployed bisect function by name (overrides --stack-prefix)
  --region REGION     AWS region (default from the environment)
`;

const options = {
  good: { type: 'string' },
  bad: { type: 'string' },
  app: { type: 'string' },
  ...ARCH_OPTION,
  retries: { type: 'string' },
  repo: { type: 'string' },
  json: { type: 'boolean' },
  session: { type: 'string' },
  ...ENDPOINT_OPTIONS,
  bucket: { type: 'string' },
  'list-project': { type: 'string' },
  'topic-arn': { type: 'string' },
  'function-name': { type: 'string' },
  'stack-prefix': { type: 'string' },
} as const;

type Values = ReturnType<typeof parseCommandArgs<typeof options>>['values'];

/** The deployed bisect function of a stack prefix (lib/stacks/release-control-stack.ts names it so). */
export const bisectFunctionName = (stackPrefix: string): string => `${stackPrefix}-bisect`;

export const command: Command = {
  name: 'bisect',
  summary: 'find the first bad commit of a failing build by binary search (start, status, deliver)',
  usage,
  async run(args) {
    const { values, positionals } = parseCommandArgs(args, options, true);
    const [first, ...rest] = positionals;
    if (first === undefined)
      throw new UsageError('missing <project> (or status, deliver); see watchy bisect --help');
    if (first === 'status') {
      if (rest.length > 1) throw new UsageError('status takes at most one session id');
      return status(values, rest[0]);
    }
    if (first === 'deliver') {
      if (rest.length !== 1) throw new UsageError('deliver takes one build id');
      return deliver(values, rest[0]!);
    }
    if (rest.length > 0) throw new UsageError(`unexpected argument ${JSON.stringify(rest[0])}`);
    return start(values, first);
  },
};

async function start(values: Values, project: string): Promise<number> {
  const retries = values.retries === undefined ? 1 : Number(values.retries);
  if (!/^[0-5]$/.test(values.retries ?? '1')) {
    throw new UsageError(`--retries must be 0-5, got ${JSON.stringify(values.retries)}`);
  }
  let good = required(values.good, 'good');
  let bad = required(values.bad, 'bad');
  let commits: CommitInfo[] | undefined;
  if (values.repo !== undefined) {
    good = revParse(values.repo, good, 'good');
    bad = revParse(values.repo, bad, 'bad');
    try {
      execFileSync('git', ['-C', values.repo, 'merge-base', '--is-ancestor', good, bad], { stdio: 'ignore' });
    } catch {
      throw new UsageError(`--good ${good.slice(0, 12)} is not an ancestor of --bad ${bad.slice(0, 12)}`);
    }
    commits = listCommits(values.repo, good, bad);
  }
  const environment: Record<string, string> = {
    ...(values.app && { [APP_VARIABLE]: values.app }),
    ...(values.arch && { [ARCH_VARIABLE]: architectureOption(values.arch) }),
  };
  const initiator = process.env['USER'] ? `watchy-cli:${process.env['USER']}` : 'watchy-cli';
  let summary: SessionSummary;
  if (values['endpoint-url'] !== undefined) {
    const deps = localDeps(values);
    try {
      const session = await startBisect(deps, {
        project,
        good,
        bad,
        environment,
        trigger: { kind: 'manual', initiator },
        retries,
        autoRollback: false,
        ...(commits && { commits }),
      });
      summary = summarizeSession(session);
    } catch (error) {
      if (error instanceof BisectInputError || error instanceof CommitListError)
        throw new UsageError(error.message);
      throw error;
    }
  } else {
    if (commits)
      throw new UsageError('--repo needs --endpoint-url (the deployed bisect lists commits in CodeBuild)');
    const response = await invoke(values, {
      action: 'start',
      project,
      good,
      bad,
      environment,
      initiator,
      retries,
    });
    if (!('session' in response) || !response.session)
      throw new CliError('the bisect function returned no session');
    summary = response.session;
  }
  process.stdout.write(`${formatSession(summary)}\n`);
  return 0;
}

async function status(values: Values, id: string | undefined): Promise<number> {
  let sessions: SessionSummary[];
  if (values['endpoint-url'] !== undefined) {
    const store = localDeps(values).store;
    const ids = id ? [id] : await store.list();
    const read = await Promise.all(ids.map((i) => store.get(i)));
    sessions = read.flatMap((s) => (s ? [summarizeSession(s.value)] : []));
    if (id && sessions.length === 0) throw new CliError(`no bisect session ${id}`);
  } else {
    const response = await invoke(values, { action: 'status', ...(id && { id }) });
    if (!('sessions' in response)) throw new CliError('the bisect function returned no sessions');
    sessions = response.sessions;
  }
  if (values.json) process.stdout.write(`${JSON.stringify(id ? sessions[0] : sessions, null, 2)}\n`);
  else process.stdout.write(`${id ? formatSession(sessions[0]!) : formatSessionTable(sessions)}\n`);
  return 0;
}

async function deliver(values: Values, raw: string): Promise<number> {
  const id = buildIdOf(raw);
  if (values['endpoint-url'] === undefined) {
    if (values.session) throw new UsageError('--session needs --endpoint-url');
    const response = await invoke(values, {
      source: 'aws.codebuild',
      'detail-type': 'CodeBuild Build State Change',
      detail: { 'build-id': id, 'project-name': id.split(':')[0], 'build-status': 'UNKNOWN' },
    });
    process.stdout.write(`${describeResponse(response)}\n`);
    return 0;
  }
  const deps = localDeps(values);
  const [build] = await deps.runner.get([id]);
  if (!build) throw new CliError(`no build ${id}`);
  const outcome = values.session
    ? await advanceOnBuild(deps, values.session, build)
    : await handleBuild(deps, build, { projects: [], releaseBranch: '', retries: 1, autoRollback: false });
  process.stdout.write(
    outcome.kind === 'ignored'
      ? `ignored: ${outcome.reason}\n`
      : `${outcome.kind}\n${formatSession(summarizeSession(outcome.session))}\n`,
  );
  return 0;
}

function describeResponse(response: BisectResponse): string {
  if ('sessions' in response) return formatSessionTable(response.sessions);
  if (response.session) return `${response.outcome}\n${formatSession(response.session)}`;
  return `${response.outcome}${response.reason ? `: ${response.reason}` : ''}`;
}

function localDeps(values: Values): BisectDeps {
  const endpoint = values['endpoint-url']!;
  const bucket = required(values.bucket, 'bucket');
  const config = {
    endpoint,
    forcePathStyle: true,
    ...(values.region && { region: values.region }),
  };
  const sns = new SNSClient(config);
  const topicArn = values['topic-arn'];
  return {
    store: new SessionStore(new S3Client(config), bucket),
    runner: new CodeBuildRunner(new CodeBuildClient(config)),
    ...(values['list-project'] && { listProject: values['list-project'] }),
    notify: async (notification) => {
      if (topicArn) await publishMessage(sns, topicArn, notification);
      else process.stderr.write(`${notification.subject}\n${notification.message}\n`);
    },
  };
}

async function invoke(values: Values, payload: unknown): Promise<BisectResponse> {
  const prefix = values['stack-prefix'] ?? 'Watchy';
  if (!/^[A-Za-z][A-Za-z0-9-]{0,60}$/.test(prefix)) {
    throw new UsageError(`invalid --stack-prefix ${JSON.stringify(prefix)}`);
  }
  const lambda = new LambdaClient(values.region ? { region: values.region } : {});
  return invokeReleaseFunction<BisectResponse>(
    lambda,
    values['function-name'] ?? bisectFunctionName(prefix),
    payload,
  );
}

function git(repo: string, args: string[]): string {
  try {
    return execFileSync('git', ['-C', repo, ...args], {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'pipe'],
      maxBuffer: 64 * 1024 * 1024,
    });
  } catch (error) {
    const stderr = String((error as { stderr?: unknown }).stderr ?? '')
      .trim()
      .split('\n')[0];
    throw new CliError(`git ${args[0]} in ${repo} failed: ${stderr || (error as Error).message}`);
  }
}

function revParse(repo: string, rev: string, flag: string): string {
  if (rev.startsWith('-')) throw new UsageError(`--${flag} must be a commit, got ${JSON.stringify(rev)}`);
  let sha = '';
  try {
    sha = git(repo, ['rev-parse', '--verify', '--quiet', `${rev}^{commit}`]).trim();
  } catch {
    // not a commit: reported below
  }
  if (!COMMIT_PATTERN.test(sha))
    throw new UsageError(`--${flag} ${JSON.stringify(rev)} is not a commit in ${repo}`);
  return sha;
}

/** The range's commits, oldest first, as the list-commits build computes them. */
export function listCommits(repo: string, good: string, bad: string): CommitInfo[] {
  const text = git(repo, [
    'log',
    '--first-parent',
    '--reverse',
    '--format=%H%x09%an <%ae>%x09%s',
    `${good}..${bad}`,
  ]);
  try {
    return parseCommitList(text, bad);
  } catch (error) {
    if (error instanceof CommitListError) throw new UsageError(error.message);
    throw error;
  }
}
