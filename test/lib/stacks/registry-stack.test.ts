/* eslint-disable @typescript-eslint/no-explicit-any -- template JSON is untyped; each assertion checks the shape it reads */
import { App } from 'aws-cdk-lib';
import { DEFAULT_CONFIG, loadConfig } from '@core/config';
import { PULL_ACTIONS } from '../../../lib/constructs/registry/image-repository';
import { RegistryStack } from '../../../lib/stacks/registry-stack';
import {
  nagFindingsAfter,
  normalisedTemplate,
  synthPlatform,
  type CfnTemplate,
  type SynthOptions,
} from '../../support/synth';

type Repository = { Type: string; Properties: Record<string, any> };

interface LifecycleRule {
  rulePriority: number;
  selection: Record<string, unknown>;
  action: { type: string };
}

const PULL_ACCOUNTS = ['111111111111', '222222222222'];

/** The default catalog's services with extra fields on some of them. */
function servicesWith(extra: Record<string, Record<string, unknown>>): unknown {
  return {
    catalog: {
      containerServices: DEFAULT_CONFIG.catalog.containerServices.map((s) => ({ ...s, ...extra[s.name] })),
    },
  };
}

function repositories(source: CfnTemplate): Map<string, Repository> {
  const found = new Map<string, Repository>();
  for (const resource of Object.values(source.Resources ?? {})) {
    if (resource.Type !== 'AWS::ECR::Repository') continue;
    const repository = resource as Repository;
    found.set(String(repository.Properties.RepositoryName), repository);
  }
  return found;
}

function repository(source: CfnTemplate, name: string): Repository {
  const found = repositories(source).get(name);
  if (!found) throw new Error(`no repository ${name}`);
  return found;
}

function lifecycleRules(repo: Repository): LifecycleRule[] {
  return (
    JSON.parse(repo.Properties.LifecyclePolicy.LifecyclePolicyText as string) as { rules: LifecycleRule[] }
  ).rules;
}

// This stack has no Lambda assets: config variants skip esbuild bundling of the other stacks' Lambdas.
const variant = (options: SynthOptions) => synthPlatform({ ...options, bundling: false });

// A full synth of every stack runs before these tests; on a busy machine that takes a while.
jest.setTimeout(300_000);

let json: CfnTemplate;

beforeAll(() => {
  json = synthPlatform().templateJson('Registry');
});

