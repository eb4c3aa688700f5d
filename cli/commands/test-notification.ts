/**
 * `watchy test-notification`: publishes a test message through the same path as the notifier, so
 * an operator can see that the topic and its subscriptions deliver.
 */
import { ListSubscriptionsByTopicCommand, SNSClient, type Subscription } from '@aws-sdk/client-sns';
import { publishMessage } from '@core/notifications/publish';
import { errorLine } from '@core/one-line';
import { CliError, UsageError } from '../errors';
import { ENDPOINT_OPTIONS, parseCommandArgs, required } from '../args';
import type { Command } from '../command';

export const CHANNELS = ['sns', 'email'] as const;
export type Channel = (typeof CHANNELS)[number];
const TOPIC_ARN = /^arn:aws[a-z-]*:sns:[a-z0-9-]+:\d{12}:[A-Za-z0-9_-]{1,256}$/;
/** Where the CLI finds the topic when --topic-arn is not given. */
export const TOPIC_ARN_VARIABLE = 'WATCHY_NOTIFICATION_TOPIC_ARN';

const usage = `usage: watchy test-notification --channel sns|email --message TEXT [--subject TEXT]
                                [--topic-arn ARN] [--endpoint-url URL] [--region REGION]

Publishes TEXT to the notification topic, as the notifier does for build and pipeline events.
  sns     publish to the topic (every subscription receives it)
  email   the same, after checking the topic has at least one email subscription

  --topic-arn ARN     the notification topic (default $${TOPIC_ARN_VARIABLE})
  --subject TEXT      default "Watchy test notification"
  --endpoint-url URL  an SNS-compatible endpoint (tests, local servers)
  --region REGION     AWS region (default from the environment)
`;

export const command: Command = {
  name: 'test-notification',
  summary: 'publish a test message to the notification topic',
  usage,
  async run(args) {
    const { values } = parseCommandArgs(args, {
      channel: { type: 'string' },
      message: { type: 'string' },
      subject: { type: 'string' },
      'topic-arn': { type: 'string' },
      ...ENDPOINT_OPTIONS,
    });
    const channel = required(values.channel, 'channel');
    if (!(CHANNELS as readonly string[]).includes(channel)) {
      throw new UsageError(`unknown --channel ${JSON.stringify(channel)}: expected ${CHANNELS.join(' or ')}`);
    }
    const message = required(values.message, 'message');
    if (Buffer.byteLength(message) > 100 * 1024) throw new UsageError('--message is longer than 100 KiB');
    const topicArn = values['topic-arn'] ?? process.env[TOPIC_ARN_VARIABLE];
    if (!topicArn) throw new UsageError(`missing required option --topic-arn (or $${TOPIC_ARN_VARIABLE})`);
    if (!TOPIC_ARN.test(topicArn)) throw new UsageError(`invalid --topic-arn ${JSON.stringify(topicArn)}`);
    const sns = new SNSClient({
      ...(values['endpoint-url'] && { endpoint: values['endpoint-url'] }),
      ...(values.region && { region: values.region }),
    });
    try {
      let note = '';
      if (channel === 'email') {
        const emails = (await subscriptions(sns, topicArn)).filter(
          (s) => s.Protocol === 'email' || s.Protocol === 'email-json',
        );
        if (emails.length === 0) throw new CliError(`${topicArn} has no email subscription`);
        note = ` (${emails.length} email subscription${emails.length === 1 ? '' : 's'})`;
      }
      const id = await publishMessage(sns, topicArn, {
        subject: values.subject ?? 'Watchy test notification',
        message,
      });
      process.stdout.write(`published ${id} to ${topicArn}${note}\n`);
      return 0;
    } catch (error) {
      if (error instanceof CliError) throw error;
      throw new CliError(`cannot publish to ${topicArn}: ${errorLine(error)}`);
    } finally {
      sns.destroy();
    }
  },
};

async function subscriptions(sns: SNSClient, topicArn: string): Promise<Subscription[]> {
  const all: Subscription[] = [];
  let token: string | undefined;
  do {
    const page = await sns.send(
      new ListSubscriptionsByTopicCommand({ TopicArn: topicArn, NextToken: token }),
    );
    all.push(...(page.Subscriptions ?? []));
    token = page.NextToken;
  } while (token);
  return all;
}
