/**
 * The rollback Lambda: the operators' (and bisect's) entry point. It answers history, status and list
 * itself (read-only), forwards rollbacks to the publish function (the only signer, which re-verifies
 * everything), and when the good release's artifact is gone starts a CodeBuild rebuild of its commit.
 *
 * Events: `{"action": "emergency-rollback" | "rollback" | "history" | "status" | "list", ...}`
 * (core/release/rollback/operations.ts); both rollbacks carry `from`, the version the caller saw live.
 */
import type { KeyObject } from 'node:crypto';
import { CodeBuildClient } from '@aws-sdk/client-codebuild';
import { KMSClient } from '@aws-sdk/client-kms';
import { LambdaClient } from '@aws-sdk/client-lambda';
import { S3Client } from '@aws-sdk/client-s3';
import { Logger } from '@aws-lambda-powertools/logger';
import type { Context } from 'aws-lambda';
import { RELEASE_ENV, requiredEnv } from '@core/release/environment';
import { invokeReleaseFunction } from '@core/release/rollback/invoke';
import { kmsPublicKey } from '@core/release/kms-signer';
import {
  handleOperatorRequest,
  type OperatorResult,
  type RollbackHandlerDeps,
} from '@core/release/rollback/operator';
import { CodeBuildRebuilder, parseRebuildProjects } from '@core/release/rollback/rebuild';
import type { RollbackResult } from '@core/release/rollback/rollback';
import { S3ReleaseStore } from '@core/release/store/store';

const logger = new Logger();
const s3 = new S3Client({});
const lambda = new LambdaClient({});
const codebuild = new CodeBuildClient({});
const kms = new KMSClient({});
let handlerDeps: RollbackHandlerDeps | undefined;

/** The handler's dependencies from its environment; throws one line naming a missing or malformed variable. */
export function depsFromEnvironment(env: NodeJS.ProcessEnv): RollbackHandlerDeps {
  const publishFunction = requiredEnv(env, RELEASE_ENV.publishFunction);
  const projects = parseRebuildProjects(env[RELEASE_ENV.rebuildProjects] ?? '{}');
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
