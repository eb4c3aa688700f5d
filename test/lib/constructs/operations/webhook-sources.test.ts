/**
 * The WebhookSources construct bound to a function (a stand-in for the API function): the webhook
 * settings in its environment and a role that reads exactly the configured secrets, writes only
 * delivery and commit items and starts only the release projects a webhook source builds; cdk-nag
 * clean. Without a webhooks section it adds nothing.
 */
import { Match } from 'aws-cdk-lib/assertions';
import type { Stack } from 'aws-cdk-lib';
import * as codebuild from 'aws-cdk-lib/aws-codebuild';
import * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as kms from 'aws-cdk-lib/aws-kms';
import { loadConfig } from '@core/config';
import { parseWebhookSettings, WATCHY_WEBHOOKS } from '@core/webhooks/contract';
import { WatchyFunction } from '../../../../lib/constructs/common/watchy-function';
import { WebhookSources } from '../../../../lib/constructs/operations/webhook-sources';
import { adapterEntry } from '../../../../lib/repo-paths';
import { synthLocal, type LocalSynth } from '../release/bisect-local-stack';

const KEYS = ['nuitka-x86_64', 'nuitka-arm64', 'rust-arm64', 'image-status-api-x86_64', 'tests'];

function build(stack: Stack, webhooks: unknown): WebhookSources {
  const key = new kms.Key(stack, 'RecordsKey', { enableKeyRotation: true });
  const table = new dynamodb.TableV2(stack, 'Records', {
    partitionKey: { name: 'pk', type: dynamodb.AttributeType.STRING },
    sortKey: { name: 'sk', type: dynamodb.AttributeType.STRING },
    encryption: dynamodb.TableEncryptionV2.customerManagedKey(key),
    pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: true },
  });
  const projects = new Map(
    [...KEYS, ...KEYS.map((k) => `integration-${k}`)].map((k) => [
      k,
      codebuild.Project.fromProjectName(stack, `Project-${k}`, `Watchy-${k}`),
    ]),
  );
  const fn = new WatchyFunction(stack, 'Api', {
    entry: adapterEntry('download-counter'),
    description: 'stand-in for the API function',
    invocation: { kind: 'sync', caller: 'API Gateway' },
  });
  const sources = new WebhookSources(stack, 'Webhooks', {
    config: loadConfig({ overrides: webhooks === undefined ? {} : { webhooks } }),
    projects,
    table,
  });
  sources.bind(fn.function);
  return sources;
}

interface Statement {
  Sid?: string;
  Action: string | string[];
  Resource: unknown;
  Condition?: unknown;
}
function statements(synth: LocalSynth): Statement[] {
  return (
    Object.values(synth.template.findResources('AWS::IAM::Policy')) as {
      Properties: { PolicyDocument: { Statement: Statement[] } };
    }[]
  ).flatMap((p) => p.Properties.PolicyDocument.Statement);
}

describe('WebhookSources construct', () => {
  let synth: LocalSynth;
  beforeAll(() => {
    synth = synthLocal((stack) =>
      build(stack, {
        github: [
          {
            repository: 'watchy-mirror/watchy-release-platform',
            secretName: 'watchy/webhooks/github-mirror',
          },
          { repository: 'watchy-cloud/watchy-release-platform', secretName: 'watchy/webhooks/github' },
        ],
        gitlab: [{ repository: 'watchy/mirrors/watchy', secretName: 'watchy/webhooks/gitlab' }],
      }),
    );
  });
  afterAll(() => synth.cleanup());

  test('no unacknowledged cdk-nag findings', () => {
    expect(synth.findings).toEqual([]);
  });

  test('the function gets the webhook settings (WATCHY_WEBHOOKS) naming the release projects', () => {
    const fns = Object.values(synth.template.findResources('AWS::Lambda::Function')) as {
      Properties: { Environment: { Variables: Record<string, unknown> } };
    }[];
    const value = fns[0]!.Properties.Environment.Variables[WATCHY_WEBHOOKS];
    expect(typeof value).toBe('string');
    const settings = parseWebhookSettings(value as string);
    expect(settings.sources.map((s) => [s.repository, s.start.kind])).toEqual([
      ['watchy-mirror/watchy-release-platform', 'codebuild'],
      ['watchy-cloud/watchy-release-platform', 'pipeline-trigger'],
      ['watchy/mirrors/watchy', 'codebuild'],
    ]);
    expect([...new Set(settings.builds.map((b) => b.project))].sort()).toEqual([
      'Watchy-nuitka-arm64',
      'Watchy-nuitka-x86_64',
      'Watchy-rust-arm64',
    ]);
    // Lambda's limit on the whole environment is 4 KB; these settings leave room for the rest.
    expect((value as string).length).toBeLessThan(2500);
  });

  test('the role reads exactly the configured secrets, writes only deliveries and commits, and starts only the release binary projects', () => {
    const all = statements(synth);
    const bySid = (sid: string) => all.find((s) => s.Sid === sid)!;
    // `??????`: the six characters Secrets Manager appends to a secret's name in its ARN.
    const secretArn = (name: string) => `arn:aws:secretsmanager:us-east-1:123456789012:secret:${name}-??????`;
    expect(bySid('ReadWebhookSecrets')).toMatchObject({
      Action: 'secretsmanager:GetSecretValue',
      Resource: [
        secretArn('watchy/webhooks/github'),
        secretArn('watchy/webhooks/github-mirror'),
        secretArn('watchy/webhooks/gitlab'),
      ],
    });
    expect(bySid('RecordDeliveriesAndCommits')).toMatchObject({
      Action: ['dynamodb:BatchWriteItem', 'dynamodb:DeleteItem', 'dynamodb:PutItem'],
      Condition: { 'ForAllValues:StringLike': { 'dynamodb:LeadingKeys': ['DELIVERY#*', 'COMMIT#*'] } },
    });
    const started = JSON.stringify(bySid('StartReleaseBuilds').Resource);
    for (const name of ['Watchy-nuitka-x86_64', 'Watchy-nuitka-arm64', 'Watchy-rust-arm64']) {
      expect(started).toContain(`:project/${name}"`);
    }
    expect(started).not.toMatch(/integration|image|tests/);
    expect(bySid('UseTableKey')).toMatchObject({
      Condition: { StringEquals: { 'kms:ViaService': 'dynamodb.us-east-1.amazonaws.com' } },
    });
  });
});

test('without a webhooks section the function gets no webhook environment and no permission', () => {
  const synth = synthLocal((stack) => build(stack, undefined));
  try {
    synth.template.hasResourceProperties('AWS::Lambda::Function', {
      Environment: { Variables: Match.not(Match.objectLike({ [WATCHY_WEBHOOKS]: Match.anyValue() })) },
    });
    const actions = statements(synth).flatMap((s) => [s.Action].flat());
    expect(actions.filter((a) => /secretsmanager|dynamodb|codebuild|kms/.test(a))).toEqual([]);
    expect(synth.findings).toEqual([]);
  } finally {
    synth.cleanup();
  }
});
