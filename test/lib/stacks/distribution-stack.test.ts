/* eslint-disable @typescript-eslint/no-explicit-any -- template JSON is untyped; each assertion checks the shape it reads */
import { App } from 'aws-cdk-lib';
import { Match, type Template } from 'aws-cdk-lib/assertions';
import { APP_NAME_PATTERN, SEMVER_PATTERN, releaseKeys, type ArtifactRef } from '@core/artifacts';
import { IMMUTABLE_CACHE_CONTROL } from '@core/release/store/pointer';
import { loadConfig } from '@core/config';
import { releaseWriterRoleNames } from '../../../lib/constructs/distribution/release-bucket';
import { RELEASE_BEHAVIOURS } from '../../../lib/constructs/distribution/release-distribution';
import { DistributionStack } from '../../../lib/stacks/distribution-stack';
import {
  ACCOUNT,
  REGION,
  denyingStatements,
  resolve,
  roleArn,
  type BucketRequest,
  type PolicyStatement,
} from '../../support/bucket-policy';
import {
  nagFindingsAfter,
  normalisedTemplate,
  synthPlatform,
  type CfnTemplate,
  type SynthOptions,
} from '../../support/synth';

const CUSTOM_DOMAIN = {
  distribution: {
    domainName: 'releases.watchy.cloud',
    certificateArn: 'arn:aws:acm:us-east-1:123456789012:certificate/0b5c1e7a-2f4d-4c3b-9a8e-1d2c3b4a5f60',
  },
};

type Resource = { Type: string; Properties: Record<string, any>; Metadata?: Record<string, any> };

let template: Template;
// This stack has no Lambda assets: config variants skip esbuild bundling of the other stacks' Lambdas.
const variant = (options: SynthOptions) => synthPlatform({ ...options, bundling: false });

// A full synth of every stack runs before these tests; on a busy machine that takes a while.
jest.setTimeout(300_000);

let json: CfnTemplate;

beforeAll(() => {
  const synth = synthPlatform();
  template = synth.template('Distribution');
  json = synth.templateJson('Distribution');
});

function resourcesOf(type: string, source: CfnTemplate = json): [string, Resource][] {
  return Object.entries(source.Resources ?? {}).filter(([, r]) => r.Type === type) as [string, Resource][];
}

function one(type: string, source: CfnTemplate = json): [string, Resource] {
  const found = resourcesOf(type, source);
  expect(found).toHaveLength(1);
  return found[0]!;
}

/** The release bucket: the versioned one (the log bucket is not). */
function releaseBucket(source: CfnTemplate = json): [string, Resource] {
  const buckets = resourcesOf('AWS::S3::Bucket', source).filter(
    ([, b]) => b.Properties.VersioningConfiguration?.Status === 'Enabled',
  );
  expect(buckets).toHaveLength(1);
  return buckets[0]!;
}

function logBucket(source: CfnTemplate = json): [string, Resource] {
  const [releaseId] = releaseBucket(source);
  const others = resourcesOf('AWS::S3::Bucket', source).filter(([id]) => id !== releaseId);
  expect(others).toHaveLength(1);
  return others[0]!;
}

function bucketPolicyOf(bucketId: string, source: CfnTemplate = json): Record<string, any>[] {
  const policies = resourcesOf('AWS::S3::BucketPolicy', source).filter(
    ([, p]) => p.Properties.Bucket?.Ref === bucketId,
  );
  expect(policies).toHaveLength(1);
  return policies[0]![1].Properties.PolicyDocument.Statement as Record<string, any>[];
}

function distributionConfig(source: CfnTemplate = json): Record<string, any> {
  return one('AWS::CloudFront::Distribution', source)[1].Properties.DistributionConfig as Record<string, any>;
}

/** Every cache behaviour of the distribution in CloudFront's evaluation order, default last. */
function behaviours(source: CfnTemplate = json): Record<string, any>[] {
  const config = distributionConfig(source);
  return [...(config.CacheBehaviors ?? []), { ...config.DefaultCacheBehavior, PathPattern: '*' }];
}

function cachePolicy(ref: unknown, source: CfnTemplate = json): Record<string, any> {
  const id = (ref as { Ref: string }).Ref;
  const resource = source.Resources?.[id];
  expect(resource?.Type).toBe('AWS::CloudFront::CachePolicy');
  return (resource!.Properties as Record<string, any>).CachePolicyConfig as Record<string, any>;
}

/**
 * CloudFront's path pattern matching: case-sensitive, `*` matches any run of characters (slashes
 * included), `?` exactly one character, the leading `/` optional; behaviours are tried in order and
 * the first match wins, the default behaviour (`*`) last.
 */
