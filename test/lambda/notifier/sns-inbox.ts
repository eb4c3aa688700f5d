/**
 * An HTTP endpoint on 127.0.0.1 subscribed to an SNS topic on moto: moto delivers each published
 * message to it over HTTP, so tests read back exactly what subscribers would get.
 */
import { createServer, type Server } from 'node:http';
import { SubscribeCommand, type SNSClient } from '@aws-sdk/client-sns';

export interface SnsDelivery {
  readonly Type: string;
  readonly MessageId: string;
  readonly TopicArn: string;
  readonly Subject?: string;
  readonly Message: string;
}

export interface SnsInbox {
  readonly url: string;
  readonly messages: SnsDelivery[];
  subscribe(sns: SNSClient, topicArn: string): Promise<void>;
  close(): Promise<void>;
}

export async function startSnsInbox(): Promise<SnsInbox> {
  const messages: SnsDelivery[] = [];
  const server: Server = createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      try {
        messages.push(JSON.parse(Buffer.concat(chunks).toString('utf8')) as SnsDelivery);
      } catch {
        // not a notification: ignore
      }
      response.end('ok');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  if (!address || typeof address === 'string') throw new Error('inbox has no port');
  const url = `http://127.0.0.1:${address.port}/sns`;
  return {
    url,
    messages,
    async subscribe(sns, topicArn) {
      await sns.send(new SubscribeCommand({ TopicArn: topicArn, Protocol: 'http', Endpoint: url }));
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
