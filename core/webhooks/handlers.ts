/**
 * `POST /api/webhooks/github` and `POST /api/webhooks/gitlab`: route handlers of the /api contract
 * (core/api/contract.ts). Each delivery is checked in this order, and nothing is written or started
 * before it passes every check:
 *
 *   body over MAX_API_BODY_BYTES       413
 *   no event header                    400
 *   an event other than push (ping)    202 ignored (the body is not read)
 *   no or malformed delivery id        400
 *   not JSON                           415 (content type) / 400 (body)
 *   repository not configured          404
 *   wrong signature / token            401
 *   ping (GitHub)                      200
 *   push payload malformed             400
 *   delivery id seen before            200 duplicate
 *   otherwise: the commits are recorded, and for a push to the source's branch that touches the
 *   catalog's trigger paths, of a repository not connected through CodeConnections, the release
 *   builds of the pushed commit are started: 202 with what started (or why nothing did).
 *
 * The repository has to be read from the body before the signature can be checked: each repository
 * has its own secret. Failing to record or start answers 5xx and forgets the delivery id, so the
 * provider's redelivery is handled again.
 */
import { apiError, MAX_API_BODY_BYTES, type ApiRequest, type ApiResponse } from '../api/contract';
import { devVersion } from '../build-env';
import type { Commit } from '../records/contract';
import { touchesTriggerPaths } from '../trigger-paths';
import {
  DELIVERY_RETENTION_DAYS,
  findSource,
  type WebhookProvider,
  type WebhookSettings,
  type WebhookSource,
} from './contract';
import { ReleaseStartError, type ReleaseBuildStarter, type StartedReleaseBuild } from './builds';
import { parsePush, PayloadError, repositoryOf, type Push } from './payloads';
import type { WebhookRecords } from './records';
import type { SecretSource } from './secrets';
import { verifyGitHubSignature, verifyGitLabToken } from './signature';

export interface WebhookDeps {
  readonly settings: WebhookSettings;
  readonly secrets: SecretSource;
  readonly records: WebhookRecords;
  readonly builds: ReleaseBuildStarter;
  /** @default () => new Date() */
  readonly clock?: () => Date;
  /** Failures worth an operator's look (the adapter logs them). @default none */
  readonly log?: (message: string, detail: Readonly<Record<string, unknown>>) => void;
}

interface ProviderScheme {
  readonly provider: WebhookProvider;
  /** Lower-case header names. */
  readonly eventHeader: string;
  readonly pushEvent: string;
  readonly pingEvent?: string;
  /** Delivery id headers, most reliable first. */
  readonly deliveryHeaders: readonly string[];
  readonly authHeader: string;
  authenticate(request: ApiRequest, secret: string): boolean;
}

const GITHUB: ProviderScheme = {
  provider: 'github',
  eventHeader: 'x-github-event',
  pushEvent: 'push',
  pingEvent: 'ping',
  deliveryHeaders: ['x-github-delivery'],
  authHeader: 'X-Hub-Signature-256',
  authenticate: (request, secret) =>
    verifyGitHubSignature(request.rawBody, request.headers['x-hub-signature-256'], secret),
};

const GITLAB: ProviderScheme = {
  provider: 'gitlab',
  eventHeader: 'x-gitlab-event',
  pushEvent: 'Push Hook',
  // Idempotency-Key stays the same across GitLab's retries of one event; X-Gitlab-Event-UUID is older.
  deliveryHeaders: ['idempotency-key', 'x-gitlab-event-uuid'],
  authHeader: 'X-Gitlab-Token',
  authenticate: (request, secret) => verifyGitLabToken(request.headers['x-gitlab-token'], secret),
};

const DELIVERY_ID = /^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$/;

/** `POST /api/webhooks/github`. */
export function githubWebhook(request: ApiRequest, deps: WebhookDeps): Promise<ApiResponse> {
  return handleWebhook(GITHUB, request, deps);
}

/** `POST /api/webhooks/gitlab`. */
export function gitlabWebhook(request: ApiRequest, deps: WebhookDeps): Promise<ApiResponse> {
  return handleWebhook(GITLAB, request, deps);
}

