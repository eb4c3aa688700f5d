/**
 * The notifier Lambda against moto over HTTP: the real handler (its SDK clients pointed at moto with
 * AWS_ENDPOINT_URL) publishes to an SNS topic, and moto delivers each message to an HTTP subscriber.
 */
import { CodeBuildClient, CreateProjectCommand, StartBuildCommand } from '@aws-sdk/client-codebuild';
import { CreateTopicCommand, SNSClient } from '@aws-sdk/client-sns';
import { NOTIFIER_ENV, handler, notifyEvent, type NotifierDeps } from '../../../lambda/notifier/index';
import { formatBuildEvent, subjectLine } from '@core/notifications/format';
import { startMoto, type MotoServer } from '../../support/moto-server';
import { startSnsInbox, type SnsInbox } from './sns-inbox';

const COMMIT = '0123456789abcdef0123456789abcdef01234567';
let moto: MotoServer;
let sns: SNSClient;
let inbox: SnsInbox;
let topicArn: string;
const savedEnv = { ...process.env };

function buildEvent(status: string, extra: Record<string, unknown> = {}) {
  return {
    version: '0',
    id: 'e1',
    source: 'aws.codebuild',
    'detail-type': 'CodeBuild Build State Change',
    account: '123456789012',
    region: 'us-east-1',
    time: '2026-11-22T05:00:00Z',
    resources: [],
    detail: {
      'build-status': status,
      'project-name': 'watchy-nuitka-x86_64',
      'build-id': 'arn:aws:codebuild:us-east-1:123456789012:build/watchy-nuitka-x86_64:8745a7a9',
      'current-phase': 'COMPLETED',
      'additional-information': {
        'source-version': COMMIT,
        initiator: 'codepipeline/Watchy-Release',
        environment: {
          'environment-variables': [
            { name: 'WATCHY_APP', value: 'slack', type: 'PLAINTEXT' },
            { name: 'WATCHY_ARCH', value: 'x86_64', type: 'PLAINTEXT' },
            { name: 'WATCHY_MODE', value: 'release', type: 'PLAINTEXT' },
          ],
        },
        logs: {
          'deep-link':
            'https://console.aws.amazon.com/cloudwatch/home?region=us-east-1#logEvent:group=/aws/codebuild/x',
        },
        phases: [
          { 'phase-type': 'INSTALL', 'phase-status': 'SUCCEEDED' },
          {
            'phase-type': 'BUILD',
            'phase-status': status === 'SUCCEEDED' ? 'SUCCEEDED' : 'FAILED',
            'phase-context': [
              'COMMAND_EXECUTION_ERROR: Error while executing command: nuitka. Reason: exit status 1',
            ],
          },
        ],
        ...extra,
      },
    },
  };
}

function pipelineEvent(state: string) {
  return {
    version: '0',
    source: 'aws.codepipeline',
    'detail-type': 'CodePipeline Pipeline Execution State Change',
    account: '123456789012',
    region: 'us-east-1',
    time: '2026-11-22T05:00:00Z',
    detail: {
      pipeline: 'Watchy-Release',
      'execution-id': '01234567-89ab-cdef-0123-456789abcdef',
      state,
      'execution-trigger': { 'trigger-type': 'Webhook', 'trigger-detail': 'push to main' },
    },
  };
}

beforeAll(async () => {
  moto = await startMoto();
  sns = new SNSClient(moto.clientConfig);
  inbox = await startSnsInbox();
  process.env['AWS_ENDPOINT_URL'] = moto.endpoint;
  process.env['AWS_REGION'] = 'us-east-1';
  process.env['AWS_ACCESS_KEY_ID'] = 'testing';
  process.env['AWS_SECRET_ACCESS_KEY'] = 'testing';
});
afterAll(async () => {
  process.env = savedEnv;
  sns.destroy();
  await inbox.close();
  await moto.stop();
});
beforeEach(async () => {
  await moto.reset();
  inbox.messages.length = 0;
  topicArn = (await sns.send(new CreateTopicCommand({ Name: 'watchy-notifications' }))).TopicArn!;
  await inbox.subscribe(sns, topicArn);
  process.env[NOTIFIER_ENV.topicArn] = topicArn;
});

