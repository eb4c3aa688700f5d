/**
 * Webhook deliveries in the shape the providers document them.
 *
 * GitHub: the `push` payload of "Webhook events and payloads" (docs.github.com/en/webhooks/
 * webhook-events-and-payloads#push) with the delivery headers of "Webhook events and payloads >
 * Delivery headers" (`X-GitHub-Event`, `X-GitHub-Delivery`, `X-Hub-Signature-256`, `User-Agent:
 * GitHub-Hookshot/...`, `X-GitHub-Hook-ID`, `X-GitHub-Hook-Installation-Target-*`).
 * GitLab: the push event of "Webhook events > Push events" (docs.gitlab.com/user/project/
 * integrations/webhook_events/#push-events) with the headers of "Webhooks > Delivery headers"
 * (`X-Gitlab-Event: Push Hook`, `X-Gitlab-Token`, `X-Gitlab-Event-UUID`, `Idempotency-Key`,
 * `X-Gitlab-Webhook-UUID`, `X-Gitlab-Instance`, `User-Agent: GitLab/...`).
 *
 * Repository names, commits and file paths are this platform's; every field name and nesting is
 * the documented one.
 */
import { gitHubSignature } from '@core/webhooks';

export const GITHUB_REPO = 'watchy-mirror/watchy-release-platform';
export const GITLAB_REPO = 'watchy/mirrors/watchy-release-platform';
export const CONNECTED_REPO = 'watchy-cloud/watchy-release-platform';

export const SHA_A = '6113728f27ae82c7b1a177c8d03f9e96e0adf246';
export const SHA_B = '0d1a26e67d8f5eaf1f6ba5c57fc3c7d91ac0fd1c';

export interface GitHubCommitSpec {
  readonly id: string;
  readonly message: string;
  readonly author: string;
  readonly added?: string[];
  readonly modified?: string[];
  readonly removed?: string[];
}

const userOf = (name: string) => ({
  name,
  email: `${name.toLowerCase().replace(/\s+/g, '.')}@example.com`,
  username: name.toLowerCase().replace(/\s+/g, ''),
});

export function githubPush(
  options: {
    repository?: string;
    ref?: string;
    after?: string;
    commits?: GitHubCommitSpec[];
    deleted?: boolean;
  } = {},
) {
  const fullName = options.repository ?? GITHUB_REPO;
  const [owner, name] = fullName.split('/') as [string, string];
  const commits = (
    options.commits ?? [
      {
        id: SHA_B,
        message: 'Slack monitor: retry rate-limited calls',
        author: 'Ada Lovelace',
        modified: ['examples/monitors/slack/watchy_slack_monitor.py'],
      },
      { id: SHA_A, message: 'Docs: explain the retry', author: 'Grace Hopper', modified: ['README.md'] },
    ]
  ).map((c) => ({
    id: c.id,
    tree_id: 'f9d2a07e9488b91af2641b26b9407fe22a451433',
    distinct: true,
    message: c.message,
    timestamp: '2026-12-03T18:52:20+01:00',
    url: `https://github.com/${fullName}/commit/${c.id}`,
    author: userOf(c.author),
    committer: userOf(c.author),
    added: c.added ?? [],
    removed: c.removed ?? [],
    modified: c.modified ?? [],
  }));
  const after = options.after ?? commits[commits.length - 1]?.id ?? SHA_A;
  return {
    ref: options.ref ?? 'refs/heads/main',
    before: '9049f1265b7d61be4a8904a9a27120d2064dab3b',
    after,
    repository: {
      id: 186853002,
      node_id: 'MDEwOlJlcG9zaXRvcnkxODY4NTMwMDI=',
      name,
      full_name: fullName,
      private: false,
      owner: { name: owner, login: owner, id: 21031067, type: 'Organization' },
      html_url: `https://github.com/${fullName}`,
      clone_url: `https://github.com/${fullName}.git`,
      default_branch: 'main',
      master_branch: 'main',
    },
    pusher: { name: 'adalovelace', email: 'ada.lovelace@example.com' },
    sender: { login: 'adalovelace', id: 21031067, type: 'User' },
    created: false,
    deleted: options.deleted ?? false,
    forced: false,
    base_ref: null,
    compare: `https://github.com/${fullName}/compare/9049f1265b7d...${after.slice(0, 12)}`,
    commits,
    head_commit: commits[commits.length - 1] ?? null,
  };
}