async function handleWebhook(
  scheme: ProviderScheme,
  request: ApiRequest,
  deps: WebhookDeps,
): Promise<ApiResponse> {
  const { provider } = scheme;
  if (request.rawBody.length > MAX_API_BODY_BYTES) {
    return apiError(413, `request body is over ${MAX_API_BODY_BYTES} bytes`, 'body');
  }
  const event = request.headers[scheme.eventHeader];
  if (!event) return apiError(400, `no ${scheme.eventHeader} header`, scheme.eventHeader);
  if (event !== scheme.pushEvent && event !== scheme.pingEvent) {
    return {
      status: 202,
      body: {
        provider,
        event,
        ignored: `${provider} event ${JSON.stringify(event.slice(0, 100))} is not handled`,
      },
    };
  }
  const deliveryHeader = scheme.deliveryHeaders.find((h) => request.headers[h] !== undefined);
  const deliveryId = deliveryHeader && request.headers[deliveryHeader];
  if (!deliveryId || !DELIVERY_ID.test(deliveryId)) {
    return apiError(
      400,
      deliveryId ? 'malformed delivery id' : 'no delivery id header',
      scheme.deliveryHeaders.join(' or '),
    );
  }
  const contentType = request.headers['content-type'];
  if (contentType !== undefined && !/^application\/json\s*(?:;|$)/i.test(contentType)) {
    return apiError(
      415,
      `content type ${JSON.stringify(contentType.slice(0, 100))} is not application/json`,
      "the webhook's content type setting",
    );
  }
  let payload: unknown;
  try {
    payload = JSON.parse(request.rawBody.toString('utf8'));
  } catch {
    return apiError(400, 'body is not JSON', 'body');
  }
  const repository = repositoryOf(provider, payload);
  if (!repository) {
    return apiError(
      400,
      'payload names no repository',
      provider === 'github' ? 'repository.full_name' : 'project.path_with_namespace',
    );
  }
  const source = findSource(deps.settings, provider, repository);
  if (!source) {
    return apiError(
      404,
      `repository ${repository.slice(0, 300)} is not a ${provider} webhook source`,
      `webhooks.${provider} in the config`,
    );
  }
  let secret: string;
  try {
    secret = await deps.secrets.get(source.secretName);
  } catch (error) {
    deps.log?.('webhook secret unreadable', {
      secretName: source.secretName,
      error: (error as Error).message,
    });
    return apiError(
      500,
      `the webhook secret of ${source.repository} cannot be read`,
      `Secrets Manager secret ${source.secretName}`,
    );
  }
  if (!scheme.authenticate(request, secret)) {
    return apiError(
      401,
      `${scheme.authHeader} does not match the secret of ${source.repository}`,
      scheme.authHeader,
    );
  }
  if (event === scheme.pingEvent) {
    return { status: 200, body: { provider, event, repository: source.repository, pong: true } };
  }
  let push: Push;
  try {
    push = parsePush(provider, payload);
  } catch (error) {
    if (error instanceof PayloadError) return apiError(400, `not a push payload: ${error.message}`, 'body');
    throw error;
  }
  const now = (deps.clock ?? (() => new Date()))();
  const claimed = await deps.records.claimDelivery({
    provider,
    deliveryId,
    repository: source.repository,
    event,
    receivedAt: now,
    expires: Math.floor(now.getTime() / 1000) + DELIVERY_RETENTION_DAYS * 24 * 3600,
  });
  if (!claimed) {
    return { status: 200, body: { provider, delivery: deliveryId, duplicate: true, started: [] } };
  }
  let started: StartedReleaseBuild[] = [];
  try {
    await deps.records.recordCommits(push.commits.map((c) => commitRecord(source, c)));
    const plan = planPush(source, push, deps.settings, now);
    if (plan.kind === 'skip') {
      return {
        status: 202,
        body: {
          provider,
          delivery: deliveryId,
          repository: source.repository,
          commits: push.commits.length,
          started,
          reason: plan.reason,
        },
      };
    }
    started = await deps.builds.start({ deliveryId, ...plan.request });
    return {
      status: 202,
      body: {
        provider,
        delivery: deliveryId,
        repository: source.repository,
        commits: push.commits.length,
        commit: plan.request.commit,
        version: plan.request.version,
        started,
      },
    };
  } catch (error) {
    const partial = error instanceof ReleaseStartError ? error.started : started;
    deps.log?.('webhook push failed', {
      provider,
      deliveryId,
      repository: source.repository,
      error: (error as Error).message,
      started: partial.map((b) => b.buildId),
    });
    await deps.records.releaseDelivery(provider, deliveryId).catch(() => undefined);
    const detail =
      partial.length > 0 ? ` (${partial.length} started: ${partial.map((b) => b.buildId).join(', ')})` : '';
    return error instanceof ReleaseStartError
      ? apiError(
          502,
          `release builds of ${source.repository} did not all start: ${error.message}${detail}`.slice(
            0,
            1000,
          ),
          'codebuild:StartBuild on the release projects',
        )
      : apiError(
          500,
          `push of ${source.repository} not recorded: ${(error as Error).message}`.slice(0, 1000),
          'the records table',
        );
  }
}

export type PushPlan =
  | { readonly kind: 'skip'; readonly reason: string }
  | {
      readonly kind: 'start';
      readonly request: Omit<Parameters<ReleaseBuildStarter['start']>[0], 'deliveryId'>;
    };

/** What a push to a source asks for (pure): its release builds, or why none. */
export function planPush(source: WebhookSource, push: Push, settings: WebhookSettings, now: Date): PushPlan {
  const branchRef = `refs/heads/${source.branch}`;
  if (push.ref !== branchRef)
    return { kind: 'skip', reason: `a push to ${push.ref.slice(0, 300)}, not to ${branchRef}` };
  if (push.deleted) return { kind: 'skip', reason: `${branchRef} was deleted` };
  if (source.start.kind === 'pipeline-trigger') {
    return {
      kind: 'skip',
      reason: `${source.repository} is connected through CodeConnections: the release pipeline's push trigger builds it`,
    };
  }
  if (
    push.pathsComplete &&
    !touchesTriggerPaths(
      push.commits.flatMap((c) => c.paths),
      settings.triggerPaths,
    )
  ) {
    return {
      kind: 'skip',
      reason: `the push touches none of the trigger paths (${settings.triggerPaths.join(', ')})`,
    };
  }
  const { branchClass } = source.start;
  const builds = settings.builds.filter((b) => b.branchClass === branchClass);
  if (builds.length === 0)
    return { kind: 'skip', reason: `no release builds of the ${branchClass} class are configured` };
  return {
    kind: 'start',
    request: {
      commit: push.after,
      branch: source.branch,
      version: devVersion(push.after, now),
      source: source.start,
      builds,
    },
  };
}

function commitRecord(source: WebhookSource, commit: Push['commits'][number]): Commit {
  return {
    repository: source.repository,
    sha: commit.sha,
    author: commit.author,
    message: commit.message,
    ...(commit.at ? { at: commit.at } : {}),
  };
}