describe('ECR repositories', () => {
  test('one repository per catalog container service, named {project}/{service}', () => {
    expect([...repositories(json).keys()].sort()).toEqual(['watchy/status-api', 'watchy/webhook-relay']);
    const beta = variant({ stage: 'beta' }).templateJson('Registry');
    expect([...repositories(beta).keys()].sort()).toEqual([
      'watchy-beta/status-api',
      'watchy-beta/webhook-relay',
    ]);
  });

  test('tags are immutable when no exclusions are configured', () => {
    for (const repo of repositories(json).values()) {
      expect(repo.Properties.ImageTagMutability).toBe('IMMUTABLE');
      expect(repo.Properties.ImageTagMutabilityExclusionFilters).toBeUndefined();
    }
  });

  test('IMMUTABLE_WITH_EXCLUSION with the service exclusion filters when configured, only for that service', () => {
    const source = variant({
      overrides: servicesWith({ 'status-api': { mutableTagExclusions: ['latest', 'dev-*'] } }),
    }).templateJson('Registry');
    expect(repository(source, 'watchy/status-api').Properties).toMatchObject({
      ImageTagMutability: 'IMMUTABLE_WITH_EXCLUSION',
      ImageTagMutabilityExclusionFilters: [
        {
          ImageTagMutabilityExclusionFilterType: 'WILDCARD',
          ImageTagMutabilityExclusionFilterValue: 'latest',
        },
        {
          ImageTagMutabilityExclusionFilterType: 'WILDCARD',
          ImageTagMutabilityExclusionFilterValue: 'dev-*',
        },
      ],
    });
    expect(repository(source, 'watchy/webhook-relay').Properties.ImageTagMutability).toBe('IMMUTABLE');
  });

  test('scans images on push', () => {
    for (const repo of repositories(json).values()) {
      expect(repo.Properties.ImageScanningConfiguration).toEqual({ ScanOnPush: true });
    }
  });

  test('encrypts images with KMS', () => {
    for (const repo of repositories(json).values()) {
      expect(repo.Properties.EncryptionConfiguration).toEqual({ EncryptionType: 'KMS' });
    }
  });

  test('keeps the newest keepTaggedImages tagged images (10 for status-api, 1 for webhook-relay)', () => {
    for (const [name, keep] of [
      ['watchy/status-api', 10],
      ['watchy/webhook-relay', 1],
    ] as const) {
      expect(lifecycleRules(repository(json, name))).toContainEqual(
        expect.objectContaining({
          selection: {
            tagStatus: 'tagged',
            tagPatternList: ['*'],
            countType: 'imageCountMoreThan',
            countNumber: keep,
          },
          action: { type: 'expire' },
        }),
      );
    }
  });

  test('expires untagged images registry.untaggedExpiryDays after push', () => {
    for (const [source, days] of [
      [json, 1],
      [variant({ overrides: { registry: { untaggedExpiryDays: 7 } } }).templateJson('Registry'), 7],
    ] as const) {
      for (const repo of repositories(source).values()) {
        expect(lifecycleRules(repo)).toContainEqual(
          expect.objectContaining({
            selection: {
              tagStatus: 'untagged',
              countType: 'sinceImagePushed',
              countNumber: days,
              countUnit: 'days',
            },
            action: { type: 'expire' },
          }),
        );
      }
    }
  });

  test('lifecycle rule priorities are distinct, and untagged expiry is evaluated first', () => {
    for (const repo of repositories(json).values()) {
      const rules = lifecycleRules(repo);
      expect(new Set(rules.map((r) => r.rulePriority)).size).toBe(rules.length);
      const sorted = [...rules].sort((a, b) => a.rulePriority - b.rulePriority);
      expect(sorted[0]!.selection.tagStatus).toBe('untagged');
    }
  });

  test('no repository policy without registry.crossAccountPullAccounts', () => {
    for (const repo of repositories(json).values())
      expect(repo.Properties.RepositoryPolicyText).toBeUndefined();
  });

  test('cross-account pull: the configured accounts get only the pull actions', () => {
    const source = variant({
      overrides: { registry: { crossAccountPullAccounts: PULL_ACCOUNTS } },
    }).templateJson('Registry');
    for (const repo of repositories(source).values()) {
      expect(repo.Properties.RepositoryPolicyText).toEqual({
        Version: '2012-10-17',
        Statement: [
          {
            Sid: 'CrossAccountPull',
            Effect: 'Allow',
            Action: [...PULL_ACTIONS],
            Principal: {
              AWS: PULL_ACCOUNTS.map((account) => ({
                'Fn::Join': ['', ['arn:', { Ref: 'AWS::Partition' }, `:iam::${account}:root`]],
              })),
            },
          },
        ],
      });
    }
    expect([...PULL_ACTIONS].sort()).toEqual([
      'ecr:BatchCheckLayerAvailability',
      'ecr:BatchGetImage',
      'ecr:GetDownloadUrlForLayer',
    ]);
  });

  test('repositories are retained when the stack is deleted', () => {
    for (const resource of Object.values(json.Resources ?? {})) {
      if (resource.Type !== 'AWS::ECR::Repository') continue;
      expect(resource).toMatchObject({ DeletionPolicy: 'Retain', UpdateReplacePolicy: 'Retain' });
    }
  });

  test('the stack exposes repositories keyed by service name', () => {
    const config = loadConfig();
    const stack = new RegistryStack(new App(), 'Exposed', {
      services: config.catalog.containerServices,
      registry: config.registry,
      repositoryNamespace: 'watchy',
    });
    expect([...stack.repositories.keys()]).toEqual(['status-api', 'webhook-relay']);
    expect(stack.resolve(stack.repositories.get('webhook-relay')!.repositoryName)).toEqual({
      Ref: Object.entries(json.Resources ?? {}).find(
        ([, r]) =>
          r.Type === 'AWS::ECR::Repository' && r.Properties?.RepositoryName === 'watchy/webhook-relay',
      )![0],
    });
  });

  test('outputs the URI of every repository', () => {
    const outputs = json.Outputs ?? {};
    for (const [output, name] of [
      ['StatusApiRepositoryUri', 'watchy/status-api'],
      ['WebhookRelayRepositoryUri', 'watchy/webhook-relay'],
    ] as const) {
      const [logicalId] = Object.entries(json.Resources ?? {}).find(
        ([, r]) => r.Type === 'AWS::ECR::Repository' && r.Properties?.RepositoryName === name,
      )!;
      expect(JSON.stringify(outputs[output]?.Value)).toContain(logicalId);
    }
  });
});

describe('checks', () => {
  test('zero unacknowledged cdk-nag findings (default, exclusions and cross-account pull)', () => {
    // synthPlatform throws on a finding; nagFindingsAfter reports them instead, so each check can fail.
    const unchanged = () => undefined;
    expect(nagFindingsAfter(unchanged)).toEqual([]);
    expect(
      nagFindingsAfter(unchanged, {
        overrides: servicesWith({ 'status-api': { mutableTagExclusions: ['latest', 'dev-*'] } }),
      }),
    ).toEqual([]);
    expect(
      nagFindingsAfter(unchanged, { overrides: { registry: { crossAccountPullAccounts: PULL_ACCOUNTS } } }),
    ).toEqual([]);
  });

  test('snapshot (asset hashes normalised)', () => {
    expect(normalisedTemplate(json)).toMatchSnapshot();
  });
});
