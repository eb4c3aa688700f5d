/**
 * What the webhooks write to the records table (core/records/contract.ts): one delivery item per
 * delivery id, created only if absent (`DELIVERY#{provider}` / id, TTL `expires`), and one Commit
 * item per pushed commit (`COMMIT#{repository}` / sha).
 */
import {
  BatchWriteCommand,
  DeleteCommand,
  PutCommand,
  type DynamoDBDocumentClient,
} from '@aws-sdk/lib-dynamodb';
import { CommitSchema, RECORDS_KEYS, type Commit } from '../records/contract';
import type { WebhookProvider } from './contract';

export function deliveryKey(provider: WebhookProvider, deliveryId: string): { pk: string; sk: string } {
  return { pk: `DELIVERY#${provider}`, sk: deliveryId };
}

export function commitKey(repository: string, sha: string): { pk: string; sk: string } {
  return { pk: `COMMIT#${repository}`, sk: sha };
}

export interface DeliveryClaim {
  readonly provider: WebhookProvider;
  readonly deliveryId: string;
  readonly repository: string;
  readonly event: string;
  readonly receivedAt: Date;
  /** Epoch seconds after which DynamoDB may delete the item. */
  readonly expires: number;
}

export interface WebhookRecords {
  /** True when this delivery id is new (and is now recorded); false when it was seen before. */
  claimDelivery(claim: DeliveryClaim): Promise<boolean>;
  /** Forgets a delivery whose handling failed, so a redelivery is handled again. */
  releaseDelivery(provider: WebhookProvider, deliveryId: string): Promise<void>;
  recordCommits(commits: readonly Commit[]): Promise<void>;
}

/** BatchWriteItem's limit. */
const BATCH = 25;
const BATCH_ATTEMPTS = 6;

export class DynamoWebhookRecords implements WebhookRecords {
  constructor(
    private readonly doc: DynamoDBDocumentClient,
    private readonly table: string,
    private readonly sleep: (ms: number) => Promise<void> = (ms) => new Promise((r) => setTimeout(r, ms)),
  ) {}

  async claimDelivery(claim: DeliveryClaim): Promise<boolean> {
    try {
      await this.doc.send(
        new PutCommand({
          TableName: this.table,
          Item: {
            ...deliveryKey(claim.provider, claim.deliveryId),
            [RECORDS_KEYS.expires]: claim.expires,
            repository: claim.repository,
            event: claim.event,
            receivedAt: claim.receivedAt.toISOString(),
          },
          ConditionExpression: 'attribute_not_exists(pk)',
        }),
      );
      return true;
    } catch (error) {
      if ((error as Error).name === 'ConditionalCheckFailedException') return false;
      throw error;
    }
  }

  async releaseDelivery(provider: WebhookProvider, deliveryId: string): Promise<void> {
    await this.doc.send(new DeleteCommand({ TableName: this.table, Key: deliveryKey(provider, deliveryId) }));
  }

  async recordCommits(commits: readonly Commit[]): Promise<void> {
    // One item per (repository, sha): a batch may not name the same key twice.
    const unique = new Map(commits.map((c) => [`${c.repository}\n${c.sha}`, CommitSchema.parse(c)]));
    const items = [...unique.values()];
    for (let i = 0; i < items.length; i += BATCH) {
      let requests: Record<string, unknown>[] = items.slice(i, i + BATCH).map((commit) => ({
        PutRequest: { Item: { ...commitKey(commit.repository, commit.sha), ...commit } },
      }));
      for (let attempt = 1; requests.length > 0; attempt++) {
        if (attempt > BATCH_ATTEMPTS) {
          throw new Error(
            `DynamoDB left ${requests.length} commit writes unprocessed after ${BATCH_ATTEMPTS} attempts`,
          );
        }
        const out = await this.doc.send(
          new BatchWriteCommand({ RequestItems: { [this.table]: requests as never } }),
        );
        requests = (out.UnprocessedItems?.[this.table] ?? []) as Record<string, unknown>[];
        if (requests.length > 0) await this.sleep(50 * 2 ** attempt);
      }
    }
  }
}
