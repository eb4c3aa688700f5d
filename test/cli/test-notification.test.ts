/**
 * `watchy test-notification` as a process against moto's SNS over HTTP; moto delivers the message
 * to an HTTP subscriber, so the test reads what subscribers get.
 */
import { CreateTopicCommand, SNSClient, SubscribeCommand } from '@aws-sdk/client-sns';
import { startMoto, type MotoServer } from '../support/moto-server';
import { startSnsInbox, type SnsInbox } from '../lambda/notifier/sns-inbox';
import { runWatchy } from './bisect-cli-process';

let moto: MotoServer;
let sns: SNSClient;
let inbox: SnsInbox;
let topicArn: string;

beforeAll(async () => {
  moto = await startMoto();
  sns = new SNSClient(moto.clientConfig);
  inbox = await startSnsInbox();
});
afterAll(async () => {
  sns.destroy();
  await inbox.close();
  await moto.stop();
});
beforeEach(async () => {
  await moto.reset();
  inbox.messages.length = 0;
  topicArn = (await sns.send(new CreateTopicCommand({ Name: 'watchy-notifications' }))).TopicArn!;
  await inbox.subscribe(sns, topicArn);
});

const local = () => ['--endpoint-url', moto.endpoint];

describe('watchy test-notification (moto SNS, HTTP subscriber)', () => {
  test('--channel sns publishes the message; the subscriber receives it', async () => {
    const run = await runWatchy([
      'test-notification',
      '--channel',
      'sns',
      '--message',
      'Test alert',
      '--topic-arn',
      topicArn,
      ...local(),
    ]);
    expect(run.code).toBe(0);
    expect(run.stdout).toMatch(new RegExp(`^published [0-9a-f-]+ to ${topicArn}\\n$`));
    expect(inbox.messages).toEqual([
      expect.objectContaining({
        TopicArn: topicArn,
        Subject: 'Watchy test notification',
        Message: 'Test alert',
      }),
    ]);
  });

  test('the topic can come from WATCHY_NOTIFICATION_TOPIC_ARN, the subject from --subject', async () => {
    const run = await runWatchy(
      ['test-notification', '--channel', 'sns', '--message', 'm', '--subject', 'Drill', ...local()],
      {
        WATCHY_NOTIFICATION_TOPIC_ARN: topicArn,
      },
    );
    expect(run.code).toBe(0);
    expect(inbox.messages[0]).toMatchObject({ Subject: 'Drill', Message: 'm' });
  });

  test('--channel email needs an email subscription, then publishes', async () => {
    const none = await runWatchy([
      'test-notification',
      '--channel',
      'email',
      '--message',
      'm',
      '--topic-arn',
      topicArn,
      ...local(),
    ]);
    expect(none).toMatchObject({
      code: 1,
      stderr: `watchy test-notification: ${topicArn} has no email subscription\n`,
    });
    expect(inbox.messages).toHaveLength(0);
    await sns.send(
      new SubscribeCommand({ TopicArn: topicArn, Protocol: 'email', Endpoint: 'ops@example.com' }),
    );
    const run = await runWatchy([
      'test-notification',
      '--channel',
      'email',
      '--message',
      'm',
      '--topic-arn',
      topicArn,
      ...local(),
    ]);
    expect(run.code).toBe(0);
    expect(run.stdout).toContain('(1 email subscription)');
    expect(inbox.messages).toHaveLength(1);
  });

  test('a topic that does not exist: exit 1, one line', async () => {
    const missing = topicArn.replace('watchy-notifications', 'nope');
    const run = await runWatchy([
      'test-notification',
      '--channel',
      'sns',
      '--message',
      'm',
      '--topic-arn',
      missing,
      ...local(),
    ]);
    expect(run.code).toBe(1);
    expect(run.stderr.trimEnd().split('\n')).toHaveLength(1);
    expect(run.stderr).toMatch(new RegExp(`^watchy test-notification: cannot publish to ${missing}: `));
  });

  test.each([
    [
      'an unknown channel',
      ['--channel', 'slack', '--message', 'm'],
      'watchy test-notification: unknown --channel "slack": expected sns or email\n',
    ],
    ['no message', ['--channel', 'sns'], 'watchy test-notification: missing required option --message\n'],
    ['no channel', ['--message', 'm'], 'watchy test-notification: missing required option --channel\n'],
    [
      'a topic ARN that is not one',
      ['--channel', 'sns', '--message', 'm', '--topic-arn', 'arn:aws:s3:::bucket'],
      'watchy test-notification: invalid --topic-arn "arn:aws:s3:::bucket"\n',
    ],
  ])('bad input, %s: exit 2, one line, nothing published', async (_name, args, stderr) => {
    const run = await runWatchy([
      'test-notification',
      ...args,
      ...(args.includes('--topic-arn') ? [] : ['--topic-arn', topicArn]),
      ...local(),
    ]);
    expect(run).toMatchObject({ code: 2, stderr });
    expect(inbox.messages).toHaveLength(0);
  });
});
