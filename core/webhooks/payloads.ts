/**
 * Push payloads, as GitHub and GitLab document them, read into one shape. Only the fields used are
 * validated; the rest of each payload is ignored.
 *
 *   GitHub: "Webhook events and payloads" > push (`ref`, `after`, `deleted`, `commits[]` with `id`,
 *   `message`, `timestamp`, `author{name,email,username}`, `added`/`removed`/`modified`;
 *   `repository.full_name`). At most 2048 commits per payload.
 *   GitLab: "Webhook events" > Push events (`object_kind: push`, `ref`, `after`, `checkout_sha`,
 *   `commits[]` with `id`, `message`, `timestamp`, `author{name,email}`, `added`/`modified`/`removed`;
 *   `total_commits_count`; `project.path_with_namespace`). At most 20 commits per payload.
 */
import { z } from 'zod';
import { describeZodIssue } from '../zod-issue';
import type { WebhookProvider } from './contract';

/** Commits in one GitHub push payload at most (more are left out of `commits`). */
export const GITHUB_MAX_PAYLOAD_COMMITS = 2048;
/** Longest commit message kept (CommitSchema). */
const MAX_MESSAGE = 2000;
const MAX_AUTHOR = 300;

export interface PushedCommit {
  readonly sha: string;
  readonly author: string;
  readonly message: string;
  /** ISO-8601 UTC, when the payload gives a valid time. */
  readonly at?: string;
  /** Files added, modified or removed by the commit. */
  readonly paths: readonly string[];
}

export interface Push {
  /** `refs/heads/main`, `refs/tags/v1`. */
  readonly ref: string;
  /** The commit the ref points at after the push. */
  readonly after: string;
  /** The ref was deleted (nothing to build). */
  readonly deleted: boolean;
  readonly commits: readonly PushedCommit[];
  /**
   * Whether `commits` lists every pushed commit, so their paths are all the changed files. False
   * for a truncated list or a push with no commits listed (a new branch, a force push back).
   */
  readonly pathsComplete: boolean;
}

export class PayloadError extends Error {
  override readonly name = 'PayloadError';
}

const sha = z
  .string()
  .regex(/^(?:[0-9a-f]{40}|[0-9a-f]{64})$/, { message: 'expected a 40 or 64 hex digit commit' });
const NULL_SHA = /^0+$/;
const paths = z.array(z.string().max(4096)).max(100_000).default([]);
const commitFields = {
  id: sha,
  message: z.string(),
  timestamp: z.string().max(64).optional(),
  added: paths,
  modified: paths,
  removed: paths,
};

const GitHubPushSchema = z.object({
  ref: z.string().min(1).max(1024),
  after: sha,
  deleted: z.boolean().default(false),
  commits: z
    .array(
      z.object({
        ...commitFields,
        author: z.object({ name: z.string().optional(), username: z.string().optional() }),
      }),
    )
    .max(GITHUB_MAX_PAYLOAD_COMMITS),
});

const GitLabPushSchema = z.object({
  object_kind: z.literal('push'),
  ref: z.string().min(1).max(1024),
  after: sha,
  checkout_sha: sha.nullable().optional(),
  total_commits_count: z.number().int().nonnegative(),
  commits: z
    .array(z.object({ ...commitFields, author: z.object({ name: z.string().optional() }) }))
    .max(1000),
});

/** The repository a payload names (`repository.full_name` / `project.path_with_namespace`). */
export function repositoryOf(provider: WebhookProvider, payload: unknown): string | undefined {
  const holder = provider === 'github' ? field(payload, 'repository') : field(payload, 'project');
  const name = field(holder, provider === 'github' ? 'full_name' : 'path_with_namespace');
  return typeof name === 'string' && name.length > 0 && name.length <= 300 ? name : undefined;
}

/** The push in a payload; throws PayloadError naming the first wrong field. */
export function parsePush(provider: WebhookProvider, payload: unknown): Push {
  if (provider === 'github') {
    const push = parse(GitHubPushSchema, payload);
    const deleted = push.deleted || NULL_SHA.test(push.after);
    return {
      ref: push.ref,
      after: push.after,
      deleted,
      commits: push.commits.map((c) => commit(c, c.author.name || c.author.username)),
      pathsComplete: push.commits.length > 0 && push.commits.length < GITHUB_MAX_PAYLOAD_COMMITS,
    };
  }
  const push = parse(GitLabPushSchema, payload);
  return {
    ref: push.ref,
    after: push.after,
    deleted: NULL_SHA.test(push.after),
    commits: push.commits.map((c) => commit(c, c.author.name)),
    pathsComplete: push.commits.length > 0 && push.commits.length === push.total_commits_count,
  };
}

function commit(
  c: {
    id: string;
    message: string;
    timestamp?: string;
    added: string[];
    modified: string[];
    removed: string[];
  },
  author: string | undefined,
): PushedCommit {
  const time = c.timestamp ? new Date(c.timestamp) : undefined;
  return {
    sha: c.id,
    author: (author ?? '').slice(0, MAX_AUTHOR),
    message: c.message.slice(0, MAX_MESSAGE),
    ...(time && !Number.isNaN(time.getTime()) ? { at: time.toISOString() } : {}),
    paths: [...c.added, ...c.modified, ...c.removed],
  };
}

function parse<T extends z.ZodType>(schema: T, payload: unknown): z.output<T> {
  const result = schema.safeParse(payload);
  if (result.success) return result.data;
  throw new PayloadError(describeZodIssue(result.error.issues[0], payload));
}

function field(value: unknown, key: string): unknown {
  return value !== null && typeof value === 'object' && !Array.isArray(value)
    ? (value as Record<string, unknown>)[key]
    : undefined;
}
