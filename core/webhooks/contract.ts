/**
 * The webhooks contract: what `/api/webhooks/github` and `/api/webhooks/gitlab` know about their
 * sources, as the infra hands it to the API function (JSON in `WATCHY_WEBHOOKS`, built at synth by
 * `webhookSettings` from the config). Decisions: docs/decisions/013-webhooks.md.
 */
import { z } from 'zod';
import { ARCHITECTURES } from '../artifacts';
import { BRANCH_CLASSES } from '../build-env';
import { WEBHOOK_PROVIDERS, type WebhookProvider } from '../config/schema';
import { describeZodIssue } from '../zod-issue';

export { WEBHOOK_PROVIDERS, type WebhookProvider };

/** Environment variable of the API function holding the webhook settings (JSON). */
export const WATCHY_WEBHOOKS = 'WATCHY_WEBHOOKS';

/** A delivery id is remembered this long (GitHub redelivers for 3 days; GitLab retries within hours). */
export const DELIVERY_RETENTION_DAYS = 7;

/** How long the API function keeps a webhook secret before reading it again (rotation takes effect within this). */
export const SECRET_CACHE_TTL_MS = 5 * 60 * 1000;

/** CodeBuild source types a release build of a webhook source checks out. */
export const WEBHOOK_SOURCE_TYPES = ['GITHUB', 'GITHUB_ENTERPRISE', 'GITLAB', 'GITLAB_SELF_MANAGED'] as const;

const StartSchema = z.discriminatedUnion('kind', [
  /**
   * The repository is the CodeConnections source: the release pipeline's own push trigger builds
   * its pushes, so the webhook only records commits.
   */
  z.strictObject({ kind: z.literal('pipeline-trigger') }),
  /** Not connected: the webhook starts the branch class's release CodeBuild projects at the commit. */
  z.strictObject({
    kind: z.literal('codebuild'),
    branchClass: z.enum(BRANCH_CLASSES),
    sourceType: z.enum(WEBHOOK_SOURCE_TYPES),
    cloneUrl: z.string().regex(/^https:\/\/[^\s]+\.git$/),
  }),
]);

export const WebhookSourceSchema = z.strictObject({
  provider: z.enum(WEBHOOK_PROVIDERS),
  /** As the config spells it; matched case-insensitively (GitHub and GitLab paths are). */
  repository: z.string().min(1).max(300),
  secretName: z.string().min(1).max(512),
  /** The branch whose pushes may start builds. */
  branch: z.string().min(1).max(255),
  start: StartSchema,
});
export type WebhookSource = z.output<typeof WebhookSourceSchema>;

/** One release build a push starts: the project of a class and what it builds. */
export const WebhookBuildSchema = z.strictObject({
  branchClass: z.enum(BRANCH_CLASSES),
  /** CodeBuild project name. */
  project: z.string().min(1).max(255),
  /** WATCHY_APP: a Nuitka app, or `rust` for the workspace. */
  app: z.string().min(1).max(64),
  architecture: z.enum(ARCHITECTURES),
});
export type WebhookBuild = z.output<typeof WebhookBuildSchema>;

export const WebhookSettingsSchema = z.strictObject({
  sources: z.array(WebhookSourceSchema),
  /** The catalog's trigger patterns (the release pipeline's push filter, `triggerFilePaths`). */
  triggerPaths: z.array(z.string().min(1)),
  builds: z.array(WebhookBuildSchema),
});
export type WebhookSettings = z.output<typeof WebhookSettingsSchema>;

/** No webhook source: every delivery is 404. */
export const NO_WEBHOOKS: WebhookSettings = { sources: [], triggerPaths: [], builds: [] };

/** Parses `WATCHY_WEBHOOKS` (unset: no sources); throws one line naming the problem. */
export function parseWebhookSettings(text: string | undefined, name = WATCHY_WEBHOOKS): WebhookSettings {
  if (text === undefined || text === '') return NO_WEBHOOKS;
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw new Error(`${name} is not JSON`);
  }
  const result = WebhookSettingsSchema.safeParse(value);
  if (!result.success) throw new Error(`${name}: ${describeZodIssue(result.error.issues[0], value)}`);
  return result.data;
}

/** The configured source a delivery names, or undefined (404). */
export function findSource(
  settings: WebhookSettings,
  provider: WebhookProvider,
  repository: string,
): WebhookSource | undefined {
  const wanted = repository.toLowerCase();
  return settings.sources.find((s) => s.provider === provider && s.repository.toLowerCase() === wanted);
}
