/**
 * Publishing one notification to the SNS topic: the notifier Lambda, the bisect Lambda's messages
 * and `watchy test-notification` all go through here.
 */
import { PublishCommand, type SNSClient } from '@aws-sdk/client-sns';
import { subjectLine, type Message } from './format';

/** SNS accepts messages up to 256 KiB; ours are a few hundred bytes, anything near the limit is cut. */
export const MAX_MESSAGE_BYTES = 200 * 1024;

export async function publishMessage(sns: SNSClient, topicArn: string, message: Message): Promise<string> {
  let body = message.message;
  if (Buffer.byteLength(body) > MAX_MESSAGE_BYTES) {
    body = `${Buffer.from(body).subarray(0, MAX_MESSAGE_BYTES).toString('utf8')}\n[cut]`;
  }
  const response = await sns.send(
    new PublishCommand({ TopicArn: topicArn, Subject: subjectLine(message.subject), Message: body }),
  );
  if (!response.MessageId) throw new Error(`SNS returned no message id for ${topicArn}`);
  return response.MessageId;
}
