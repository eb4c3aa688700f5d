import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConfigError, DEFAULT_CONFIG, loadConfig } from '@core/config';

function errorOf(overrides: unknown, options: { stage?: string } = {}): string {
  try {
    loadConfig({ ...options, overrides });
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    return (error as Error).message;
  }
  throw new Error('expected the config to be refused');
}

describe('embedded default config', () => {
  test('parses with the Watchy catalog and documented defaults', () => {
    const config = loadConfig();
    expect(config.catalog.nuitkaApps.map((a) => [a.name, a.displayName])).toEqual([
      ['slack', 'Slack'],
      ['github', 'GitHub'],
      ['zoom', 'Zoom'],
    ]);
    expect(config.catalog.nuitkaApps[0]!.architectures).toEqual(['x86_64', 'arm64']);
    expect(config.catalog.rustWorkspace?.architectures).toEqual(['arm64']);
    expect(config.catalog.containerServices.map((s) => s.builder)).toEqual(['dockerfile', 'buildpacks']);
    expect(config.distribution.latestPointerTtlSeconds).toBe(60);
    expect(config.registry.untaggedExpiryDays).toBe(1);
    expect(config.build.timeouts).toEqual({ tests: 10, images: 20, scans: 10, binaries: 30 });
    expect(config.stage).toBeUndefined();
  });

  test('a stage deep-merges its overrides and keeps the rest', () => {
    const prod = loadConfig({ stage: 'prod' });
    expect(prod.stage).toBe('prod');
    expect(prod.distribution.noncurrentVersionExpirationDays).toBe(365);
    expect(prod.distribution.latestPointerTtlSeconds).toBe(60);
    expect(prod.catalog).toEqual(loadConfig().catalog);
  });

  test('a JSON file overrides the default, arrays replace', () => {
    const dir = mkdtempSync(join(tmpdir(), 'watchy-config-'));
    const file = join(dir, 'config.json');
    writeFileSync(file, JSON.stringify({ registry: { crossAccountPullAccounts: ['123456789012'] } }));
    expect(loadConfig({ file }).registry.crossAccountPullAccounts).toEqual(['123456789012']);
  });

  test('the default input object is not mutated by loading', () => {
    const before = JSON.stringify(DEFAULT_CONFIG);
    loadConfig({ stage: 'beta', overrides: { build: { logRetentionDays: 3 } } });
    expect(JSON.stringify(DEFAULT_CONFIG)).toBe(before);
  });
});