function matches(pattern: string, path: string): boolean {
  const body = pattern
    .replace(/^\//, '')
    .split('')
    .map((c) => (c === '*' ? '.*' : c === '?' ? '.' : c.replace(/[.+^${}()|[\]\\]/g, '\\$&')))
    .join('');
  return new RegExp(`^${body}$`).test(path.replace(/^\//, ''));
}

function behaviourFor(key: string, source: CfnTemplate = json): Record<string, any> {
  const match = behaviours(source).find((b) => matches(b.PathPattern as string, `/${key}`));
  if (!match) throw new Error(`no behaviour matches ${key}`);
  return match;
}

/** Real keys from releaseKeys(): every binary type and architecture, awkward app names and versions. */
const ARTIFACTS: ArtifactRef[] = ['slack', 'github', 'zoom', 's3', 'foo-2', 'x86', 'a', 'v1-2-3'].flatMap(
  (app) =>
    (['nuitka', 'rust'] as const).flatMap((binaryType) =>
      (['x86_64', 'arm64'] as const).map((architecture) => ({ app, binaryType, architecture })),
    ),
);
const VERSIONS = [
  '1.0.0',
  '0.0.1',
  '10.20.30',
  '1.2.3-rc.1',
  '2.0.0-alpha',
  '1.0.0+build.5',
  '3.1.4-beta.2+sha.9f1c2',
];

describe('release bucket', () => {
  test('is versioned', () => {
    expect(releaseBucket()[1].Properties.VersioningConfiguration).toEqual({ Status: 'Enabled' });
  });

  test('is encrypted (SSE-S3), and so is the log bucket', () => {
    for (const [, bucket] of [releaseBucket(), logBucket()]) {
      expect(bucket.Properties.BucketEncryption).toEqual({
        ServerSideEncryptionConfiguration: [{ ServerSideEncryptionByDefault: { SSEAlgorithm: 'AES256' } }],
      });
    }
  });

  test('blocks all public access, and so does the log bucket', () => {
    for (const [, bucket] of [releaseBucket(), logBucket()]) {
      expect(bucket.Properties.PublicAccessBlockConfiguration).toEqual({
        BlockPublicAcls: true,
        BlockPublicPolicy: true,
        IgnorePublicAcls: true,
        RestrictPublicBuckets: true,
      });
    }
  });

  test('enforces object ownership (ACLs disabled)', () => {
    expect(releaseBucket()[1].Properties.OwnershipControls).toEqual({
      Rules: [{ ObjectOwnership: 'BucketOwnerEnforced' }],
    });
  });

  test('refuses requests without TLS, or below TLS 1.2, on both buckets', () => {
    for (const [id] of [releaseBucket(), logBucket()]) {
      const statements = bucketPolicyOf(id);
      const bucketAndObjects = [
        { 'Fn::GetAtt': [id, 'Arn'] },
        { 'Fn::Join': ['', [{ 'Fn::GetAtt': [id, 'Arn'] }, '/*']] },
      ];
      expect(statements).toContainEqual({
        Action: 's3:*',
        Condition: { Bool: { 'aws:SecureTransport': 'false' } },
        Effect: 'Deny',
        Principal: { AWS: '*' },
        Resource: bucketAndObjects,
      });
      expect(statements).toContainEqual({
        Action: 's3:*',
        Condition: { NumericLessThan: { 's3:TlsVersion': 1.2 } },
        Effect: 'Deny',
        Principal: { AWS: '*' },
        Resource: bucketAndObjects,
      });
    }
  });

  test('writes server access logs to the log bucket', () => {
    const [logId] = logBucket();
    expect(releaseBucket()[1].Properties.LoggingConfiguration).toEqual({
      DestinationBucketName: { Ref: logId },
      LogFilePrefix: 's3/release-bucket/',
    });
    expect(bucketPolicyOf(logId)).toContainEqual(
      expect.objectContaining({
        Action: 's3:PutObject',
        Effect: 'Allow',
        Principal: { Service: 'logging.s3.amazonaws.com' },
      }),
    );
  });

  test('expires noncurrent versions after distribution.noncurrentVersionExpirationDays', () => {
    const rules = releaseBucket()[1].Properties.LifecycleConfiguration.Rules as Record<string, any>[];
    expect(rules).toContainEqual(
      expect.objectContaining({ Status: 'Enabled', NoncurrentVersionExpiration: { NoncurrentDays: 90 } }),
    );
    const prod = variant({ stage: 'prod' }).templateJson('Distribution');
    expect(releaseBucket(prod)[1].Properties.LifecycleConfiguration.Rules).toContainEqual(
      expect.objectContaining({ NoncurrentVersionExpiration: { NoncurrentDays: 365 } }),
    );
  });

  test('staged build output and bisect state expire; binaries/ and release histories never do', () => {
    const rules = releaseBucket()[1].Properties.LifecycleConfiguration.Rules as Record<string, any>[];
    expect(rules).toContainEqual(
      expect.objectContaining({ Status: 'Enabled', Prefix: 'staging/', ExpirationInDays: 14 }),
    );
    expect(rules).toContainEqual(
      expect.objectContaining({ Status: 'Enabled', Prefix: 'state/bisect/', ExpirationInDays: 90 }),
    );
    for (const rule of rules.filter((r) => r.ExpirationInDays !== undefined)) {
      expect(['staging/', 'state/bisect/']).toContain(rule.Prefix);
    }
  });

  test('the log bucket expires logs after distribution.accessLogRetentionDays', () => {
    expect(logBucket()[1].Properties.LifecycleConfiguration.Rules).toContainEqual(
      expect.objectContaining({ Status: 'Enabled', ExpirationInDays: 365 }),
    );
    const prod = variant({ stage: 'prod' }).templateJson('Distribution');
    expect(logBucket(prod)[1].Properties.LifecycleConfiguration.Rules).toContainEqual(
      expect.objectContaining({ ExpirationInDays: 730 }),
    );
  });

  test('the log bucket sends its object events to EventBridge (the download counter), natively, and only the log bucket does', () => {
    expect(logBucket()[1].Properties.NotificationConfiguration).toEqual({
      EventBridgeConfiguration: { EventBridgeEnabled: true },
    });
    const notifying = resourcesOf('AWS::S3::Bucket').filter(
      ([, r]) => r.Properties.NotificationConfiguration,
    );
    expect(notifying.map(([id]) => id)).toEqual([logBucket()[0]]);
    expect(resourcesOf('Custom::S3BucketNotifications')).toEqual([]);
  });
});

describe('release bucket policy: who may change what (docs/decisions/010-release-bucket-policy.md)', () => {
  const MODIFY = [
    's3:AbortMultipartUpload',
    's3:BypassGovernanceRetention',
    's3:DeleteObject*',
    's3:PutObject*',
    's3:Replicate*',
    's3:RestoreObject',
  ];
  const DELETE = ['s3:AbortMultipartUpload', 's3:BypassGovernanceRetention', 's3:DeleteObject*'];
  const objects = (id: string, suffix: string) => ({
    'Fn::Join': ['', [{ 'Fn::GetAtt': [id, 'Arn'] }, suffix]],
  });
  const writerArn = (name: string) => ({
    'Fn::Join': [
      '',
      [
        'arn:',
        { Ref: 'AWS::Partition' },
        ':iam::',
        { Ref: 'AWS::AccountId' },
        `:role/Watchy-${name}-`,
        { Ref: 'AWS::Region' },
      ],
    ],
  });

  test('denies, exactly: writes of binaries/ and state/history/ but by the publish role, deletes there by anyone, unconditional writes there, overwrites of versioned keys, bisect state but by bisect, and any key outside the known prefixes', () => {
    const [id] = releaseBucket();
    const releases = [objects(id, '/binaries/*'), objects(id, '/state/history/*')];
    const denies = bucketPolicyOf(id).filter((s) => s.Effect === 'Deny' && s.Principal === '*');
    expect(denies).toEqual([
      {
        Sid: 'OnlyThePublisherWritesReleases',
        Effect: 'Deny',
        Principal: '*',
        Action: MODIFY,
        Resource: releases,
        Condition: { ArnNotEquals: { 'aws:PrincipalArn': writerArn('publish') } },
      },
      { Sid: 'NobodyDeletesReleases', Effect: 'Deny', Principal: '*', Action: DELETE, Resource: releases },
      {
        Sid: 'ReleaseWritesAreConditional',
        Effect: 'Deny',
        Principal: '*',
        Action: 's3:PutObject',
        Resource: releases,
        Condition: { Null: { 's3:if-none-match': 'true', 's3:if-match': 'true' } },
      },
      {
        Sid: 'VersionedKeysAreCreateOnly',
        Effect: 'Deny',
        Principal: '*',
        Action: 's3:PutObject',
        Resource: [objects(id, '/binaries/*.*.*.gz'), objects(id, '/binaries/*.*.*.json')],
        Condition: { Null: { 's3:if-none-match': 'true' } },
      },
      {
        Sid: 'OnlyBisectWritesSessions',
        Effect: 'Deny',
        Principal: '*',
        Action: MODIFY,
        Resource: objects(id, '/state/bisect/sessions/*'),
        Condition: { ArnNotEquals: { 'aws:PrincipalArn': writerArn('bisect') } },
      },
      {
        Sid: 'OnlyBisectWritesCommitLists',
        Effect: 'Deny',
        Principal: '*',
        Action: MODIFY,
        Resource: objects(id, '/state/bisect/commits/*'),
        Condition: {
          ArnNotEquals: { 'aws:PrincipalArn': [writerArn('bisect'), writerArn('bisectlist')] },
        },
      },
      {
        Sid: 'NoWritesOutsideTheKnownPrefixes',
        Effect: 'Deny',
        Principal: '*',
        Action: MODIFY,
        NotResource: [
          ...releases,
          objects(id, '/staging/*'),
          objects(id, '/state/bisect/sessions/*'),
          objects(id, '/state/bisect/commits/*'),
        ],
      },
    ]);
  });

  test('evaluated per principal and request: each writer keeps exactly its own writes, nobody else changes binaries/ or state/', () => {
    const [id] = releaseBucket();
    const statements = bucketPolicyOf(id) as PolicyStatement[];
    const bucketArn = `arn:aws:s3:::${id}`;
    const publisher = roleArn(`Watchy-publish-${REGION}`);
    const bisect = roleArn(`Watchy-bisect-${REGION}`);
    const bisectList = roleArn(`Watchy-bisectlist-${REGION}`);
    const rollback = roleArn('Watchy-ReleaseControl-RollbackRole8141EBE6-AbCdEf');
    const build = roleArn('Watchy-Build-ProjectsNuitkaX8664ProjectRole-AbCdEf');
    const admin = roleArn('Administrator');
    const root = `arn:aws:iam::${ACCOUNT}:root`;
    const versioned = 'binaries/slack-monitor/watchy-slack-monitor-1.2.3.gz';
    const versionedMetadata = 'binaries/slack-monitor-arm64/watchy-slack-monitor-arm64-1.2.3-rc.1.json';
    const pointer = 'binaries/slack-monitor/watchy-slack-monitor.json';
    const history = 'state/history/slack-monitor.json';
    const session = 'state/bisect/sessions/b-6f1c0a9e.json';
    const commits = 'state/bisect/commits/b-6f1c0a9e.tsv';
    const staged = 'staging/AROAEXAMPLE:AWSCodeBuild-7b1/slack-monitor/1.2.3/watchy-slack-monitor-1.2.3.gz';
    const cloudfront = { service: 'cloudfront.amazonaws.com' };
    const ask = (
      who: string | { service: string },
      action: string,
      key: string,
      keys?: Record<string, string>,
    ): BucketRequest => ({ ...(typeof who === 'string' ? { principalArn: who } : who), action, key, keys });
    const createOnly = { 's3:if-none-match': '*' };
    const swap = { 's3:if-match': '"etag"' };
    const cases: [string, BucketRequest, boolean][] = [
      // The publisher: create-only versioned keys, compare-and-swap pointers and histories.
      ['publisher creates a versioned .gz', ask(publisher, 's3:PutObject', versioned, createOnly), false],
      [
        'publisher creates versioned metadata',
        ask(publisher, 's3:PutObject', versionedMetadata, createOnly),
        false,
      ],
      ['publisher swaps the pointer', ask(publisher, 's3:PutObject', pointer, swap), false],
      ['publisher creates the first pointer', ask(publisher, 's3:PutObject', pointer, createOnly), false],
      ['publisher swaps a history', ask(publisher, 's3:PutObject', history, swap), false],
      [
        'publisher overwrites a versioned key with If-Match',
        ask(publisher, 's3:PutObject', versioned, swap),
        true,
      ],
      ['publisher overwrites a versioned key blindly', ask(publisher, 's3:PutObject', versioned), true],
      ['publisher writes a pointer blindly', ask(publisher, 's3:PutObject', pointer), true],
      ['publisher writes a history blindly', ask(publisher, 's3:PutObject', history), true],
      ['publisher deletes a versioned key', ask(publisher, 's3:DeleteObject', versioned), true],
      ['publisher deletes a history version', ask(publisher, 's3:DeleteObjectVersion', history), true],
      ['publisher writes a bisect session', ask(publisher, 's3:PutObject', session, swap), true],
      [
        'publisher writes elsewhere in state/',
        ask(publisher, 's3:PutObject', 'state/other.json', createOnly),
        true,
      ],
      ['publisher writes at the bucket root', ask(publisher, 's3:PutObject', 'index.html', createOnly), true],
      // Bisect: its sessions and commit lists, nothing else.
      ['bisect writes a session', ask(bisect, 's3:PutObject', session, swap), false],
      ['bisect writes a commit list', ask(bisect, 's3:PutObject', commits), false],
      ['bisect writes a history', ask(bisect, 's3:PutObject', history, swap), true],
      ['bisect writes binaries/', ask(bisect, 's3:PutObject', pointer, swap), true],
      ['the list-commits build writes its commit list', ask(bisectList, 's3:PutObject', commits), false],
      ['the list-commits build writes a session', ask(bisectList, 's3:PutObject', session), true],
      // Builds stage under staging/ only.
      ['a build stages its output', ask(build, 's3:PutObject', staged), false],
      ['a build writes binaries/', ask(build, 's3:PutObject', versioned, createOnly), true],
      ['a build writes a history', ask(build, 's3:PutObject', history, swap), true],
      ['a build writes a session', ask(build, 's3:PutObject', session), true],
      // Everybody else, administrators and the account root included.
      ['rollback writes a pointer', ask(rollback, 's3:PutObject', pointer, swap), true],
      ['an administrator creates a versioned key', ask(admin, 's3:PutObject', versioned, createOnly), true],
      ['an administrator deletes a versioned key', ask(admin, 's3:DeleteObject', versioned), true],
      ['an administrator deletes a noncurrent version', ask(admin, 's3:DeleteObjectVersion', pointer), true],
      ['an administrator sets a legal hold', ask(admin, 's3:PutObjectLegalHold', versioned), true],
      ['an administrator sets a retention', ask(admin, 's3:PutObjectRetention', versioned), true],
      [
        'an administrator bypasses governance retention',
        ask(admin, 's3:BypassGovernanceRetention', history),
        true,
      ],
      ['an administrator tags a history', ask(admin, 's3:PutObjectTagging', history), true],
      ['an administrator writes an ACL', ask(admin, 's3:PutObjectAcl', pointer), true],
      ['an administrator restores an object', ask(admin, 's3:RestoreObject', versioned), true],
      ['the account root writes a history', ask(root, 's3:PutObject', history, swap), true],
      ['the account root deletes a session', ask(root, 's3:DeleteObject', session), true],
      ['a replication writes binaries/', ask(admin, 's3:ReplicateObject', versioned), true],
      [
        'CloudFront (a service principal) writes binaries/',
        ask(cloudfront, 's3:PutObject', pointer, swap),
        true,
      ],
      ['CloudFront reads binaries/', ask(cloudfront, 's3:GetObject', versioned), false],
      ['anyone reads a history (IAM decides)', ask(rollback, 's3:GetObject', history), false],
    ];
    const results = cases.map(([what, request]) => ({
      what,
      denied: denyingStatements(statements, bucketArn, request).length > 0,
    }));
    expect(results).toEqual(cases.map(([what, , denied]) => ({ what, denied })));
  });

  test('the roles the policy names are the roles ReleaseControl creates (publish, bisect, list-commits), default and prod', () => {
    for (const synth of [synthPlatform(), variant({ stage: 'prod' })]) {
      const distribution = synth.templateJson('Distribution');
      const [id] = releaseBucket(distribution);
      const named = bucketPolicyOf(id, distribution)
        .filter((s) => s.Condition?.ArnNotEquals)
        .flatMap((s) => [resolve(s.Condition.ArnNotEquals['aws:PrincipalArn'])].flat())
        .sort();
      const control = synth.templateJson('ReleaseControl');
      const roleArnAt = (path: string) => {
        const roles = Object.values(control.Resources ?? {}).filter(
          (r) => r.Type === 'AWS::IAM::Role' && String(r.Metadata?.['aws:cdk:path']).endsWith(path),
        );
        expect(roles).toHaveLength(1);
        return roleArn(resolve(roles[0]!.Properties!.RoleName) as string);
      };
      const writers = [
        roleArnAt('/Publish/Publish/Role/Resource'),
        roleArnAt('/Bisect/Function/Role/Resource'),
        roleArnAt('/Bisect/ListCommits/Role/Resource'),
      ];
      // publish once, bisect twice (sessions and commit lists), list-commits once.
      expect(named).toEqual([writers[0], writers[1], writers[1], writers[2]].sort());
      const prefix = synth.config.stage ? 'Watchy-Prod' : 'Watchy';
      expect(writers).toEqual([
        roleArn(`${prefix}-publish-${REGION}`),
        roleArn(`${prefix}-bisect-${REGION}`),
        roleArn(`${prefix}-bisectlist-${REGION}`),
      ]);
    }
  });

  test('writer role names fit IAM (64 characters) for every valid project name and stage, and a longer prefix fails synth naming it', () => {
    const longest = releaseWriterRoleNames(`${'W'.repeat(31)}-Gamma`, 'ap-southeast-2');
    for (const name of Object.values(longest)) expect(name.length).toBeLessThanOrEqual(64);
    expect(() => releaseWriterRoleNames('W'.repeat(45), 'us-east-1')).toThrow(
      `release writer role names: ${'W'.repeat(45)} is too long (the role name would be 66 characters; IAM allows 64)`,
    );
  });
});

describe('CloudFront distribution', () => {
  test('reads the bucket through Origin Access Control, and there is no OAI anywhere', () => {
    const [oacId, oac] = one('AWS::CloudFront::OriginAccessControl');
    expect(oac.Properties.OriginAccessControlConfig).toMatchObject({
      OriginAccessControlOriginType: 's3',
      SigningBehavior: 'always',
      SigningProtocol: 'sigv4',
    });
    const [releaseId] = releaseBucket();
    const origins = distributionConfig().Origins as Record<string, any>[];
    expect(origins).toHaveLength(1);
    expect(origins[0]).toMatchObject({
      DomainName: { 'Fn::GetAtt': [releaseId, 'RegionalDomainName'] },
      OriginAccessControlId: { 'Fn::GetAtt': [oacId, 'Id'] },
      S3OriginConfig: { OriginAccessIdentity: '' },
    });
    for (const synth of [synthPlatform(), variant({ stage: 'prod' })]) {
      for (const stack of synth.stacks) {
        synth.template(stack.stackName).resourceCountIs('AWS::CloudFront::CloudFrontOriginAccessIdentity', 0);
      }
    }
  });

  test('behaviours are, in order: versioned .json, versioned .gz, the rest of binaries/, default', () => {
    expect(behaviours().map((b) => b.PathPattern)).toEqual([
      'binaries/*.*.*.json',
      'binaries/*.*.*.gz',
      'binaries/*',
      '*',
    ]);
    expect(RELEASE_BEHAVIOURS.map((b) => b.pathPattern)).toEqual(
      behaviours()
        .slice(0, -1)
        .map((b) => b.PathPattern),
    );
  });

  test('the dot-counting patterns rest on the key contract: names hold no dot, versions hold at least two', () => {
    for (const name of ['a.b', 'slack.v2', '.x']) expect(APP_NAME_PATTERN.test(name)).toBe(false);
    for (const version of ['1', '1.2', 'v1.2.3', '1.2.3.']) expect(SEMVER_PATTERN.test(version)).toBe(false);
  });

  test('latest pointers get the short-TTL policy: MinTTL 0, Default and Max = latestPointerTtlSeconds <= 60', () => {
    for (const ref of ARTIFACTS) {
      const keys = releaseKeys(ref, '1.0.0');
      for (const key of [keys.latestMetadata, keys.latestBinary]) {
        const policy = cachePolicy(behaviourFor(key).CachePolicyId);
        expect({ key, min: policy.MinTTL, def: policy.DefaultTTL, max: policy.MaxTTL }).toEqual({
          key,
          min: 0,
          def: 60,
          max: 60,
        });
      }
    }
    const shorter = variant({ overrides: { distribution: { latestPointerTtlSeconds: 15 } } });
    const key = releaseKeys(
      { app: 'slack', binaryType: 'nuitka', architecture: 'x86_64' },
      '1.0.0',
    ).latestMetadata;
    const source = shorter.templateJson('Distribution');
    expect(cachePolicy(behaviourFor(key, source).CachePolicyId, source)).toMatchObject({
      MinTTL: 0,
      DefaultTTL: 15,
      MaxTTL: 15,
    });
  });

  test('latestPointerTtlSeconds 0 disables pointer caching without Accept-Encoding in its key (CloudFront refuses that)', () => {
    const source = variant({
      overrides: { distribution: { latestPointerTtlSeconds: 0 } },
    }).templateJson('Distribution');
    const key = releaseKeys(
      { app: 'slack', binaryType: 'nuitka', architecture: 'arm64' },
      '1.0.0',
    ).latestBinary;
    const policy = cachePolicy(behaviourFor(key, source).CachePolicyId, source);
    expect(policy).toMatchObject({ MinTTL: 0, DefaultTTL: 0, MaxTTL: 0 });
    expect(policy.ParametersInCacheKeyAndForwardedToOrigin).toMatchObject({
      EnableAcceptEncodingGzip: false,
      EnableAcceptEncodingBrotli: false,
    });
    const immutable = cachePolicy(
      behaviourFor(key.replace('.gz', '-1.0.0.gz'), source).CachePolicyId,
      source,
    );
    expect(immutable.ParametersInCacheKeyAndForwardedToOrigin).toMatchObject({
      EnableAcceptEncodingGzip: true,
      EnableAcceptEncodingBrotli: true,
    });
  });

  test('versioned objects get the long immutable policy (one year, origin headers ignored)', () => {
    const year = 365 * 24 * 3600;
    for (const ref of ARTIFACTS) {
      for (const version of VERSIONS) {
        const keys = releaseKeys(ref, version);
        for (const key of [keys.versionedMetadata, keys.versionedBinary]) {
          const behaviour = behaviourFor(key);
          const policy = cachePolicy(behaviour.CachePolicyId);
          expect({ key, min: policy.MinTTL, def: policy.DefaultTTL, max: policy.MaxTTL }).toEqual({
            key,
            min: year,
            def: year,
            max: year,
          });
        }
      }
    }
  });

  test('Cache-Control comes from the objects as the publisher writes them, never stamped on every response', () => {
    // A header policy setting Cache-Control would also mark 403s `immutable`; the publisher writes it per key.
    for (const [, policy] of resourcesOf('AWS::CloudFront::ResponseHeadersPolicy')) {
      expect(policy.Properties.ResponseHeadersPolicyConfig.CustomHeadersConfig).toBeUndefined();
    }
    const maxAge = (cacheControl: string) => Number(/max-age=(\d+)/.exec(cacheControl)?.[1]);
    const year = 365 * 24 * 3600;
    expect(IMMUTABLE_CACHE_CONTROL).toContain('immutable');
    expect(maxAge(IMMUTABLE_CACHE_CONTROL)).toBe(year);
  });

  test('the cache key ignores query strings, headers and cookies (no cache busting)', () => {
    for (const [, policy] of resourcesOf('AWS::CloudFront::CachePolicy')) {
      const params = policy.Properties.CachePolicyConfig.ParametersInCacheKeyAndForwardedToOrigin;
      expect(params.QueryStringsConfig).toEqual({ QueryStringBehavior: 'none' });
      expect(params.HeadersConfig).toEqual({ HeaderBehavior: 'none' });
      expect(params.CookiesConfig).toEqual({ CookieBehavior: 'none' });
    }
  });

  test('keys outside binaries/ (staging/, state/) fall to the default behaviour, never a long TTL', () => {
    for (const key of [
      'staging/build-1/watchy-slack-monitor-1.0.0.gz',
      'state/history/slack-monitor.json',
      'index.html',
    ]) {
      const behaviour = behaviourFor(key);
      expect(behaviour.PathPattern).toBe('*');
      expect(cachePolicy(behaviour.CachePolicyId).MaxTTL).toBeLessThanOrEqual(60);
    }
  });

  test('only binaries/* is readable by CloudFront: one scoped allow, and a deny for everything else', () => {
    const [releaseId] = releaseBucket();
    const [distributionId] = one('AWS::CloudFront::Distribution');
    const binaries = { 'Fn::Join': ['', [{ 'Fn::GetAtt': [releaseId, 'Arn'] }, '/binaries/*']] };
    const statements = bucketPolicyOf(releaseId);
    const cloudfront = statements.filter((s) =>
      JSON.stringify(s.Principal).includes('cloudfront.amazonaws.com'),
    );
    expect(cloudfront).toEqual([
      {
        Sid: 'CloudFrontReadsReleasedBinaries',
        Action: 's3:GetObject',
        Effect: 'Allow',
        Principal: { Service: 'cloudfront.amazonaws.com' },
        Resource: binaries,
        Condition: {
          StringEquals: {
            'AWS:SourceArn': {
              'Fn::Join': [
                '',
                [
                  'arn:',
                  { Ref: 'AWS::Partition' },
                  ':cloudfront::',
                  { Ref: 'AWS::AccountId' },
                  ':distribution/',
                  { Ref: distributionId },
                ],
              ],
            },
          },
        },
      },
      {
        Sid: 'CloudFrontReadsNothingElse',
        Action: 's3:*',
        Effect: 'Deny',
        Principal: { Service: 'cloudfront.amazonaws.com' },
        NotResource: binaries,
      },
    ]);
    const allows = statements.filter((s) => s.Effect === 'Allow');
    expect(allows.filter((s) => s.Principal?.Service !== 'cloudfront.amazonaws.com')).toEqual([]);
  });

  test('every behaviour sends the security headers (HSTS, nosniff, frame options, referrer policy, CSP)', () => {
    for (const behaviour of behaviours()) {
      const id = (behaviour.ResponseHeadersPolicyId as { Ref: string }).Ref;
      const policy = json.Resources![id]!;
      expect(policy.Type).toBe('AWS::CloudFront::ResponseHeadersPolicy');
      expect(
        (policy.Properties as Record<string, any>).ResponseHeadersPolicyConfig.SecurityHeadersConfig,
      ).toEqual({
        StrictTransportSecurity: {
          AccessControlMaxAgeSec: 63072000,
          IncludeSubdomains: true,
          Override: true,
        },
        ContentTypeOptions: { Override: true },
        FrameOptions: { FrameOption: 'DENY', Override: true },
        ReferrerPolicy: { ReferrerPolicy: 'no-referrer', Override: true },
        ContentSecurityPolicy: {
          ContentSecurityPolicy: "default-src 'none'; frame-ancestors 'none'",
          Override: true,
        },
      });
    }
  });

  test('every behaviour redirects HTTP to HTTPS, compresses, and allows only GET and HEAD', () => {
    for (const behaviour of behaviours()) {
      expect(behaviour).toMatchObject({
        ViewerProtocolPolicy: 'redirect-to-https',
        Compress: true,
        AllowedMethods: ['GET', 'HEAD'],
      });
    }
  });

  test('writes standard logs to the log bucket', () => {
    const [logId, log] = logBucket();
    expect(distributionConfig().Logging).toEqual({
      Bucket: { 'Fn::GetAtt': [logId, 'RegionalDomainName'] },
      IncludeCookies: false,
      Prefix: 'cloudfront/',
    });
    // CloudFront standard logging delivers through an ACL grant: ACLs must be enabled on the log bucket.
    expect(log.Properties.OwnershipControls).toEqual({
      Rules: [{ ObjectOwnership: 'BucketOwnerPreferred' }],
    });
  });

  test('with a custom domain: alias, its ACM certificate, SNI and TLSv1.2_2021', () => {
    const custom = variant({ overrides: CUSTOM_DOMAIN }).templateJson('Distribution');
    const config = distributionConfig(custom);
    expect(config.Aliases).toEqual(['releases.watchy.cloud']);
    expect(config.ViewerCertificate).toEqual({
      AcmCertificateArn: CUSTOM_DOMAIN.distribution.certificateArn,
      MinimumProtocolVersion: 'TLSv1.2_2021',
      SslSupportMethod: 'sni-only',
    });
    expect(custom.Outputs?.BinaryDistributionUrl?.Value).toBe('https://releases.watchy.cloud/binaries');
  });

  test('with distribution.webAclArn the web ACL is attached and the no-WAF skip is gone', () => {
    const webAclArn =
      'arn:aws:wafv2:us-east-1:123456789012:global/webacl/releases/0b5c1e7a-2f4d-4c3b-9a8e-1d2c3b4a5f60';
    const withWaf = variant({ overrides: { distribution: { webAclArn } } });
    const source = withWaf.templateJson('Distribution');
    expect(distributionConfig(source).WebACLId).toBe(webAclArn);
    const skipIds = (t: CfnTemplate) =>
      (one('AWS::CloudFront::Distribution', t)[1].Metadata?.checkov?.skip ?? []).map(
        (k: { id: string }) => k.id,
      );
    expect(skipIds(source)).not.toContain('CKV_AWS_68');
    expect(nagFindingsAfter(() => undefined, { overrides: { distribution: { webAclArn } } })).toEqual([]);
    expect(distributionConfig().WebACLId).toBeUndefined();
    expect(skipIds(json)).toContain('CKV_AWS_68');
  });

  test('without a custom domain there is no alias and the default CloudFront certificate is used', () => {
    const config = distributionConfig();
    expect(config.Aliases).toBeUndefined();
    expect(config.ViewerCertificate).toBeUndefined();
  });
});

describe('outputs and exposed resources', () => {
  test('BinaryDistributionUrl is https://<distribution domain>/binaries', () => {
    const [distributionId] = one('AWS::CloudFront::Distribution');
    template.hasOutput('BinaryDistributionUrl', {
      Value: {
        'Fn::Join': ['', ['https://', { 'Fn::GetAtt': [distributionId, 'DomainName'] }, '/binaries']],
      },
    });
  });

  test('outputs the release bucket name and the distribution id', () => {
    template.hasOutput('ReleaseBucketName', { Value: { Ref: releaseBucket()[0] } });
    template.hasOutput('DistributionId', { Value: { Ref: one('AWS::CloudFront::Distribution')[0] } });
  });

  test('the stack exposes releaseBucket, distribution and binaryDistributionUrl for other stacks', () => {
    const stack = new DistributionStack(new App(), 'Exposed', {
      stackPrefix: 'Watchy',
      distribution: loadConfig({ overrides: CUSTOM_DOMAIN }).distribution,
    });
    expect(stack.resolve(stack.releaseBucket.bucketName)).toEqual({ Ref: releaseBucket()[0] });
    expect(stack.resolve(stack.distribution.distributionId)).toEqual({
      Ref: one('AWS::CloudFront::Distribution')[0],
    });
    expect(stack.binaryDistributionUrl).toBe('https://releases.watchy.cloud/binaries');
  });
});

describe('checks', () => {
  test('zero unacknowledged cdk-nag findings (default, custom domain and prod)', () => {
    // synthPlatform throws on a finding; nagFindingsAfter reports them instead, so each check can fail.
    const unchanged = () => undefined;
    expect(nagFindingsAfter(unchanged)).toEqual([]);
    expect(nagFindingsAfter(unchanged, { overrides: CUSTOM_DOMAIN })).toEqual([]);
    expect(nagFindingsAfter(unchanged, { stage: 'prod' })).toEqual([]);
  });

  test('every checkov skip in the stack names a reason', () => {
    const skips = Object.values(json.Resources ?? {}).flatMap(
      (resource) => (resource.Metadata?.checkov as { skip?: { id: string; comment: string }[] })?.skip ?? [],
    );
    // The stack has skips (CKV_AWS_68 without a web ACL, at least): none found means none were read.
    expect(skips.length).toBeGreaterThan(0);
    for (const skip of skips) expect(skip.comment.trim().length).toBeGreaterThan(20);
  });

  test('snapshot (asset hashes normalised)', () => {
    expect(normalisedTemplate(json)).toMatchSnapshot();
  });

  test('the template has no unexpected resource types', () => {
    expect(new Set(Object.values(json.Resources ?? {}).map((r) => r.Type))).toEqual(
      new Set([
        'AWS::S3::Bucket',
        'AWS::S3::BucketPolicy',
        'AWS::CloudFront::CachePolicy',
        'AWS::CloudFront::ResponseHeadersPolicy',
        'AWS::CloudFront::OriginAccessControl',
        'AWS::CloudFront::Distribution',
        'AWS::CDK::Metadata',
      ]),
    );
    template.resourceCountIs('AWS::S3::Bucket', 2);
    template.hasResource('AWS::S3::Bucket', Match.objectLike({ DeletionPolicy: 'Retain' }));
  });
});