export function githubHeaders(
  body: string,
  secret: string,
  options: { event?: string; delivery?: string } = {},
) {
  return {
    'content-type': 'application/json',
    'user-agent': 'GitHub-Hookshot/044aadd',
    'x-github-event': options.event ?? 'push',
    'x-github-delivery': options.delivery ?? '72d3162e-cc78-11e3-81ab-4c9367dc0958',
    'x-github-hook-id': '292430182',
    'x-github-hook-installation-target-id': '79929171',
    'x-github-hook-installation-target-type': 'repository',
    'x-hub-signature-256': gitHubSignature(body, secret),
  };
}

/** GitLab's push event; `total` is `total_commits_count` (GitLab lists at most 20 commits). */
export function gitlabPush(
  options: { repository?: string; ref?: string; commits?: GitHubCommitSpec[]; total?: number } = {},
) {
  const path = options.repository ?? GITLAB_REPO;
  const commits = (
    options.commits ?? [
      {
        id: SHA_B,
        message: 'Rust lambdas: bump lambda_runtime\n\nSee the changelog.',
        author: 'Jordi Mallach',
        modified: ['examples/rust-lambdas/Cargo.toml'],
      },
    ]
  ).map((c) => ({
    id: c.id,
    message: c.message,
    title: c.message.split('\n')[0],
    timestamp: '2026-12-03T14:27:31+02:00',
    url: `https://gitlab.com/${path}/-/commit/${c.id}`,
    author: { name: c.author, email: `${c.author.toLowerCase().replace(/\s+/g, '.')}@example.com` },
    added: c.added ?? [],
    modified: c.modified ?? [],
    removed: c.removed ?? [],
  }));
  const after = commits[commits.length - 1]?.id ?? SHA_A;
  return {
    object_kind: 'push',
    event_name: 'push',
    before: '95790bf891e76fee5e1747ab589903a6a1f80f22',
    after,
    ref: options.ref ?? 'refs/heads/main',
    ref_protected: true,
    checkout_sha: after,
    message: null,
    user_id: 4,
    user_name: 'John Smith',
    user_username: 'jsmith',
    user_email: 'john@example.com',
    user_avatar: 'https://s.gravatar.com/avatar/d4c74594d841139328695756648b6bd6?s=80',
    project_id: 15,
    project: {
      id: 15,
      name: 'watchy-release-platform',
      description: '',
      web_url: `https://gitlab.com/${path}`,
      avatar_url: null,
      git_ssh_url: `git@gitlab.com:${path}.git`,
      git_http_url: `https://gitlab.com/${path}.git`,
      namespace: 'mirrors',
      visibility_level: 0,
      path_with_namespace: path,
      default_branch: 'main',
      ci_config_path: '',
      homepage: `https://gitlab.com/${path}`,
      url: `git@gitlab.com:${path}.git`,
      ssh_url: `git@gitlab.com:${path}.git`,
      http_url: `https://gitlab.com/${path}.git`,
    },
    commits,
    total_commits_count: options.total ?? commits.length,
    repository: {
      name: 'watchy-release-platform',
      url: `git@gitlab.com:${path}.git`,
      description: '',
      homepage: `https://gitlab.com/${path}`,
      git_http_url: `https://gitlab.com/${path}.git`,
      git_ssh_url: `git@gitlab.com:${path}.git`,
      visibility_level: 0,
    },
  };
}

export function gitlabHeaders(token: string, options: { event?: string; idempotencyKey?: string } = {}) {
  return {
    'content-type': 'application/json',
    'user-agent': 'GitLab/17.6.0',
    'x-gitlab-event': options.event ?? 'Push Hook',
    'x-gitlab-token': token,
    'x-gitlab-instance': 'https://gitlab.com',
    'x-gitlab-webhook-uuid': '2b1a4c33-6a2b-4d0e-9f35-6f0f3f3e6c11',
    'x-gitlab-event-uuid': '13792a34-cac6-4fda-95a8-c58e00a3954e',
    'idempotency-key': options.idempotencyKey ?? 'f5e5f430-f57b-4e6e-9fac-d9128cd7232f',
  };
}