describe('config validation: one line naming the field and what was expected', () => {
  test('unknown stage', () => {
    expect(errorOf(undefined, { stage: 'qa' })).toBe(
      'Invalid watchy config: stage: expected one of beta, gamma, prod, got "qa"',
    );
  });
  test('app name with path characters', () => {
    expect(
      errorOf({ catalog: { nuitkaApps: [{ name: '../slack', displayName: 'Slack', sourcePath: 'x' }] } }),
    ).toBe(
      'Invalid watchy config: catalog.nuitkaApps.0.name: expected 1-40 lowercase letters, digits or inner hyphens, got "../slack"',
    );
  });
  test('duplicate app names', () => {
    const app = { name: 'slack', displayName: 'Slack', sourcePath: 'x' };
    expect(errorOf({ catalog: { nuitkaApps: [app, app] } })).toBe(
      'Invalid watchy config: catalog.nuitkaApps: expected unique app names',
    );
  });
  test('source path escaping the repository', () => {
    expect(
      errorOf({
        catalog: { nuitkaApps: [{ name: 'slack', displayName: 'Slack', sourcePath: 'a/../../etc' }] },
      }),
    ).toBe(
      'Invalid watchy config: catalog.nuitkaApps.0.sourcePath: expected a relative path inside the repository (no "..", no leading "/"), got "a/../../etc"',
    );
  });
  test('unknown architecture', () => {
    expect(errorOf({ catalog: { rustWorkspace: { sourcePath: 'r', architectures: ['riscv64'] } } })).toMatch(
      /^Invalid watchy config: catalog\.rustWorkspace\.architectures\.0: Invalid option: expected one of "x86_64"\|"arm64", got "riscv64"$/,
    );
  });
  test('repeated architecture', () => {
    expect(
      errorOf({ catalog: { rustWorkspace: { sourcePath: 'r', architectures: ['arm64', 'arm64'] } } }),
    ).toBe(
      'Invalid watchy config: catalog.rustWorkspace.architectures: expected each architecture at most once',
    );
  });
  test('unknown container builder', () => {
    expect(
      errorOf({ catalog: { containerServices: [{ name: 'api', sourcePath: 's', builder: 'kaniko' }] } }),
    ).toBe(
      'Invalid watchy config: catalog.containerServices.0.builder: Invalid option: expected one of "dockerfile"|"buildpacks", got "kaniko"',
    );
  });
  test('keepTaggedImages below 1', () => {
    expect(
      errorOf({
        catalog: {
          containerServices: [{ name: 'api', sourcePath: 's', builder: 'dockerfile', keepTaggedImages: 0 }],
        },
      }),
    ).toBe(
      'Invalid watchy config: catalog.containerServices.0.keepTaggedImages: Too small: expected number to be >=1, got 0',
    );
  });
  test('latest pointer TTL over 60 seconds', () => {
    expect(errorOf({ distribution: { latestPointerTtlSeconds: 300 } })).toBe(
      'Invalid watchy config: distribution.latestPointerTtlSeconds: Too big: expected number to be <=60, got 300',
    );
  });
  test('custom domain without certificate', () => {
    expect(errorOf({ distribution: { domainName: 'releases.watchy.cloud' } })).toBe(
      'Invalid watchy config: distribution.certificateArn: domainName and certificateArn must be set together',
    );
  });
  test('certificate outside us-east-1', () => {
    expect(
      errorOf({
        distribution: {
          domainName: 'releases.watchy.cloud',
          certificateArn:
            'arn:aws:acm:eu-west-1:123456789012:certificate/12345678-1234-1234-1234-123456789012',
        },
      }),
    ).toMatch(
      /^Invalid watchy config: distribution\.certificateArn: expected an ACM certificate ARN in us-east-1, got/,
    );
  });
  test('web ACL that is not CLOUDFRONT-scope (regional)', () => {
    expect(
      errorOf({
        distribution: {
          webAclArn:
            'arn:aws:wafv2:eu-west-1:123456789012:regional/webacl/releases/12345678-1234-1234-1234-123456789012',
        },
      }),
    ).toMatch(
      /^Invalid watchy config: distribution\.webAclArn: expected a CLOUDFRONT-scope WAFv2 web ACL ARN \(us-east-1, global\/webacl\/\.\.\.\), got/,
    );
  });
  test('cross-account principal that is not an account id', () => {
    expect(errorOf({ registry: { crossAccountPullAccounts: ['12345'] } })).toBe(
      'Invalid watchy config: registry.crossAccountPullAccounts.0: expected a 12-digit AWS account id, got "12345"',
    );
  });
  test('repository not owner/name', () => {
    expect(errorOf({ source: { repository: 'just-a-name' } })).toBe(
      'Invalid watchy config: source.repository: expected owner/name, got "just-a-name"',
    );
  });
  test('wrong type', () => {
    expect(errorOf({ build: { logRetentionDays: 'forever' } })).toBe(
      'Invalid watchy config: build.logRetentionDays: Invalid input: expected number, received string',
    );
  });
  test('unknown field', () => {
    expect(errorOf({ distribution: { ttl: 5 } })).toBe(
      'Invalid watchy config: distribution.ttl: unknown field',
    );
  });
  test('invalid notification email', () => {
    expect(errorOf({ releaseControl: { notificationEmails: ['ops'] } })).toMatch(
      /^Invalid watchy config: releaseControl\.notificationEmails\.0: Invalid email address, got "ops"$/,
    );
  });
  test('bisect retries out of range', () => {
    expect(errorOf({ releaseControl: { bisectRetries: 9 } })).toBe(
      'Invalid watchy config: releaseControl.bisectRetries: Too big: expected number to be <=5, got 9',
    );
  });
  test('build log retention that CloudWatch Logs does not offer', () => {
    expect(errorOf({ build: { logRetentionDays: 100 } })).toMatch(
      /^Invalid watchy config: build\.logRetentionDays: expected one of the CloudWatch Logs retention periods: 1, 3, .*, 3653, got 100$/,
    );
  });
  test('GitHub Enterprise Server source without a connection ARN', () => {
    expect(
      errorOf({
        source: { provider: 'GitHubEnterpriseServer', cloneUrl: 'https://git.example.com/team/repo.git' },
      }),
    ).toBe(
      'Invalid watchy config: source.connectionArn: provider GitHubEnterpriseServer needs connectionArn (a connection to a server host is created outside this app)',
    );
  });
  test('GitHub Enterprise Server source without a clone URL', () => {
    expect(
      errorOf({
        source: {
          provider: 'GitHubEnterpriseServer',
          connectionArn:
            'arn:aws:codeconnections:us-east-1:123456789012:connection/0a1b2c3d-0000-1111-2222-333344445555',
        },
      }),
    ).toBe(
      'Invalid watchy config: source.cloneUrl: provider GitHubEnterpriseServer needs cloneUrl (a connection to a server host is created outside this app)',
    );
  });
  test('clone URL that is not https .git', () => {
    expect(errorOf({ source: { cloneUrl: 'git@github.com:team/repo.git' } })).toBe(
      'Invalid watchy config: source.cloneUrl: expected an https clone URL ending in .git, got "git@github.com:team/repo.git"',
    );
  });
  test('unreadable config file', () => {
    expect(() => loadConfig({ file: '/nonexistent/watchy.json' })).toThrow(
      'Invalid watchy config: cannot read /nonexistent/watchy.json: ENOENT',
    );
  });
});
