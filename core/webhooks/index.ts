/**
 * The webhooks: route handlers of `/api/webhooks/github` and `/api/webhooks/gitlab`, and the
 * AWS-backed dependencies an API adapter builds once at module scope.
 */
import type { CodeBuildClient } from '@aws-sdk/client-codebuild';
import type { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { CodeBuildReleaseStarter } from './builds';
import type { WebhookSettings } from './contract';
import type { WebhookDeps } from './handlers';
import { DynamoWebhookRecords } from './records';
import { CachedSecrets } from './secrets';

export * from './contract';
export { githubWebhook, gitlabWebhook, planPush, type WebhookDeps, type PushPlan } from './handlers';
export { CodeBuildReleaseStarter, startBuildInputs, ReleaseStartError } from './builds';
export type { ReleaseBuildRequest, ReleaseBuildStarter, StartedReleaseBuild } from './builds';
export {
  DynamoWebhookRecords,
  commitKey,
  deliveryKey,
  type WebhookRecords,
  type DeliveryClaim,
} from './records';
export { CachedSecrets, type SecretSource } from './secrets';
export { gitHubSignature, verifyGitHubSignature, verifyGitLabToken } from './signature';
export { parsePush, repositoryOf, type Push, type PushedCommit } from './payloads';

export interface AwsWebhookClients {
  readonly settings: WebhookSettings;
  /** The records table (WATCHY_RECORDS_TABLE). */
  readonly table: string;
  readonly dynamodb: DynamoDBDocumentClient;
  readonly secretsManager: SecretsManagerClient;
  readonly codebuild: CodeBuildClient;
  readonly log?: WebhookDeps['log'];
}

/** The handlers' dependencies over real clients (made once per Lambda container: the secret cache lives with them). */
export function awsWebhookDeps(clients: AwsWebhookClients): WebhookDeps {
  return {
    settings: clients.settings,
    secrets: new CachedSecrets(clients.secretsManager),
    records: new DynamoWebhookRecords(clients.dynamodb, clients.table),
    builds: new CodeBuildReleaseStarter(clients.codebuild),
    ...(clients.log ? { log: clients.log } : {}),
  };
}