describe('notifier Lambda (handler against moto SNS, delivered to an HTTP subscriber)', () => {
  test('a failed build becomes one message naming project, app, commit, failed phase and log link', async () => {
    const result = await handler(buildEvent('FAILED'));
    expect(result).toMatchObject({
      subject: `FAILED: build watchy-nuitka-x86_64 slack x86_64 at ${COMMIT.slice(0, 12)}`,
    });
    expect(inbox.messages).toHaveLength(1);
    const [delivered] = inbox.messages;
    expect(delivered!.Subject).toBe(
      `FAILED: build watchy-nuitka-x86_64 slack x86_64 at ${COMMIT.slice(0, 12)}`,
    );
    expect(delivered!.Message.split('\n')).toEqual([
      'Build FAILED: watchy-nuitka-x86_64 (slack x86_64)',
      'project: watchy-nuitka-x86_64',
      'build:   watchy-nuitka-x86_64:8745a7a9',
      `commit:  ${COMMIT}`,
      'mode:    release',
      'failed:  BUILD FAILED: COMMAND_EXECUTION_ERROR: Error while executing command: nuitka. Reason: exit status 1',
      'by:      codepipeline/Watchy-Release',
      'logs:    https://console.aws.amazon.com/cloudwatch/home?region=us-east-1#logEvent:group=/aws/codebuild/x',
      'time:    2026-11-22T05:00:00Z',
    ]);
  });

  test('a succeeded build and a stopped build get one message each', async () => {
    await handler(buildEvent('SUCCEEDED'));
    await handler(buildEvent('STOPPED'));
    expect(inbox.messages.map((m) => m.Subject)).toEqual([
      `SUCCEEDED: build watchy-nuitka-x86_64 slack x86_64 at ${COMMIT.slice(0, 12)}`,
      `STOPPED: build watchy-nuitka-x86_64 slack x86_64 at ${COMMIT.slice(0, 12)}`,
    ]);
    expect(inbox.messages[0]!.Message).not.toContain('failed:');
  });

  test('without a commit in the event the build is looked up with BatchGetBuilds (moto CodeBuild)', async () => {
    const codebuild = new CodeBuildClient(moto.clientConfig);
    await codebuild.send(
      new CreateProjectCommand({
        name: 'watchy-nuitka-x86_64',
        source: { type: 'GITHUB', location: 'https://github.com/watchy-cloud/watchy-release-platform.git' },
        artifacts: { type: 'NO_ARTIFACTS' },
        environment: { type: 'LINUX_CONTAINER', image: 'i', computeType: 'BUILD_GENERAL1_SMALL' },
        serviceRole: 'arn:aws:iam::123456789012:role/build',
      }),
    );
    const build = await codebuild.send(
      new StartBuildCommand({ projectName: 'watchy-nuitka-x86_64', sourceVersion: COMMIT }),
    );
    codebuild.destroy();
    const event = buildEvent('FAILED', { 'source-version': 'arn:aws:s3:::pipeline-artifacts/source.zip' });
    event.detail['build-id'] = build.build!.id!;
    await handler(event);
    // moto's builds carry no resolvedSourceVersion: the lookup ran and the message says unknown.
    expect(inbox.messages[0]!.Message).toContain('commit:  unknown');
  });

  test('a failed pipeline execution becomes one message with its console link', async () => {
    await handler(pipelineEvent('FAILED'));
    expect(inbox.messages).toHaveLength(1);
    expect(inbox.messages[0]!.Subject).toBe('FAILED: pipeline Watchy-Release');
    expect(inbox.messages[0]!.Message).toContain('execution: 01234567-89ab-cdef-0123-456789abcdef');
    expect(inbox.messages[0]!.Message).toContain('trigger:   Webhook push to main');
    expect(inbox.messages[0]!.Message).toContain(
      'link:      https://us-east-1.console.aws.amazon.com/codesuite/codepipeline/pipelines/Watchy-Release/executions/01234567-89ab-cdef-0123-456789abcdef/timeline?region=us-east-1',
    );
  });

  test('bisect builds are not announced one by one', async () => {
    const event = buildEvent('FAILED');
    event.detail['additional-information'].environment['environment-variables'].push({
      name: 'WATCHY_BISECT_SESSION',
      value: 'b-0123',
      type: 'PLAINTEXT',
    });
    expect(await handler(event)).toEqual({ skipped: 'a bisect build: the bisect reports when it ends' });
    expect(inbox.messages).toHaveLength(0);
  });

  test.each([
    ['an empty event', {}, 'invalid notifier event'],
    [
      'a build event without a project',
      { ...buildEvent('FAILED'), detail: { 'build-status': 'FAILED', 'build-id': 'x' } },
      'invalid "CodeBuild Build State Change" event',
    ],
    [
      'a pipeline event with a number for the state',
      { ...pipelineEvent('FAILED'), detail: { ...pipelineEvent('FAILED').detail, state: 3 } },
      'invalid "CodePipeline Pipeline Execution State Change" event',
    ],
    [
      'an event from another source',
      { ...buildEvent('FAILED'), source: 'aws.s3' },
      'invalid "CodeBuild Build State Change" event',
    ],
  ])('bad event, %s: a clear error and nothing published', async (_name, event, message) => {
    await expect(handler(event)).rejects.toThrow(message);
    expect(inbox.messages).toHaveLength(0);
  });

  test('a pipeline execution metric is counted once per ended execution', async () => {
    const counted: string[] = [];
    const deps: NotifierDeps = {
      publish: async () => 'id',
      pipelineEnded: (pipeline, state) => counted.push(`${pipeline}:${state}`),
      pipelineRevision: async () => ({ revisionId: COMMIT, summary: 'Fix the\nzoom monitor' }),
    };
    const result = await notifyEvent(deps, pipelineEvent('SUCCEEDED'));
    expect(counted).toEqual(['Watchy-Release:SUCCEEDED']);
    expect(result).toEqual({
      published: 'id',
      subject: `SUCCEEDED: pipeline Watchy-Release at ${COMMIT.slice(0, 12)}`,
    });
  });

  test('subjects are one line of printable ASCII, at most 100 characters', () => {
    expect(subjectLine('FAILED: build ü\nnext')).toBe('FAILED: build ? next');
    expect(subjectLine('x'.repeat(300))).toHaveLength(100);
    expect(formatBuildEvent(buildEvent('FAILED') as never).subject.length).toBeLessThanOrEqual(100);
  });
});
