/** The webhooks section of the config and the settings the API function gets from it. */
import { ConfigError, loadConfig } from '@core/config';
import { parseWebhookSettings, NO_WEBHOOKS, WATCHY_WEBHOOKS, verifyGitLabToken } from '@core/webhooks';
import { webhookSettings } from '@core/webhooks/settings';
import { triggerFilePaths } from '@core/trigger-paths';

const name = (key: string, branchClass: string) => `${branchClass}/${key}`;

function errorOf(webhooks: unknown): string {
  try {
    loadConfig({ overrides: { webhooks } });
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    return (error as Error).message;
  }
  throw new Error('expected the config to be refused');
}

describe('config webhooks section', () => {
  test('absent by default: no webhook source, every delivery is 404', () => {
    const config = loadConfig();
    expect(config.webhooks).toBeUndefined();
    expect(webhookSettings(config, name)).toMatchObject({ sources: [], builds: [] });
    expect(parseWebhookSettings(undefined)).toEqual(NO_WEBHOOKS);
  });

  test('a branch other than the release or integration branch is refused', () => {
    expect(errorOf({ github: [{ repository: 'a/b', secretName: 's', branch: 'feature' }] })).toBe(
      'Invalid watchy config: webhooks.github.0.branch: expected the release branch (main) or the integration branch (develop): their builds run on their own projects, got "feature"',
    );
  });

  test('a repository twice, a GitHub name with a subgroup, a bad secret name or an http clone URL is refused', () => {
    expect(
      errorOf({
        github: [
          { repository: 'a/b', secretName: 's' },
          { repository: 'A/B', secretName: 't' },
        ],
      }),
    ).toBe('Invalid watchy config: webhooks.github.1.repository: expected each repository once, got "A/B"');
    expect(errorOf({ github: [{ repository: 'a/b/c', secretName: 's' }] })).toContain(
      'webhooks.github.0.repository: expected owner/name',
    );
    expect(errorOf({ gitlab: [{ repository: 'g/p', secretName: 'has space' }] })).toContain(
      'webhooks.gitlab.0.secretName',
    );
    expect(
      errorOf({
        gitlab: [{ repository: 'g/p', secretName: 's', cloneUrl: 'http://gitlab.example.com/g/p.git' }],
      }),
    ).toContain('webhooks.gitlab.0.cloneUrl: expected an https clone URL ending in .git');
    expect(errorOf({ bitbucket: [] })).toBe('Invalid watchy config: webhooks.bitbucket: unknown field');
  });
});

describe('webhook settings', () => {
  const config = loadConfig({
    overrides: {
      webhooks: {
        github: [
          { repository: 'watchy-cloud/watchy-release-platform', secretName: 'connected' },
          {
            repository: 'mirror/watchy',
            secretName: 'ghe',
            cloneUrl: 'https://git.example.com/mirror/watchy.git',
          },
        ],
        gitlab: [
          { repository: 'group/sub/watchy', secretName: 'gitlab', branch: 'develop' },
          {
            repository: 'self/watchy',
            secretName: 'self',
            cloneUrl: 'https://gitlab.example.com/self/watchy.git',
          },
        ],
      },
    },
  });
  const settings = webhookSettings(config, name);

  test('the CodeConnections source is left to the pipeline trigger; the others start CodeBuild of their branch class and host', () => {
    expect(settings.sources.map((s) => [s.repository, s.branch, s.start])).toEqual([
      ['watchy-cloud/watchy-release-platform', 'main', { kind: 'pipeline-trigger' }],
      [
        'mirror/watchy',
        'main',
        {
          kind: 'codebuild',
          branchClass: 'release',
          sourceType: 'GITHUB_ENTERPRISE',
          cloneUrl: 'https://git.example.com/mirror/watchy.git',
        },
      ],
      [
        'group/sub/watchy',
        'develop',
        {
          kind: 'codebuild',
          branchClass: 'integration',
          sourceType: 'GITLAB',
          cloneUrl: 'https://gitlab.com/group/sub/watchy.git',
        },
      ],
      [
        'self/watchy',
        'main',
        {
          kind: 'codebuild',
          branchClass: 'release',
          sourceType: 'GITLAB_SELF_MANAGED',
          cloneUrl: 'https://gitlab.example.com/self/watchy.git',
        },
      ],
    ]);
  });

  test('the builds are the binary builds of the pipeline, per class used; the trigger paths are the pipeline’s', () => {
    const release = settings.builds.filter((b) => b.branchClass === 'release');
    expect(release.map((b) => `${b.project} ${b.app}`)).toEqual([
      'release/nuitka-x86_64 slack',
      'release/nuitka-arm64 slack',
      'release/nuitka-x86_64 github',
      'release/nuitka-arm64 github',
      'release/nuitka-x86_64 zoom',
      'release/nuitka-arm64 zoom',
      'release/rust-arm64 rust',
    ]);
    expect(settings.builds.filter((b) => b.branchClass === 'integration')).toHaveLength(7);
    expect(settings.triggerPaths).toEqual(
      triggerFilePaths([
        'examples/monitors/slack',
        'examples/monitors/github',
        'examples/monitors/zoom',
        'examples/rust-lambdas',
        'examples/services/status-api',
        'examples/services/webhook-relay',
      ]),
    );
  });

  test('the settings survive the environment variable round trip; a corrupt variable is one line', () => {
    expect(parseWebhookSettings(JSON.stringify(settings))).toEqual(settings);
    expect(() => parseWebhookSettings('{')).toThrow(`${WATCHY_WEBHOOKS} is not JSON`);
    expect(() => parseWebhookSettings(JSON.stringify({ ...settings, sources: [{}] }))).toThrow(
      /^WATCHY_WEBHOOKS: sources\.0\.provider/,
    );
  });
});

test('the GitLab token is compared whole, whatever its length', () => {
  expect(verifyGitLabToken('token-0123', 'token-0123')).toBe(true);
  expect(verifyGitLabToken('token-012', 'token-0123')).toBe(false);
  expect(verifyGitLabToken('token-01234', 'token-0123')).toBe(false);
  expect(verifyGitLabToken(undefined, 'token-0123')).toBe(false);
  expect(verifyGitLabToken('', '')).toBe(false);
});
