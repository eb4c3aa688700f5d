/**
 * The rollback Lambda: the operators' (and bisect's) entry point. It answers history, status and list
 * itself (read-only), forwards rollbacks to the publish function (the only signer, which re-verifies
 * everything), and when the good release's artifact is gone starts a CodeBuild rebuild of its commit.
 *
 * Events: `{"action": "emergency-rollback" | "rollback" | "history" | "status" | "list", ...}`
 * (lambda/core/release/operations.ts); both rollbacks carry `from`, the version the caller saw live.
 */
import type { KeyObject } from 'node:crypto';
import { CodeBuildClient } from '@aws-sdk/client-codebuild';
import { KMSClient } from '@aws-sdk/client-kms';
import { LambdaClient } from '@aws-sdk/client-lambda';
import { S3Client } from '@aws-sdk/client-s3';
import { Logger } from '@aws-lambda-powertools/logger';
import type { Context } from 'aws-lambda';
import { RELEASE_ENV, requiredEnv } from '../core/release/environment';
import { invokeReleaseFunction } from '../core/release/invoke';
import { kmsPublicKey } from '../core/release/kms-signer';
import { parseOperatorRequest, refOf, type OperatorRequest } from '../core/release/operations';
import { listReleases, pointerStatus, releaseHistory } from '../core/release/queries';
import { CodeBuildRebuilder, type RebuildRequest, type StartedRebuild } from '../core/release/rebuild';
import type { RollbackResult } from '../core/release/rollback';
import { S3ReleaseStore, type ReleaseStore } from '../core/release/store';

export interface RollbackHandlerDeps {
  readonly store: ReleaseStore;
  /** Runs a pointer operation where the signing key is (the publish function, or in-process). */
  readonly movePointer: (
    request: Extract<OperatorRequest, { action: 'rollback' | 'emergency-rollback' }>,
  ) => Promise<RollbackResult>;
  readonly rebuilder: { start(request: RebuildRequest): Promise<StartedRebuild> };
  /** The signing key's public half: `status` verifies each pointer's signature with it. @default none (unchecked) */
  readonly publicKey?: () => Promise<KeyObject>;
  readonly logger?: Pick<Logger, 'info'>;
}

export type OperatorResult =
  | RollbackResult
  | {
      readonly outcome: 'rebuild-started';
      readonly artifact: string;
      readonly rebuild: StartedRebuild;
      readonly detail: string;
    }
  | Awaited<ReturnType<typeof releaseHistory>>
  | { readonly pointers: Awaited<ReturnType<typeof pointerStatus>> }
  | { readonly artifacts: Awaited<ReturnType<typeof listReleases>> };

/** The core: the same function the CLI calls with `--endpoint-url`. */
export async function handleOperatorRequest(
  deps: RollbackHandlerDeps,
  event: unknown,
): Promise<OperatorResult> {
  const request = parseOperatorRequest(event);
  switch (request.action) {
    case 'history':
      return releaseHistory(deps.store, refOf(request), request.limit);
    case 'status':
      return { pointers: await pointerStatus(deps.store, request.app, await deps.publicKey?.()) };
    case 'list':
      return { artifacts: await listReleases(deps.store, request.app) };
    default: {
      const result = await deps.movePointer(request);
      deps.logger?.info('rollback', { request, result });
      if (result.outcome !== 'rebuild-needed') return result;
      const rebuild = await deps.rebuilder.start({
        ref: refOf(request),
        version: result.version,
        sourceRevision: result.sourceRevision,
      });
      deps.logger?.info('rebuild started', { rebuild });
      return { outcome: 'rebuild-started', artifact: result.artifact, rebuild, detail: result.detail };
    }
  }
}

const logger = new Logger();
const s3 = new S3Client({});
const lambda = new LambdaClient({});
const codebuild = new CodeBuildClient({});
const kms = new KMSClient({});
let handlerDeps: RollbackHandlerDeps | undefined;

function depsFromEnvironment(env: NodeJS.ProcessEnv): RollbackHandlerDeps {
  const publishFunction = requiredEnv(env, RELEASE_ENV.publishFunction);
  const projects = JSON.parse(env[RELEASE_ENV.rebuildProjects] ?? '{}') as Record<string, string>;
  const keyArn = env[RELEASE_ENV.signingKeyArn];
  let publicKey: Promise<KeyObject> | undefined;
  return {
    ...(keyArn ? { publicKey: () => (publicKey ??= kmsPublicKey(kms, keyArn)) } : {}),
    store: new S3ReleaseStore(s3, requiredEnv(env, RELEASE_ENV.bucket)),
    movePointer: (request) => invokeReleaseFunction<RollbackResult>(lambda, publishFunction, request),
    rebuilder: new CodeBuildRebuilder(codebuild, projects, undefined, env[RELEASE_ENV.releaseBranch]),
    logger,
  };
}

export async function handler(event: unknown, context: Context): Promise<OperatorResult> {
  logger.addContext(context);
  handlerDeps ??= depsFromEnvironment(process.env);
  // An async retry of the same event keeps its request id: use it as the idempotency key.
  const withId =
    typeof event === 'object' && event !== null && !('requestId' in event) && isWrite(event)
      ? { ...event, requestId: `lambda:${context.awsRequestId}` }
      : event;
  return handleOperatorRequest(handlerDeps, withId);
}

function isWrite(event: object): boolean {
  const action = (event as { action?: unknown }).action;
  return action === 'rollback' || action === 'emergency-rollback';
}
