import { ArnFormat, Stack } from 'aws-cdk-lib';
import type * as codebuild from 'aws-cdk-lib/aws-codebuild';
import type * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import { Construct } from 'constructs';
import type { WatchyConfig } from '@core/config';
import { WATCHY_RECORDS_TABLE } from '@core/records/contract';
import { WATCHY_WEBHOOKS, type WebhookSettings } from '@core/webhooks/contract';
import { webhookSettings } from '@core/webhooks/settings';
import { classProjectKey } from '../build/build-projects';

/** Partitions of the records table the webhooks write: delivery ids and pushed commits. */
export const WEBHOOK_LEADING_KEYS = ['DELIVERY#*', 'COMMIT#*'] as const;

export interface WebhookSourcesProps {
  /** The config slices the webhooks need: the CodeConnections source, the catalog and `webhooks`. */
  readonly config: Pick<WatchyConfig, 'source' | 'catalog' | 'webhooks'>;
  /**
   * The build projects, keyed as BuildStack.projects (`nuitka-x86_64`, `integration-rust-arm64`):
   * a push of an unconnected repository starts its branch class's binary projects.
   */
  readonly projects: ReadonlyMap<string, codebuild.IProject>;
  /** The records table (deliveries and commits are written there). */
  readonly table: dynamodb.ITable;
}

/**
 * What `/api/webhooks/{github,gitlab}` need from the infra, for the function that serves them
 * (`bind`): the webhook settings in `WATCHY_WEBHOOKS` (docs/decisions/013-webhooks.md), and a role
 * that may read exactly the configured webhook secrets, write only delivery and commit items, and
 * start only the release projects a webhook source builds. No statement at all without sources.
 */
export class WebhookSources extends Construct {
  readonly settings: WebhookSettings;
  private readonly projectArns: string[];

  constructor(
    scope: Construct,
    id: string,
    private readonly props: WebhookSourcesProps,
  ) {
    super(scope, id);
    const used = new Map<string, codebuild.IProject>();
    this.settings = webhookSettings(props.config, (key, branchClass) => {
      const classKey = classProjectKey(key, branchClass);
      const project = props.projects.get(classKey);
      if (!project) throw new Error(`WebhookSources: no build project ${classKey}`);
      used.set(classKey, project);
      return project.projectName;
    });
    this.projectArns = [...used.values()].map((p) => p.projectArn);
  }

  /** Gives `fn` the settings and the permissions of the webhook routes. */
  bind(fn: lambda.Function): void {
    const { settings } = this;
    if (settings.sources.length === 0) return;
    const stack = Stack.of(this);
    fn.addEnvironment(WATCHY_WEBHOOKS, stack.toJsonString(settings));
    fn.addEnvironment(WATCHY_RECORDS_TABLE, this.props.table.tableName);
    fn.addToRolePolicy(
      new iam.PolicyStatement({
        sid: 'ReadWebhookSecrets',
        actions: ['secretsmanager:GetSecretValue'],
        // A secret's ARN ends in `-` and six random characters: `?` matches exactly those.
        resources: [...new Set(settings.sources.map((s) => s.secretName))].map((name) =>
          stack.formatArn({
            service: 'secretsmanager',
            resource: 'secret',
            resourceName: `${name}-??????`,
            arnFormat: ArnFormat.COLON_RESOURCE_NAME,
          }),
        ),
      }),
    );
    fn.addToRolePolicy(
      new iam.PolicyStatement({
        sid: 'RecordDeliveriesAndCommits',
        actions: ['dynamodb:PutItem', 'dynamodb:DeleteItem', 'dynamodb:BatchWriteItem'],
        resources: [this.props.table.tableArn],
        conditions: { 'ForAllValues:StringLike': { 'dynamodb:LeadingKeys': [...WEBHOOK_LEADING_KEYS] } },
      }),
    );
    const key = this.props.table.encryptionKey;
    if (key) {
      fn.addToRolePolicy(
        new iam.PolicyStatement({
          sid: 'UseTableKey',
          actions: ['kms:Decrypt', 'kms:Encrypt', 'kms:GenerateDataKey', 'kms:DescribeKey'],
          resources: [key.keyArn],
          conditions: { StringEquals: { 'kms:ViaService': `dynamodb.${stack.region}.amazonaws.com` } },
        }),
      );
    }
    if (this.projectArns.length > 0) {
      fn.addToRolePolicy(
        new iam.PolicyStatement({
          sid: 'StartReleaseBuilds',
          actions: ['codebuild:StartBuild'],
          resources: this.projectArns,
        }),
      );
    }
  }
}
